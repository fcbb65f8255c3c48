"""A day at the card office desk: the issuing station (`python -m terminals.station`)
against a live OneCard server on PostgreSQL, writing to a software card that sits
behind the real pcscd through the virtual reader. The station talks to the server only
over HTTP and to the card only through pyscard."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from accounts.keys import card_key
from accounts.models import AuditEvent, Card, CardStatus, LoadStatus, PendingLoad
from accounts.services import card_top_up
from settlement.models import CardReading, ExceptionCode, ReconException
from terminals.client.apdu import INS_PERSONALISE
from terminals.client.card import SoftCard
from terminals.client.vpcd import CardPulled
from terminals.models import TerminalRecord
from terminals.services import terminal_register
from terminals.station.__main__ import run
from tests.factories import make_cardholder
from tests.hardware.conftest import VirtualReader

pytestmark = [pytest.mark.hardware, pytest.mark.xdist_group("pcsc"),
              pytest.mark.django_db(transaction=True)]

DEAD_SERVER = "http://127.0.0.1:9"  # discard port: nothing listens


@dataclass
class Desk:
    server: str
    token: str
    terminal_id: str
    secret: str
    queue: Path
    capsys: Any

    def run(self, *args: str, terminal: bool = True, server: str | None = None,
            lang: str = "en") -> tuple[int, str, str]:
        argv = ["--server", server or self.server, "--token", self.token,
                "--reader", "Virtual PCD", "--lang", lang, "--wait", "20"]
        if terminal:
            argv += ["--terminal-id", self.terminal_id, "--secret", self.secret,
                     "--queue", str(self.queue)]
        code = run([*argv, *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def desk(live_server, purse_key, clerk, tmp_path, capsys) -> Desk:
    terminal, secret = terminal_register(kind="issuer", name="Card office desk 1", by=clerk)
    token = Token.objects.create(user=clerk)
    return Desk(live_server.url, token.key, terminal.terminal_id, secret,
                tmp_path / "desk.sqlite3", capsys)


class PulledOnPersonalise(SoftCard):
    """A card the clerk pulls off the reader the moment PERSONALISE reaches it."""

    pull = True

    def process_apdu(self, command: bytes) -> bytes:
        if self.pull and len(command) > 1 and command[1] == INS_PERSONALISE:
            raise CardPulled()
        return super().process_apdu(command)


def _issue(desk: Desk, reader: VirtualReader, clerk: Any, deposit: int = 0,
           card: SoftCard | None = None) -> tuple[SoftCard, Card]:
    holder = make_cardholder(by=clerk)
    soft = card or SoftCard.new()
    reader.insert(soft)
    code, out, err = desk.run("issue", "--cardholder", holder.number, "--deposit", str(deposit))
    assert code == 0, out + err
    return soft, Card.objects.get(cardholder=holder)


def test_clerk_sees_the_reader_and_whether_a_card_is_on_it(desk, desk_reader):
    code, out, _ = desk.run("readers")
    assert code == 0 and "Virtual PCD" in out and "no card" in out

    desk_reader.insert(SoftCard.new())
    code, out, _ = desk.run("readers")
    assert code == 0 and "card present" in out


def test_clerk_issues_a_card_and_a_counter_top_up_reaches_it_at_once(desk, desk_reader, clerk):
    soft, card = _issue(desk, desk_reader, clerk, deposit=2000)

    assert card.status == CardStatus.ACTIVE and card.deposit == 2000
    assert card.uid == soft.uid.hex()
    assert soft.personalised and soft.card_no == card.card_no
    assert soft.key_version == card.key_version
    assert soft.card_key == card_key(card), "the key the server derives is on the card"
    assert AuditEvent.objects.filter(action="card.personalization_read",
                                     subject_id=card.card_no).count() == 1

    load = card_top_up(card=card, amount=5000, method="cash", by=clerk)
    code, out, err = desk.run("load")

    assert code == 0, out + err
    assert soft.main == 5000 and soft.card_seq == 1
    assert f"load {load.load_id}): accepted" in out
    card.refresh_from_db()
    assert card.card_main == 5000 and card.card_seq == 1
    assert PendingLoad.objects.get(pk=load.pk).status == LoadStatus.COMPLETED
    record = TerminalRecord.objects.get(terminal__terminal_id=desk.terminal_id)
    assert record.status == "accepted", "the server checked the card's TAC"

    code, out, _ = desk.run("read")
    assert code == 0 and "The card and the server agree." in out
    assert "account ¥50.00, card ¥50.00, pending ¥0.00" in out


def test_an_issue_cut_short_by_a_pulled_card_is_finished_by_running_it_again(
        desk, desk_reader, clerk):
    holder = make_cardholder(by=clerk)
    soft = PulledOnPersonalise(b"\x04" + bytes.fromhex("a1b2c3d4e5f6"))
    desk_reader.insert(soft)

    code, out, err = desk.run("issue", "--cardholder", holder.number)

    assert code == 1 and "The card left the reader" in err
    assert not soft.personalised
    card = Card.objects.get(cardholder=holder)  # the server had issued it
    desk_reader.insert(soft)
    code, out, _ = desk.run("read")
    assert "the issue was interrupted. Run issue again" in out

    soft.pull = False
    desk_reader.insert(soft)
    code, out, err = desk.run("issue", "--cardholder", holder.number)

    assert code == 0, out + err
    assert f"Card {card.card_no} was issued already; finishing it." in out
    assert Card.objects.filter(cardholder=holder).count() == 1, "no second card"
    assert soft.personalised and soft.card_no == card.card_no
    assert soft.card_key == card_key(card)


def test_an_issue_with_the_server_down_changes_nothing_and_runs_again(desk, desk_reader, clerk):
    holder = make_cardholder(by=clerk)
    soft = SoftCard.new()
    desk_reader.insert(soft)

    code, _, err = desk.run("issue", "--cardholder", holder.number, server=DEAD_SERVER,
                            terminal=False)

    assert code == 1 and "The server does not answer" in err
    assert not soft.personalised and not Card.objects.filter(cardholder=holder).exists()
    code, out, err = desk.run("issue", "--cardholder", holder.number)
    assert code == 0, out + err
    assert soft.personalised


def test_a_personalised_card_is_never_issued_again(desk, desk_reader, clerk):
    _soft, card = _issue(desk, desk_reader, clerk)
    other = make_cardholder(by=clerk)

    code, _, err = desk.run("issue", "--cardholder", other.number)

    assert code == 1
    assert f"already personalised as card {card.card_no}" in err
    assert not Card.objects.filter(cardholder=other).exists()


def test_issuing_again_after_a_desk_without_credentials_finishes_the_loads(
        desk, desk_reader, clerk):
    holder = make_cardholder(by=clerk)
    soft = SoftCard.new()
    desk_reader.insert(soft)
    code, out, _ = desk.run("issue", "--cardholder", holder.number, terminal=False)
    assert code == 0 and soft.personalised
    card = Card.objects.get(cardholder=holder)
    card_top_up(card=card, amount=1500, method="cash", by=clerk)

    code, out, _ = desk.run("load", terminal=False)
    assert code == 1
    code, out, _ = desk.run("issue", "--cardholder", holder.number)

    assert code == 0 and "already personalised" in out
    assert soft.main == 1500
    assert Card.objects.filter(cardholder=holder).count() == 1


def test_read_explains_purchases_an_offline_till_has_not_uploaded(desk, desk_reader, clerk):
    soft, card = _issue(desk, desk_reader, clerk)
    card_top_up(card=card, amount=3000, method="cash", by=clerk)
    desk.run("load")
    card_top_up(card=card, amount=700, method="cash", by=clerk)
    soft.transact("purchase", "main", 1200, int(time.time()), 1, "POS-0099")  # offline till

    code, out, _ = desk.run("read")

    assert code == 0
    assert "counter 2, main ¥18.00" in out
    assert "1 transaction(s) the server has not received yet" in out
    assert "main: the card holds ¥18.00, the records say ¥30.00 (difference -¥12.00)" in out
    assert "main: ¥7.00 is waiting to be written to the card: run load." in out

    code, out, _ = desk.run("read", lang="zh-hans")
    assert "卡片上有 1 笔交易服务器尚未收到" in out


def _wait_for_prompt(desk: Desk, prompt: str, seen: list[str], seconds: float = 20) -> None:
    """Collect what the station prints (from its thread) until it asks for `prompt`."""
    deadline = time.monotonic() + seconds
    while not any(prompt in out for out in seen):
        assert time.monotonic() < deadline, f"the station never asked: {prompt!r}; {seen}"
        time.sleep(0.05)
        captured = desk.capsys.readouterr()
        seen.append(captured.out + captured.err)


def _run_in_thread(desk: Desk, *args: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def target() -> None:
        result["code"] = run(["--server", desk.server, "--token", desk.token,
                              "--reader", "Virtual PCD", "--lang", "en", "--wait", "20",
                              "--terminal-id", desk.terminal_id, "--secret", desk.secret,
                              "--queue", str(desk.queue), *args])

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


def test_a_replacement_reads_the_old_card_and_reports_what_it_really_holds(
        desk, desk_reader, clerk):
    old_soft, old = _issue(desk, desk_reader, clerk)
    card_top_up(card=old, amount=5000, method="cash", by=clerk)
    desk.run("load")
    old_soft.transact("purchase", "main", 1200, int(time.time()), 7, "POS-0099")  # not uploaded

    code, out, err = desk.run("replace")

    assert code == 3, out + err
    exception = ReconException.objects.get(code=ExceptionCode.CARD_READING_MISMATCH)
    assert exception.card_no == old.card_no
    assert exception.detail["differences"] == {"card_seq": 1, "main": -1200}
    assert f"exception {exception.pk}" in err and "--accept-difference" in err
    old.refresh_from_db()
    assert old.status == CardStatus.ACTIVE, "nothing replaced before the clerk confirms"

    new_soft, seen = SoftCard.new(), list[str]()
    thread, result = _run_in_thread(desk, "replace", "--accept-difference")
    _wait_for_prompt(desk, "Remove the old card and put the new card on the reader", seen)
    desk_reader.insert(new_soft)  # the clerk swaps the cards when asked
    thread.join(timeout=60)
    seen.append(desk.capsys.readouterr().out)

    assert result["code"] == 0, seen
    assert CardReading.objects.count() == 2
    assert ReconException.objects.filter(code=ExceptionCode.CARD_READING_MISMATCH).count() == 1
    old.refresh_from_db()
    new = Card.objects.get(replaces=old)
    assert old.status == CardStatus.REPLACED and new.status == CardStatus.ACTIVE
    assert new_soft.card_no == new.card_no and new_soft.card_key == card_key(new)
    assert new_soft.main == 5000, "the records' balance moved to the new card and was loaded"
    new.refresh_from_db()
    assert new.card_main == 5000
    assert f"Card {old.card_no} replaced by card {new.card_no}." in "".join(seen)


def test_a_replacement_cut_short_after_the_server_replaced_is_finished(desk, desk_reader, clerk):
    _old_soft, old = _issue(desk, desk_reader, clerk)
    card_top_up(card=old, amount=800, method="cash", by=clerk)
    desk.run("load")
    new_soft = PulledOnPersonalise(b"\x04" + bytes.fromhex("0badc0ffee01"))

    thread, result = _run_in_thread(desk, "replace")
    _wait_for_prompt(desk, "Remove the old card", [])
    desk_reader.insert(new_soft)
    thread.join(timeout=60)
    assert result["code"] == 1  # pulled during PERSONALISE
    new = Card.objects.get(replaces=old)
    assert not new_soft.personalised

    stranger = SoftCard.new()
    desk_reader.insert(stranger)
    code, out, err = desk.run("replace", "--card", old.card_no)
    assert code == 1 and f"Wrong card: expected card {new.card_no}" in err
    assert not stranger.personalised

    new_soft.pull = False
    desk_reader.insert(new_soft)
    code, out, err = desk.run("replace", "--card", old.card_no)

    assert code == 0, out + err
    assert f"already replaced by {new.card_no}" in out
    assert Card.objects.filter(replaces=old).count() == 1
    assert new_soft.card_no == new.card_no and new_soft.main == 800
    assert CardReading.objects.count() == 1, "no reading after the server replaced the card"


def test_a_lost_card_is_replaced_without_it(desk, desk_reader, clerk):
    _old_soft, old = _issue(desk, desk_reader, clerk)
    desk_reader.remove()
    new_soft = SoftCard.new()
    desk_reader.insert(new_soft)

    code, out, err = desk.run("replace", "--card", old.card_no)
    assert code == 1 and "--without-old-card" in err

    code, out, err = desk.run("replace", "--card", old.card_no, "--without-old-card")
    assert code == 0, out + err
    assert new_soft.card_no == Card.objects.get(replaces=old).card_no


def test_clerk_cancels_a_card_after_reading_it(desk, desk_reader, clerk):
    _soft, card = _issue(desk, desk_reader, clerk, deposit=1000)
    card_top_up(card=card, amount=2500, method="cash", by=clerk)
    desk.run("load")

    code, out, err = desk.run("cancel", "--refund-method", "cash")

    assert code == 0, out + err
    assert "deposit ¥10.00" in out and "paid out ¥35.00" in out
    card.refresh_from_db()
    assert card.status == CardStatus.CANCELLED
    reading = CardReading.objects.get(card_no=card.card_no)
    assert reading.purpose == "cancel" and reading.differences == {}
    code, out, err = desk.run("cancel", "--card", card.card_no, "--refund-method", "cash")
    assert code == 0 and "paid out ¥35.00" in out, "the retry gets the first answer back"


def test_the_station_says_what_is_wrong_in_both_languages(desk, desk_reader):
    code, _, err = desk.run("read")
    assert code == 1 and "No card on the reader" in err
    code, _, err = desk.run("read", lang="zh-hans")
    assert code == 1 and "上没有卡片" in err
    desk_reader.insert(SoftCard.new())
    code, _, err = desk.run("load")
    assert code == 1 and "blank (not personalised)" in err


def test_a_reader_that_is_not_there(desk, capsys):
    code = run(["--reader", "No Such Reader", "--lang", "en", "readers"])
    err = capsys.readouterr().err
    assert code == 1 and 'No reader named like "No Such Reader"' in err


def test_the_servers_refusal_reaches_the_clerk_with_its_code(desk, desk_reader, clerk):
    _soft, card = _issue(desk, desk_reader, clerk)
    desk_reader.insert(SoftCard.new())

    code, _, err = desk.run("issue", "--cardholder", card.cardholder.number)
    assert code == 1 and "The server refused (409 active_card_exists)" in err
    code, _, err = desk.run("issue", "--cardholder", "NOBODY-1")
    assert code == 1 and "(400 unknown_cardholder)" in err
    code, _, err = desk.run("issue", "--cardholder", "NOBODY-1", lang="zh-hans")
    assert code == 1 and "服务器拒绝了请求（400 unknown_cardholder）" in err
    assert Card.objects.count() == 1


class CutsTheServerOnTransact(SoftCard):
    """A card whose TRANSACT coincides with the desk's network going down."""

    switch: Any = None

    def process_apdu(self, command: bytes) -> bytes:
        answer = super().process_apdu(command)
        if self.switch is not None and command[1:2] == b"\x50" and answer[-2:] == b"\x90\x00":
            self.switch.off()
            self.switch = None
        return answer


def test_a_load_written_while_the_server_went_away_is_sent_later_and_never_written_twice(
        desk, desk_reader, clerk, live_server):
    from tests.tcp_switch import TcpSwitch

    switch = TcpSwitch(live_server.url)
    switch.on()
    soft = CutsTheServerOnTransact(b"\x04" + bytes.fromhex("5a5a5a5a5a01"))
    _soft, card = _issue(desk, desk_reader, clerk, card=soft)
    load = card_top_up(card=card, amount=5000, method="cash", by=clerk)
    soft.switch = switch

    code, out, err = desk.run("load", server=switch.url)

    assert code == 0, out + err
    assert soft.main == 5000, "the money is on the card"
    assert "1 load record(s) are written to the card but not yet on the server" in out
    assert PendingLoad.objects.get(pk=load.pk).status == LoadStatus.PENDING
    switch.on()
    code, out, err = desk.run("load", server=switch.url)

    assert code == 0, out + err
    assert "Sent 1 record(s) this desk still held." in out
    assert soft.main == 5000 and soft.card_seq == 1, "not written a second time"
    assert PendingLoad.objects.get(pk=load.pk).status == LoadStatus.COMPLETED
    card.refresh_from_db()
    assert card.card_main == 5000
    switch.off()

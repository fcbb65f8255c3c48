"""The issuing station's work at the desk: read, issue, load, replace, cancel.

Every flow can be run again after any interruption (card pulled, server down, the
program killed) and finishes the job instead of doing it twice:
- the server is asked first what it already did (a live card with this UID, a card
  already replaced), and each POST carries an Idempotency-Key;
- the card is asked what it already holds (PERSONALISE happens once; GET STATUS tells);
- load records live in the desk's durable queue until the server's
  `highest_contiguous_seq` covers them, and a load is never written twice.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from terminals.client.apdu import SW, CardError, CardInfo
from terminals.client.http import ProtocolError, Unreachable
from terminals.client.i18n import message
from terminals.client.protocol import PURSES
from terminals.client.terminal import IssuerTerminal, Refusal
from terminals.station.office import LIVE, Office
from terminals.station.pcsc import CardRemoved, DeskCard, DeskReader, StationError

SW_MEANING = {
    SW.INSUFFICIENT: "insufficient funds on the purse",
    SW.BALANCE_LIMIT: "the purse would exceed its maximum",
    SW.WRONG_DATA: "amount 0 or malformed data",
    SW.CONDITIONS: "not allowed in the card's state",
    SW.INS_UNKNOWN: "unknown instruction",
    SW.CLA_UNKNOWN: "unknown class",
    SW.WRONG_LENGTH: "wrong length",
    SW.WRONG_P1P2: "wrong parameters",
    SW.FILE_NOT_FOUND: "application not found",
}


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def signed_yuan(fen: int) -> str:
    return ("+" if fen > 0 else "") + yuan(fen)


@contextlib.contextmanager
def _terminal_calls() -> Iterator[None]:
    """The terminal protocol's failures as the station's messages."""
    try:
        yield
    except Unreachable as exc:
        raise StationError("server_unreachable", detail=str(exc)) from exc
    except ProtocolError as exc:
        raise StationError("server_refused", status=exc.status, error=exc.code,
                           message=str(exc)) from exc


class Station:
    def __init__(self, *, office: Office | None, reader: DeskReader, lang: str,
                 terminal: IssuerTerminal | None = None, out: TextIO | None = None,
                 wait_seconds: float = 120) -> None:
        self.office, self.reader, self.lang = office, reader, lang
        self.terminal = terminal
        self.out = out or sys.stdout
        self.wait_seconds = wait_seconds

    def say(self, code: str, **values: Any) -> None:
        print(message(code, self.lang, **values), file=self.out, flush=True)

    def text(self, code: str, **values: Any) -> str:
        return message(code, self.lang, **values)

    @property
    def server(self) -> Office:
        assert self.office is not None, "the command needs --server and --token"
        return self.office

    # --- The card on the reader -------------------------------------------------------

    def _open(self) -> tuple[DeskCard, bytes, CardInfo]:
        card = self.reader.connect()
        return (card, *self._identify(card))

    def _identify(self, card: DeskCard) -> tuple[bytes, CardInfo]:
        try:
            card.select()
        except CardError as exc:
            raise StationError("not_onecard", sw=f"{exc.sw:04X}") from exc
        return card.uid, card.get_status()

    def _open_if_present(self) -> tuple[DeskCard | None, bytes | None, CardInfo | None]:
        try:
            return self._open()
        except StationError as exc:
            if exc.code != "no_card":
                raise
            return None, None, None

    def _card_line(self, uid: bytes, info: CardInfo) -> None:
        self.say("card_uid", uid=uid.hex())
        if not info.personalised:
            self.say("card_blank")
            return
        self.say("card_status", card_no=info.card_no, key_version=info.key_version,
                 card_seq=info.card_seq, main=yuan(info.main), subsidy=yuan(info.subsidy))

    def _server_lines(self, server: dict[str, Any]) -> None:
        flag = self.text("server_blacklisted") if server.get("blacklisted") else ""
        self.say("server_status", card_no=server["card_no"], holder=server["cardholder"],
                 status=server["status"], blacklisted=flag, card_seq=server["card_seq"])
        for purse in PURSES:
            figures = server["balances"][purse]
            self.say("server_purse", purse=self.text(f"purse_{purse}"),
                     account=yuan(figures["account"]), card=yuan(figures["card"]),
                     pending=yuan(figures["pending"]))

    # --- readers, read ----------------------------------------------------------------

    def readers(self) -> int:
        states = self.reader.states()
        if not states:
            raise StationError("no_reader")
        for state in states:
            self.say("reader_line", name=state.name,
                     state=self.text("reader_card" if state.card_present else "reader_empty"))
        return 0

    def read(self) -> int:
        card, uid, info = self._open()
        try:
            self._card_line(uid, info)
            if info.personalised:
                server = self.server.card(info.card_no)
            else:
                server = self.server.live_card_with_uid(uid)
            if server is None:
                self.say("explain_unknown" if info.personalised else "server_none",
                         card_no=info.card_no)
                return 0
            self._server_lines(server)
            notes = self.explain(uid, info, server)
            for code, values in notes:
                self.say(code, **values)
            if not notes:
                self.say("all_agree")
            return 0
        finally:
            card.close()

    def explain(self, uid: bytes, info: CardInfo,
                server: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Why the card and the server's view of it differ, one note per reason."""
        notes: list[tuple[str, dict[str, Any]]] = []
        if not info.personalised:
            return [("explain_blank_issued", {"card_no": server["card_no"]})]
        if server["uid"].lower() != uid.hex():
            notes.append(("explain_uid", {"uid": uid.hex(), "card_no": server["card_no"],
                                          "recorded": server["uid"]}))
        if server["status"] != "active" or server.get("blacklisted"):
            notes.append(("explain_status", {"status": server["status"]}))
        behind = info.card_seq - int(server["card_seq"])
        if behind > 0:
            notes.append(("explain_unsent", {"count": behind}))
        elif behind < 0:
            notes.append(("explain_ahead", {"count": -behind}))
        for purse in PURSES:
            figures, name = server["balances"][purse], self.text(f"purse_{purse}")
            on_card = info.balance(purse)
            if on_card != figures["card"]:
                notes.append(("explain_purse", {
                    "purse": name, "card": yuan(on_card), "recorded": yuan(figures["card"]),
                    "diff": signed_yuan(on_card - figures["card"])}))
            if figures["pending"]:
                notes.append(("explain_pending", {"purse": name,
                                                  "amount": yuan(figures["pending"])}))
            if server["status"] in LIVE and figures["account"] != figures["card"] + figures[
                    "pending"]:
                notes.append(("explain_account", {
                    "purse": name, "account": yuan(figures["account"]),
                    "sum": yuan(figures["card"] + figures["pending"])}))
        return notes

    # --- issue ------------------------------------------------------------------------

    def issue(self, *, cardholder: str, deposit: int = 0, deposit_method: str = "cash") -> int:
        card, uid, info = self._open()
        try:
            if info.personalised:
                server = self.server.card(info.card_no)
                if not (server and server["cardholder"] == cardholder
                        and server["uid"].lower() == uid.hex() and server["status"] == "active"):
                    raise StationError("card_already_personalised", card_no=info.card_no)
                self.say("resuming", card_no=server["card_no"])
            else:
                server = self.server.live_card_with_uid(uid)
                if server is not None and server["cardholder"] != cardholder:
                    raise StationError("uid_in_use", uid=uid.hex(), card_no=server["card_no"],
                                       holder=server["cardholder"])
                if server is not None:
                    self.say("resuming", card_no=server["card_no"])
                else:
                    server = self.server.card_issue(cardholder=cardholder, uid=uid,
                                                    deposit=deposit,
                                                    deposit_method=deposit_method)
                    self.say("issued", card_no=server["card_no"], holder=cardholder)
            self._finish(server, card, uid, info)
            return 0
        finally:
            card.close()

    def _finish(self, server: dict[str, Any], card: DeskCard, uid: bytes,
                info: CardInfo) -> None:
        """Personalise the card as `server` says (unless done), read it back, load it."""
        card_no = server["card_no"]
        if server["uid"].lower() != uid.hex():
            raise StationError("wrong_card", expected=f"{card_no} (UID {server['uid']})",
                               found=f"UID {uid.hex()}")
        if info.personalised:
            if info.card_no != card_no:
                raise StationError("wrong_card", expected=card_no, found=info.card_no)
            self.say("already_personalised_ok", card_no=card_no)
        else:
            keys = self.server.personalization(card_no)
            if keys["uid"].lower() != uid.hex() or keys["card_no"] != card_no:
                raise StationError("wrong_card", expected=card_no, found=f"UID {uid.hex()}")
            card.personalise(int(keys["key_version"]), bytes.fromhex(keys["card_key"]), card_no)
            self.say("personalised", card_no=card_no, key_version=keys["key_version"])
        after = card.get_status()
        expected = (True, card_no, int(server["key_version"]))
        found = (after.personalised, after.card_no, after.key_version)
        if found != expected:
            raise StationError("verify_failed", found=found, expected=expected)
        self.say("verified", card_no=after.card_no, card_seq=after.card_seq)
        self._write_loads(card, card_no)

    # --- load -------------------------------------------------------------------------

    def load(self) -> int:
        card, _uid, info = self._open()
        try:
            if not info.personalised:
                raise StationError("not_personalised")
            if self.server.card(info.card_no) is None:
                raise StationError("unknown_card", card_no=info.card_no)
            self._write_loads(card, info.card_no, required=True)
            return 0
        finally:
            card.close()

    def _send_queue(self) -> None:
        """Records this desk still holds (a run cut short) go first."""
        if self.terminal is None or not self.terminal.queue.count():
            return
        with _terminal_calls():
            stats = self.terminal.upload_pending()
        if stats.sent:
            self.say("uploaded_queue", count=stats.sent)

    def _write_loads(self, card: DeskCard, card_no: str, *, required: bool = False) -> None:
        if self.terminal is None:
            if required:
                raise StationError("no_terminal")
            server = self.server.card(card_no) or {}
            pending = sum(b["pending"] for b in server.get("balances", {}).values())
            if pending:
                self.say("pending_hint", amount=yuan(pending))
            return
        terminal = self.terminal
        results: dict[int, str] = {}

        def note(batch: list[dict[str, Any]], answer: dict[str, Any], _s: float) -> None:
            for record, result in zip(batch, answer["results"], strict=True):
                results[record["terminal_seq"]] = result.get("reason") or result["status"]

        terminal.on_batch = note
        try:
            with _terminal_calls():
                self._send_queue()
                terminal.refresh_blacklist()
                claim = terminal.claim_loads(card)
        finally:
            terminal.on_batch = None
        if claim.refused is Refusal.BLACKLISTED:
            raise StationError("explain_status", status="blacklisted")
        if claim.refused is Refusal.NOT_PERSONALISED:
            raise StationError("not_personalised")
        if claim.refused is not None:
            raise StationError("load_refused", reason=str(claim.refused))
        if not claim.records and not claim.skipped:
            self.say("load_none", card_no=card_no)
        for record in claim.records:
            self.say("loaded", amount=yuan(record["amount"]),
                     purse=self.text(f"purse_{record['purse']}"), load_id=record["load_id"],
                     status=results.get(record["terminal_seq"], "queued"))
        for load_id, reason in claim.skipped:
            self.say("load_skipped", load_id=load_id, reason=reason)
        if terminal.queue.count():
            self.say("load_unsent", count=terminal.queue.count())
        after = card.get_status()
        self.say("balance_after", main=yuan(after.main), subsidy=yuan(after.subsidy))

    # --- replace and cancel -----------------------------------------------------------

    def _report(self, card_no: str, info: CardInfo, purpose: str, accept: bool) -> None:
        """Tell the server what the card really holds; stop on a difference unless the
        clerk accepted it (the exception is raised for finance either way)."""
        reading = self.server.card_reading(card_no, purpose=purpose, card_seq=info.card_seq,
                                           main=info.main, subsidy=info.subsidy,
                                           key_version=info.key_version)
        if not reading["differences"]:
            self.say("reading_reported", result=self.text("reading_agrees"))
            return
        self.say("reading_reported",
                 result=self.text("reading_differs", exception=reading["exception"]))
        server = self.server.card(card_no)
        assert server is not None
        for code, values in self.explain(bytes.fromhex(server["uid"]), info, server):
            self.say(code, **values)
        if not accept:
            raise StationError("difference_stop", exit_code=3, exception=reading["exception"])

    def _new_card(self, card: DeskCard | None, old_uid: bytes) -> tuple[DeskCard, bytes,
                                                                       CardInfo]:
        """The replacement card: the one on the reader unless that is the old card."""
        uid = None
        if card is not None:
            with contextlib.suppress(CardRemoved):  # the clerk took the old card off already
                uid = card.read_uid()
            if uid is not None and uid != old_uid:
                return (card, *self._identify(card))
            card.close()
        self.say("swap_prompt" if uid == old_uid else "new_card_prompt")
        card = self.reader.wait_for_card(other_than=old_uid, seconds=self.wait_seconds)
        return (card, *self._identify(card))

    def _named_card(self, card_no: str | None, info: CardInfo | None) -> dict[str, Any]:
        if card_no is None:
            if info is None or not info.personalised:
                raise StationError("card_needed")
            card_no = info.card_no
        server = self.server.card(card_no)
        if server is None:
            raise StationError("unknown_card", card_no=card_no)
        return server

    def _read_before(self, server: dict[str, Any], card: DeskCard | None,
                     info: CardInfo | None, *, purpose: str, without_card: bool,
                     accept: bool) -> None:
        """Read the card in the holder's hand (if they have it) before the server acts."""
        if card is not None and info is not None and info.personalised:
            if info.card_no != server["card_no"]:
                raise StationError("wrong_card", expected=server["card_no"], found=info.card_no)
            self._send_queue()
            self._report(server["card_no"], info, purpose, accept)
        elif not without_card:
            raise StationError("old_card_needed" if purpose == "replace" else "card_needed")

    def replace(self, *, card_no: str | None = None, without_old_card: bool = False,
                accept_difference: bool = False) -> int:
        card, _uid, info = self._open_if_present()
        try:
            old = self._named_card(card_no, info)
            old_uid = bytes.fromhex(old["uid"])
            if old["status"] == "replaced" and old.get("replaced_by"):
                new = self.server.card(old["replaced_by"])
                assert new is not None
                self.say("replace_resuming", old=old["card_no"], new=new["card_no"])
                card, uid, new_info = self._new_card(card, old_uid)
                self._finish(new, card, uid, new_info)
                return 0
            if old["status"] not in LIVE:
                raise StationError("not_live", card_no=old["card_no"], status=old["status"])
            self._read_before(old, card if _uid == old_uid else None, info, purpose="replace",
                              without_card=without_old_card, accept=accept_difference)
            card, uid, new_info = self._new_card(card, old_uid)
            if new_info.personalised:
                raise StationError("card_already_personalised", card_no=new_info.card_no)
            new = self.server.card_replace(old["card_no"], uid=uid)
            self.say("replaced", old=old["card_no"], new=new["card_no"])
            self._finish(new, card, uid, new_info)
            return 0
        finally:
            if card is not None:
                card.close()

    def cancel(self, *, card_no: str | None = None, refund_method: str = "cash",
               without_card: bool = False, accept_difference: bool = False) -> int:
        card, _uid, info = self._open_if_present()
        try:
            server = self._named_card(card_no, info)
            if server["status"] in LIVE:
                self._read_before(server, card, info, purpose="cancel",
                                  without_card=without_card, accept=accept_difference)
            # A card already cancelled by this desk gets its first answer back (the
            # Idempotency-Key); any other status is refused by the server with its reason.
            refund = self.server.card_cancel(server["card_no"], refund_method=refund_method)
            self.say("cancelled", card_no=refund["card_no"], method=refund["refund_method"],
                     main=yuan(refund["main"]), subsidy=yuan(refund["subsidy"]),
                     deposit=yuan(refund["deposit"]), fee=yuan(refund["fee"]),
                     total=yuan(refund["total"]))
            return 0
        finally:
            if card is not None:
                card.close()

"""The software card behaves as card-applet.md says, at the method level and in APDUs."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminals.client import apdu
from terminals.client.apdu import CardError, CardInfo, Command, TransactResult
from terminals.client.card import MAX_PURSE, ApduCard, SoftCard
from terminals.client.protocol import compute_tac, derive_card_key

MASTER = bytes(range(16))
UID = bytes.fromhex("04a1b2c3")
CARD_NO = "20260001"
CARD_KEY = bytes.fromhex("0d6be83f0b9bf77b567c981421d65205")  # vectors.json card_keys[0]
TS = 1795000000


def personalised(**kw) -> SoftCard:
    card = SoftCard(UID, **kw)
    card.personalise(1, CARD_KEY, CARD_NO)
    return card


def sw_of(answer: bytes) -> int:
    return struct.unpack(">H", answer[-2:])[0]


def selected(card: SoftCard) -> SoftCard:
    assert card.process_apdu(apdu.select().encode()) == b"\x90\x00"
    return card


# --- Method level -------------------------------------------------------------------------


def test_the_vector_card_computes_the_vector_tac():
    card = personalised()
    card.transact("load", "main", 5000, 1794990000, 41, "POS-0001")
    for _ in range(5):  # bring card_seq to 6 with loads and purchases that cancel out
        card.transact("load", "subsidy", 1, TS, 1, "KIOSK-01")
    assert card.card_seq == 6

    result = card.transact("purchase", "main", 1250, TS, 42, "POS-0001")

    assert result == TransactResult(7, 5000, "ef97d118201661b9")  # vectors.json tacs[0]
    assert (card.main, card.subsidy) == (3750, 5)


def test_card_key_of_the_vector_card_is_derived_from_its_uid_and_number():
    assert derive_card_key(MASTER, UID, CARD_NO) == CARD_KEY


def test_a_blank_card_reports_nothing_and_refuses_transactions_with_6985():
    card = SoftCard(UID)
    assert card.get_status() == CardInfo(False, 0, 0, 0, 0, "")
    with pytest.raises(CardError) as info:
        card.transact("load", "main", 100, TS, 1, "KIOSK-01")
    assert info.value.sw == 0x6985


def test_personalise_is_once_only():
    card = personalised()
    with pytest.raises(CardError) as info:
        card.personalise(2, bytes(16), "20269999")
    assert info.value.sw == 0x6985
    assert card.get_status() == CardInfo(True, 1, 0, 0, 0, CARD_NO)


@pytest.mark.parametrize(
    ("key_version", "key", "card_no"),
    [
        (0, CARD_KEY, CARD_NO),
        (1, bytes(15), CARD_NO),
        (1, CARD_KEY, "2026"),
        (1, CARD_KEY, "x" * 8),
    ],
)
def test_personalise_refuses_malformed_data_with_6a80(key_version, key, card_no):
    card = SoftCard(UID)
    with pytest.raises(CardError) as info:
        card.personalise(key_version, key, card_no)
    assert info.value.sw == 0x6A80
    assert not card.personalised


@pytest.mark.parametrize(
    ("kind", "purse", "amount", "sw"),
    [
        ("purchase", "main", 1001, 0x9401),  # more than the purse holds
        ("load", "main", MAX_PURSE - 999, 0x9402),  # past 1,000,000
        ("purchase", "main", 0, 0x6A80),
        ("load", "subsidy", 0, 0x6A80),
        ("refund", "main", 10, 0x6A86),
        ("load", "savings", 10, 0x6A86),
    ],
)
def test_transact_refusals_change_nothing(kind, purse, amount, sw):
    card = personalised()
    card.transact("load", "main", 1000, TS, 1, "KIOSK-01")
    before = card.get_status()

    with pytest.raises(CardError) as info:
        card.transact(kind, purse, amount, TS, 2, "KIOSK-01")

    assert info.value.sw == sw
    assert card.get_status() == before


def test_a_load_up_to_exactly_the_maximum_is_taken_and_a_purchase_of_everything_too():
    card = personalised()
    card.transact("load", "subsidy", MAX_PURSE, TS, 1, "KIOSK-01")
    assert card.subsidy == MAX_PURSE
    card.transact("purchase", "subsidy", MAX_PURSE, TS, 2, "POS-0001")
    assert card.subsidy == 0 and card.card_seq == 2


def test_malformed_terminal_id_or_times_are_refused_with_6a80():
    card = personalised()
    for args in [(TS, 1, ""), (TS, 1, "POS 1"), (-1, 1, "POS-1"), (TS, 2**32, "POS-1")]:
        with pytest.raises(CardError) as info:
            card.transact("load", "main", 10, *args)
        assert info.value.sw == 0x6A80
    assert card.card_seq == 0


def test_each_tac_is_the_protocol_tac_of_the_record_the_terminal_uploads():
    card = personalised()
    load = card.transact("load", "subsidy", 20000, 1795003600, 3, "KIOSK-01")
    sale = card.transact("purchase", "subsidy", 650, 1795007200, 9, "POS-0002")

    assert load.tac == compute_tac(
        CARD_KEY, type="load", card_no=CARD_NO, card_seq=1, purse="subsidy", amount=20000,
        balance_before=0, terminal_id="KIOSK-01", terminal_seq=3, ts=1795003600,
    )
    assert sale.tac == compute_tac(
        CARD_KEY, type="purchase", card_no=CARD_NO, card_seq=2, purse="subsidy", amount=650,
        balance_before=20000, terminal_id="POS-0002", terminal_seq=9, ts=1795007200,
    )


def test_card_state_survives_power_loss_when_it_has_a_memory_file(tmp_path):
    path = tmp_path / "card.json"
    card = personalised(path=path)
    card.transact("load", "main", 5000, TS, 1, "KIOSK-01")
    card.transact("purchase", "main", 1200, TS, 2, "POS-0001")
    with pytest.raises(CardError):
        card.transact("purchase", "main", 99999, TS, 3, "POS-0001")

    again = SoftCard.open(path)

    assert again.get_status() == CardInfo(True, 1, 2, 3800, 0, CARD_NO)
    assert (again.uid, again.card_key) == (UID, CARD_KEY)
    assert again.transact("purchase", "main", 800, TS, 4, "POS-0001").card_seq == 3
    assert SoftCard.open(path).card_seq == 3
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"], "no temporary files left"


def test_a_card_that_cannot_write_its_memory_changes_nothing(tmp_path):
    path = tmp_path / "card.json"
    card = personalised(path=path)
    path.unlink()
    path.mkdir()  # the memory cannot be replaced any more (this works even as root)
    (path / "x").touch()

    with pytest.raises(OSError):
        card.transact("load", "main", 100, TS, 1, "KIOSK-01")

    assert card.card_seq == 0 and card.main == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"], "no temporary files left"


def test_new_cards_get_distinct_seven_byte_uids():
    rng = random.Random(7)
    uids = {SoftCard.new(rng).uid for _ in range(200)}
    assert len(uids) == 200 and all(len(u) == 7 and u[0] == 4 for u in uids)
    with pytest.raises(ValueError):
        SoftCard(b"\x01\x02\x03")


# --- APDUs ----------------------------------------------------------------------------------


def test_get_uid_is_answered_without_select():
    card = SoftCard(UID)
    assert card.process_apdu(bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"


def test_select_answers_9000_with_the_onecard_aid_only():
    card = SoftCard(UID)
    assert apdu.select().encode() == bytes.fromhex("00A4040008F04F4E4543415244")
    assert card.process_apdu(bytes.fromhex("00A4040008F04F4E4543415244")) == b"\x90\x00"
    assert sw_of(card.process_apdu(bytes.fromhex("00A4040008F04F4E4543415258"))) == 0x6A82
    assert sw_of(card.process_apdu(bytes.fromhex("80CA000000"))) == 0x6985, "deselected"


def test_card_commands_need_select_first_and_again_after_a_reset():
    card = personalised()
    assert sw_of(card.process_apdu(apdu.get_status().encode())) == 0x6985
    selected(card)
    assert sw_of(card.process_apdu(apdu.get_status().encode())) == 0x9000
    card.reset()
    assert sw_of(card.process_apdu(apdu.get_status().encode())) == 0x6985


def test_get_status_of_a_blank_card_is_the_documented_bytes():
    card = selected(SoftCard(UID))
    assert card.process_apdu(bytes.fromhex("80CA000000")) == bytes.fromhex(
        "0000" "00000000" "00000000" "00000000" "00" "9000"
    )


def test_personalise_then_status_then_transact_in_apdus():
    card = selected(SoftCard(UID))
    data = bytes([1]) + CARD_KEY + bytes([8]) + CARD_NO.encode()
    assert card.process_apdu(bytes([0x80, 0xE0, 0, 0, len(data)]) + data) == b"\x90\x00"
    status = card.process_apdu(bytes.fromhex("80CA000000"))
    assert status == bytes.fromhex("0101" "00000000" "00000000" "00000000") + b"\x08" + (
        CARD_NO.encode() + b"\x90\x00"
    )
    again = card.process_apdu(bytes([0x80, 0xE0, 0, 0, len(data)]) + data)
    assert again == b"\x69\x85", "PERSONALISE twice"

    load = bytes.fromhex("00004E20" "6AFD5510" "00000003") + b"\x08KIOSK-01"
    answer = card.process_apdu(bytes([0x80, 0x50, 0x02, 0x01, len(load)]) + load + b"\x00")
    assert answer[:8] == bytes.fromhex("00000001" "00000000")
    assert answer[8:16].hex() == compute_tac(
        CARD_KEY, type="load", card_no=CARD_NO, card_seq=1, purse="subsidy", amount=20000,
        balance_before=0, terminal_id="KIOSK-01", terminal_seq=3, ts=0x6AFD5510,
    )
    assert answer[16:] == b"\x90\x00" and len(answer) == 18


@pytest.mark.parametrize(
    ("hex_apdu", "sw"),
    [
        ("80", 0x6700),  # shorter than a header
        ("80CA00", 0x6700),
        ("80CA00000100", 0x6700),  # GET STATUS with data
        ("8050010005000000", 0x6700),  # Lc says 5, 3 bytes follow
        ("805001000400000001", 0x6700),  # too short for amount, ts, seq, terminal_id
        ("80E0000001", 0x6700),  # PERSONALISE without data
        ("80500100000000", 0x6700),  # extended length
        ("FFCA000001AA", 0x6700),  # GET UID with data
        ("8012000000", 0x6D00),  # unknown instruction
        ("00B0000000", 0x6D00),
        ("FFB0000000", 0x6D00),
        ("9050010000", 0x6E00),  # unknown class
        ("1050010000", 0x6E00),
        ("80CA010000", 0x6A86),  # GET STATUS with P1 01
        ("FFCA010000", 0x6A86),  # GET UID P1 01 (ATS historical bytes): not offered
        ("00A4000008F04F4E4543415244", 0x6A86),
    ],
)
def test_malformed_apdus_get_the_documented_status_words(hex_apdu, sw):
    card = selected(personalised())
    assert card.process_apdu(bytes.fromhex(hex_apdu)) == struct.pack(">H", sw)
    assert card.card_seq == 0


def transact_apdu(p1: int, p2: int, amount: int, seq: int = 1, tid: str = "POS-0001") -> bytes:
    data = struct.pack(">III", amount, TS, seq) + apdu.lv(tid)
    return bytes([0x80, 0x50, p1, p2, len(data)]) + data


@pytest.mark.parametrize(
    ("p1", "p2", "amount", "sw"),
    [
        (0x01, 0x00, 501, 0x9401),
        (0x02, 0x01, MAX_PURSE + 1, 0x9402),
        (0x01, 0x00, 0, 0x6A80),
        (0x03, 0x00, 10, 0x6A86),
        (0x01, 0x02, 10, 0x6A86),
    ],
)
def test_transact_apdu_refusals(p1, p2, amount, sw):
    card = selected(personalised())
    card.transact("load", "main", 500, TS, 1, "KIOSK-01")
    assert card.process_apdu(transact_apdu(p1, p2, amount)) == struct.pack(">H", sw)
    assert (card.card_seq, card.main) == (1, 500)


def test_transact_apdu_with_a_terminal_id_longer_than_its_length_byte_is_6700():
    card = selected(personalised())
    good = transact_apdu(0x02, 0x00, 10)
    assert sw_of(card.process_apdu(good[:-1])) == 0x6700  # Lc no longer matches
    data = good[5:] + b"X"  # one byte beyond what the length prefix announces
    assert sw_of(card.process_apdu(bytes([0x80, 0x50, 2, 0, len(data)]) + data)) == 0x6700
    assert card.card_seq == 0


def test_transact_on_a_blank_card_in_apdus_is_6985():
    card = selected(SoftCard(UID))
    assert card.process_apdu(transact_apdu(0x02, 0x00, 10)) == b"\x69\x85"


def test_apdu_card_drives_a_soft_card_through_every_command():
    soft = SoftCard(UID)
    sent: list[bytes] = []

    def transmit(raw: bytes) -> bytes:
        sent.append(raw)
        return soft.process_apdu(raw)

    card = ApduCard(transmit)
    assert card.read_uid() == UID
    card.select()
    card.personalise(1, CARD_KEY, CARD_NO)
    load = card.transact("load", "main", 5000, TS, 1, "KIOSK-01")
    sale = card.transact("purchase", "main", 1250, TS, 2, "POS-0001")

    assert card.get_status() == soft.get_status() == CardInfo(True, 1, 2, 3750, 0, CARD_NO)
    assert load == TransactResult(1, 0, load.tac) and sale.balance_before == 5000
    with pytest.raises(CardError) as info:
        card.transact("purchase", "main", 5000, TS, 3, "POS-0001")
    assert info.value.sw == 0x9401
    with pytest.raises(CardError) as info:
        card.personalise(1, CARD_KEY, CARD_NO)
    assert info.value.sw == 0x6985
    assert [Command.decode(raw).ins for raw in sent] == [0xCA, 0xA4, 0xE0, 0x50, 0x50, 0xCA, 0x50,
                                                         0xE0]


@given(
    cla=st.integers(0, 255), ins=st.integers(0, 255), p1=st.integers(0, 255),
    p2=st.integers(0, 255), data=st.binary(max_size=255), le=st.none() | st.integers(0, 255),
)
def test_every_command_survives_an_encode_decode_round_trip(cla, ins, p1, p2, data, le):
    cmd = Command(cla, ins, p1, p2, data, le)
    assert Command.decode(cmd.encode()) == cmd


@given(
    info=st.builds(
        CardInfo, st.booleans(), st.integers(0, 255), st.integers(0, 2**32 - 1),
        st.integers(0, MAX_PURSE), st.integers(0, MAX_PURSE),
        st.from_regex(r"[0-9]{8,19}", fullmatch=True),
    ),
    result=st.builds(
        TransactResult, st.integers(1, 2**32 - 1), st.integers(0, MAX_PURSE),
        st.binary(min_size=8, max_size=8).map(bytes.hex),
    ),
)
def test_answers_survive_an_encode_decode_round_trip(info, result):
    assert apdu.decode_info(apdu.encode_info(info)) == info
    assert apdu.decode_result(apdu.encode_result(result)) == result


@given(raw=st.binary(max_size=300))
def test_any_bytes_get_an_answer_with_a_status_word_and_never_an_exception(raw):
    card = selected(personalised())
    answer = card.process_apdu(raw)
    assert len(answer) >= 2
    if card.card_seq:  # it happened to be a well-formed TRANSACT load
        assert sw_of(answer) == 0x9000


# --- Properties -----------------------------------------------------------------------------

operation = st.tuples(
    st.sampled_from(["purchase", "load"]),
    st.sampled_from(["main", "subsidy"]),
    st.integers(min_value=0, max_value=1_200_000) | st.integers(min_value=0, max_value=3000),
)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(operation, max_size=40))
def test_any_sequence_of_transactions_keeps_purses_in_bounds_and_the_chain_unbroken(ops):
    card = personalised()
    after = {"main": 0, "subsidy": 0}
    for n, (kind, purse, amount) in enumerate(ops, start=1):
        seq_before = card.card_seq
        try:
            result = card.transact(kind, purse, amount, TS + n, n, "POS-0001")
        except CardError as exc:
            assert exc.sw in (0x9401, 0x9402, 0x6A80)
            assert card.card_seq == seq_before and card.balance(purse) == after[purse]
            continue
        assert result.card_seq == seq_before + 1
        assert result.balance_before == after[purse], "balance_before follows the previous record"
        after[purse] = result.balance_before + (amount if kind == "load" else -amount)
        assert card.balance(purse) == after[purse]
        assert 0 <= card.main <= MAX_PURSE and 0 <= card.subsidy <= MAX_PURSE


@settings(max_examples=50, deadline=None)
@given(ops=st.lists(operation, max_size=25))
def test_the_apdu_path_and_the_method_path_agree_byte_for_byte(ops):
    by_method, by_apdu = personalised(), selected(personalised())
    for n, (kind, purse, amount) in enumerate(ops, start=1):
        try:
            expected = apdu.with_sw(
                apdu.encode_result(by_method.transact(kind, purse, amount, TS, n, "POS-0001"))
            )
        except CardError as exc:
            expected = struct.pack(">H", exc.sw)
        raw = apdu.transact(kind, purse, amount, TS, n, "POS-0001").encode()
        assert by_apdu.process_apdu(raw) == expected
    assert by_apdu.get_status() == by_method.get_status()


def test_a_card_in_use_carries_on_from_the_figures_it_was_given():
    card = SoftCard.in_use(UID, key_version=1, card_key=CARD_KEY, card_no=CARD_NO, card_seq=6,
                           main=5000, subsidy=5)

    result = card.transact("purchase", "main", 1250, TS, 42, "POS-0001")

    assert result == TransactResult(7, 5000, "ef97d118201661b9")  # vectors.json tacs[0]
    assert card.get_status() == CardInfo(True, 1, 7, 3750, 5, CARD_NO)


@pytest.mark.parametrize("figures", [{"card_seq": -1}, {"main": -1},
                                     {"subsidy": MAX_PURSE + 1}, {"card_seq": 2**32}])
def test_a_card_in_use_holds_only_what_a_card_can_hold(figures):
    with pytest.raises(ValueError):
        SoftCard.in_use(UID, key_version=1, card_key=CARD_KEY, card_no=CARD_NO, **figures)

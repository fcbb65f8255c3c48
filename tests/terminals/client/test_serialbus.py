"""RS-485 frames (serial-bus.md §2): encoding, CRC, and a receiver that survives noise."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from terminals.client.serialbus import Frame, FrameReader, crc16_modbus

frames = st.builds(Frame, st.integers(1, 247), st.integers(0, 255), st.integers(0, 255),
                   st.binary(max_size=64))


def test_crc16_modbus_check_value() -> None:
    # The catalogue check value of CRC-16/MODBUS over "123456789".
    assert crc16_modbus(b"123456789") == 0x4B37


def test_a_poll_frame_is_laid_out_as_the_contract_says() -> None:
    raw = Frame(address=3, command=0x01, seq=9).encode()
    assert raw[:6] == bytes([0x7E, 0x03, 0x01, 0x09, 0x00, 0x00])
    crc = crc16_modbus(raw[1:6])
    assert raw[6:] == bytes([crc & 0xFF, crc >> 8])  # low byte first


def test_answers_match_their_request_by_address_seq_and_command() -> None:
    poll = Frame(3, 0x01, 9)
    assert Frame(3, 0x81, 9, b"\x00").is_answer_to(poll)
    assert Frame(3, 0xFF, 9, b"\x03").is_answer_to(poll)
    assert not Frame(4, 0x81, 9).is_answer_to(poll)
    assert not Frame(3, 0x81, 8).is_answer_to(poll)


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_frames_split_anywhere_come_out_whole(sent: list[Frame], seed: int) -> None:
    stream = b"".join(f.encode() for f in sent)
    rng = random.Random(seed)
    reader, got, i = FrameReader(), [], 0
    while i < len(stream):
        step = rng.randint(1, 7)
        got += reader.feed(stream[i:i + step])
        i += step
    assert got == sent and reader.dropped == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_line_noise_never_makes_a_frame_only_loses_the_ones_it_hits(
        sent: list[Frame], seed: int) -> None:
    rng = random.Random(seed)
    stream = bytearray()
    intact = []
    for frame in sent:
        raw = bytearray(frame.encode())
        if rng.random() < 0.3:  # corrupt one byte after the SOF
            pos = rng.randrange(1, len(raw))
            raw[pos] ^= rng.randrange(1, 256)
        else:
            intact.append(frame)
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(4))) + raw
    reader = FrameReader()
    got = reader.feed(bytes(stream)) + reader.flush()
    # Every intact frame is found; anything else found must still be a well-formed frame
    # (CRC-checked), never a half-parsed record.
    assert all(f in got for f in intact)
    assert all(Frame(f.address, f.command, f.seq, f.payload).encode() for f in got)


def test_a_truncated_frame_is_dropped_and_counted() -> None:
    reader = FrameReader()
    assert reader.feed(Frame(3, 0x81, 1, b"abcdef").encode()[:7]) == []
    assert reader.flush() == []
    assert reader.dropped >= 1
    assert reader.feed(Frame(3, 0x81, 2).encode()) == [Frame(3, 0x81, 2)]

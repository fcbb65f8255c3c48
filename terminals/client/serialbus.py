"""Frames of the RS-485 reader bus (serial-bus.md §2): SOF 7E, address, command, seq,
2-byte length, payload, CRC-16/MODBUS of address..payload sent low byte first. No
byte stuffing: a receiver finds 7E, reads the header and checks length and CRC; on
any failure it drops the frame and searches again from the byte after that 7E."""

from __future__ import annotations

import struct
from dataclasses import dataclass

SOF = 0x7E
MAX_PAYLOAD = 1024
ERROR = 0xFF
HEADER = 6  # SOF, address, command, seq, length (2)


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass(frozen=True)
class Frame:
    address: int
    command: int
    seq: int
    payload: bytes = b""

    def encode(self) -> bytes:
        if not 0 <= len(self.payload) <= MAX_PAYLOAD:
            raise ValueError("payload is 0 to 1024 bytes")
        body = struct.pack(">BBBH", self.address, self.command, self.seq,
                           len(self.payload)) + self.payload
        return bytes([SOF]) + body + struct.pack("<H", crc16_modbus(body))

    def is_answer_to(self, request: Frame) -> bool:
        """An answer carries the request's address and seq, and its command with bit 7
        set (or FF for an error)."""
        return (self.address, self.seq) == (request.address, request.seq) and (
            self.command in (request.command | 0x80, ERROR))


class FrameReader:
    """Feed it bytes as they come off the line; it yields every valid frame and counts
    what it had to drop (corrupt, truncated or noise)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer += data
        frames: list[Frame] = []
        while True:
            start = self.buffer.find(SOF)
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            if len(self.buffer) < HEADER:
                return frames
            address, command, seq, length = struct.unpack(">BBBH", self.buffer[1:HEADER])
            if length > MAX_PAYLOAD:
                self._drop()
                continue
            end = HEADER + length + 2
            if len(self.buffer) < end:
                return frames  # wait for the rest (a timeout upstream ends a truncated one)
            body = bytes(self.buffer[1:HEADER + length])
            (crc,) = struct.unpack("<H", self.buffer[HEADER + length:end])
            if crc != crc16_modbus(body):
                self._drop()
                continue
            frames.append(Frame(address, command, seq, body[5:]))
            del self.buffer[:end]

    def flush(self) -> list[Frame]:
        """The line went quiet: a frame still waiting for bytes was truncated, or its
        length byte was hit by noise. Drop it and search again after its 7E, so a good
        frame hidden behind it is still found."""
        frames: list[Frame] = []
        while self.buffer:
            self._drop()
            frames += self.feed(b"")
        return frames

    def _drop(self) -> None:
        self.dropped += 1
        del self.buffer[:1]  # search again from the byte after this 7E

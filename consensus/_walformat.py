"""WAL record framing: ``length (4 bytes, big endian) | CRC32 of payload (4) | payload``.

The payload is a serialized ``tenge.v1.WalRecord`` (node/consensus_codec.py). A torn last
record (the file ends inside it, or its checksum fails and nothing follows it) is the mark
of a crash during an append and is dropped; damage anywhere before the tail raises
``WalCorruptError``, because a silently shortened WAL could make the node forget a lock.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

from consensus._errors import WalCorruptError

HEADER: Final = struct.Struct(">II")
MAX_RECORD_SIZE: Final = 64 * 1024 * 1024


def frame_record(payload: bytes) -> bytes:
    """One WAL record for payload."""
    if not 0 < len(payload) <= MAX_RECORD_SIZE:
        raise ValueError("a WAL record payload is 1 byte to MAX_RECORD_SIZE")
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True, slots=True)
class ParsedWal:
    """The records of a WAL image.

    Attributes:
        records: the payloads of the intact records, in order.
        valid_length: bytes up to the end of the last intact record (truncate to this).
        torn_tail: whether a torn last record was dropped.
    """

    records: list[bytes]
    valid_length: int
    torn_tail: bool


def parse_records(data: bytes) -> ParsedWal:
    """Split a WAL image into record payloads.

    Raises:
        WalCorruptError: a damaged record that is not the last one.
    """
    records: list[bytes] = []
    offset = 0
    size = len(data)
    view = memoryview(data)
    while offset < size:
        if size - offset < HEADER.size:
            return ParsedWal(records, offset, torn_tail=True)
        length, crc = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if length == 0:
            # A pre-allocated but unwritten tail reads as zeros.
            if not any(view[offset:]):
                return ParsedWal(records, offset, torn_tail=True)
            raise WalCorruptError(offset, "empty record before the tail")
        if length > MAX_RECORD_SIZE or end > size:
            # Either a torn append or a damaged length field: only an intact record
            # further on tells them apart.
            if _intact_record_after(data, offset + 1):
                raise WalCorruptError(offset, f"bad record length {length} before the tail")
            return ParsedWal(records, offset, torn_tail=True)
        payload = bytes(view[offset + HEADER.size : end])
        if zlib.crc32(payload) != crc:
            if end == size and not _intact_record_after(data, offset + 1):
                return ParsedWal(records, offset, torn_tail=True)
            raise WalCorruptError(offset, "checksum mismatch before the last record")
        records.append(payload)
        offset = end
    return ParsedWal(records, offset, torn_tail=False)


def _intact_record_after(data: bytes, start: int) -> bool:
    """Whether a record with a matching checksum starts anywhere at or after start."""
    size = len(data)
    for offset in range(start, size - HEADER.size):
        length, crc = HEADER.unpack_from(data, offset)
        end = offset + HEADER.size + length
        if length > 0 and end <= size and zlib.crc32(data[offset + HEADER.size : end]) == crc:
            return True
    return False

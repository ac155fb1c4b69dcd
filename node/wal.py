"""The consensus write-ahead log file: append, fsync, replay the current height.

Records are framed by consensus/_walformat.py (length, CRC32, payload) and their payloads
are ``tenge.v1.WalRecord`` messages (node/consensus_codec.py). The file only ever holds the
current height: a ``HeightStarted`` entry replaces the file atomically (temp file, fsync,
rename, fsync of the directory) with a file that starts with that marker.

Opening the file replays it: a torn last record (a crash in the middle of an append) is
truncated away with a warning; damage anywhere before the tail raises ``WalCorrupted`` and
the node must not start, because a silently shortened WAL could make it forget a lock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

from consensus import HeightStarted, WalCorruptError, WalEntry, WriteWal, frame_record
from consensus import parse_records as _parse_records
from node.consensus_codec import ConsensusCodecError, decode_wal_entry, encode_wal_entry
from node.errors import NodeError

log = logging.getLogger(__name__)


class WalCorrupted(NodeError):
    """The WAL file is damaged before its tail; the operator must look at it.

    Attributes:
        path: the WAL file.
        offset: byte offset of the damaged record.
    """

    def __init__(self, path: Path, offset: int, message: str) -> None:
        super().__init__(
            f"{path}: consensus WAL corrupt at byte {offset}: {message}; the node refuses "
            "to start rather than risk signing against a forgotten lock (move the file "
            "aside only if this validator's last signed state is known to be safe)"
        )
        self.path = path
        self.offset = offset


class Wal:
    """An open WAL file. Not thread-safe: one task (the engine's owner) uses it.

    Use ``Wal.open(path)``; ``entries`` holds what the file contained at open time, ready
    for ``consensus.Started(now_ms, wal=wal.entries)``.
    """

    def __init__(self, path: Path, file: BinaryIO, entries: tuple[WalEntry, ...]) -> None:
        self.path = path
        self._file: BinaryIO | None = file
        self.entries = entries
        self._dirty = False

    @classmethod
    def open(cls, path: Path) -> Wal:
        """Open (creating if needed) and replay the WAL at path.

        Raises:
            WalCorrupted: damage before the last record, or an intact record that does not
                decode.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes() if path.exists() else b""
        try:
            parsed = _parse_records(data)
        except WalCorruptError as e:
            raise WalCorrupted(path, e.offset, str(e)) from e
        entries: list[WalEntry] = []
        offset = 0
        for payload in parsed.records:
            try:
                entries.append(decode_wal_entry(payload))
            except ConsensusCodecError as e:
                raise WalCorrupted(path, offset, str(e)) from e
            offset += len(frame_record(payload))
        file = open(path, "ab")  # noqa: SIM115 - owned by the Wal, closed by close()
        if parsed.torn_tail:
            log.warning(
                "wal %s: dropping a torn last record (%d bytes after byte %d)",
                path,
                len(data) - parsed.valid_length,
                parsed.valid_length,
            )
            file.truncate(parsed.valid_length)
            file.flush()
            os.fsync(file.fileno())
        return cls(path, file, tuple(entries))

    def __enter__(self) -> Wal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def execute(self, output: WriteWal) -> None:
        """Carry out an engine ``WriteWal`` output (rotating on ``HeightStarted``)."""
        if isinstance(output.entry, HeightStarted):
            self.start_height(output.entry)
        else:
            self.append(output.entry, sync=output.sync)

    def append(self, entry: WalEntry, *, sync: bool) -> None:
        """Append one entry; with sync, it and everything before it are durable on return."""
        file = self._require_open()
        file.write(frame_record(encode_wal_entry(entry)))
        self._dirty = True
        if sync:
            self.sync()

    def sync(self) -> None:
        """Flush and fsync everything appended so far."""
        file = self._require_open()
        if self._dirty:
            file.flush()
            os.fsync(file.fileno())
            self._dirty = False

    def start_height(self, marker: HeightStarted) -> None:
        """Atomically replace the file with one holding only marker."""
        file = self._require_open()
        file.close()
        self._file = None
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as out:
            out.write(frame_record(encode_wal_entry(marker)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._file = open(self.path, "ab")  # noqa: SIM115
        self._dirty = False

    def close(self) -> None:
        """Sync and close; idempotent."""
        if self._file is not None:
            try:
                self.sync()
            finally:
                self._file.close()
                self._file = None

    def _require_open(self) -> BinaryIO:
        if self._file is None:
            raise RuntimeError("the WAL is closed")
        return self._file


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

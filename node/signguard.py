"""The persisted double-sign guard: the last (height, round, step) this validator signed.

The file is small JSON, replaced atomically (temp file, fsync, rename, fsync of the
directory), so after a crash it holds either the old or the new state, never a mix. The
engine checks every signature against it (``consensus.check_sign``) and outputs
``PersistLastSigned`` before the signed message can leave; the driver calls ``persist``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from consensus import LastSigned, Step, check_sign
from node.errors import NodeError


class SignGuardError(NodeError):
    """The last-signed file is unreadable or malformed; the validator must not sign."""


class SignGuard:
    """The last-signed state of one validator key, kept in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: LastSigned | None = load_last_signed(path)

    def check(self, height: int, round_: int, step: Step, sign_bytes_hash: bytes) -> str | None:
        """The refusal reason for signing at (height, round, step), or None when safe."""
        return check_sign(self.last, height, round_, step, sign_bytes_hash)

    def persist(self, last: LastSigned) -> None:
        """Durably record last; refuses a state that is itself a double sign.

        Raises:
            SignGuardError: last conflicts with the recorded state.
        """
        refusal = self.check(last.height, last.round, last.step, last.sign_bytes_hash)
        if refusal is not None:
            raise SignGuardError(f"{self.path}: {refusal}")
        write_last_signed(self.path, last)
        self.last = last


def load_last_signed(path: Path) -> LastSigned | None:
    """The state in path; None when the file does not exist.

    Raises:
        SignGuardError: unreadable or malformed file.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SignGuardError(f"{path}: cannot read: {e.strerror}") from e
    try:
        doc = json.loads(text)
        step = Step[doc["step"]]
        last = LastSigned(
            height=int(doc["height"]),
            round=int(doc["round"]),
            step=step,
            sign_bytes_hash=bytes.fromhex(doc["sign_bytes_hash"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise SignGuardError(f"{path}: malformed last-signed state ({e})") from e
    if (
        last.height < 1
        or last.round < 0
        or step not in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT)
    ):
        raise SignGuardError(f"{path}: last-signed state out of range")
    return last


def write_last_signed(path: Path, last: LastSigned) -> None:
    """Atomically replace path with last."""
    doc = {
        "height": last.height,
        "round": last.round,
        "step": last.step.name,
        "sign_bytes_hash": last.sign_bytes_hash.hex(),
    }
    data = (json.dumps(doc, indent=2) + "\n").encode()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

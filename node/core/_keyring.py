"""A validator's consensus keys across a rotation (RotateValidatorKey, docs/governance.md).

A rotation approved in block H takes effect in the set of height H + 2: through H + 1 the
validator must sign with its old key, from H + 2 with the new one, or it misses a height.
A `KeyRing` holds both signers; the core selects, each time the engine is about to start
a height, the one whose key is in that height's validator set, so the switch happens
exactly between the heights with no gap and no overlap. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

import consensus as cs


class KeyRing:
    """Signs with the key of its signers that the height's validator set holds.

    Args:
        signers: the validator's signers, the one in use today first (a key held for a
            rotation after it). Each is a ``consensus.Signer``; ``close`` is called on
            those that have one.
    """

    def __init__(self, signers: Sequence[cs.Signer]) -> None:
        if not signers:
            raise ValueError("a key ring holds at least one signer")
        self._signers = list(signers)
        self._active = self._signers[0]

    @property
    def public_key(self) -> bytes:
        """The key of the selected signer (the engine reads it at each height's start)."""
        return self._active.public_key

    @property
    def active(self) -> cs.Signer:
        """The selected signer."""
        return self._active

    @property
    def kind(self) -> str:
        """The signer kind of the selected signer ("file", "pkcs11", ...)."""
        return str(getattr(self._active, "kind", "file"))

    @property
    def public_keys(self) -> list[bytes]:
        """Every key of the ring, the selected one first."""
        return [self._active.public_key] + [
            s.public_key for s in self._signers if s is not self._active
        ]

    def select(self, validator_set: Container[bytes]) -> bytes:
        """Use the first signer whose key is in validator_set (unchanged when none is: an
        observer of that height); the selected key."""
        for signer in self._signers:
            if signer.public_key in validator_set:
                self._active = signer
                break
        return self._active.public_key

    def sign(self, message: bytes) -> bytes:
        """Sign with the selected signer."""
        return self._active.sign(message)

    def close(self) -> None:
        """Close every signer that can be closed."""
        for signer in self._signers:
            close = getattr(signer, "close", None)
            if close is not None:
                close()

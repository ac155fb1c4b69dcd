"""The pure double-sign check; node/signguard.py persists its state."""

from __future__ import annotations

from dataclasses import dataclass

from consensus._types import Step


@dataclass(frozen=True, slots=True)
class LastSigned:
    """The last (height, round, step) this validator signed and the hash of its sign bytes."""

    height: int
    round: int
    step: Step
    sign_bytes_hash: bytes

    @property
    def position(self) -> tuple[int, int, int]:
        """(height, round, step), ordered as the protocol advances."""
        return (self.height, self.round, int(self.step))


def check_sign(
    last: LastSigned | None, height: int, round_: int, step: Step, sign_bytes_hash: bytes
) -> str | None:
    """Whether signing at (height, round, step) is safe; returns the refusal reason or None.

    Signing is allowed strictly after the last signed position, or again at exactly that
    position for the very same sign bytes (a re-send after a restart). Anything else could
    be a double sign and is refused.
    """
    if last is None:
        return None
    position = (height, round_, int(step))
    if position > last.position:
        return None
    if position == last.position:
        if sign_bytes_hash == last.sign_bytes_hash:
            return None
        return f"conflicting signature at height {height} round {round_} step {step.name}"
    return (
        f"regression: height {height} round {round_} step {step.name} is before the last "
        f"signed height {last.height} round {last.round} step {last.step.name}"
    )

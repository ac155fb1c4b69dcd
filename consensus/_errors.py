"""Errors of the consensus package: one root, subclasses that say whose fault it is."""

from __future__ import annotations

from typing import Final

# Stable codes carried by ReportMisbehaviour, InvalidCertificate and InvalidEvidence.
MALFORMED_MESSAGE: Final = "MALFORMED_MESSAGE"
UNKNOWN_VALIDATOR: Final = "UNKNOWN_VALIDATOR"
BAD_SIGNATURE: Final = "BAD_SIGNATURE"
WRONG_PROPOSER: Final = "WRONG_PROPOSER"
CONFLICTING_PROPOSAL: Final = "CONFLICTING_PROPOSAL"
INVALID_CERTIFICATE: Final = "INVALID_CERTIFICATE"
VALUE_MISMATCH: Final = "VALUE_MISMATCH"
INVALID_VALUE: Final = "INVALID_VALUE"
INSUFFICIENT_POWER: Final = "INSUFFICIENT_POWER"
DUPLICATE_SIGNER: Final = "DUPLICATE_SIGNER"
NOT_CONFLICTING: Final = "NOT_CONFLICTING"
# The prefix of a SignRefused reason when the signer could not sign (SignerUnavailable).
SIGNER_UNAVAILABLE: Final = "SIGNER_UNAVAILABLE"


class ConsensusError(Exception):
    """Root of every error raised by consensus/."""


class InvalidCertificate(ConsensusError):
    """A commit certificate does not prove a commit under the given validator set.

    Attributes:
        code: a stable reason code (one of the module constants).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class InvalidEvidence(ConsensusError):
    """An evidence value does not prove an equivocation.

    Attributes:
        code: a stable reason code (one of the module constants).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SignerUnavailable(ConsensusError):
    """The validator's signer cannot sign now (down, unreachable, too slow, or it refused).

    A ``Signer`` raises it instead of returning a signature; the engine then emits
    ``SignRefused`` and stays silent in that step, as for a guard refusal, and may sign
    again in a later step or round. Nothing was signed, so nothing is recorded.
    """


class InvalidValidatorSet(ConsensusError):
    """A validator set or a validator-set update is malformed (our caller's fault)."""


class WalCorruptError(ConsensusError):
    """The WAL is damaged before its last record: the node must stop, never guess.

    Attributes:
        offset: the byte offset of the first damaged record.
    """

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"WAL corrupt at byte {offset}: {message}")
        self.offset = offset

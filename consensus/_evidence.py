"""Evidence: what a validator signed twice for one slot, checkable with the validator set alone.

Two kinds, both in a canonical order so that every node builds the same value:

- ``DuplicateVote``: two votes of one validator for the same (height, round, type) and
  different block hashes.
- ``ConflictingProposal``: two proposals of one validator for the same (height, round) and
  different values. A proposal's signature covers the value's id, not the value, so the
  evidence carries for each side only (pol_round, value id, signature): enough to rebuild
  the sign bytes (``proposal_sign_bytes``) and check both signatures.

``key`` is a hashable identity (kind, validator, height, round, vote type or step): one piece
of evidence per key is enough, whatever the pair of values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from consensus._errors import (
    BAD_SIGNATURE,
    MALFORMED_MESSAGE,
    NOT_CONFLICTING,
    UNKNOWN_VALIDATOR,
    InvalidEvidence,
)
from consensus._types import (
    MAX_HASH_SIZE,
    Proposal,
    Step,
    Verifier,
    Vote,
    _shape_error,
    proposal_sign_bytes,
)
from consensus._validators import ValidatorSet

DUPLICATE_VOTE: Final = "duplicate_vote"
CONFLICTING_PROPOSAL_KIND: Final = "conflicting_proposal"

EvidenceKey = tuple[str, bytes, int, int, int]


@dataclass(frozen=True, slots=True)
class DuplicateVote:
    """Two conflicting signed votes of one validator for the same (height, round, type).

    Build it with ``DuplicateVote.of`` so the pair is in canonical order (by block hash).
    """

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def of(cls, first: Vote, second: Vote) -> DuplicateVote:
        """The evidence for two votes, in canonical order."""
        if second.block_hash < first.block_hash:
            first, second = second, first
        return cls(vote_a=first, vote_b=second)

    @property
    def validator(self) -> bytes:
        """The equivocating validator."""
        return self.vote_a.validator

    @property
    def height(self) -> int:
        """The height of the equivocation."""
        return self.vote_a.height

    @property
    def round(self) -> int:
        """The round of the equivocation."""
        return self.vote_a.round

    @property
    def key(self) -> EvidenceKey:
        """(kind, validator, height, round, vote type)."""
        a = self.vote_a
        return (DUPLICATE_VOTE, a.validator, a.height, a.round, int(a.type))

    def verify(self, validator_set: ValidatorSet, chain_id: str, verifier: Verifier) -> None:
        """Check that the two votes prove an equivocation by a member of validator_set.

        Raises:
            InvalidEvidence: the votes are malformed, not conflicting, from a validator
                outside the set, or badly signed.
        """
        a, b = self.vote_a, self.vote_b
        for vote in (a, b):
            error = vote.shape_error()
            if error is not None:
                raise InvalidEvidence(MALFORMED_MESSAGE, error)
        same_slot = (a.type, a.height, a.round, a.validator) == (
            b.type,
            b.height,
            b.round,
            b.validator,
        )
        if not same_slot or a.block_hash == b.block_hash:
            raise InvalidEvidence(NOT_CONFLICTING, "votes differ in slot or agree on the block")
        if a.validator not in validator_set:
            raise InvalidEvidence(UNKNOWN_VALIDATOR, a.validator.hex())
        for vote in (a, b):
            if not verifier.verify(vote.validator, vote.sign_bytes(chain_id), vote.signature):
                raise InvalidEvidence(BAD_SIGNATURE, f"vote for {vote.block_hash.hex()}")


@dataclass(frozen=True, slots=True)
class ConflictingProposal:
    """What a proposer signed for two different values at the same (height, round).

    Build it with ``ConflictingProposal.of`` so the sides are in canonical order (by value
    id). Side a is (pol_round_a, value_id_a, signature_a), side b likewise.
    """

    height: int
    round: int
    proposer: bytes
    pol_round_a: int
    value_id_a: bytes
    signature_a: bytes
    pol_round_b: int
    value_id_b: bytes
    signature_b: bytes

    @classmethod
    def of(
        cls, first: Proposal, first_id: bytes, second: Proposal, second_id: bytes
    ) -> ConflictingProposal:
        """The evidence for two proposals (with their value ids), in canonical order."""
        if second_id < first_id:
            first, first_id, second, second_id = second, second_id, first, first_id
        return cls(
            height=first.height,
            round=first.round,
            proposer=first.proposer,
            pol_round_a=first.pol_round,
            value_id_a=first_id,
            signature_a=first.signature,
            pol_round_b=second.pol_round,
            value_id_b=second_id,
            signature_b=second.signature,
        )

    @property
    def validator(self) -> bytes:
        """The equivocating proposer."""
        return self.proposer

    @property
    def key(self) -> EvidenceKey:
        """(kind, proposer, height, round, step PROPOSE)."""
        return (
            CONFLICTING_PROPOSAL_KIND,
            self.proposer,
            self.height,
            self.round,
            int(Step.PROPOSE),
        )

    def verify(self, validator_set: ValidatorSet, chain_id: str, verifier: Verifier) -> None:
        """Check that both signatures prove two proposals of a member of validator_set.

        Raises:
            InvalidEvidence: malformed fields, equal value ids, a proposer outside the set,
                or a bad signature.
        """
        sides = (
            (self.pol_round_a, self.value_id_a, self.signature_a),
            (self.pol_round_b, self.value_id_b, self.signature_b),
        )
        for pol_round, value_id, signature in sides:
            error = _shape_error(self.height, self.round, b"", self.proposer, signature)
            if error is None and not (
                isinstance(value_id, bytes) and 0 < len(value_id) <= MAX_HASH_SIZE
            ):
                error = "bad value id size"
            if error is None and not (isinstance(pol_round, int) and -1 <= pol_round < self.round):
                error = "pol_round must be -1 or a round before the proposal's round"
            if error is not None:
                raise InvalidEvidence(MALFORMED_MESSAGE, error)
        if self.value_id_a == self.value_id_b:
            raise InvalidEvidence(NOT_CONFLICTING, "the proposals agree on the value")
        if self.proposer not in validator_set:
            raise InvalidEvidence(UNKNOWN_VALIDATOR, self.proposer.hex())
        for pol_round, value_id, signature in sides:
            message = proposal_sign_bytes(chain_id, self.height, self.round, pol_round, value_id)
            if not verifier.verify(self.proposer, message, signature):
                raise InvalidEvidence(BAD_SIGNATURE, f"proposal of {value_id.hex()}")


Evidence = DuplicateVote | ConflictingProposal

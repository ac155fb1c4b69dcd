"""Vote sets: one vote per validator per (round, type), counted by voting power."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from consensus._types import CommitCertificate, CommitSig, Vote, VoteType
from consensus._validators import ValidatorSet


class AddResult(enum.Enum):
    """What adding a vote did."""

    ADDED = "added"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"  # a second, different vote: evidence; not counted
    CONFLICT_COUNTED = "conflict_counted"  # evidence, and counted for its own value


@dataclass(slots=True)
class RoundVotes:
    """The votes of one type in one round.

    A validator's first vote counts for its value and once for the "any value" total. A
    different later vote is equivocation (evidence); it is still counted for its own value
    when that value matters (nil, or the id of a proposal we hold), because another correct
    validator may have counted it there: if we refused, we might never see the quorum that
    it saw, and a proof of lock could stay out of reach forever (liveness). Counting one
    validator for two values is safe: two quorums for different values still overlap in
    more than 1/3 of the power, which correct validators alone cannot make.
    """

    by_validator: dict[bytes, Vote] = field(default_factory=dict)
    voters_for: dict[bytes, dict[bytes, Vote]] = field(default_factory=dict)
    power_for: dict[bytes, int] = field(default_factory=dict)
    total: int = 0

    def has(self, vote: Vote) -> bool:
        """Whether this validator's vote for this value is already here."""
        voters = self.voters_for.get(vote.block_hash)
        return voters is not None and vote.validator in voters

    def add(self, vote: Vote, power: int, countable: bool) -> tuple[AddResult, Vote | None]:
        """Add vote with its validator's power; returns the result and a conflicting vote.

        countable says whether a conflicting vote's value matters (see the class note).
        """
        key, block_hash = vote.validator, vote.block_hash
        voters = self.voters_for.get(block_hash)
        if voters is not None and key in voters:
            return AddResult.DUPLICATE, None
        existing = self.by_validator.get(key)
        if existing is not None and not countable:
            return AddResult.CONFLICT, existing
        if voters is None:
            voters = self.voters_for[block_hash] = {}
        voters[key] = vote
        self.power_for[block_hash] = self.power_for.get(block_hash, 0) + power
        if existing is not None:
            return AddResult.CONFLICT_COUNTED, existing
        self.by_validator[key] = vote
        self.total += power
        return AddResult.ADDED, None

    def power(self, block_hash: bytes) -> int:
        """Power voting for block_hash (b"" is nil)."""
        return self.power_for.get(block_hash, 0)

    def certificate(self, height: int, round_: int, block_hash: bytes) -> CommitCertificate:
        """The precommits for block_hash as a certificate, signers in key order."""
        voters = self.voters_for.get(block_hash, {})
        sigs = tuple(
            CommitSig(validator=key, signature=voters[key].signature) for key in sorted(voters)
        )
        return CommitCertificate(height, round_, block_hash, sigs)


class HeightVotes:
    """All votes of one height, by round and type."""

    __slots__ = ("_rounds", "_validators", "height")

    def __init__(self, height: int, validators: ValidatorSet) -> None:
        self.height = height
        self._validators = validators
        self._rounds: dict[tuple[int, VoteType], RoundVotes] = {}

    def get(self, round_: int, vote_type: VoteType) -> RoundVotes:
        """The votes of one (round, type); an empty set when none arrived."""
        key = (round_, vote_type)
        votes = self._rounds.get(key)
        if votes is None:
            votes = self._rounds[key] = RoundVotes()
        return votes

    def add(self, vote: Vote, countable: bool = False) -> tuple[AddResult, Vote | None]:
        """Add a vote of a validator of this height's set."""
        votes = self.get(vote.round, vote.type)
        return votes.add(vote, self._validators.power(vote.validator), countable)

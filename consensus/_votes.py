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
    CONFLICT = "conflict"


@dataclass(slots=True)
class RoundVotes:
    """The votes of one type in one round.

    Only a validator's first vote counts; a different second vote is a conflict (evidence)
    and is not counted, so no validator's power is ever counted twice.
    """

    by_validator: dict[bytes, Vote] = field(default_factory=dict)
    power_for: dict[bytes, int] = field(default_factory=dict)
    total: int = 0

    def add(self, vote: Vote, power: int) -> tuple[AddResult, Vote | None]:
        """Add vote with its validator's power; returns the result and a conflicting vote."""
        existing = self.by_validator.get(vote.validator)
        if existing is not None:
            if existing.block_hash == vote.block_hash:
                return AddResult.DUPLICATE, None
            return AddResult.CONFLICT, existing
        self.by_validator[vote.validator] = vote
        self.power_for[vote.block_hash] = self.power_for.get(vote.block_hash, 0) + power
        self.total += power
        return AddResult.ADDED, None

    def power(self, block_hash: bytes) -> int:
        """Power voting for block_hash (b"" is nil)."""
        return self.power_for.get(block_hash, 0)

    def certificate(self, height: int, round_: int, block_hash: bytes) -> CommitCertificate:
        """The precommits for block_hash as a certificate, signers in key order."""
        sigs = tuple(
            CommitSig(validator=key, signature=vote.signature)
            for key, vote in sorted(self.by_validator.items())
            if vote.block_hash == block_hash
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

    def add(self, vote: Vote) -> tuple[AddResult, Vote | None]:
        """Add a vote of a validator of this height's set."""
        return self.get(vote.round, vote.type).add(vote, self._validators.power(vote.validator))

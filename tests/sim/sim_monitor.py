"""An independent checker of Algorithm 1 for every message a correct node signs.

The monitor never asks an engine what it knows. It records, per (node, height), every
message delivered to the node whose signature is genuine (checked with the fake keys, not
through the engine's verifier) and every message the node signed itself, and counts power
with its own arithmetic (3 * power > 2 * total), so a bug in the engine's vote counting,
thresholds or signature checks cannot hide itself. Each signed message must be justified
by what the node had seen, as in "The latest gossip on BFT consensus" (Buchman, Kwon,
Milosevic, 2018):

- PROPOSAL(h, r, v, vr): from proposer(h, r); vr >= the node's locked round (validRound
  never falls behind lockedRound); vr >= 0 needs PROPOSAL(v) and 2f + 1 PREVOTE(id(v)) of vr.
- PREVOTE(h, r, id(v)): a PROPOSAL(h, r, v, vr) from proposer(h, r), v valid, and either
  vr = -1 with the node unlocked or locked on v (l.22-27), or 0 <= vr < r with 2f + 1
  PREVOTE(id(v)) of vr and lockedRound <= vr or locked on v (l.28-33).
- PRECOMMIT(h, r, id(v)): PROPOSAL(h, r, v) and 2f + 1 PREVOTE(id(v)) of r (l.36).
- PRECOMMIT(h, r, nil): 2f + 1 prevotes of any kind of r (l.34/l.61, l.44).
- Entering round r > 0: 2f + 1 precommits of any kind of r - 1 (l.47, l.65) or messages
  of r from senders with more than 1/3 of the power (l.55).
- A decision: a certificate whose distinct, genuine precommit signers hold 2f + 1.

The lock is the node's last precommit for a value at the height (only l.36-41 sets it), read
from the messages it signed. Every threshold is strict and uses the height's validator set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import consensus.testing as fakes
from consensus import (
    CommitCertificate,
    HeightStarted,
    Proposal,
    SignedByMe,
    ValidatorSet,
    Vote,
    VoteType,
)
from node.blocks import block_id, decode_block

_VERIFIER = fakes.FakeVerifier()


def value_id(value: bytes) -> bytes:
    """The id of a value: the block id (node/blocks.py), SHA-256 of every byte."""
    return block_id(value)


def valid_block(height: int, value: bytes, prev_id: bytes) -> bool:
    """valid(v) at height on the tip prev_id, whatever the time and state (the time and the
    app hash are each node's own judgement): a canonical block for height on that tip."""
    block = decode_block(value)
    if block is None or block.SerializeToString(deterministic=True) != value:
        return False
    return block.header.height == height and block.header.prev_block_hash == prev_id


def more_than_two_thirds(power: int, total: int) -> bool:
    """The quorum, computed apart from ValidatorSet.quorum."""
    return 3 * power > 2 * total


def more_than_one_third(power: int, total: int) -> bool:
    """The round-skip threshold, computed apart from ValidatorSet.one_third."""
    return 3 * power > total


def genuine(message: Proposal | Vote, chain_id: str) -> bool:
    """Whether the message carries its claimed signer's own signature."""
    if isinstance(message, Vote):
        return _VERIFIER.verify(message.validator, message.sign_bytes(chain_id), message.signature)
    return _VERIFIER.verify(
        message.proposer, message.sign_bytes(chain_id, value_id(message.value)), message.signature
    )


def certificate_error(
    certificate: CommitCertificate, vset: ValidatorSet, chain_id: str
) -> str | None:
    """Why certificate does not prove a commit under vset, or None (independent check)."""
    seen: set[bytes] = set()
    power = 0
    for sig in certificate.signatures:
        if sig.validator in seen or sig.validator not in vset:
            return "repeated or unknown signer"
        seen.add(sig.validator)
        vote = Vote(
            VoteType.PRECOMMIT,
            certificate.height,
            certificate.round,
            certificate.block_hash,
            sig.validator,
            sig.signature,
        )
        if not certificate.block_hash or not genuine(vote, chain_id):
            return "a signature that is not its signer's"
        power += vset.power(sig.validator)
    if not more_than_two_thirds(power, vset.total_power):
        return f"signers hold {power} of {vset.total_power}"
    return None


def lock_in_wal(height: int, entries: tuple[Any, ...]) -> tuple[int, bytes | None]:
    """The lock a WAL implies at height: its last own precommit for a value.

    Every precommit that left the node is durable first, so a validator that precommitted
    v in round r must come back from a restart still locked on v from round r.
    """
    expected: tuple[int, bytes | None] = (-1, None)
    for entry in entries:
        if isinstance(entry, HeightStarted):
            expected = (-1, None)
        elif isinstance(entry, SignedByMe) and isinstance(entry.message, Vote):
            vote = entry.message
            durable = vote.height == height and vote.type is VoteType.PRECOMMIT
            if durable and vote.block_hash:
                expected = (vote.round, vote.block_hash)
    return expected


@dataclass
class _Log:
    """What one node had seen at one height (genuine messages only), and signed."""

    proposals: dict[int, list[tuple[Proposal, bytes]]] = field(default_factory=dict)
    votes: dict[tuple[int, VoteType], dict[bytes, set[bytes]]] = field(default_factory=dict)
    senders: dict[int, set[bytes]] = field(default_factory=dict)
    locks: dict[int, bytes] = field(default_factory=dict)  # own precommit round -> value id


class ProtocolMonitor:
    """Checks each signed message of a correct node against what that node had seen.

    Args:
        chain_id: the chain id of every signature.
        vset_at: the validator set of a height.
        prev_id: (node, height) -> the id of the block node committed at height - 1 (b""
            at height 1): the tip a valid block for height must extend.
    """

    def __init__(
        self,
        chain_id: str,
        vset_at: Callable[[int], ValidatorSet],
        prev_id: Callable[[int, int], bytes],
    ) -> None:
        self._chain_id = chain_id
        self._vset_at = vset_at
        self._prev_id = prev_id
        self._logs: dict[tuple[int, int], _Log] = {}

    def _log(self, node: int, height: int) -> _Log:
        log = self._logs.get((node, height))
        if log is None:
            log = self._logs[(node, height)] = _Log()
        return log

    def delivered(self, node: int, message: Proposal | Vote) -> None:
        """A message reached node (before its engine sees it); genuine ones are recorded."""
        if message.height < 1 or message.round < 0:
            return
        signer = message.validator if isinstance(message, Vote) else message.proposer
        if signer in self._vset_at(message.height) and genuine(message, self._chain_id):
            self._record(node, message)

    def _record(self, node: int, message: Proposal | Vote) -> None:
        log = self._log(node, message.height)
        if isinstance(message, Vote):
            voters = log.votes.setdefault((message.round, message.type), {})
            voters.setdefault(message.block_hash, set()).add(message.validator)
            log.senders.setdefault(message.round, set()).add(message.validator)
        else:
            log.proposals.setdefault(message.round, []).append((message, value_id(message.value)))
            log.senders.setdefault(message.round, set()).add(message.proposer)

    def _power(self, height: int, keys: set[bytes]) -> tuple[int, int]:
        vset = self._vset_at(height)
        return sum(vset.power(k) for k in keys), vset.total_power

    def _pol(self, log: _Log, height: int, round_: int, value_id: bytes) -> bool:
        voters = log.votes.get((round_, VoteType.PREVOTE), {}).get(value_id, set())
        return more_than_two_thirds(*self._power(height, voters))

    def _lock(self, log: _Log, before_round: int) -> tuple[int, bytes | None]:
        rounds = [r for r in log.locks if r < before_round]
        return (max(rounds), log.locks[max(rounds)]) if rounds else (-1, None)

    def _proposals(self, log: _Log, height: int, round_: int, value_id: bytes) -> list[Proposal]:
        proposer = self._vset_at(height).proposer(height, round_)
        return [
            p
            for p, vid in log.proposals.get(round_, [])
            if vid == value_id and p.proposer == proposer
        ]

    def signed(self, node: int, message: Proposal | Vote) -> str | None:
        """node signed message: the rule it breaks (then it is recorded anyway), or None."""
        log = self._log(node, message.height)
        error = self._justify(node, log, message)
        self._record(node, message)
        is_precommit = isinstance(message, Vote) and message.type is VoteType.PRECOMMIT
        if is_precommit and message.block_hash:
            log.locks[message.round] = message.block_hash
        if error is None:
            return None
        return f"MONITOR: node {node} h{message.height} r{message.round}: {error}"

    def _justify(self, node: int, log: _Log, message: Proposal | Vote) -> str | None:
        h, r = message.height, message.round
        if isinstance(message, Proposal):
            vid = value_id(message.value)
            if message.proposer != self._vset_at(h).proposer(h, r):
                return "proposal out of turn"
            locked_round, _ = self._lock(log, r)
            vr = message.pol_round
            if vr < locked_round:
                return f"proposal with valid round {vr} below its locked round {locked_round}"
            if vr >= 0 and not (self._pol(log, h, vr, vid) and self._proposals(log, h, vr, vid)):
                return f"re-proposal without a proof of lock in round {vr}"
            return None
        if message.type is VoteType.PREVOTE:
            if not message.block_hash:
                return None
            locked_round, locked_id = self._lock(log, r)
            for proposal in self._proposals(log, h, r, message.block_hash):
                if not valid_block(h, proposal.value, self._prev_id(node, h)):
                    continue
                vr = proposal.pol_round
                if vr == -1 and locked_round == -1:
                    return None
                pol = 0 <= vr < r and self._pol(log, h, vr, message.block_hash)
                if locked_id == message.block_hash and (vr == -1 or pol):
                    return None
                if pol and locked_round <= vr:
                    return None
            return f"prevote for a value against its lock ({locked_round}) or without a proposal"
        if message.block_hash:
            if not self._proposals(log, h, r, message.block_hash):
                return "precommit without the proposal"
            if not self._pol(log, h, r, message.block_hash):
                return "precommit without 2f + 1 prevotes for the value"
            return None
        prevoters = set().union(*log.votes.get((r, VoteType.PREVOTE), {}).values())
        if not more_than_two_thirds(*self._power(h, prevoters)):
            return "precommit nil without 2f + 1 prevotes"
        return None

    def entered_round(self, node: int, height: int, round_: int) -> str | None:
        """node started round_ at height (it scheduled that round's propose timeout)."""
        if round_ == 0:
            return None
        log = self._log(node, height)
        precommitters = set().union(*log.votes.get((round_ - 1, VoteType.PRECOMMIT), {}).values())
        if more_than_two_thirds(*self._power(height, precommitters)):
            return None
        if more_than_one_third(*self._power(height, log.senders.get(round_, set()))):
            return None
        return (
            f"MONITOR: node {node} h{height} entered round {round_} without 2f + 1 precommits "
            f"of round {round_ - 1} or f + 1 senders of round {round_}"
        )

"""The simulator's checks on what each node's core does (a mixin of ``Simulation``).

Every effect of a node's core passes ``observe`` before the host executes it: signed
messages go to the protocol monitor, a written block to the certificate, safety,
validator-set and evidence checks, reports and penalties to the blame checks.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import sim_byzantine as byz
from sim_monitor import ProtocolMonitor, certificate_error, lock_in_wal, value_id

from consensus import (
    SIGNER_UNAVAILABLE,
    Broadcast,
    CommitBlock,
    Engine,
    InvalidCertificate,
    InvalidEvidence,
    Proposal,
    ReportEvidence,
    ReportMisbehaviour,
    ScheduleTimeout,
    SignedByMe,
    SignRefused,
    Step,
    ValidatorSet,
    Vote,
    VoteType,
    WriteWal,
)
from consensus.testing import FakeVerifier
from node import core
from node.blocks import MAX_CLOCK_DRIFT_MS, decode_block
from node.consensus_codec import decode_evidence

if TYPE_CHECKING:
    from consensus_sim import Scenario, SimNode

CHAIN_ID = "sim-chain"

# Penalty codes that accuse a peer of lying; timeouts and missing blocks are network faults.
BLAME_CODES = frozenset({"BAD_SYNC_BLOCK", core.BAD_EVIDENCE, core.UNDECODABLE_MESSAGE})
# Two known gaps of the node core (node/core/_core.py, not the simulator's to fix), each
# penalising a correct peer: (1) evidence gossiped by a peer ahead of this node, of a height
# after this node's next one, is BAD_EVIDENCE instead of being ignored until then; (2) a
# certified block stamped later than this node's clock + the drift (this node's clock is
# behind, or a skewed proposer holding a quorum stamped it) fails the engine's time check
# on sync, and the core blames the peer that served it with BAD_SYNC_BLOCK.
# Tolerated (only these) while TOLERATE_CORE_GAPS; set it False to see the violations.
TOLERATE_CORE_GAPS = False
FUTURE_EVIDENCE = "is from after block"


class SimChecks:
    """The checks; the simulation provides the state they read."""

    sc: Scenario
    correct: list[SimNode]
    index_of: dict[bytes, int]
    monitor: ProtocolMonitor
    violations: list[str]
    signed: dict[tuple[int, int, int, int], bytes]
    max_round: int
    verifier: FakeVerifier
    nodes: list[SimNode]
    gap_peers: set[tuple[int, str]]  # (node, peer): a tolerated penalty (known_gap)

    def clock(self, node: SimNode) -> int:
        raise NotImplementedError

    def vset_at(self, height: int) -> ValidatorSet:
        raise NotImplementedError

    def is_correct_key(self, key: bytes | None) -> bool:
        raise NotImplementedError

    def is_correct_peer(self, peer: str) -> bool:
        raise NotImplementedError

    def check_lock_kept(self, node: SimNode, engine: Engine, entries: tuple[Any, ...]) -> None:
        """After a restart, the lock is the one of the last own precommit in the WAL."""
        expected = lock_in_wal(engine.height, entries)
        if engine.locked != expected:
            self.violations.append(
                f"LOCK LOST: node {node.index} at height {engine.height}: its WAL holds a "
                f"precommit locking round {expected[0]}, after restart {engine.locked[0]}"
            )

    def observe(self, node: SimNode, effect: core.Effect) -> None:
        """An effect of node's core, before the host executes it: the checks."""
        match effect:
            case WriteWal(entry=entry):
                if node.fresh_wal is not None:
                    node.fresh_wal.append(entry)
                if isinstance(entry, SignedByMe) and node.checked:
                    self.violation(self.monitor.signed(node.index, entry.message))
            case ScheduleTimeout(step=Step.PROPOSE) if node.checked:
                self.violation(self.monitor.entered_round(node.index, effect.height, effect.round))
            case Broadcast(message=message):
                if node.byzantine in (None, byz.AMNESIA):
                    self.record_signature(node, message)
            case core.WriteBlock():
                self.commit(node, effect)
            case ReportEvidence():
                self.evidence(node, effect.evidence)
            case ReportMisbehaviour():
                culprit = effect.validator
                tolerated = effect.code in self.sc.tolerated_blame
                if node.checked and self.is_correct_key(culprit) and not tolerated:
                    index = self.index_of[culprit or b""]
                    self.violations.append(
                        f"BLAME: node {node.index} blamed correct node {index}: "
                        f"{effect.code} {effect.detail}"
                    )
            case core.PeerPenalised() if node.checked and effect.code in BLAME_CODES:
                gap = self.known_gap(node, effect.peer, effect.code, effect.detail)
                if gap:
                    self.gap_peers.add((node.index, effect.peer))
                elif self.is_correct_peer(effect.peer):
                    self.violations.append(
                        f"PENALTY: node {node.index} penalised correct peer {effect.peer}: "
                        f"{effect.code} {effect.detail}"
                    )
            case core.DropPeer() if node.checked and effect.reason in BLAME_CODES:
                gap = (node.index, effect.peer) in self.gap_peers
                if self.is_correct_peer(effect.peer) and not gap:
                    self.violations.append(
                        f"DROP: node {node.index} dropped correct peer {effect.peer}: "
                        f"{effect.reason}"
                    )
            case SignRefused(reason=reason) if reason.startswith(SIGNER_UNAVAILABLE):
                node.signer_refusals += 1
            case SignRefused() if node.checked:
                self.violations.append(f"SIGN REFUSED: node {node.index}: {effect.reason}")
            case _:
                pass

    def known_gap(self, node: SimNode, peer: str, code: str, detail: str) -> bool:
        """Whether node's penalty of peer is one of the core's known gaps (see
        TOLERATE_CORE_GAPS); a drop after such a penalty is tolerated too."""
        if not TOLERATE_CORE_GAPS or not self.is_correct_peer(peer):
            return False
        if code == core.BAD_EVIDENCE:
            return FUTURE_EVIDENCE in detail
        found = re.fullmatch(r"block (\d+) failed verification", detail)
        if code != "BAD_SYNC_BLOCK" or found is None:
            return False
        blocks = self.nodes[int(peer, 16)].host.blocks
        height = int(found.group(1))
        stamped = blocks[height - 1].time_ms if len(blocks) >= height else None
        return stamped is not None and stamped > self.clock(node) + MAX_CLOCK_DRIFT_MS

    def violation(self, message: str | None) -> None:
        if message is not None:
            self.violations.append(message)

    def commit(self, node: SimNode, out: core.WriteBlock) -> None:
        """node writes block out.height: certificate, safety, validator sets, evidence."""
        height = out.height
        if height != len(node.chain) + 1:
            self.violations.append(f"ORDER: node {node.index} committed height {height}")
            return
        cert = out.certificate
        vset = self.vset_at(height)
        error = certificate_error(cert, vset, CHAIN_ID)
        try:
            cert.verify(vset, CHAIN_ID, self.verifier)
        except InvalidCertificate as e:
            error = error or str(e)
        if error is not None or cert.height != height:
            self.violations.append(
                f"CERTIFICATE: node {node.index} height {height}: bad certificate {error}"
            )
        if cert.block_hash != value_id(out.value) or out.block_hash != cert.block_hash:
            self.violations.append(
                f"CERTIFICATE: node {node.index} height {height}: certificate mismatch"
            )
        decided = CommitBlock(height, cert.round, out.value, out.block_hash, cert)
        if node.checked:
            for other in self.correct:
                if (
                    len(other.chain) >= height
                    and other.chain[height - 1].value_id != out.block_hash
                ):
                    self.violations.append(
                        f"SAFETY: nodes {other.index} and {node.index} committed different "
                        f"blocks at height {height}"
                    )
        for later, valset in out.validator_sets:
            if valset != self.vset_at(later):
                self.violations.append(
                    f"VALIDATOR SET: node {node.index}: the core's set of height {later} is "
                    "not the scenario's"
                )
        self.committed_evidence(node, out.value)
        self.max_round = max(self.max_round, cert.round)
        node.chain.append(decided)

    def committed_evidence(self, node: SimNode, value: bytes) -> None:
        block = decode_block(value)
        assert block is not None  # the engine decides only valid blocks
        for raw in block.evidence:
            self.evidence(node, decode_evidence(raw.SerializeToString(deterministic=True)))

    def evidence(self, node: SimNode, evidence: Any) -> None:
        try:
            evidence.verify(self.vset_at(evidence.height), CHAIN_ID, self.verifier)
        except InvalidEvidence as e:
            self.violations.append(f"EVIDENCE: node {node.index}: does not verify: {e}")
            return
        if node.checked and self.is_correct_key(evidence.validator):
            culprit = self.index_of[evidence.validator]
            self.violations.append(
                f"BLAME: node {node.index} has evidence against correct {culprit}"
            )
        node.evidence.append(evidence)

    def record_signature(self, node: SimNode, message: Proposal | Vote) -> None:
        if isinstance(message, Vote):
            step = 2 if message.type is VoteType.PREVOTE else 3
            digest = hashlib.sha256(message.sign_bytes(CHAIN_ID)).digest()
        else:
            step = 1
            digest = hashlib.sha256(message.sign_bytes(CHAIN_ID, value_id(message.value))).digest()
        key = (node.index, message.height, message.round, step)
        previous = self.signed.setdefault(key, digest)
        if previous != digest:
            self.violations.append(
                f"DOUBLE SIGN: by node {node.index} at height {message.height} round "
                f"{message.round} step {Step(step).name}"
            )

    def check_final(self, goal: int | None) -> None:
        heights = [len(n.chain) for n in self.correct]
        if goal is not None and min(heights) < goal:
            self.violations.append(
                f"LIVENESS: correct nodes at heights {heights} after "
                f"{self.sc.liveness_budget_ms} ms past the heal; wanted {goal}"
            )
        for height in range(1, max(heights) + 1):
            ids = {n.chain[height - 1].value_id for n in self.correct if len(n.chain) >= height}
            if len(ids) > 1:
                self.violations.append(f"SAFETY: {len(ids)} different blocks at height {height}")

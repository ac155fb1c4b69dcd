"""Byzantine behaviours of the simulator: each wraps a node's engine outputs or acts on its
gossip tick, seeded by the simulation's random generator (so runs replay exactly).

A Byzantine node runs a real engine (its view of the protocol) and lies with its own key:
- SILENT: never starts. DOUBLE_VOTE: a second vote for another value. RANDOM_VOTES: votes
  for random hashes. EQUIVOCATE: a second proposal to half of its peers.
- TWINS: a second instance with the same key; each sees only its half of the correct
  nodes until ``Scenario.twins_until_ms``, and both sign.
- IGNORE_LOCK: prevotes every proposal of the round and precommits every proof of lock.
- FAKE_POL: re-proposes with a proof-of-lock round that has no +2/3 prevotes, or the
  oldest real proof of lock (against newer locks), or pol_round = round to half its peers;
  sends its prevotes late (proofs of lock that lock nobody) and precommits nil.
- FUTURE: signed messages for rounds and heights far ahead, and proposals out of turn.
- FORGER: messages in correct validators' names with junk signatures.
- ALTER_RELAY: forwards the round's proposals with altered value bytes, signature kept.
- AMNESIA: a correct engine whose WAL is lost at crashes (guard file kept): it must never
  double-sign, but it may forget its lock, so it counts as Byzantine.
Every non-silent Byzantine node also lies to block sync: its answers carry junk
certificates, a real certificate with another value, or certificates one signer short; it
claims heights ahead of its own (so it is asked) and pushes unsolicited junk answers.

Each runs the shipped node core (tests/sim/sim_host.py); what reads engine internals reads
``node.engine`` (``host.core.engine``). Its values are real blocks: a fresh value is a valid
block on its own tip with other transactions (or, when asked for, an invalid one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consensus import (
    CommitCertificate,
    CommitSig,
    Proposal,
    Vote,
    VoteType,
    proposal_sign_bytes,
)
from node import consensus_codec
from node.blocks import ChainTip, build_block

if TYPE_CHECKING:
    from consensus_sim import SimNode, Simulation

SILENT = "silent"
DOUBLE_VOTE = "double_vote"
EQUIVOCATE = "equivocating_proposer"
RANDOM_VOTES = "random_votes"
TWINS = "twins"
IGNORE_LOCK = "ignore_lock"
FAKE_POL = "fake_pol"
FUTURE = "future_messages"
FORGER = "forger"
ALTER_RELAY = "altering_relay"
AMNESIA = "amnesia"
# The engine reports a bad signature against the sending peer, not the claimed signer
# (issue 10, 2d); tests/sim/test_sim_adversaries.py checks that this still holds.
BLAME_FIX_LANDED = True
# Kinds whose messages carry signatures that are not their claimed signer's: a correct
# engine must not blame that signer.
FORGING_KINDS = (FORGER, ALTER_RELAY)
BYZANTINE_KINDS = (
    SILENT,
    DOUBLE_VOTE,
    EQUIVOCATE,
    RANDOM_VOTES,
    TWINS,
    IGNORE_LOCK,
    FAKE_POL,
    FUTURE,
    AMNESIA,
)


def split_twin_views(sim: Simulation) -> None:
    """Give each twin pair disjoint halves of the correct validators as their views."""
    byzantine = {node.index for node in sim.nodes if node.byzantine is not None}
    correct = [node.index for node in sim.correct]
    for twin in [n for n in sim.nodes if n.byzantine == TWINS and n.index >= sim.sc.n]:
        original = sim.nodes[twin.key_index]
        sim.rng.shuffle(correct)
        half = len(correct) // 2
        original.view = set(correct[:half]) | byzantine
        twin.view = set(correct[half:]) | byzantine


def sign_vote(
    sim: Simulation, node: SimNode, vote_type: VoteType, height: int, round_: int, block: bytes
) -> Vote:
    """A vote genuinely signed by node's key."""
    unsigned = Vote(vote_type, height, round_, block, node.signer.public_key, b"")
    signature = node.signer.sign(unsigned.sign_bytes(sim_chain_id(sim)))
    return Vote(vote_type, height, round_, block, node.signer.public_key, signature)


def sign_proposal(
    sim: Simulation, node: SimNode, height: int, round_: int, value: bytes, pol_round: int
) -> Proposal:
    """A proposal genuinely signed by node's key."""
    sign_bytes = proposal_sign_bytes(
        sim_chain_id(sim), height, round_, pol_round, sim.codec.value_id(value)
    )
    return Proposal(
        height, round_, value, pol_round, node.signer.public_key, node.signer.sign(sign_bytes)
    )


def sim_chain_id(sim: Simulation) -> str:
    """The chain id of the simulation's signatures."""
    return sim.chain_id


def _fresh_value(sim: Simulation, node: SimNode, height: int, invalid: float = 0.0) -> bytes:
    """A block for height on node's tip with its own transactions; with probability invalid,
    one for the height after (it does not extend the tip)."""
    host = node.host
    assert host.core is not None
    tip = host.core.tip
    if tip.height + 1 != height:  # not at that height: a block on a made-up tip
        tip = ChainTip(height - 1, sim.random_hash(), tip.app_hash, tip.time_ms, b"")
    if sim.rng.random() < invalid:
        tip = ChainTip(tip.height + 1, tip.block_hash, tip.app_hash, tip.time_ms, b"")
    last = host.blocks[tip.height - 1].certificate if 1 <= tip.height <= host.height else None
    return build_block(
        chain_id=sim.chain_id,
        tip=tip,
        txs=[b"evil %d" % sim.rng.randrange(1 << 30)],
        proposer=node.signer.public_key,
        now_ms=sim.clock(node),
        last_commit=consensus_codec.certificate_to_proto(last) if last is not None else None,
    )


def _peers(sim: Simulation, node: SimNode) -> list[int]:
    return [i for i in range(len(sim.nodes)) if i != node.index]


def broadcast(sim: Simulation, node: SimNode, message: Proposal | Vote) -> None:
    """A Byzantine node's engine wants message sent: send what its kind sends instead."""
    kind = node.byzantine
    if kind == DOUBLE_VOTE and isinstance(message, Vote):
        other = b"" if message.block_hash else sim.random_hash()
        sim.send_all(node, message)
        sim.send_all(node, sign_vote(sim, node, message.type, message.height, message.round, other))
    elif kind == RANDOM_VOTES and isinstance(message, Vote):
        vote = sign_vote(sim, node, message.type, message.height, message.round, sim.random_hash())
        sim.send_all(node, vote)
    elif kind == EQUIVOCATE and isinstance(message, Proposal):
        value = _fresh_value(sim, node, message.height, invalid=0.5)
        twin = sign_proposal(sim, node, message.height, message.round, value, -1)
        for peer in _peers(sim, node):
            sim.transmit(node.index, peer, message if peer % 2 else twin)
    elif kind == IGNORE_LOCK and isinstance(message, Vote) and message.type is VoteType.PREVOTE:
        sim.send_all(node, message)
        _prevote_everything(sim, node)
    elif kind == FAKE_POL and isinstance(message, Proposal):
        _fake_pol_proposal(sim, node, message)
    elif kind == FAKE_POL and message.type is VoteType.PREVOTE:
        # Late: a proof of lock completed after everyone left the round locks nobody, but
        # it is one to re-propose later against newer locks.
        sim.at(sim.now + sim.rng.randint(300, 1_500), lambda: sim.send_all(node, message))
    elif kind == FAKE_POL:
        nil = sign_vote(sim, node, message.type, message.height, message.round, b"")
        sim.send_all(node, nil)
    else:
        sim.send_all(node, message)


def _prevote_everything(sim: Simulation, node: SimNode) -> None:
    engine = node.engine
    if engine is None:
        return
    height, round_ = engine.height, engine.round
    for value_id in list(engine._proposals.get(round_, {})):
        sim.send_all(node, sign_vote(sim, node, VoteType.PREVOTE, height, round_, value_id))
        prevotes = engine._votes.get(round_, VoteType.PREVOTE)
        if prevotes.power(value_id) >= engine.validator_set.quorum:
            vote = sign_vote(sim, node, VoteType.PRECOMMIT, height, round_, value_id)
            sim.send_all(node, vote)


def _oldest_pol(node: SimNode, before: int) -> tuple[int, Proposal, list[Vote]] | None:
    engine = node.engine
    assert engine is not None
    for round_ in range(before):
        prevotes = engine._votes.get(round_, VoteType.PREVOTE)
        for value_id, entry in engine._proposals.get(round_, {}).items():
            if prevotes.power(value_id) >= engine.validator_set.quorum:
                return round_, entry.proposal, list(prevotes.voters_for[value_id].values())
    return None


def _fake_pol_proposal(sim: Simulation, node: SimNode, message: Proposal) -> None:
    h, r = message.height, message.round
    pol = _oldest_pol(node, r)
    choice = sim.rng.random()
    if sim.script is not None and pol is not None:
        sim.script.stale_sent += 1
        choice = 0.0
    if pol is not None and choice < 0.4:
        # The oldest real proof of lock: correct nodes locked later on another value refuse.
        round_, old, prevotes = pol
        for vote in prevotes:
            sim.send_all(node, vote)
        sim.send_all(node, sign_proposal(sim, node, h, r, old.value, round_))
    elif choice < 0.6 and r > 0:
        # A proof-of-lock round without +2/3 prevotes for this value.
        fake = sign_proposal(sim, node, h, r, _fresh_value(sim, node, h), sim.rng.randrange(r))
        sim.send_all(node, fake)
    elif choice < 0.8:
        # pol_round = round (malformed) to half the peers, -1 to the others; prevote it.
        value = _fresh_value(sim, node, h)
        fresh = sign_proposal(sim, node, h, r, value, -1)
        same_round = sign_proposal(sim, node, h, r, value, r)
        for peer in _peers(sim, node):
            sim.transmit(node.index, peer, fresh if peer % 2 else same_round)
        vote = sign_vote(sim, node, VoteType.PREVOTE, h, r, sim.codec.value_id(value))
        sim.send_all(node, vote)
    else:
        # A fresh value (sometimes invalid), whatever our engine holds as valid.
        fresh = sign_proposal(sim, node, h, r, _fresh_value(sim, node, h, invalid=0.3), -1)
        sim.send_all(node, fresh)
        vote = sign_vote(sim, node, VoteType.PREVOTE, h, r, sim.codec.value_id(fresh.value))
        sim.send_all(node, vote)


def tick(sim: Simulation, node: SimNode) -> None:
    """A Byzantine node's gossip tick: the unsolicited part of its behaviour."""
    engine = node.engine
    if engine is None:
        return
    kind = node.byzantine
    h, r = engine.height, engine.round
    _sync_noise(sim, node)
    if kind == IGNORE_LOCK:
        _prevote_everything(sim, node)
    elif kind == FUTURE:
        ahead = r + sim.rng.randint(1, 300)
        for vote_type in VoteType:
            block = sim.random_hash() if sim.rng.random() < 0.5 else b""
            sim.send_all(node, sign_vote(sim, node, vote_type, h, ahead, block))
            later = h + sim.rng.randint(1, 3)
            block = sim.random_hash() if sim.rng.random() < 0.5 else b""
            vote = sign_vote(sim, node, vote_type, later, sim.rng.randint(0, 5), block)
            sim.send_all(node, vote)
        for round_ in (r, ahead):
            if engine.validator_set.proposer(h, round_) != node.signer.public_key:
                out_of_turn = sign_proposal(sim, node, h, round_, _fresh_value(sim, node, h), -1)
                sim.send_all(node, out_of_turn)
    elif kind == FORGER:
        _forge(sim, node, h, r)
    elif kind == ALTER_RELAY:
        for entry in list(engine._proposals.get(r, {}).values()):
            p = entry.proposal
            altered = p.value + b"!" if sim.rng.random() < 0.5 else p.value[:-1] + b"?"
            relay = Proposal(p.height, p.round, altered, p.pol_round, p.proposer, p.signature)
            sim.send_all(node, relay)


def _junk(sim: Simulation) -> bytes:
    return sim.rng.randbytes(32)


def _forge(sim: Simulation, node: SimNode, h: int, r: int) -> None:
    """Votes and a proposal in others' names, with junk signatures."""
    engine = node.engine
    assert engine is not None
    values = [b"", sim.random_hash(), *engine._proposals.get(r, {})]
    for key in engine.validator_set:
        if key == node.signer.public_key:
            continue
        block = sim.rng.choice(values)
        for vote_type in VoteType:
            sim.send_all(node, Vote(vote_type, h, r, block, key, _junk(sim)))
        sim.send_all(node, Vote(VoteType.PREVOTE, h + 1, 0, sim.random_hash(), key, _junk(sim)))
    proposer = engine.validator_set.proposer(h, r)
    if proposer != node.signer.public_key:
        forged = Proposal(h, r, _fresh_value(sim, node, h), -1, proposer, _junk(sim))
        sim.send_all(node, forged)


def sync_lie(sim: Simulation, liar: SimNode, height: int) -> tuple[object, ...]:
    """A lying block-sync answer for height: what a Byzantine responder sends."""
    vset = sim.vset_at(height)
    value = _fresh_value(sim, liar, height)
    choice = sim.rng.random()
    if liar.host.height >= height:
        stored = liar.host.blocks[height - 1]
        real = stored.certificate
        if choice < 0.3:  # a real certificate, another value
            return ("response", height, value, real)
        if choice < 0.6:  # the real value, its certificate one signer short of the quorum
            sigs = list(real.signatures)
            power = sum(vset.power(s.validator) for s in sigs)
            while sigs and 3 * power > 2 * vset.total_power:
                power -= vset.power(sigs.pop().validator)
            short = CommitCertificate(real.height, real.round, real.block_hash, tuple(sigs))
            return ("response", height, stored.value, short)
    junk = tuple(CommitSig(key, _junk(sim)) for key in vset)
    return (
        "response",
        height,
        value,
        CommitCertificate(height, 0, sim.codec.value_id(value), junk),
    )


def _sync_noise(sim: Simulation, node: SimNode) -> None:
    """Sometimes a claim two heights ahead of its own (so it is asked, and lies), and an
    unsolicited junk answer to one peer."""
    if sim.rng.random() < 0.25:
        sim.send_all(node, ("status", node.host.height + 2))
    peer = sim.rng.choice(_peers(sim, node))
    height = sim.nodes[peer].host.height + 1
    sim.transmit(node.index, peer, sync_lie(sim, node, height))


# ---------------------------------------------------------------- a scripted attack

LOCK_SPLIT = "lock_split"


class LockSplit:
    """The stale proof-of-lock attack, scripted on the network of height 1 (n = 4).

    B (FAKE_POL) proposes at round rc; rounds ra = rc - 2 and rb = rc - 1 have correct
    proposers. Rounds before ra lose their proposals. In ra the proposal v reaches all but
    one correct validator and B's prevote for v is withheld: v's proof of lock exists in B's
    view only, nobody locks. In rb the fresh value w gets every correct prevote, so every
    correct validator locks on w; each w precommit reaches one other correct validator
    only, so nobody commits. In rc, B re-proposes v with pol_round ra and v's prevotes:
    every correct validator is locked on w from rb > ra and must prevote nil (l.29).
    """

    def __init__(self, sim: Simulation, liar: int) -> None:
        vset = sim.vset_at(1)
        self.liar = sim.keys[liar]
        rc = next(r for r in range(2, 64) if vset.proposer(1, r) == self.liar)
        self.ra, self.rb, self.rc = rc - 2, rc - 1, rc
        correct = [n.index for n in sim.correct]
        self.left_out = next(i for i in correct if sim.keys[i] != vset.proposer(1, self.ra))
        ring = correct[1:] + correct[:1]
        self.ring = {sim.keys[a]: b for a, b in zip(correct, ring, strict=True)}
        self.stale_sent = 0

    def drops(self, sim: Simulation, dst: int, payload: object) -> bool:
        """Whether the script's network loses payload on its way to dst."""
        if not isinstance(payload, Proposal | Vote) or payload.height != 1:
            return False
        if isinstance(payload, Proposal):
            if payload.round < self.ra:
                return True
            return payload.round == self.ra and dst == self.left_out
        if payload.round == self.ra and payload.validator == self.liar:
            return self.stale_sent == 0  # withheld until the stale re-proposal
        if payload.round == self.rb and payload.type is VoteType.PRECOMMIT:
            return payload.validator in self.ring and self.ring[payload.validator] != dst
        return False


def start_script(sim: Simulation) -> LockSplit | None:
    """The scripted attack of the scenario, if any."""
    if sim.sc.script != LOCK_SPLIT:
        return None
    liar = next(i for i, kind in sim.sc.byzantine.items() if kind == FAKE_POL)
    return LockSplit(sim, liar)

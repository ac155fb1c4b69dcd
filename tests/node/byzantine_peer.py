"""A deliberately Byzantine peer for real-process tests (issue 10, "Must show").

It holds a validator's NODE key (so the honest nodes accept it as an allowed peer) and,
optionally, its validator key, and speaks the P2P protocol through ``node.p2p.PeerManager``.
Every attack is one method behind one flag of ``Attacks``, so each can be run alone::

    liar = ByzantinePeer(..., attacks=Attacks.parse("relay_altered_proposals"))
    await nursery.start(liar.run)
    ...
    await liar.aclose()

What it sends is counted in ``liar.sent`` (by attack and variant), so a test can show
that an attack really ran.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import trio
from google.protobuf.message import DecodeError

import consensus as cs
from node.blocks import ChainTip, build_block, decode_block
from node.keys import KeyPair
from node.p2p import P2PConfig, PeerAddress, PeerManager
from proto import block_pb2, consensus_pb2, p2p_pb2

HUGE_HEIGHT = 10**12
# An unknown varint field (number 99 = 1): tag 99 << 3 | 0 = 792 = 0x98 0x06.
UNKNOWN_FIELD = b"\x98\x06\x01"


def block_id(value: bytes) -> bytes:
    """The block id as docs/consensus.md defines it: SHA-256 of the serialized block."""
    return hashlib.sha256(value).digest()


@dataclass(frozen=True, slots=True)
class Attacks:
    """Which attacks the liar runs (all by default); ``parse("a,b")`` or ``parse("all")``."""

    relay_altered_proposals: bool = True
    junk_block_responses: bool = True
    unsolicited_blocks: bool = True
    huge_height_status: bool = True
    forged_next_height: bool = True
    own_junk_votes: bool = True

    @classmethod
    def names(cls) -> list[str]:
        """Every attack's name."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, text: str) -> Attacks:
        """'all', 'none' or a comma-separated list of attack names.

        Raises:
            ValueError: an unknown name.
        """
        text = text.strip()
        if text == "all":
            return cls()
        chosen = {n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"}
        unknown = chosen - set(cls.names())
        if unknown:
            raise ValueError(f"unknown attacks {sorted(unknown)}; known: {cls.names()}")
        return cls(**{name: name in chosen for name in cls.names()})

    def enabled(self) -> list[str]:
        """The names of the attacks switched on."""
        return [name for name in self.names() if getattr(self, name)]


def _flip(data: bytes, index: int = -1) -> bytes:
    """data with one byte inverted (the last by default)."""
    if not data:
        return b"\x01"
    buf = bytearray(data)
    buf[index] ^= 0xFF
    return bytes(buf)


def _len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (number < 16, payload < 2**14)."""
    size = len(payload)
    varint = bytes([size]) if size < 0x80 else bytes([(size & 0x7F) | 0x80, size >> 7])
    return bytes([number << 3 | 2]) + varint + payload


def altered_blocks(
    raw: bytes, own_key: KeyPair | None = None, chain_id: str = ""
) -> list[tuple[str, bytes]]:
    """Altered copies of a serialized block, each named by what was changed, most
    plausible first.

    Under a header-only block id every one of these keeps the id (and so the proposer's
    signature) of the original; under an id over every byte none does. With own_key (a
    validator's), the first copy adds that validator's genuine late precommit to
    last_commit: a block that is still fully valid, only with other bytes.
    """
    block = block_pb2.Block()
    try:
        block.ParseFromString(raw)
    except DecodeError:
        return []
    out: list[tuple[str, bytes]] = []
    sigs = block.last_commit.signatures
    cert = block.last_commit
    if own_key is not None and sigs and all(s.validator != own_key.public_key for s in sigs):
        signed = block_pb2.Block()
        signed.CopyFrom(block)
        payload = cs.vote_sign_bytes(
            chain_id, cs.VoteType.PRECOMMIT, cert.height, cert.round, cert.block_hash
        )
        signed.last_commit.signatures.add(
            validator=own_key.public_key, signature=own_key.sign(payload)
        )
        out.append(("own_sig_added_to_last_commit", signed.SerializeToString()))
    if len(sigs) >= 2:  # first: still a valid block (+2/3 remain) under a header-only id
        trimmed = block_pb2.Block()
        trimmed.CopyFrom(block)
        del trimmed.last_commit.signatures[-1]
        out.append(("trim_last_commit", trimmed.SerializeToString()))
    out.append(("unknown_block_field", raw + UNKNOWN_FIELD))
    header = block.header.SerializeToString()
    rest = block_pb2.Block()
    rest.CopyFrom(block)
    rest.ClearField("header")
    out.append(
        ("unknown_header_field", _len_field(1, header + UNKNOWN_FIELD) + rest.SerializeToString())
    )
    if sigs:
        flipped = block_pb2.Block()
        flipped.CopyFrom(block)
        flipped.last_commit.signatures[0].signature = _flip(sigs[0].signature)
        out.append(("flip_last_commit_sig", flipped.SerializeToString()))
    extra = block_pb2.Block()
    extra.CopyFrom(block)
    if block.txs:
        extra.txs[0] = _flip(block.txs[0])
        out.append(("flip_tx", extra.SerializeToString()))
    else:
        extra.txs.append(b"\x0a\x03junk")
        out.append(("extra_tx", extra.SerializeToString()))
    return out


@dataclass(slots=True)
class _Known:
    """A real committed block the liar fetched from an honest peer."""

    block: bytes
    commit: bytes


class ByzantinePeer:
    """A peer that lies in every way the P2P protocol lets it (see ``Attacks``).

    Args:
        chain_id: the network's chain id.
        node_key: the node key it presents (an allowed peer's).
        listen_port: where it listens (the replaced node's p2p port).
        peers: the peers it dials (and fetches real blocks from).
        allow_list: further node keys it accepts (e.g. an observer's).
        honest_validators: validator public keys it forges messages in the name of.
        validator_key: its own validator key, for signed junk (``own_junk_votes``).
        attacks: what to do.
        seed: seeds its choices and junk bytes.
        tick_s: period of the timed attacks.
        claim_ahead: with ``huge_height_status`` off, still claim two blocks more than
            the honest tip (so peers ask it for blocks); False: send no status at all.
    """

    def __init__(
        self,
        *,
        chain_id: str,
        node_key: KeyPair,
        listen_port: int,
        peers: Sequence[PeerAddress],
        allow_list: Sequence[bytes] = (),
        honest_validators: Sequence[bytes] = (),
        validator_key: KeyPair | None = None,
        attacks: Attacks | None = None,
        seed: int = 0,
        tick_s: float = 0.25,
        claim_ahead: bool = True,
    ) -> None:
        self.chain_id = chain_id
        self.claim_ahead = claim_ahead
        self.attacks = attacks or Attacks()
        self.honest_validators = list(honest_validators)
        self.validator_key = validator_key
        self.tick_s = tick_s
        self.rng = random.Random(seed)
        self.manager = PeerManager(
            P2PConfig(
                chain_id=chain_id,
                listen_port=listen_port,
                peers=tuple(peers),
                allow_list=frozenset(allow_list),
                backoff_initial=0.2,
                backoff_max=1.0,
            ),
            node_key,
        )
        self._sources = {p.peer_id for p in peers}
        self.sent: Counter[str] = Counter()
        self.peer_heights: dict[str, int] = {}
        self.known: dict[int, _Known] = {}
        self._asked: dict[int, float] = {}
        self._round = (0, 0)  # highest (height, round) seen in consensus traffic
        self._signed: set[tuple[int, int]] = set()
        self._relayed: set[bytes] = set()
        self._variant = 0
        self._scope = trio.CancelScope()
        self.quiet = False

    @property
    def tip(self) -> int:
        """The highest height a peer we fetch from (an honest one) reported."""
        return max((h for p, h in self.peer_heights.items() if p in self._sources), default=0)

    def _on_status(self, peer: str, height: int) -> None:
        self.peer_heights[peer] = height
        if self.attacks.unsolicited_blocks and height < self.tip:
            self._unsolicited_to(peer, height, count=8)  # a lagging peer: feed it lies at once

    def _count(self, attack: str, variant: str) -> None:
        self.sent[attack] += 1
        self.sent[f"{attack}.{variant}"] += 1

    def _rand(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect and attack until ``aclose`` (or cancellation)."""
        with self._scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.manager.run)
                nursery.start_soon(self._read)
                nursery.start_soon(self._ticker)
                task_status.started()

    def go_quiet(self) -> None:
        """Stop every attack and answer nothing more, but stay connected (a silent peer)."""
        self.quiet = True

    async def aclose(self) -> None:
        """Leave the network: every connection closes and every attack stops (idempotent)."""
        await self.manager.aclose()
        self._scope.cancel()

    async def _read(self) -> None:
        async for peer, env in self.manager.inbound:
            if self.quiet:
                continue
            kind = env.WhichOneof("kind")
            if kind == "status":
                self._on_status(peer, env.status.height)
            elif kind == "consensus":
                self._on_consensus(env.consensus)
            elif kind == "block_request":
                self._answer_request(peer, env.block_request.height)
            elif kind == "block_response" and peer in self._sources:
                resp = env.block_response
                if resp.block and resp.commit:
                    self.known[resp.height] = _Known(resp.block, resp.commit)

    async def _ticker(self) -> None:
        while not self.quiet:
            self._fetch_real_blocks()
            if self.attacks.huge_height_status:
                self._huge_status()
            elif self.claim_ahead:  # a modest claim, so that peers ask us (and get our junk)
                self._send_all(self._status(self.tip + 2), None, None)
            if self.attacks.unsolicited_blocks:
                self._unsolicited()
            if self.attacks.forged_next_height:
                self._forge_next_height()
            if self.attacks.own_junk_votes:
                self._own_junk()
            await trio.sleep(self.tick_s)

    def _send_all(self, env: p2p_pb2.Envelope, attack: str | None, variant: str | None) -> None:
        if self.manager.broadcast(env) and attack is not None and variant is not None:
            self._count(attack, variant)

    def _send(self, peer: str, env: p2p_pb2.Envelope, attack: str, variant: str) -> None:
        if self.manager.send(peer, env):
            self._count(attack, variant)

    # ------------------------------------------------------------------ real data

    def _fetch_real_blocks(self) -> None:
        """Ask honest peers for the real blocks (the raw material of the junk)."""
        now = trio.current_time()
        sources = [(p, h) for p, h in self.peer_heights.items() if p in self._sources and h]
        asked = 0
        for height in range(max(1, self.tip - 40), self.tip + 1):
            if height in self.known or now - self._asked.get(height, -10.0) < 2.0:
                continue
            holders = [p for p, h in sources if h >= height]
            if not holders:
                continue
            env = p2p_pb2.Envelope()
            env.block_request.height = height
            self.manager.send(self.rng.choice(holders), env)
            self._asked[height] = now
            asked += 1
            if asked >= 8:
                break

    # ------------------------------------------------------------------ consensus

    def _on_consensus(self, msg: p2p_pb2.ConsensusMessage) -> None:
        which = msg.WhichOneof("message")
        try:
            if which == "vote":
                vote = consensus_pb2.Vote.FromString(msg.vote)
                self._round = max(self._round, (vote.height, vote.round))
                return
            if which != "proposal":
                return
            proposal = consensus_pb2.Proposal.FromString(msg.proposal)
        except DecodeError:
            return
        self._round = max(self._round, (proposal.height, proposal.round))
        if not self.attacks.relay_altered_proposals or proposal.signature in self._relayed:
            return
        self._relayed.add(proposal.signature)
        for variant, block in altered_blocks(proposal.block, self.validator_key, self.chain_id):
            altered = consensus_pb2.Proposal()
            altered.CopyFrom(proposal)
            altered.block = block  # the proposer's signature is kept as it was
            env = p2p_pb2.Envelope()
            env.consensus.proposal = altered.SerializeToString()
            self._send_all(env, "relay_altered_proposals", variant)

    def _forge_next_height(self) -> None:
        """Votes and proposals for the next heights in honest names, junk signatures."""
        base = self.tip
        for validator in self.honest_validators:
            for height in (base + 1, base + 2, base + 3):
                for round_ in range(4):
                    for vote_type in (consensus_pb2.PREVOTE, consensus_pb2.PRECOMMIT):
                        vote = consensus_pb2.Vote(
                            type=vote_type,
                            height=height,
                            round=round_,
                            block_hash=self._rand(32),
                            validator=validator,
                            signature=self._rand(64),
                        )
                        env = p2p_pb2.Envelope()
                        env.consensus.vote = vote.SerializeToString()
                        self._send_all(env, "forged_next_height", "vote")
                value = self._junk_block(height)
                proposal = consensus_pb2.Proposal(
                    height=height,
                    round=0,
                    block=value,
                    pol_round=-1,
                    proposer=validator,
                    signature=self._rand(64),
                )
                env = p2p_pb2.Envelope()
                env.consensus.proposal = proposal.SerializeToString()
                self._send_all(env, "forged_next_height", "proposal")

    def _own_junk(self) -> None:
        """With our own validator key: equivocating votes and a junk proposal, once per round."""
        key = self.validator_key
        height, round_ = self._round
        if key is None or height == 0 or (height, round_) in self._signed:
            return
        self._signed.add((height, round_))
        for vote_type in (cs.VoteType.PREVOTE, cs.VoteType.PRECOMMIT):
            for block_hash in (self._rand(32), self._rand(32), b""):
                sig = key.sign(
                    cs.vote_sign_bytes(self.chain_id, vote_type, height, round_, block_hash)
                )
                vote = consensus_pb2.Vote(
                    type=int(vote_type),  # type: ignore[arg-type]
                    height=height,
                    round=round_,
                    block_hash=block_hash,
                    validator=key.public_key,
                    signature=sig,
                )
                env = p2p_pb2.Envelope()
                env.consensus.vote = vote.SerializeToString()
                self._send_all(env, "own_junk_votes", "vote")
        value = self._junk_block(height)
        sig = key.sign(cs.proposal_sign_bytes(self.chain_id, height, round_, -1, block_id(value)))
        proposal = consensus_pb2.Proposal(
            height=height,
            round=round_,
            block=value,
            pol_round=-1,
            proposer=key.public_key,
            signature=sig,
        )
        env = p2p_pb2.Envelope()
        env.consensus.proposal = proposal.SerializeToString()
        self._send_all(env, "own_junk_votes", "proposal")

    async def propose(
        self, *, height: int, round_: int, app_hash: bytes, txs: Sequence[bytes]
    ) -> bytes:
        """Propose, in its own validator's name, a valid block for (height, round_) holding
        txs, built with ``node.blocks.build_block`` on the real block height - 1 (fetched
        from an honest peer). app_hash is the app hash after height - 1, which only
        executing the chain gives (the caller reads it from an honest node's status).

        Only the proposer of (height, round_) is listened to; the honest nodes judge the
        block valid or not and execute whatever transactions it carries.

        Returns:
            The proposed block.
        """
        key = self.validator_key
        if key is None or height < 2:
            raise ValueError("propose needs the validator key and a height of 2 or more")
        previous = height - 1
        while previous not in self.known:
            holders = [p for p, h in self.peer_heights.items() if p in self._sources and h]
            if holders:
                env = p2p_pb2.Envelope()
                env.block_request.height = previous
                self.manager.send(self.rng.choice(holders), env)
            await trio.sleep(0.05)
        known = self.known[previous]
        block = decode_block(known.block)
        assert block is not None
        tip = ChainTip(
            height=previous,
            block_hash=block_id(known.block),
            app_hash=app_hash,
            time_ms=block.header.time_ms,
            validators_hash=block.header.validators_hash,
        )
        value = build_block(
            chain_id=self.chain_id,
            tip=tip,
            txs=txs,
            proposer=key.public_key,
            now_ms=int(time.time() * 1000),
            last_commit=consensus_pb2.CommitCertificate.FromString(known.commit),
        )
        sig = key.sign(cs.proposal_sign_bytes(self.chain_id, height, round_, -1, block_id(value)))
        proposal = consensus_pb2.Proposal(
            height=height,
            round=round_,
            block=value,
            pol_round=-1,
            proposer=key.public_key,
            signature=sig,
        )
        env = p2p_pb2.Envelope()
        env.consensus.proposal = proposal.SerializeToString()
        self._send_all(env, "propose", "block")
        return value

    # ------------------------------------------------------------------ block sync

    def _status(self, height: int) -> p2p_pb2.Envelope:
        env = p2p_pb2.Envelope()
        env.status.height = height
        env.status.block_hash = self._rand(32)
        env.status.earliest_height = 1
        return env

    def _huge_status(self) -> None:
        self._send_all(self._status(HUGE_HEIGHT), "huge_height_status", "status")

    def _answer_request(self, peer: str, height: int) -> None:
        if not self.attacks.junk_block_responses:
            known = self.known.get(height)  # an honest answer when this attack is off
            env = p2p_pb2.Envelope()
            env.block_response.height = height
            if known is not None:
                env.block_response.block = known.block
                env.block_response.commit = known.commit
            self.manager.send(peer, env)
            return
        variant, env = self.junk_response(height)
        self._send(peer, env, "junk_block_responses", variant)

    def _unsolicited(self) -> None:
        """Answers nobody asked for, for the heights each peer needs next."""
        for peer in [p.peer_id for p in self.manager.peers()]:
            self._unsolicited_to(peer, self.peer_heights.get(peer, 0), count=3)

    def _unsolicited_to(self, peer: str, base: int, count: int) -> None:
        for height in range(base + 1, base + count + 1):
            known = self.known.get(height)
            variants = (
                altered_blocks(known.block, self.validator_key, self.chain_id)
                if known is not None
                else []
            )
            if known is not None and variants:
                # The real certificate with the most plausible altered copy of its block.
                env = p2p_pb2.Envelope()
                env.block_response.height = height
                name, env.block_response.block = variants[0]
                env.block_response.commit = known.commit
                self._send(peer, env, "unsolicited_blocks", f"altered_block_real_cert.{name}")
            variant, env = self.junk_response(height)
            self._send(peer, env, "unsolicited_blocks", variant)

    def junk_response(self, height: int) -> tuple[str, p2p_pb2.Envelope]:
        """A lying BlockResponse for height, rotating through the kinds of lie."""
        env = p2p_pb2.Envelope()
        resp = env.block_response
        resp.height = height
        known = self.known.get(height)
        others = [h for h in self.known if h != height]
        kinds = ["random_bytes", "future_block_forged_cert", "missing"]
        if known is not None:
            kinds += ["altered_block_real_cert", "real_block_bad_cert", "real_block_wrong_cert"]
        if others:
            kinds.append("wrong_height")
        self._variant += 1
        kind = kinds[self._variant % len(kinds)]
        if kind == "random_bytes":
            resp.block, resp.commit = self._rand(300), self._rand(120)
        elif kind == "future_block_forged_cert":
            resp.block = self._junk_block(height)
            resp.commit = self._forged_certificate(height, block_id(resp.block))
        elif kind == "altered_block_real_cert" and known is not None:
            variants = altered_blocks(known.block, self.validator_key, self.chain_id)
            name, resp.block = variants[self._variant % len(variants)]
            resp.commit = known.commit
            kind = f"{kind}.{name}"
        elif kind == "real_block_bad_cert" and known is not None:
            cert = consensus_pb2.CommitCertificate.FromString(known.commit)
            for sig in cert.signatures:
                sig.signature = _flip(sig.signature, 0)
            resp.block, resp.commit = known.block, cert.SerializeToString()
        elif kind == "real_block_wrong_cert" and known is not None:
            other = self.known[self.rng.choice(others)] if others else known
            resp.block = known.block
            resp.commit = other.commit if other is not known else self._rand(100)
        elif kind == "wrong_height":
            other = self.known[self.rng.choice(others)]
            resp.block, resp.commit = other.block, other.commit
        # "missing": block and commit stay empty (a claim we cannot serve)
        return kind, env

    def _junk_block(self, height: int) -> bytes:
        """A well-formed block for height that no honest node built."""
        template = max(self.known.items(), default=None)
        block = block_pb2.Block()
        if template is not None:
            block.ParseFromString(template[1].block)
        block.header.chain_id = self.chain_id
        block.header.height = height
        block.header.prev_block_hash = self._rand(32)
        block.header.app_hash = self._rand(32)
        return block.SerializeToString()

    def _forged_certificate(self, height: int, block_hash: bytes) -> bytes:
        cert = consensus_pb2.CommitCertificate(height=height, round=0, block_hash=block_hash)
        for validator in self.honest_validators:
            cert.signatures.add(validator=validator, signature=self._rand(64))
        return cert.SerializeToString()

"""The P2P boundary of the node core: peer envelopes to core inputs, core effects to envelopes.

Decoding never raises: bytes that do not decode become ``PeerInputBroken`` (counted against
the peer), so nothing a peer sends can stop the driver.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import DecodeError

import consensus as cs
from node import consensus_codec as codec
from node import core
from node.evidence import evidence_from_gossip
from proto import consensus_pb2, p2p_pb2

_Msg = TypeVar("_Msg", consensus_pb2.Proposal, consensus_pb2.Vote)


def core_input(peer: str, env: p2p_pb2.Envelope, now_ms: int) -> core.Input | None:
    """The core input for a consensus, status or block-sync envelope (None: not ours)."""
    kind = env.WhichOneof("kind")
    if kind == "consensus":
        try:
            return core.ConsensusReceived(peer, _consensus_message(env.consensus), now_ms)
        except codec.ConsensusCodecError as e:
            return core.PeerInputBroken(peer, str(e))
    if kind == "status":
        return core.StatusReceived(peer, env.status.height, now_ms)
    if kind == "evidence":
        pieces, bad = evidence_from_gossip(env.evidence)
        return core.EvidenceReceived(peer, tuple(pieces), bad, now_ms)
    if kind == "block_request":
        return core.BlockRequested(peer, env.block_request.height)
    if kind == "block_response":
        resp = env.block_response
        if not resp.block:
            return core.BlockReceived(peer, resp.height, None, None, now_ms)
        try:
            certificate: cs.CommitCertificate | None = codec.decode_certificate(resp.commit)
        except codec.ConsensusCodecError:
            certificate = None
        return core.BlockReceived(peer, resp.height, resp.block, certificate, now_ms)
    return None


def _consensus_message(msg: p2p_pb2.ConsensusMessage) -> cs.Proposal | cs.Vote:
    which = msg.WhichOneof("message")
    if which == "proposal":
        return codec.proposal_from_proto(_parse(consensus_pb2.Proposal, msg.proposal))
    if which == "vote":
        return codec.vote_from_proto(_parse(consensus_pb2.Vote, msg.vote))
    raise codec.ConsensusCodecError(codec.MALFORMED_CONSENSUS_MESSAGE, "empty")


def _parse(cls: type[_Msg], raw: bytes) -> _Msg:
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise codec.ConsensusCodecError(codec.MALFORMED_CONSENSUS_MESSAGE, str(e)) from e
    return msg


def consensus_envelope(message: cs.Proposal | cs.Vote) -> p2p_pb2.Envelope:
    """The envelope that carries a proposal or vote."""
    env = p2p_pb2.Envelope()
    if isinstance(message, cs.Proposal):
        env.consensus.proposal = codec.proposal_to_proto(message).SerializeToString()
    else:
        env.consensus.vote = codec.vote_to_proto(message).SerializeToString()
    return env


def status_envelope(height: int, block_hash: bytes) -> p2p_pb2.Envelope:
    """Our status: the latest committed height and its block hash."""
    env = p2p_pb2.Envelope()
    env.status.height = height
    env.status.block_hash = block_hash
    env.status.earliest_height = 1 if height else 0
    return env


def block_request_envelope(height: int) -> p2p_pb2.Envelope:
    """Ask for one committed block with its certificate."""
    env = p2p_pb2.Envelope()
    env.block_request.height = height
    return env


def block_response_envelope(
    height: int, block: bytes | None, commit: bytes | None
) -> p2p_pb2.Envelope:
    """A block with its certificate, or (both None) the answer that we lack it."""
    env = p2p_pb2.Envelope()
    env.block_response.height = height
    if block is not None and commit is not None:
        env.block_response.block = block
        env.block_response.commit = commit
    return env

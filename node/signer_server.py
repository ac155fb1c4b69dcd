"""The remote signer process (`tenge-node signer start`): the validator key behind TCP.

A signer home holds signer.toml (chain id, listen address, allow-list, [signer]), its own
node key for the channel, the validator key (validator_key.json, or a PKCS#11 token
through node/signer.py) and its own last-signed record (node/signguard.py). The node
connects with [signer] kind = "remote" (node/remote_signer.py).

Rules this module keeps:

1. Only allow-listed node ids get past the P2P handshake (node/p2p/_handshake.py): the
   channel is mutually authenticated and encrypted as between peers.
2. Sign bytes are signed only when they decode (``consensus.sign_bytes_position``) as a
   vote or a proposal of this signer's chain id at exactly the (height, round, step) the
   request claims: the signer never signs arbitrary bytes.
3. The signer's own guard decides: a request at or before the last signed position with
   other bytes is refused (``double_sign`` / ``regression``), whichever node asks. The new
   position is durable (fsync) before the signature leaves.
4. Requests are answered one at a time across all connections (``answer`` has no await),
   so two nodes can never both get past the guard for one position.
5. Every refusal is counted by reason and logged; bad frames end only their connection.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from typing import Final

import trio
from google.protobuf.message import DecodeError

from consensus import LastSigned, sign_bytes_position
from node.config import SignerHomeConfig
from node.errors import NodeError
from node.keys import KeyPair
from node.p2p import P2PError
from node.p2p._handshake import perform_handshake
from node.p2p._wire import FrameStream
from node.remote_signer import (
    BAD_REQUEST,
    CONNECT_TIMEOUT_S,
    DOUBLE_SIGN,
    GUARD_ERROR,
    MAX_SIGNER_FRAME,
    REGRESSION,
    SIGN_ERROR,
    WRONG_CHAIN,
)
from node.signer import ValidatorSigner
from node.signguard import SignGuard
from proto import signer_pb2

log = logging.getLogger("tenge.signer")

#: A connection that sends nothing for this long is closed (the node pings every second).
IDLE_TIMEOUT_S: Final = 30.0
#: Connections served at once; one more is closed as soon as it is accepted.
MAX_CONNECTIONS: Final = 16


class SignerService:
    """Answers sign requests for one validator key under its own double-sign guard."""

    def __init__(
        self, config: SignerHomeConfig, node_key: KeyPair, signer: ValidatorSigner
    ) -> None:
        self.config = config
        self.node_key = node_key
        self.signer = signer
        self.guard = SignGuard(config.last_signed_path)
        self.refusals: Counter[str] = Counter()
        self.signed = 0
        self._allowed = frozenset(bytes.fromhex(n) for n in config.allowed_node_ids)
        self._slots = trio.CapacityLimiter(MAX_CONNECTIONS)

    def answer(self, raw: bytes, peer: str = "-") -> signer_pb2.SignResponse:
        """The response to one serialized SignRequest (rules 2 to 4)."""
        request = signer_pb2.SignRequest()
        try:
            request.ParseFromString(raw)
        except DecodeError:
            return self._refuse(peer, BAD_REQUEST, "the request does not decode")
        if request.chain_id != self.config.chain_id:
            return self._refuse(peer, WRONG_CHAIN, f"chain id {request.chain_id[:64]!r}")
        if not request.sign_bytes:
            return signer_pb2.SignResponse(public_key=self.signer.public_key)
        message = bytes(request.sign_bytes)
        try:
            position = sign_bytes_position(self.config.chain_id, message)
        except ValueError as e:
            return self._refuse(peer, BAD_REQUEST, f"sign bytes: {e}")
        height, round_, step = position
        if (request.height, request.round, request.step) != (height, round_, int(step)):
            return self._refuse(peer, BAD_REQUEST, "the claimed position is not the sign bytes'")
        last = LastSigned(height, round_, step, hashlib.sha256(message).digest())
        refusal = self.guard.check(height, round_, step, last.sign_bytes_hash)
        if refusal is not None:
            code = REGRESSION if refusal.startswith("regression") else DOUBLE_SIGN
            return self._refuse(peer, code, refusal)
        try:
            self.guard.persist(last)
        except (OSError, NodeError) as e:
            return self._refuse(peer, GUARD_ERROR, f"cannot record the signature: {e}")
        try:
            signature = self.signer.sign(message)
        except NodeError as e:
            return self._refuse(peer, SIGN_ERROR, str(e))
        self.signed += 1
        log.debug("signed height %d round %d step %s for %s", height, round_, step.name, peer)
        return signer_pb2.SignResponse(signature=signature, public_key=self.signer.public_key)

    def _refuse(self, peer: str, code: str, detail: str) -> signer_pb2.SignResponse:
        self.refusals[code] += 1
        log.warning(
            "refused to sign for node %s: %s: %s (refusals so far: %s)",
            peer,
            code,
            detail,
            dict(sorted(self.refusals.items())),
        )
        return signer_pb2.SignResponse(
            refusal=code, detail=detail[:200], public_key=self.signer.public_key
        )

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled; reports the bound port to task_status."""
        listen = self.config.listen
        listeners = await trio.open_tcp_listeners(listen.port, host=listen.host)
        port = listeners[0].socket.getsockname()[1]
        log.info(
            "signer for validator %s listening on %s:%d (%d allowed nodes)",
            self.signer.public_key.hex(),
            listen.host,
            port,
            len(self._allowed),
        )
        task_status.started(port)
        await trio.serve_listeners(self._serve, listeners)

    async def _serve(self, stream: trio.SocketStream) -> None:
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:  # at the cap: close at once rather than queue sockets
            await stream.aclose()
            return
        try:
            await self._serve_connection(stream)
        finally:
            self._slots.release()

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        async with stream:
            frames = FrameStream(stream)
            peer = "-"
            try:
                with trio.fail_after(CONNECT_TIMEOUT_S):
                    session = await perform_handshake(
                        frames,
                        identity=self.node_key,
                        chain_id=self.config.chain_id,
                        is_allowed=self._allowed.__contains__,
                    )
                peer = session.peer_key.hex()[:16]
                log.info("node %s connected", peer)
                while True:
                    with trio.fail_after(IDLE_TIMEOUT_S):
                        raw = await frames.receive_frame(MAX_SIGNER_FRAME)
                    response = self.answer(raw, peer)
                    await frames.send_frame(response.SerializeToString())
            except (P2PError, trio.TooSlowError, trio.BrokenResourceError, OSError) as e:
                log.info("node %s disconnected: %s", peer, str(e) or type(e).__name__)

"""The node's side of a remote signer ([signer] kind = "remote"): ``RemoteSigner``.

The engine calls ``sign`` synchronously from the node's trio loop. The connection to the
signer process (node/signer_server.py) lives in a thread of its own with its own
``trio.run``: it dials, runs the P2P handshake (node/p2p/_handshake.py) with the signer's
node id as the only key it accepts, learns the validator's public key from a status
request, and then serves one request at a time, with a status request as keep-alive when
idle. A lost connection is redialled with backoff, for ever, until ``close``.

Rules this module keeps:

1. ``sign`` never blocks the node for longer than ``timeout_ms``: with no connection it
   raises ``consensus.SignerUnavailable`` at once; a signature not back in time raises it
   too (the engine then skips that step's message, and may sign in a later one), and so
   does every call for ``SLOW_COOLDOWN_S`` after such a timeout.
2. A refusal by the signer (its own double-sign guard, docs/deployment.md) raises
   ``SignerUnavailable`` naming the refusal; refusals are counted by reason.
3. Every signature is checked against the validator's public key before it is returned;
   a signer whose key changes across connections is treated as unreachable.
4. ``up`` says whether a live, authenticated connection exists; it is logged when it
   changes, exported as ``tenge_signer_up`` and shown by ``/v1/health``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

import trio
from google.protobuf.message import DecodeError

from consensus import SignerUnavailable, Step, sign_bytes_position
from node.config import SignerSettings
from node.keys import KeyPair, verify
from node.p2p import P2PError
from node.p2p._handshake import perform_handshake
from node.p2p._wire import FrameStream
from proto import signer_pb2

log = logging.getLogger("tenge.signer")

#: Largest SignRequest / SignResponse frame (both are a few hundred bytes).
MAX_SIGNER_FRAME: Final = 4096
#: Dial, handshake and status request of one connection must finish within this.
CONNECT_TIMEOUT_S: Final = 3.0
#: An idle connection is checked with a status request this often.
KEEPALIVE_S: Final = 1.0
#: Redial backoff: from the first to the last value, doubling.
BACKOFF_S: Final = (0.1, 2.0)
#: After a signature timed out, signatures are skipped at once for this long: a signer that
#: answers keep-alives but hangs on signing must not stall the node's loop at every step.
SLOW_COOLDOWN_S: Final = 5.0
#: How long open() waits for the first connection (the node does not start without it).
START_TIMEOUT_S: Final = 10.0
# The signer's refusal codes (SignResponse.refusal; node/signer_server.py decides them).
DOUBLE_SIGN: Final = "double_sign"
REGRESSION: Final = "regression"
BAD_REQUEST: Final = "bad_request"
WRONG_CHAIN: Final = "wrong_chain"
GUARD_ERROR: Final = "guard_error"
SIGN_ERROR: Final = "sign_error"
REFUSALS: Final = frozenset(
    {DOUBLE_SIGN, REGRESSION, BAD_REQUEST, WRONG_CHAIN, GUARD_ERROR, SIGN_ERROR}
)
# Reasons counted on the node besides those: no connection, no answer in time, a signature
# that does not verify, a refusal code this version does not know.
UNREACHABLE: Final = "unreachable"
TIMEOUT: Final = "timeout"
BAD_SIGNATURE: Final = "bad_signature"
OTHER: Final = "other"


class _ConnectionLost(Exception):
    """The session with the signer ended; redial."""


@dataclass(slots=True)
class _Request:
    raw: bytes
    future: concurrent.futures.Future[signer_pb2.SignResponse]


class RemoteSigner:
    """A ``consensus.Signer`` whose key is held by a signer process over TCP."""

    def __init__(self, settings: SignerSettings, chain_id: str, node_key: KeyPair) -> None:
        assert settings.address is not None
        self.address = settings.address
        self.chain_id = chain_id
        self._node_key = node_key
        self._signer_key = bytes.fromhex(settings.signer_id)
        self._timeout_s = settings.timeout_ms / 1000
        self._public_key: bytes | None = None
        self._up = False
        self._slow_until = 0.0  # time.monotonic() until which signatures are skipped
        self._last_error = "not connected yet"
        self._lock = threading.Lock()
        self._refusals: Counter[str] = Counter()
        self._token: trio.lowlevel.TrioToken | None = None
        self._send: trio.MemorySendChannel[_Request] | None = None
        self._cancel: trio.CancelScope | None = None
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, name="remote-signer", daemon=True)

    @classmethod
    def open(
        cls,
        settings: SignerSettings,
        chain_id: str,
        node_key: KeyPair,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> RemoteSigner:
        """Start the connection thread and wait for the first connection.

        Raises:
            SignerError: the signer did not answer within start_timeout_s.
        """
        from node.signer import SignerError

        signer = cls(settings, chain_id, node_key)
        signer._thread.start()
        if not signer._connected.wait(start_timeout_s):
            signer.close()
            raise SignerError(f"{signer._where()}: unreachable: {signer._last_error}")
        return signer

    @property
    def kind(self) -> str:
        return "remote"

    @property
    def public_key(self) -> bytes:
        assert self._public_key is not None, "open() waits for the signer's key"
        return self._public_key

    @property
    def up(self) -> bool:
        """Whether an authenticated connection to the signer is live now."""
        return self._up

    def refusals(self) -> dict[str, int]:
        """Signatures not obtained, by reason (the signer's refusal code, or
        ``unreachable`` / ``timeout``)."""
        with self._lock:
            return dict(self._refusals)

    def status(self) -> dict[str, object]:
        """The signer's state for ``/v1/health``."""
        doc: dict[str, object] = {"kind": "remote", "address": str(self.address), "up": self._up}
        if not self._up:
            doc["error"] = self._last_error
        return doc

    def sign(self, message: bytes) -> bytes:
        """The signer's signature of message (a vote's or a proposal's sign bytes).

        Raises:
            SignerUnavailable: no connection, no answer within timeout_ms, or a refusal.
        """
        if time.monotonic() < self._slow_until:
            self._count(TIMEOUT)
            raise SignerUnavailable(f"{self._where()}: too slow a moment ago; skipping")
        token = self._token
        if not self._up or token is None:
            self._count(UNREACHABLE)
            raise SignerUnavailable(f"{self._where()}: unreachable: {self._last_error}")
        height, round_, step = sign_bytes_position(self.chain_id, message)
        raw = signer_pb2.SignRequest(
            chain_id=self.chain_id, sign_bytes=message, height=height, round=round_, step=step
        ).SerializeToString()
        request = _Request(raw, concurrent.futures.Future())
        try:
            token.run_sync_soon(self._offer, request)
            response = request.future.result(timeout=self._timeout_s)
        except (concurrent.futures.TimeoutError, trio.RunFinishedError):
            request.future.cancel()
            self._slow_until = time.monotonic() + SLOW_COOLDOWN_S
            self._count(TIMEOUT)
            raise SignerUnavailable(
                f"{self._where()}: no signature within {self._timeout_s * 1000:g} ms"
            ) from None
        except SignerUnavailable:
            self._count(UNREACHABLE)
            raise
        if response.refusal:
            code = response.refusal if response.refusal in REFUSALS else OTHER
            self._count(code)
            log.warning(
                "remote signer refused height %d round %d step %s: %s (%s)",
                height,
                round_,
                Step(step).name,
                code,
                " ".join(response.detail[:200].split()),
            )
            raise SignerUnavailable(f"{self._where()}: refused: {code}")
        signature = bytes(response.signature)
        if not verify(self.public_key, message, signature):
            self._count(BAD_SIGNATURE)
            raise SignerUnavailable(f"{self._where()}: the signature does not verify")
        return signature

    def close(self) -> None:
        """Stop the connection thread (idempotent, bounded)."""
        token, scope = self._token, self._cancel
        if token is not None and scope is not None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(scope.cancel)
        if self._thread.is_alive():
            self._thread.join(timeout=CONNECT_TIMEOUT_S + 1)
        self._up = False

    # ---- the connection thread

    def _where(self) -> str:
        return f"signer (remote) {self.address}"

    def _count(self, reason: str) -> None:
        with self._lock:
            self._refusals[reason] += 1

    def _offer(self, request: _Request) -> None:
        """Runs in the connection thread: queue request, or fail it when one is pending."""
        assert self._send is not None
        try:
            self._send.send_nowait(request)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            request.future.set_exception(SignerUnavailable(f"{self._where()}: busy"))

    def _thread_main(self) -> None:
        trio.run(self._main)

    async def _main(self) -> None:
        send, receive = trio.open_memory_channel[_Request](1)
        with trio.CancelScope() as scope:
            self._send, self._cancel = send, scope
            self._token = trio.lowlevel.current_trio_token()
            await self._dial_forever(receive)

    async def _dial_forever(self, requests: trio.MemoryReceiveChannel[_Request]) -> None:
        backoff = BACKOFF_S[0]
        while True:
            try:
                await self._connection(requests)
            except (OSError, trio.TooSlowError, P2PError, _ConnectionLost) as e:
                self._last_error = _describe(e)
            if self._up:
                self._up = False
                backoff = BACKOFF_S[0]
                log.error(
                    "remote signer %s lost (%s): this validator does not vote or propose "
                    "until it is back",
                    self.address,
                    self._last_error,
                )
            else:
                backoff = min(backoff * 2, BACKOFF_S[1])
            await trio.sleep(backoff)

    async def _connection(self, requests: trio.MemoryReceiveChannel[_Request]) -> None:
        with trio.fail_after(CONNECT_TIMEOUT_S):
            stream = await trio.open_tcp_stream(self.address.host, self.address.port)
        async with stream:
            frames = FrameStream(stream)
            with trio.fail_after(CONNECT_TIMEOUT_S):
                await perform_handshake(
                    frames,
                    identity=self._node_key,
                    chain_id=self.chain_id,
                    is_allowed=lambda key: key == self._signer_key,
                    expected_key=self._signer_key,
                )
                self._check_key(await self._ask(frames, self._status_request()))
            self._up = True
            self._connected.set()
            log.info("remote signer %s connected", self.address)
            while True:
                request: _Request | None = None
                with trio.move_on_after(KEEPALIVE_S):
                    request = await requests.receive()
                if request is None:
                    with trio.fail_after(self._timeout_s + CONNECT_TIMEOUT_S):
                        self._check_key(await self._ask(frames, self._status_request()))
                    continue
                if not request.future.set_running_or_notify_cancel():
                    continue  # the caller gave up waiting
                try:
                    with trio.fail_after(self._timeout_s):
                        response = await self._ask(frames, request.raw)
                except BaseException as e:
                    # A late answer could be taken for the next one's: drop the connection.
                    request.future.set_exception(SignerUnavailable(f"{self._where()}: {e!r}"))
                    raise
                request.future.set_result(response)

    def _status_request(self) -> bytes:
        return signer_pb2.SignRequest(chain_id=self.chain_id).SerializeToString()

    async def _ask(self, frames: FrameStream, raw: bytes) -> signer_pb2.SignResponse:
        await frames.send_frame(raw)
        response = signer_pb2.SignResponse()
        try:
            response.ParseFromString(await frames.receive_frame(MAX_SIGNER_FRAME))
        except DecodeError as e:
            raise _ConnectionLost("the signer's response does not decode") from e
        return response

    def _check_key(self, response: signer_pb2.SignResponse) -> None:
        key = bytes(response.public_key)
        if len(key) != 32:
            raise _ConnectionLost(f"the signer gave no validator key ({response.refusal[:32]})")
        if self._public_key is None:
            self._public_key = key
        elif key != self._public_key:
            raise _ConnectionLost(
                f"the signer's validator key changed from {self._public_key.hex()} to {key.hex()}"
            )


def _describe(error: BaseException) -> str:
    if isinstance(error, trio.TooSlowError):
        return "timed out"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error) or type(error).__name__

"""The remote signer in one process: SignerService over real TCP on 127.0.0.1, RemoteSigner
in its own thread, the signer's guard in a real file.

What this shows: the signer signs only canonical sign bytes of its chain at the claimed
position, refuses a conflicting or an earlier request whichever node asks, keeps that
across a restart (its guard file), lets only allow-listed nodes in; the node side raises
SignerUnavailable at once while the signer is down, and signs again once it is back.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import LastSigned, SignerUnavailable, Step, VoteType, vote_sign_bytes
from node.config import HostPort, SignerHomeConfig, SignerSettings
from node.keys import KeyPair, verify
from node.p2p._handshake import perform_handshake
from node.p2p._wire import FrameStream
from node.remote_signer import MAX_SIGNER_FRAME, RemoteSigner
from node.signer import FileSigner, SignerError
from node.signer_server import (
    BAD_REQUEST,
    DOUBLE_SIGN,
    MAX_CONNECTIONS,
    REGRESSION,
    WRONG_CHAIN,
    SignerService,
)
from node.signguard import load_last_signed
from proto import signer_pb2

BAD = BAD_REQUEST
CHAIN = "remote-chain"
VALIDATOR = KeyPair.generate()
SIGNER_NODE = KeyPair.generate()
NODE_A = KeyPair.generate()
NODE_B = KeyPair.generate()
STRANGER = KeyPair.generate()


def home_config(home: Path, port: int = 0) -> SignerHomeConfig:
    return SignerHomeConfig(
        home=home,
        chain_id=CHAIN,
        listen=HostPort("127.0.0.1", port),
        allowed_node_ids=frozenset({NODE_A.public_key.hex(), NODE_B.public_key.hex()}),
        signer=SignerSettings(),
    )


def service(home: Path, port: int = 0) -> SignerService:
    return SignerService(home_config(home, port), SIGNER_NODE, FileSigner(VALIDATOR))


def request(message: bytes, position: tuple[int, int, int] | None = None) -> bytes:
    from consensus import sign_bytes_position

    height, round_, step = position or sign_bytes_position(CHAIN, message)
    return signer_pb2.SignRequest(
        chain_id=CHAIN, sign_bytes=message, height=height, round=round_, step=int(step)
    ).SerializeToString()


def prevote(height: int, round_: int, block: bytes) -> bytes:
    return vote_sign_bytes(CHAIN, VoteType.PREVOTE, height, round_, block)


# ---- the signer's decisions (SignerService.answer) ----


def test_signs_the_engines_sign_bytes_and_refuses_a_conflict(tmp_path: Path) -> None:
    svc = service(tmp_path)
    message = prevote(5, 0, b"\x01" * 32)
    signed = svc.answer(request(message))
    assert signed.refusal == ""
    assert verify(VALIDATOR.public_key, message, signed.signature)
    # The very same bytes again (a re-send) are fine; other bytes at that position are not.
    assert svc.answer(request(message)).signature == signed.signature
    conflict = svc.answer(request(prevote(5, 0, b"\x02" * 32)))
    assert (conflict.refusal, conflict.signature) == (DOUBLE_SIGN, b"")
    earlier = svc.answer(request(prevote(4, 9, b"\x02" * 32)))
    assert earlier.refusal == REGRESSION
    assert svc.refusals == {DOUBLE_SIGN: 1, REGRESSION: 1}
    # The guard is durable: a restarted signer refuses the conflict too.
    assert load_last_signed(svc.config.last_signed_path) == LastSigned(
        5, 0, Step.PREVOTE, hashlib.sha256(message).digest()
    )
    again = service(tmp_path).answer(request(prevote(5, 0, b"\x02" * 32)))
    assert again.refusal == DOUBLE_SIGN


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff\xff\xff", BAD_REQUEST),
        (signer_pb2.SignRequest(chain_id="other").SerializeToString(), WRONG_CHAIN),
        # Arbitrary bytes, a transaction-like message, another chain's vote: never signed.
        (request(b"pay me", (1, 0, 2)), BAD_REQUEST),
        (
            request(b"tenge/tx/v1\x00" + bytes((len(CHAIN),)) + CHAIN.encode(), (1, 0, 2)),
            BAD_REQUEST,
        ),
        (request(vote_sign_bytes("other", VoteType.PREVOTE, 3, 0, b""), (3, 0, 2)), BAD_REQUEST),
        # A position that is not the sign bytes' own.
        (request(prevote(3, 0, b""), (9, 0, 2)), BAD_REQUEST),
        (request(prevote(3, 0, b""), (3, 0, 3)), BAD_REQUEST),
    ],
)
def test_refuses_what_is_not_a_vote_or_proposal_at_its_position(
    tmp_path: Path, raw: bytes, code: str
) -> None:
    svc = service(tmp_path)
    response = svc.answer(raw)
    assert (response.refusal, response.signature) == (code, b"")
    assert svc.refusals == {code: 1}
    assert not svc.config.last_signed_path.exists(), "a refusal records nothing"


def test_a_status_request_tells_the_validator_key(tmp_path: Path) -> None:
    raw = signer_pb2.SignRequest(chain_id=CHAIN).SerializeToString()
    response = service(tmp_path).answer(raw)
    assert (response.public_key, response.signature, response.refusal) == (
        VALIDATOR.public_key,
        b"",
        "",
    )


# ---- over TCP, with the node side in its thread ----


@asynccontextmanager
async def running(svc: SignerService) -> AsyncIterator[int]:
    async with trio.open_nursery() as nursery:
        port: int = await nursery.start(svc.run)
        yield port
        nursery.cancel_scope.cancel()


def client_settings(port: int, timeout_ms: int = 1000) -> SignerSettings:
    return SignerSettings(
        kind="remote",
        address=HostPort("127.0.0.1", port),
        signer_id=SIGNER_NODE.public_key.hex(),
        timeout_ms=timeout_ms,
    )


async def open_client(
    port: int, node: KeyPair, timeout_ms: int = 1000, **kwargs: float
) -> RemoteSigner:
    return await trio.to_thread.run_sync(
        lambda: RemoteSigner.open(client_settings(port, timeout_ms), CHAIN, node, **kwargs)
    )


async def sign(client: RemoteSigner, message: bytes) -> bytes:
    return await trio.to_thread.run_sync(client.sign, message)


async def wait_up(client: RemoteSigner, up: bool) -> None:
    while True:  # bounded by the test's fail_after
        if client.up == up:
            return
        await trio.sleep(0.02)


async def test_a_node_signs_through_the_signer_and_a_second_node_is_refused(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        svc = service(tmp_path)
        async with running(svc) as port:
            a = await open_client(port, NODE_A)
            b = await open_client(port, NODE_B)
            try:
                assert a.public_key == b.public_key == VALIDATOR.public_key
                message = prevote(7, 1, b"\x03" * 32)
                signature = await sign(a, message)
                assert verify(VALIDATOR.public_key, message, signature)
                with pytest.raises(SignerUnavailable, match="refused: double_sign"):
                    await sign(b, prevote(7, 1, b"\x04" * 32))
                assert b.refusals() == {DOUBLE_SIGN: 1}
                assert a.refusals() == {}
                assert svc.refusals == {DOUBLE_SIGN: 1}
            finally:
                a.close()
                b.close()


async def test_a_node_off_the_allow_list_is_refused(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(service(tmp_path)) as port:
            with pytest.raises(SignerError, match=r"unreachable: .*refused"):
                await open_client(port, STRANGER, start_timeout_s=1.0)


async def test_unreachable_at_start_is_one_line(tmp_path: Path) -> None:
    with trio.fail_after(30):
        # A port nothing listens on: bind one and close it.
        sock = trio.socket.socket()
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        with pytest.raises(SignerError, match="unreachable") as raised:
            await open_client(port, NODE_A, start_timeout_s=0.5)
        assert "\n" not in str(raised.value)


async def test_signer_down_is_unavailable_at_once_and_back_signs_again(tmp_path: Path) -> None:
    with trio.fail_after(60):
        svc = service(tmp_path)
        async with trio.open_nursery() as outer:
            scope = trio.CancelScope()

            async def serve(task_status: trio.TaskStatus[int]) -> None:
                with scope:
                    await svc.run(task_status=task_status)

            port: int = await outer.start(serve)
            client = await open_client(port, NODE_A)
            try:
                await sign(client, prevote(1, 0, b""))
                scope.cancel()  # the signer goes away
                await wait_up(client, False)
                with pytest.raises(SignerUnavailable, match="unreachable"):
                    await sign(client, prevote(2, 0, b""))
                assert client.status()["up"] is False
                # Back on the same port, with the same guard file: the node redials.
                again = service(tmp_path, port)
                await outer.start(again.run)
                await wait_up(client, True)
                await sign(client, prevote(3, 0, b""))
                assert client.refusals() == {"unreachable": 1}
            finally:
                client.close()
            outer.cancel_scope.cancel()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_requests_are_refused_never_raised(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        response = service(Path(tmp)).answer(raw)
    assert response.signature == b"", "garbage was signed"
    assert response.refusal or response.public_key == VALIDATOR.public_key  # a status answer


async def test_connections_over_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with running(service(tmp_path)) as port:
            held = []
            for _ in range(MAX_CONNECTIONS):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                assert await stream.receive_some(4096), "a served connection starts the handshake"
                held.append(stream)
            extra = await trio.open_tcp_stream("127.0.0.1", port)
            assert await extra.receive_some(4096) == b"", "over the cap: closed, no handshake"
            for stream in [*held, extra]:
                await stream.aclose()


class LyingSigner(SignerService):
    """An allow-listed signer that answers wrongly, as set by mode."""

    mode = "honest"

    def answer(self, raw: bytes, peer: str = "-") -> signer_pb2.SignResponse:
        response = super().answer(raw, peer)
        if self.mode == "bad_signature" and response.signature:
            response.signature = bytes(64)
        elif self.mode == "odd_refusal" and response.signature:
            return signer_pb2.SignResponse(refusal="\n" * 1000, detail="x\ny" * 100)
        elif self.mode == "other_key":
            response.public_key = NODE_B.public_key
        return response


async def test_a_lying_signer_gets_nothing_past_the_node(tmp_path: Path) -> None:
    with trio.fail_after(30):
        svc = LyingSigner(home_config(tmp_path), SIGNER_NODE, FileSigner(VALIDATOR))
        async with running(svc) as port:
            client = await open_client(port, NODE_A)
            try:
                svc.mode = "bad_signature"
                with pytest.raises(SignerUnavailable, match="does not verify"):
                    await sign(client, prevote(1, 0, b""))
                svc.mode = "odd_refusal"
                with pytest.raises(SignerUnavailable, match="refused: other"):
                    await sign(client, prevote(2, 0, b""))
                assert client.refusals() == {"bad_signature": 1, "other": 1}
                # A signer whose validator key changes is not this validator's any more.
                svc.mode = "other_key"
                await wait_up(client, False)
                with pytest.raises(SignerUnavailable, match="key changed"):
                    await sign(client, prevote(3, 0, b""))
                svc.mode = "honest"
                await wait_up(client, True)
                await sign(client, prevote(4, 0, b""))
            finally:
                client.close()


async def test_a_signer_that_hangs_costs_one_timeout_then_is_skipped(tmp_path: Path) -> None:
    svc = service(tmp_path)

    async def answer_all_but_signatures(stream: trio.SocketStream) -> None:
        frames = FrameStream(stream)
        await perform_handshake(
            frames, identity=SIGNER_NODE, chain_id=CHAIN, is_allowed=lambda key: True
        )
        while True:
            raw = await frames.receive_frame(MAX_SIGNER_FRAME)
            if signer_pb2.SignRequest.FromString(raw).sign_bytes:
                await trio.sleep_forever()  # a hung HSM behind a live process
            await frames.send_frame(svc.answer(raw).SerializeToString())

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            nursery.start_soon(trio.serve_listeners, answer_all_but_signatures, listeners)
            client = await open_client(port, NODE_A, timeout_ms=200)
            try:
                with pytest.raises(SignerUnavailable, match="no signature within 200 ms"):
                    await sign(client, prevote(1, 0, b""))
                # The next ones are skipped at once, not another 200 ms of the node's loop.
                with pytest.raises(SignerUnavailable, match="too slow"):
                    await sign(client, prevote(2, 0, b""))
                assert client.refusals() == {"timeout": 2}
            finally:
                client.close()
            nursery.cancel_scope.cancel()

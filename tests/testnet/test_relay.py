"""The WAN-delay relay (testnet._relay): bytes intact and in order, at least rtt added to a
round trip, closes passed on, memory bounded; and a 4-validator testnet behind it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from testnet._init import free_base_port
from testnet._procs import RELAY_PID_FILE, is_running, read_pid
from testnet._relay import RelayStats, Route, serve_relay
from tests.testnet.test_harness import heights, node_pids, status, tenge_testnet, wait_for

RTT_MS = 40.0
HOST = "127.0.0.1"


async def _echo(stream: trio.SocketStream) -> None:
    """Send back what arrives; half-close when the client does."""
    async with stream:
        try:
            while data := await stream.receive_some(65536):
                await stream.send_all(data)
            await stream.send_eof()
        except trio.BrokenResourceError:
            pass


class Setup:
    def __init__(self, nursery: trio.Nursery, base: int) -> None:
        self.nursery = nursery
        self.server_port = base
        self.relay_port = base + 1
        self.route = Route(0, HOST, self.relay_port, HOST, self.server_port)

    async def start_server(self, handler: Any) -> None:
        listeners = await trio.open_tcp_listeners(self.server_port, host=HOST)
        await self.nursery.start(trio.serve_listeners, handler, listeners)

    async def start_relay(self, **kwargs: Any) -> RelayStats:
        stats: RelayStats = await self.nursery.start(
            lambda task_status: serve_relay([self.route], task_status=task_status, **kwargs)
        )
        return stats

    async def connect(self) -> trio.SocketStream:
        return await trio.open_tcp_stream(HOST, self.relay_port)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    async with trio.open_nursery() as nursery:
        yield Setup(nursery, free_base_port(1))
        nursery.cancel_scope.cancel()


async def test_a_large_transfer_comes_back_intact_and_in_order(setup: Setup) -> None:
    await setup.start_server(_echo)
    stats = await setup.start_relay(rtt_ms=RTT_MS)
    rng = random.Random(13)
    payload = rng.randbytes(8 * 1024 * 1024)
    received = hashlib.sha256()
    count = 0
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(trio.fail_after(60))
        stream = await setup.connect()
        stack.push_async_callback(trio.aclose_forcefully, stream)

        async def send() -> None:
            offset = 0
            while offset < len(payload):
                size = rng.choice((1, 7, 500, 1400, 4096, 65536, 200_000))
                await stream.send_all(payload[offset : offset + size])
                offset += size
            await stream.send_eof()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            while data := await stream.receive_some(100_000):
                received.update(data)
                count += len(data)
    assert count == len(payload)
    assert received.hexdigest() == hashlib.sha256(payload).hexdigest()
    assert stats.bytes_forwarded == 2 * len(payload)
    assert stats.connections == 1


async def test_a_round_trip_takes_at_least_the_rtt(setup: Setup) -> None:
    await setup.start_server(_echo)
    await setup.start_relay(rtt_ms=RTT_MS)
    with trio.fail_after(30):
        async with await setup.connect() as stream:
            for n in range(5):
                message = f"ping {n}".encode()
                t0 = trio.current_time()
                await stream.send_all(message)
                got = b""
                while len(got) < len(message):
                    got += await stream.receive_some(100)
                elapsed_ms = (trio.current_time() - t0) * 1000
                assert got == message
                assert elapsed_ms >= RTT_MS, elapsed_ms  # a lower bound: never an upper one


async def test_closing_one_side_closes_the_other(setup: Setup) -> None:
    server_saw_eof = trio.Event()
    server_streams: list[trio.SocketStream] = []

    async def server(stream: trio.SocketStream) -> None:
        server_streams.append(stream)
        if await stream.receive_some(100) == b"hang up":
            await stream.aclose()  # the server closes first
            return
        while await stream.receive_some(100):
            pass
        server_saw_eof.set()
        await stream.aclose()

    await setup.start_server(server)
    stats = await setup.start_relay(rtt_ms=RTT_MS)
    with trio.fail_after(30):
        # the client closes: the server reads the end of the stream
        async with await setup.connect() as client:
            await client.send_all(b"hello")
        await server_saw_eof.wait()
        # the server closes: the client reads the end of the stream
        async with await setup.connect() as client:
            await client.send_all(b"hang up")
            assert await client.receive_some(100) == b""
    assert stats.connections == 2


async def test_a_reader_that_does_not_read_stops_the_relay_reading_at_the_cap(
    setup: Setup,
) -> None:
    cap = 512 * 1024
    accepted = trio.Event()

    async def sleeper(stream: trio.SocketStream) -> None:
        async with stream:
            accepted.set()
            await trio.sleep_forever()  # never reads

    await setup.start_server(sleeper)
    stats = await setup.start_relay(rtt_ms=RTT_MS, cap_bytes=cap)
    total = 64 * 1024 * 1024  # far more than the cap and every socket buffer on the way
    sent = 0
    with trio.fail_after(60):
        stream = await setup.connect()
        try:
            await accepted.wait()
            block = b"x" * 65536
            while sent < total:
                with trio.move_on_after(2.0) as stalled:
                    await stream.send_all(block)
                if stalled.cancelled_caught:
                    break
                sent += len(block)
        finally:
            await trio.aclose_forcefully(stream)
    assert sent < total, "the relay kept reading from a sender whose reader does not read"
    assert stats.held_peak <= cap, stats.held_peak
    assert stats.held_peak > cap // 2  # it did fill up: the bound, not something else, held


async def test_serve_relay_refuses_bad_settings(setup: Setup) -> None:
    for kwargs in ({"rtt_ms": -1.0}, {"rtt_ms": 1e9}, {"rtt_ms": 10.0, "cap_bytes": 10}):
        with pytest.raises(ValueError, match="must be"):
            await serve_relay([setup.route], **kwargs)


# ---- a real testnet behind the relay ----


def test_a_testnet_with_20_ms_rtt_commits_and_down_stops_the_relay(tmp_path: Path) -> None:
    directory = tmp_path / "tn"
    d = str(directory)
    base = free_base_port(4)
    init = tenge_testnet(
        "init", "--dir", d, "--validators", "4", "--base-port", str(base), "--rtt-ms", "20"
    )
    assert init.returncode == 0, init.stderr
    manifest = json.loads((directory / "testnet.json").read_text())
    assert manifest["rtt_ms"] == 20
    relays = [n["relay"] for n in manifest["nodes"]]
    assert relays == [f"127.0.0.1:{base + 10 * i + 3}" for i in range(4)]
    config = (directory / "nodes" / "node0" / "config.toml").read_text()
    assert f"127.0.0.1:{base + 13}" in config  # node 0 dials node 1 through the relay
    assert f'127.0.0.1:{base + 10}"' not in config  # ... not at its P2P port
    try:
        up = tenge_testnet("up", "--dir", d, "--detach")
        assert up.returncode == 0, up.stderr
        relay_pid = read_pid(directory, RELAY_PID_FILE)
        assert relay_pid is not None
        assert is_running(relay_pid, program=b"testnet._relay")
        wait_for(lambda: min(heights(directory)) >= 3, "height 3 through the relay")
        assert status(directory)["relay"] == {"rtt_ms": 20, "running": True, "pid": relay_pid}
        pids = node_pids(directory)
        down = tenge_testnet("down", "--dir", d)
        assert down.returncode == 0, down.stderr
        assert json.loads(down.stdout)["relay"] == "stopped"
        assert not is_running(relay_pid, program=b"testnet._relay")
        assert not [pid for pid in pids if is_running(pid)], "nodes left running after down"
    finally:
        tenge_testnet("down", "--dir", d)
        for pid in node_pids(directory):
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_init_refuses_a_bad_rtt_and_the_netns_combination(tmp_path: Path) -> None:
    bad = tenge_testnet("init", "--dir", str(tmp_path / "a"), "--rtt-ms", "-5")
    assert bad.returncode == 2
    assert "--rtt-ms" in bad.stderr
    both = tenge_testnet("init", "--dir", str(tmp_path / "b"), "--rtt-ms", "20", "--netns")
    assert both.returncode == 2
    assert "--netns" in both.stderr
    assert not (tmp_path / "b").exists()
    plain = tenge_testnet(
        "init", "--dir", str(tmp_path / "c"), "--base-port", str(free_base_port(4))
    )
    assert plain.returncode == 0, plain.stderr
    relay = tenge_testnet("relay", "--dir", str(tmp_path / "c"))
    assert relay.returncode == 2
    assert "without --rtt-ms" in relay.stderr

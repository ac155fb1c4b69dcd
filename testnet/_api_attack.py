"""API attackers for tests and benchmarks: slowloris tricklers and a connection churner
against one API port for a while, then a tally.

`run_api_attack` runs them in a child process at nice 10 (a remote attacker's CPU is not
the node's); the child's open-file limit is raised first (`raise_fd_limit`), as the
tricklers hold 1,500 sockets. Raise the limit in the process that starts the nodes too,
before it starts them, so that they inherit it.
"""

from __future__ import annotations

import json
import random
import resource
import sys
from dataclasses import asdict, dataclass, field

import trio

from testnet._flood import lower_priority, run_flood_child

TRICKLERS = 1500
TRICKLE_SOURCES = [f"127.0.10.{1 + i}" for i in range(30)]  # 50 each, under the per-client cap
CHURN_SOURCE = "127.0.20.1"
CHURN_CONNECTIONS = 80  # over the default max_connections_per_client (64)
HEAD_START = b"GET /v1/status HTTP/1.1\r\nhost: node\r\nx-slow: "
EVENTS = b"GET /v1/events HTTP/1.1\r\nhost: node\r\n\r\n"


@dataclass
class Tally:
    trickles_opened: int = 0
    trickles_closed_by_node: int = 0
    trickle_answers: list[str] = field(default_factory=list)
    churn_admitted: int = 0
    churn_refused: int = 0
    churn_other: list[str] = field(default_factory=list)
    refusal_s: list[float] = field(default_factory=list)


async def open_from(source: str, port: int) -> trio.SocketStream:
    sock = trio.socket.socket()
    try:
        await sock.bind((source, 0))
        await sock.connect(("127.0.0.1", port))
        return trio.SocketStream(sock)
    except BaseException:
        sock.close()
        raise


async def trickler(port: int, source: str, tally: Tally, opening: trio.CapacityLimiter) -> None:
    """Hold a connection whose headers never end; reopen it 5 to 10 s after the node
    closes it."""
    await trio.sleep(random.random() * 2)
    while True:
        try:
            async with opening:
                stream = await open_from(source, port)
            tally.trickles_opened += 1
            async with stream:
                await stream.send_all(HEAD_START)
                while True:
                    with trio.move_on_after(1.0):
                        data = await stream.receive_some(4096)
                        if data:
                            tally.trickle_answers.append(data[:80].decode(errors="replace"))
                        break  # the node answered or closed: this one is done
                    await stream.send_all(b"a")
            tally.trickles_closed_by_node += 1
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            tally.trickles_closed_by_node += 1
        await trio.sleep(5.0 + 5.0 * random.random())


async def churner(port: int, tally: Tally, stop: trio.Event) -> None:
    """Open more event streams than one client may hold, close them all, again."""
    while not stop.is_set():
        streams: list[trio.SocketStream] = []
        try:
            for _ in range(CHURN_CONNECTIONS):
                t0 = trio.current_time()
                try:
                    stream = await open_from(CHURN_SOURCE, port)
                    streams.append(stream)
                    await stream.send_all(EVENTS)
                    with trio.fail_after(10):
                        head = await stream.receive_some(4096)
                except (OSError, trio.BrokenResourceError) as e:
                    head = repr(e).encode()  # reset before it read an answer: a failure
                first = head.split(b"\r\n", 1)[0]
                if first.startswith(b"HTTP/1.1 200"):
                    tally.churn_admitted += 1
                elif first.startswith(b"HTTP/1.1 503") and b"TOO_MANY_CONNECTIONS" in head:
                    tally.churn_refused += 1
                    tally.refusal_s.append(trio.current_time() - t0)
                else:
                    tally.churn_other.append(head[:200].decode(errors="replace"))
            await trio.sleep(1.0)
        finally:
            for stream in streams:
                stream.socket.close()
        await trio.sleep(0.5)  # let the node see the closes


async def attack(port: int, seconds: float) -> Tally:
    """Run the tricklers and the churner for seconds; their tally."""
    tally = Tally()
    stop = trio.Event()
    opening = trio.CapacityLimiter(64)  # connects in flight at once
    async with trio.open_nursery() as nursery:
        for n in range(TRICKLERS):
            source = TRICKLE_SOURCES[n % len(TRICKLE_SOURCES)]
            nursery.start_soon(trickler, port, source, tally, opening)
        nursery.start_soon(churner, port, tally, stop)
        await trio.sleep(seconds)
        stop.set()
        nursery.cancel_scope.cancel()
    return tally


def raise_fd_limit(want: int) -> None:
    """Raise this process's open-file limit (the processes it starts inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def run_api_attack(
    port: int, seconds: float, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> Tally:
    """`attack` on port for seconds from a child process at nice 10; its tally.

    Reports started as soon as the child begins (the tricklers build up over about 2 s).
    """
    command = [sys.executable, "-m", "testnet._api_attack", str(port), str(seconds)]
    return Tally(**await run_flood_child(command, task_status=task_status))


def _main() -> None:
    raise_fd_limit(8192)
    lower_priority()
    print("flooding", flush=True)
    result = trio.run(attack, int(sys.argv[1]), float(sys.argv[2]))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    _main()

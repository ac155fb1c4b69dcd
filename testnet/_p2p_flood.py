"""Hostile peers for tests and benchmarks: junk-signature transaction gossip from an allowed
peer (a Byzantine validator's node key), and idle stranger connections.

`Flooder` takes a stopped validator's node key and p2p port, so that the honest validators
accept it as an allowed peer, and sends them TxGossip frames of well-formed transfers from
a real account, each with a random signature under that account's public key: every one
fails only at signature verification. `idle_stranger` holds a TCP connection to a p2p port
and never answers the node's Hello (an attacker's connection flood).

`run_gossip_flood` and `run_strangers` run them in a child process at nice 10
(`testnet._flood.run_flood_child`), as a real attacker floods from its own machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import trio
import trio.lowlevel

from node.keys import KeyPair, read_key_file
from node.ledger.txbuild import build_tx, transfer
from node.p2p import P2PConfig, PeerAddress, PeerManager
from proto import ledger_pb2, p2p_pb2
from testnet._flood import lower_priority, run_flood_child

FRAME_BYTES: Final = 4 * 1024 * 1024 - 64 * 1024  # a little under max_frame_bytes, sealed
DISTINCT_FRAMES: Final = 3
#: Source addresses of stranger connections, in 127.0.0.0/8.
STRANGER_SOURCES: Final = [f"127.0.0.{2 + i}" for i in range(50)]


def peer_address(node: dict[str, Any]) -> PeerAddress:
    """Where a manifest node listens for peers, with its node key."""
    host, port = str(node["p2p"]).rsplit(":", 1)
    return PeerAddress(host, int(port), bytes.fromhex(node["node_id"]))


def junk_gossip_frames(
    chain_id: str,
    payer: str,
    payee: str,
    public_key: bytes,
    *,
    expires_at_height: int,
    per_frame: int,
    frames: int = DISTINCT_FRAMES,
) -> list[p2p_pb2.Envelope]:
    """TxGossip frames of well-formed transfers from payer, each with a random signature
    under payer's real public key: every one fails only at signature verification.
    per_frame transactions per frame; 0: as many as fit in FRAME_BYTES."""
    out = []
    nonce = 10**9
    for _ in range(frames):
        env = p2p_pb2.Envelope()
        size = 0
        while not per_frame or len(env.tx_gossip.txs) < per_frame:
            nonce += 1
            body = build_tx(
                chain_id,
                payer,
                transfer((payer, payee, "KZT", 1)),
                nonce=nonce,
                expires_at_height=expires_at_height,
            )
            tx = ledger_pb2.TxEnvelope(
                body=body,
                signatures=[ledger_pb2.Signature(public_key=public_key, signature=os.urandom(64))],
            ).SerializeToString()
            if not per_frame and size + len(tx) + 4 > FRAME_BYTES:
                break
            env.tx_gossip.txs.append(tx)
            size += len(tx) + 4
        out.append(env)
    return out


class Flooder:
    """A stopped validator's node key on its p2p port; sends frames to every target as fast
    as each one reads them, while ``flooding``."""

    def __init__(
        self, chain_id: str, node_key: KeyPair, listen_port: int, targets: list[PeerAddress]
    ) -> None:
        self.targets = targets
        self.manager = PeerManager(
            P2PConfig(
                chain_id=chain_id,
                listen_port=listen_port,
                peers=tuple(targets),
                backoff_initial=0.1,
                backoff_max=1.0,
                write_timeout=60.0,
            ),
            node_key,
        )
        self.frames: list[p2p_pb2.Envelope] = []
        self.flooding = False
        self.sent = 0

    @classmethod
    def of_validator(cls, manifest: dict[str, Any], flooder: int, targets: list[int]) -> Flooder:
        """Validator flooder's node key and port (its process stopped) against targets."""
        nodes = manifest["nodes"]
        return cls(
            manifest["chain_id"],
            read_key_file(Path(nodes[flooder]["home"]) / "node_key.json"),
            peer_address(nodes[flooder]).port,
            [peer_address(nodes[i]) for i in targets],
        )

    def connected(self) -> bool:
        return all(self.manager.is_connected(t.peer_id) for t in self.targets)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.manager.run)
            nursery.start_soon(self._drain, self.manager.inbound)
            nursery.start_soon(self._drain, self.manager.tx_inbound)
            for target in self.targets:
                nursery.start_soon(self._flood, target.peer_id)
            task_status.started()

    @staticmethod
    async def _drain(stream: Any) -> None:
        async for _ in stream:
            pass

    def _queued(self, peer_id: str) -> int:
        return sum(p.queued_bytes for p in self.manager.peers() if p.peer_id == peer_id)

    async def _flood(self, peer_id: str) -> None:
        n = 0
        while True:
            ready = self.flooding and self._queued(peer_id) < 2 * FRAME_BYTES
            if ready and self.manager.send(peer_id, self.frames[n % len(self.frames)]):
                self.sent += 1
                n += 1
                await trio.lowlevel.checkpoint()
            else:
                await trio.sleep(0.01)


@dataclass
class StrangerTally:
    """What idle strangers saw."""

    opened: int = 0
    closed_by_node: int = 0
    connect_failed: int = 0


async def idle_stranger(port: int, source: str, tally: StrangerTally | None = None) -> None:
    """Hold one idle connection to port from source; reopen it whenever it is closed."""
    tally = tally if tally is not None else StrangerTally()
    while True:
        sock = trio.socket.socket()
        try:
            await sock.bind((source, 0))
            await sock.connect(("127.0.0.1", port))
            tally.opened += 1
            stream = trio.SocketStream(sock)
            while await stream.receive_some(65536):
                pass  # the node's Hello; we never answer
            tally.closed_by_node += 1
        except (OSError, trio.BrokenResourceError):
            tally.connect_failed += 1
        finally:
            sock.close()
        await trio.sleep(0.05)  # reopen at once, as a flood would (bounded CPU)


async def run_gossip_flood(
    manifest_path: Path,
    *,
    flooder: int,
    targets: list[int],
    payer: str,
    payee: str,
    expires_at_height: int,
    per_frame: int,
    seconds: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> dict[str, Any]:
    """A `Flooder` with validator flooder's node key, in a child process at nice 10.

    Reports started once the child has built its frames and is connected to every
    target; the flood then lasts `seconds`. Returns the child's figures: frames_sent,
    txs_per_frame, frame_bytes.
    """
    command = [
        sys.executable,
        "-m",
        "testnet._p2p_flood",
        "gossip",
        f"--manifest={manifest_path}",
        f"--flooder={flooder}",
        f"--targets={','.join(map(str, targets))}",
        f"--payer={payer}",
        f"--payee={payee}",
        f"--expires-at-height={expires_at_height}",
        f"--per-frame={per_frame}",
        f"--seconds={seconds}",
    ]
    return await run_flood_child(command, task_status=task_status)


async def run_strangers(
    ports: list[int],
    *,
    per_port: int,
    seconds: float,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> StrangerTally:
    """per_port idle strangers against each p2p port, from `STRANGER_SOURCES`, in a child
    process at nice 10, for `seconds`; their tally."""
    command = [
        sys.executable,
        "-m",
        "testnet._p2p_flood",
        "strangers",
        f"--ports={','.join(map(str, ports))}",
        f"--per-port={per_port}",
        f"--seconds={seconds}",
    ]
    return StrangerTally(**await run_flood_child(command, task_status=task_status))


async def _gossip_child(args: argparse.Namespace) -> dict[str, Any]:
    flooder, frames = args.flooder, args.frames
    async with trio.open_nursery() as nursery:
        await nursery.start(flooder.run)
        with trio.fail_after(30):
            while not flooder.connected():  # noqa: ASYNC110 (a plain condition, polled)
                await trio.sleep(0.1)
        print("flooding", flush=True)
        flooder.flooding = True
        await trio.sleep(args.seconds)
        flooder.flooding = False
        await flooder.manager.aclose()
        nursery.cancel_scope.cancel()
    return {
        "frames_sent": flooder.sent,
        "txs_per_frame": len(frames[0].tx_gossip.txs),
        "frame_bytes": frames[0].ByteSize(),
    }


async def _strangers_child(args: argparse.Namespace) -> dict[str, Any]:
    tally = StrangerTally()
    async with trio.open_nursery() as nursery:
        for port in (int(p) for p in args.ports.split(",")):
            for n in range(args.per_port):
                source = STRANGER_SOURCES[n % len(STRANGER_SOURCES)]
                nursery.start_soon(idle_stranger, port, source, tally)
        print("flooding", flush=True)
        await trio.sleep(args.seconds)
        nursery.cancel_scope.cancel()
    return asdict(tally)


def _main() -> None:
    parser = argparse.ArgumentParser(description="p2p floods (a child process)")
    commands = parser.add_subparsers(dest="command", required=True)
    gossip = commands.add_parser("gossip")
    gossip.add_argument("--manifest", required=True)
    gossip.add_argument("--flooder", type=int, required=True)
    gossip.add_argument("--targets", required=True)
    gossip.add_argument("--payer", required=True)
    gossip.add_argument("--payee", required=True)
    gossip.add_argument("--expires-at-height", type=int, required=True)
    gossip.add_argument("--per-frame", type=int, default=512)
    gossip.add_argument("--seconds", type=float, default=10.0)
    strangers = commands.add_parser("strangers")
    strangers.add_argument("--ports", required=True)
    strangers.add_argument("--per-port", type=int, default=200)
    strangers.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    lower_priority()
    if args.command == "gossip":  # built before trio runs: blocking file reads, much CPU
        manifest = json.loads(Path(args.manifest).read_text())
        key_file = Path(manifest["accounts"][args.payer]["key_files"][0])
        args.frames = junk_gossip_frames(
            manifest["chain_id"],
            args.payer,
            args.payee,
            read_key_file(key_file).public_key,
            expires_at_height=args.expires_at_height,
            per_frame=args.per_frame,
        )
        targets = [int(t) for t in args.targets.split(",")]
        args.flooder = Flooder.of_validator(manifest, args.flooder, targets)
        args.flooder.frames = args.frames
    child = _gossip_child if args.command == "gossip" else _strangers_child
    print(json.dumps(trio.run(child, args)))


if __name__ == "__main__":
    _main()

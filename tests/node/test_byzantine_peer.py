"""Real processes against a Byzantine peer (issue 10, "Must show", real processes).

Validator 3's node process is replaced by ``ByzantinePeer`` (tests/node/byzantine_peer.py),
which holds validator 3's node and validator keys. The three honest validators and a
lagging observer must keep committing, agree on every byte of every block, let the
observer catch up, and be healthy again within 30 s of the liar leaving.

Bisect the attacks with ``TENGE_BYZANTINE_ATTACKS=relay_altered_proposals,huge_height_status``
(names in ``Attacks``; default "all").
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import trio
from byzantine_peer import Attacks, ByzantinePeer
from network_support import FAST_PARAMS, Network

from node.keys import read_key_file
from node.p2p import PeerAddress
from proto import ledger_pb2
from testnet._init import free_base_port, init_testnet, ports_of

NODE_CLI = (sys.executable, "-m", "node.cli")
HONEST = [0, 1, 2]
LIAR = 3
OBSERVER = 4
ATTACK_BLOCKS = 12  # blocks the honest validators must commit under attack
HEALTH_AFTER_LEAVING_S = 30.0


def _address(node: dict[str, Any]) -> PeerAddress:
    host, port = str(node["p2p"]).rsplit(":", 1)
    return PeerAddress(host, int(port), bytes.fromhex(node["node_id"]))


async def _init_observer(net: Network, base: int, liar: dict[str, Any]) -> dict[str, Any]:
    """`tenge-node init --observer` peering with the honest validators and the liar; the
    honest validators' allow-lists get its node id (they are not started yet)."""
    home = net.dir / "nodes" / "observer"
    ports = ports_of(base, OBSERVER)
    peers = [f"--peer={n['node_id']}@{n['p2p']}" for n in [*net.nodes[:3], liar]]
    await trio.run_process(
        [
            *NODE_CLI, "init", "--home", str(home), "--moniker", "observer", "--observer",
            "--genesis", str(net.dir / "genesis.json"),
            "--p2p-listen", f"127.0.0.1:{ports.p2p}",
            "--api-listen", f"127.0.0.1:{ports.api}",
            "--metrics-listen", f"127.0.0.1:{ports.metrics}",
            *peers,
        ],
        capture_stdout=True,
    )  # fmt: skip
    shown = await trio.run_process(
        [*NODE_CLI, "show-node-id", "--home", str(home)], capture_stdout=True
    )
    observer_id = shown.stdout.decode().strip()
    for i in HONEST:
        config = Path(net.nodes[i]["home"]) / "config.toml"
        text = config.read_text()
        assert "allowed = []" in text, "config.toml layout changed: cannot allow the observer"
        config.write_text(text.replace("allowed = []", f'allowed = ["{observer_id}"]'))
    return {
        "index": OBSERVER,
        "moniker": "observer",
        "home": str(home),
        "api": f"http://127.0.0.1:{ports.api}",
        "p2p": f"127.0.0.1:{ports.p2p}",
        "node_id": observer_id,
    }


async def _heights(net: Network, nodes: list[int]) -> dict[int, int]:
    return {i: await net.height(i) for i in nodes}


async def _wait_heights(net: Network, nodes: list[int], target: int, seconds: float) -> bool:
    """Poll until every node is at target or above; False after seconds."""
    with trio.move_on_after(seconds):
        while True:
            if min((await _heights(net, nodes)).values()) >= target:
                return True
            await trio.sleep(0.2)
    return False


async def _submit_some(net: Network) -> None:
    """Transactions, so that proposals carry txs for the liar to alter."""
    height = max((await _heights(net, HONEST)).values())
    envelopes = [
        net.sign(
            "central-bank",
            ledger_pb2.Issue(asset="KZT", to="bank-a", amount=1_000_000),
            expires_at_height=height + 200,
        ),
        *[net.payment("bank-a", "bank-b", 1 + n, expires_at_height=height + 200) for n in range(6)],
    ]
    for n, env in enumerate(envelopes):
        with contextlib.suppress(httpx.HTTPError):
            await net.submit(HONEST[n % 3], env)


def _compact(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _short(obj: Any) -> Any:
    """obj with long hex strings cut to 12 characters (for failure messages)."""
    if isinstance(obj, str) and len(obj) > 16:
        return obj[:12]
    if isinstance(obj, dict):
        return {k: _short(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_short(v) for v in obj]
    return obj


def _block_view(block: dict[str, Any]) -> dict[str, Any]:
    """What must be identical on every node: everything but the certificate's signer list
    (each node may have gathered different +2/3 precommits)."""
    view = {k: v for k, v in block.items() if k != "commit"}
    commit = block.get("commit") or {}
    view["commit.block_hash"] = commit.get("block_hash")
    view["commit.height"] = commit.get("height")
    return view


async def _compare_blocks(net: Network, nodes: list[int], top: int) -> list[str]:
    """Failures: heights where nodes serve different blocks, or a block whose hash is not
    the hash its certificate proves."""
    failures: list[str] = []
    for height in range(1, top + 1):
        views: dict[int, dict[str, Any]] = {}
        for i in nodes:
            try:
                views[i] = _block_view(await net.block(i, height))
            except httpx.HTTPError as e:
                failures.append(f"block {height}: node {i} does not serve it ({e!r})")
        for i, view in views.items():
            if view["hash"] != view["commit.block_hash"]:
                failures.append(
                    f"block {height} on node {i}: served hash {view['hash']} but its "
                    f"certificate is for {view['commit.block_hash']}"
                )
        groups: dict[str, list[int]] = {}
        for i, view in views.items():
            groups.setdefault(_compact(view), []).append(i)
        if len(groups) > 1:
            first = next(iter(views.values()))
            fields = sorted({k for v in views.values() for k in v if v.get(k) != first.get(k)})
            sides = "; ".join(
                f"nodes {nodes}: hash {views[nodes[0]]['hash'][:16]}, "
                + ", ".join(f"{k}={_compact(_short(views[nodes[0]].get(k)))[:400]}" for k in fields)
                for nodes in groups.values()
            )
            failures.append(
                f"block {height}: nodes serve different blocks (differing: {fields}): {sides}"
            )
        if len(failures) > 10:
            failures.append("... (more block differences not listed)")
            break
    return failures


async def _health_bodies(net: Network, nodes: list[int]) -> dict[int, tuple[int, Any]]:
    return {i: await net.health(i) for i in nodes}


def _liar(net: Network, attacks: Attacks, observer: dict[str, Any]) -> ByzantinePeer:
    home = Path(net.nodes[LIAR]["home"])
    return ByzantinePeer(
        chain_id=net.chain_id,
        node_key=read_key_file(home / "node_key.json"),
        validator_key=read_key_file(home / "validator_key.json"),
        listen_port=_address(net.nodes[LIAR]).port,
        peers=[_address(net.nodes[i]) for i in HONEST] + [_address(observer)],
        honest_validators=[bytes.fromhex(net.nodes[i]["validator_public_key"]) for i in HONEST],
        attacks=attacks,
        seed=10,
    )


def _check_logs(nodes: list[dict[str, Any]]) -> list[str]:
    failures = []
    for node in nodes:
        log = Path(node["home"]) / "node.log"
        if log.exists() and "Traceback" in (text := log.read_text()):
            failures.append(f"node {node['index']} logged a traceback:\n{text[-3000:]}")
    return failures


async def test_byzantine_peer_cannot_stall_fork_or_starve_catch_up(tmp_path: Path) -> None:
    attacks = Attacks.parse(os.environ.get("TENGE_BYZANTINE_ATTACKS", "all"))
    failures: list[str] = []
    with trio.fail_after(180):
        base = free_base_port(OBSERVER + 1)
        manifest = init_testnet(tmp_path / "net", validators=4, base_port=base, params=FAST_PARAMS)
        async with httpx.AsyncClient(timeout=5) as client:
            net = Network(tmp_path / "net", manifest, client)
            observer = await _init_observer(net, base, net.nodes[LIAR])
            net.nodes.append(observer)  # index 4; node 3 (the liar's) never starts
            liar = _liar(net, attacks, observer)
            try:
                async with trio.open_nursery() as nursery:
                    for i in HONEST:
                        net.start(i)
                    await nursery.start(liar.run)
                    failures += await _scenario(net, liar)
                    nursery.cancel_scope.cancel()
            finally:
                await liar.aclose()
                net.stop_all()
                failures += _check_logs([net.nodes[i] for i in [*HONEST, OBSERVER]])
    print(f"attacks {attacks.enabled()}; liar sent {dict(sorted(liar.sent.items()))}")
    assert not failures, (
        f"attacks {attacks.enabled()}; liar sent {dict(sorted(liar.sent.items()))}\n"
        + "\n".join(f"- {f}" for f in failures)
    )


async def _healthy_again(net: Network, event: str, before: dict[int, tuple[int, Any]]) -> list[str]:
    """Poll /v1/health on the honest nodes; a failure when not all 200 within 30 s."""
    bodies = before
    with trio.move_on_after(HEALTH_AFTER_LEAVING_S) as waited:
        while True:
            bodies = await _health_bodies(net, HONEST)
            if all(code == 200 for code, _ in bodies.values()):
                return []
            await trio.sleep(0.5)
    assert waited.cancelled_caught
    return [
        f"/v1/health not 200 on every honest node {HEALTH_AFTER_LEAVING_S:g} s after the "
        f"liar {event}: {bodies} (while it attacked: {before})"
    ]


async def _committed_evidence(net: Network, nodes: list[int], liar: ByzantinePeer) -> list[str]:
    """Poll GET /v1/evidence until every node lists committed evidence against the liar's
    validator key, the same pieces at the same committing heights everywhere."""
    assert liar.validator_key is not None
    culprit = liar.validator_key.public_key.hex()
    seen: dict[int, Any] = {}
    with trio.move_on_after(30):
        while True:
            for i in nodes:
                doc = await net.get(i, "/v1/evidence?limit=100")
                seen[i] = sorted(
                    (e["committed_height"], e["kind"], e["height"], e["round"], e["raw"])
                    for e in doc["evidence"]
                    if e["status"] == "committed" and e["validator"] == culprit
                )
            if all(seen.values()) and len({repr(v) for v in seen.values()}) == 1:
                return []
            await trio.sleep(0.5)
    counts = {i: len(v) for i, v in seen.items()}
    return [
        f"committed evidence against the liar ({culprit[:12]}) is missing or differs between "
        f"nodes within 30 s: pieces per node {counts}"
    ]


async def _scenario(net: Network, liar: ByzantinePeer) -> list[str]:
    """The attack, the catch-up, the departure; returns every failed expectation."""
    failures: list[str] = []
    # 1. Under attack from the start, the honest validators commit several blocks.
    if not await _wait_heights(net, HONEST, 1, 20):
        failures.append(f"no first block under attack: heights {await _heights(net, HONEST)}")
    await _submit_some(net)
    start = min((await _heights(net, HONEST)).values())
    if not await _wait_heights(net, HONEST, start + ATTACK_BLOCKS, 30):
        failures.append(
            f"honest validators stalled under attack: from height {start} wanted "
            f"+{ATTACK_BLOCKS}, heights now {await _heights(net, HONEST)}"
        )
    # 2. A lagging node (an observer started now) catches up while the liar feeds it junk.
    net.start(OBSERVER)
    target = max((await _heights(net, HONEST)).values())
    if not await _wait_heights(net, [OBSERVER], max(target, 2), 30):
        failures.append(
            f"the observer did not catch up to height {target}: heights "
            f"{await _heights(net, [*HONEST, OBSERVER])}"
        )
    before = await _health_bodies(net, HONEST)
    # 3. The liar goes quiet (still connected: its claims must expire), then leaves; each
    #    time /v1/health is 200 again on every honest node within 30 s.
    liar.go_quiet()
    failures += await _healthy_again(net, "went quiet (still connected)", before)
    await liar.aclose()
    failures += await _healthy_again(net, "left", before)
    # 4. Every node serves identical blocks at every height.
    heights = await _heights(net, [*HONEST, OBSERVER])
    serving = [i for i, h in heights.items() if h > 0]
    if serving:
        failures += await _compare_blocks(net, serving, min(heights[i] for i in serving))
    # 5. The liar's own equivocations became evidence that a block committed, and every
    #    node shows the same committed evidence.
    if liar.attacks.own_junk_votes:
        failures += await _committed_evidence(net, [*HONEST, OBSERVER], liar)
    # 6. The attacks really ran.
    for attack in liar.attacks.enabled():
        if liar.sent[attack] == 0:
            failures.append(f"attack {attack} sent nothing: the test did not exercise it")
    return failures

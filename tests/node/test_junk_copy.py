"""Real processes: a Byzantine proposer's junk-signature copy of a victim's pending payment
(issue 11 item 5, "Must show").

Validator 3's process is replaced by ``ByzantinePeer`` holding its node and validator keys.
At a height where validator 3 proposes in round 0, the victim submits a payment to an
honest node with ``?wait=commit``; the liar proposes a valid block that carries the
victim's body under a junk signature. The honest nodes commit that block (its
transactions are executed: the copy gets INVALID_SIGNATURE), and the copy must speak for
nothing: the payment stays in the mempools, commits OK in a later block, and both the
``wait=commit`` answer and ``GET /v1/txs/{id}`` on every honest node report OK there.
"""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Any

import httpx
import trio
from byzantine_peer import Attacks, ByzantinePeer
from network_support import FAST_PARAMS, Network

import consensus as cs
from node.keys import read_key_file
from node.ledger.txbuild import tx_id_of
from node.p2p import PeerAddress
from proto import ledger_pb2
from testnet._init import free_base_port, init_testnet

HONEST = [0, 1, 2]
LIAR = 3
ATTEMPTS = 4  # liar turns to try: one can be lost if the honest nodes time out first
# The honest nodes wait this long for the liar's proposal (the test submits in between).
PARAMS = {**FAST_PARAMS, "timeout_propose_ms": 3000}


def _address(node: dict[str, Any]) -> PeerAddress:
    host, port = str(node["p2p"]).rsplit(":", 1)
    return PeerAddress(host, int(port), bytes.fromhex(node["node_id"]))


def _junk_copy(raw: bytes) -> bytes:
    envelope = ledger_pb2.TxEnvelope.FromString(raw)
    sig = bytearray(envelope.signatures[0].signature)
    sig[0] ^= 0xFF
    envelope.signatures[0].signature = bytes(sig)
    return envelope.SerializeToString()


async def _status(net: Network, index: int) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = await net.get(index, "/v1/status")
    except httpx.HTTPError:
        return {"height": -1}
    return doc


async def _tx_everywhere(net: Network, tx_id: str) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for i in HONEST:
        response = await net.http.get(f"{net.api(i)}/v1/txs/{tx_id}")
        out[i] = response.json() if response.status_code == 200 else response.status_code
    return out


async def _liar_turn(net: Network, valset: cs.ValidatorSet, liar_key: bytes) -> dict[str, Any]:
    """Poll node 0 until it has just committed height H - 1 where the liar proposes (H, 0)."""
    while True:
        status = await _status(net, 0)
        height = int(status["height"])
        if height >= 1 and valset.proposer(height + 1, 0) == liar_key:
            return status
        await trio.sleep(0.02)


async def _attempt(
    net: Network, liar: ByzantinePeer, valset: cs.ValidatorSet, n: int, failures: list[str]
) -> bool:
    """One try at the attack; True once the junk block committed before the real payment."""
    assert liar.validator_key is not None
    status = await _liar_turn(net, valset, liar.validator_key.public_key)
    target = int(status["height"]) + 1
    real = net.payment("bank-a", "bank-b", 100 + n, expires_at_height=target + 100)
    tx_id = tx_id_of(real).hex()
    answers: list[httpx.Response] = []
    answered = trio.Event()
    seen_while_waiting: list[dict[int, Any]] = []
    async with trio.open_nursery() as nursery:

        async def wait_for_commit() -> None:
            answers.append(
                await net.http.post(
                    net.api(0) + "/v1/txs?wait=commit&timeout=60",
                    json={"tx": base64.b64encode(real).decode()},
                    timeout=70,
                )
            )
            answered.set()

        nursery.start_soon(wait_for_commit)
        with trio.move_on_after(2):  # admitted by node 0 before the liar proposes
            while True:
                if (await net.http.get(f"{net.api(0)}/v1/txs/{tx_id}")).status_code == 200:
                    break
                await trio.sleep(0.01)
        junk = _junk_copy(real)
        await liar.propose(
            height=target, round_=0, app_hash=bytes.fromhex(status["latest_app_hash"]), txs=[junk]
        )
        await net.wait_height(target, HONEST)
        block = await net.block(0, target)
        if block["header"]["proposer"] != liar.validator_key.public_key.hex():
            print(f"attempt {n}: height {target} was decided in a later round; trying again")
            nursery.cancel_scope.cancel()
            return False
        expected = [
            {"index": 0, "tx_id": tx_id, "code": "INVALID_SIGNATURE", "speaks_for_tx": False}
        ]
        if block["txs"] != expected:
            failures.append(f"the liar's block {target} holds {block['txs']}, not {expected}")
        # Right after the junk block: nobody reports the copy as the payment's verdict.
        seen_while_waiting.append(await _tx_everywhere(net, tx_id))
        with trio.move_on_after(65):
            await answered.wait()
    doc = seen_while_waiting[0]
    for i, shown in doc.items():
        if not isinstance(shown, dict) or (
            shown["status"] != "pending"
            and (shown["status"] != "committed" or shown["code"] != "OK")
        ):
            failures.append(f"node {i} shows the payment as {shown} right after the junk block")
    if not answers:
        failures.append("wait=commit never answered")
        return True
    answer = answers[0]
    if answer.status_code != 200 or answer.json().get("code") != "OK":
        failures.append(f"wait=commit answered {answer.status_code}: {answer.text}")
        return True
    settled_at = answer.json()["height"]
    if settled_at <= target:
        failures.append(f"wait=commit answered height {settled_at}, not after the junk {target}")
    everywhere = await _tx_everywhere(net, tx_id)
    for i, shown in everywhere.items():
        if not isinstance(shown, dict) or (shown.get("code"), shown.get("height")) != (
            "OK",
            settled_at,
        ):
            failures.append(f"node {i}: GET /v1/txs/{tx_id[:12]} shows {shown}")
    print(f"attempt {n}: junk copy in block {target}, the payment settled OK at {settled_at}")
    return True


async def test_a_junk_copy_leaves_the_payment_pending_then_committed_ok(tmp_path: Path) -> None:
    failures: list[str] = []
    with trio.fail_after(240):
        base = free_base_port(LIAR + 1)
        manifest = init_testnet(tmp_path / "net", validators=4, base_port=base, params=PARAMS)
        async with httpx.AsyncClient(timeout=10) as client:
            net = Network(tmp_path / "net", manifest, client)
            home = Path(net.nodes[LIAR]["home"])
            liar = ByzantinePeer(
                chain_id=net.chain_id,
                node_key=read_key_file(home / "node_key.json"),
                validator_key=read_key_file(home / "validator_key.json"),
                listen_port=_address(net.nodes[LIAR]).port,
                peers=[_address(net.nodes[i]) for i in HONEST],
                attacks=Attacks.parse("none"),
                claim_ahead=False,
            )
            valset = cs.ValidatorSet(
                {bytes.fromhex(n["validator_public_key"]): 10 for n in net.nodes}
            )
            try:
                async with trio.open_nursery() as nursery:
                    for i in HONEST:
                        net.start(i)
                    await nursery.start(liar.run)
                    await net.wait_height(1, HONEST)
                    await net.issue("bank-a", 1_000_000)
                    done = False
                    for n in range(ATTEMPTS):
                        done = await _attempt(net, liar, valset, n, failures)
                        if done:
                            break
                    if not done:
                        failures.append(f"the liar's block never won a round in {ATTEMPTS} tries")
                    nursery.cancel_scope.cancel()
            finally:
                await liar.aclose()
                net.stop_all()
                for i in HONEST:
                    log = Path(net.nodes[i]["home"]) / "node.log"
                    with contextlib.suppress(OSError):
                        if "Traceback" in (text := log.read_text()):
                            failures.append(f"node {i} logged a traceback:\n{text[-3000:]}")
    assert not failures, "\n".join(f"- {f}" for f in failures)

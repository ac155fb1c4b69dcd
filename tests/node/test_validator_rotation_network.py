"""A real validator rotates its key through governance and signs every height across the
switch: a lone validator (one missed height would halt the chain) started with
`tenge-node keys rotate-init`'s next key beside its key file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio
from network_support import Network, running_network

from node.ledger.txbuild import propose
from proto import ledger_pb2 as pb

WAIT_S = 90


def cli(*args: str) -> dict[str, Any]:
    """Run `tenge-node ARGS`; its JSON output (exit code 0 required)."""
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def finish_rotation(home: Path) -> None:
    """`keys rotate-finish`: the old key file retired, the next one now the key file."""
    finished = cli("keys", "rotate-finish", "--home", str(home))
    assert Path(finished["retired_key_file"]).exists()
    assert not (home / "validator_key.next.json").exists()
    assert (home / "validator_key.json").exists()


async def commit(net: Network, signer: str, kind: Any) -> dict[str, Any]:
    height = await net.height(0)
    envelope = net.sign(signer, kind, expires_at_height=height + 50)
    response = await net.submit(0, envelope, wait=True)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    assert doc["code"] == "OK", doc
    return doc


async def test_a_lone_validator_rotates_its_key_without_missing_a_height(tmp_path: Path) -> None:
    rotation: dict[str, Any] = {}

    def prepare(net: Network) -> None:
        rotation.update(cli("keys", "rotate-init", "--home", net.nodes[0]["home"]))

    with trio.fail_after(WAIT_S):
        async with running_network(tmp_path, validators=1, prepare=prepare) as net:
            old, new = rotation["public_key"], rotation["new_public_key"]
            change = pb.RotateValidatorKey(
                public_key=bytes.fromhex(old),
                new_public_key=bytes.fromhex(new),
                proof=bytes.fromhex(rotation["proof"]),
            )
            height = await net.height(0)
            proposal = await commit(
                net,
                "central-bank",
                propose(change, expires_at_height=height + 50, summary="rotate"),
            )
            approved = await commit(
                net, "regulator", pb.Approve(proposal_id=bytes.fromhex(proposal["tx_id"]))
            )
            executed = approved["height"]
            await net.wait_height(executed + 4)
            signers = {}
            for h in range(executed, executed + 4):
                block = await net.block(0, h)
                signers[h] = block["commit"]["signers"]
            assert signers == {
                executed: [old],
                executed + 1: [old],
                executed + 2: [new],
                executed + 3: [new],
            }
            validators = await net.get(0, "/v1/validators")
            assert [v["public_key"] for v in validators["validators"]] == [new]

            # Once in force, the new key alone: rotate-finish, restart, still committing.
            net.stop_all()
            finish_rotation(Path(net.nodes[0]["home"]))
            net.start(0)
            await net.wait_height(executed + 6)

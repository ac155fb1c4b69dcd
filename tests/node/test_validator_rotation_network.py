"""A real validator rotates its key through governance and signs every height across the
switch: a lone validator (one missed height would halt the chain) started with
`tenge-node keys rotate-init`'s next key beside its key: in a key file, in a PKCS#11
token (SoftHSM2), or at a second remote signer process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from network_support import Network, running_network
from softhsm_support import Token, softhsm_token

from node.config import SignerSettings, load_config
from node.keys import read_public_key
from node.ledger.txbuild import propose
from proto import ledger_pb2 as pb
from testnet._procs import stop_signer
from testnet._softhsm import softhsm_missing

WAIT_S = 90


def cli(*args: str) -> dict[str, Any]:
    """Run `tenge-node ARGS`; its JSON output (exit code 0 required)."""
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(params=["file", "pkcs11", "remote"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SignerSettings | str | None]:
    """The validator key's kind: None for a key file, "remote" for a remote signer, else a
    SoftHSM2 token's settings."""
    if request.param == "file":
        yield None
        return
    if request.param == "remote":
        try:
            yield "remote"
        finally:
            for process in NEXT_SIGNERS:
                process.terminate()
                process.wait(timeout=10)
            NEXT_SIGNERS.clear()
        return
    if softhsm_missing() is not None:
        pytest.skip(str(softhsm_missing()))
    token: Token
    with softhsm_token(tmp_path / "softhsm") as token:
        yield token.settings("rotating-validator")


def rotate_init(home: Path, token: SignerSettings | None) -> dict[str, Any]:
    """`keys rotate-init`: the next key beside the current one (file, or token label)."""
    if token is None:
        return cli("keys", "rotate-init", "--home", str(home))
    prepared = cli("keys", "rotate-init", "--home", str(home), "--next-key-label", "next")
    assert load_config(home).signer.next_key_label == "next"
    return prepared


def finish_rotation(home: Path, token: SignerSettings | str | None) -> None:
    """`keys rotate-finish`: only the new key left in use."""
    finished = cli("keys", "rotate-finish", "--home", str(home))
    if token == "remote":
        signer = load_config(home).signer
        assert str(signer.address) == finished["signer"]
        assert signer.next_address is None
        return
    if isinstance(token, SignerSettings):
        signer = load_config(home).signer
        assert (signer.key_label, signer.next_key_label) == ("next", "")
        assert finished["retired_key_label"] == token.key_label
        return
    assert Path(finished["retired_key_file"]).exists()
    assert not (home / "validator_key.next.json").exists()
    assert (home / "validator_key.json").exists()


def start_next_signer(net: Network, directory: Path) -> dict[str, Any]:
    """A second signer process with a new key for node 0 (`signer init`, `signer start`),
    its rotation proof (`signer prove-rotation`), and node 0's config naming it."""
    node = net.nodes[0]
    host, port = node["p2p"].rsplit(":", 1)
    listen = f"{host}:{int(port) + 5}"
    node_id = read_public_key(Path(node["home"]) / "node_key.json").hex()
    cli("signer", "init", "--home", str(directory), "--chain-id", net.chain_id,
        "--listen", listen, "--allow", node_id)  # fmt: skip
    with (directory / "signer.log").open("ab") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "signer", "start", "--home", str(directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    NEXT_SIGNERS.append(process)
    old = node["validator_public_key"]
    rotation = cli("signer", "prove-rotation", "--home", str(directory), "--public-key", old)
    cli("keys", "rotate-init", "--home", node["home"], "--next-signer", rotation["next_signer"],
        "--next-signer-id", rotation["next_signer_id"])  # fmt: skip
    return rotation


#: Signer processes a test started itself (stopped by the `kind` fixture).
NEXT_SIGNERS: list[subprocess.Popen[bytes]] = []


async def commit(net: Network, signer: str, kind: Any) -> dict[str, Any]:
    height = await net.height(0)
    envelope = net.sign(signer, kind, expires_at_height=height + 50)
    response = await net.submit(0, envelope, wait=True)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    assert doc["code"] == "OK", doc
    return doc


async def test_a_lone_validator_rotates_its_key_without_missing_a_height(
    tmp_path: Path, kind: SignerSettings | str | None
) -> None:
    rotation: dict[str, Any] = {}

    def prepare(net: Network) -> None:
        if kind == "remote":
            rotation.update(start_next_signer(net, tmp_path / "next-signer"))
        else:
            assert not isinstance(kind, str)
            rotation.update(rotate_init(Path(net.nodes[0]["home"]), kind))

    hsm = {0: kind} if isinstance(kind, SignerSettings) else None
    remote = (0,) if kind == "remote" else ()
    with trio.fail_after(WAIT_S):
        async with running_network(
            tmp_path, validators=1, prepare=prepare, hsm_signers=hsm, remote_signers=remote
        ) as net:
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
            finish_rotation(Path(net.nodes[0]["home"]), kind)
            if kind == "remote":  # the old key's signer is no longer needed
                stop_signer(net.nodes[0], grace=10)
            net.start(0)
            await net.wait_height(executed + 6)

"""The remote signer with real processes: `tenge-node signer init | start` and a testnet.

What this shows: validator 3's key moves into a signer home and its node signs through
`tenge-node signer start`, while validator 1 signs through a SoftHSM2 token (when softhsm2
is installed) and the others with key files: all commit. With the signer killed, the node
stays up, says so in /v1/health and tenge_signer_up, and the other three (the token's key
among them) commit without its votes; with the signer back, its votes return. Two nodes
pointed at one signer with the same key: the signer refuses the second one's conflicting
requests (counted), and no evidence appears.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from network_support import Network, running_network
from softhsm_support import needs_softhsm

from consensus import VoteType, vote_sign_bytes
from node._cli_signer import open_validator_signer
from node.config import HostPort, SignerSettings, load_signer_config, render_config
from node.keys import KeyPair, verify
from node.signer import hsm_generate
from node.signer_server import SignerService
from proto import signer_pb2
from testnet._procs import is_running, read_pid, start_node, stop_node
from testnet._softhsm import softhsm_missing, softhsm_token

STEP_S = 0.2  # polling interval


def tenge_node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


class SignerProcess:
    """`tenge-node signer start --home HOME`, its output in HOME/signer.log."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.log = home / "signer.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "signer", "start", "--home", str(self.home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def p2p_port(node: dict[str, Any]) -> int:
    return int(str(node["p2p"]).rsplit(":", 1)[1])


def move_key_to_signer(net: Network, index: int, home: Path, allowed: list[str]) -> SignerProcess:
    """Make a signer home holding validator index's key; point that node at it; start it.

    The port is in node index's block of ten (its p2p port + 5), free by free_base_port.
    """
    node = net.nodes[index]
    node_home = Path(node["home"])
    port = p2p_port(node) + 5
    allow = [arg for node_id in allowed for arg in ("--allow", node_id)]
    made = tenge_node(
        "signer",
        "init",
        "--home",
        str(home),
        "--chain-id",
        net.chain_id,
        "--listen",
        f"127.0.0.1:{port}",
        "--validator-key",
        str(node_home / "validator_key.json"),
        *allow,
    )
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["validator_public_key"] == node["validator_public_key"]
    (node_home / "validator_key.json").unlink()  # the key lives only at the signer now
    use_remote_signer(node_home, port, doc["signer_id"])
    signer = SignerProcess(home)
    signer.start()
    return signer


def use_remote_signer(node_home: Path, port: int, signer_id: str) -> None:
    """Replace the [signer] section of node_home's config.toml with kind "remote"."""
    config = node_home / "config.toml"
    text = config.read_text()
    head, _, rest = text.partition("\n[signer]\n")
    tail = rest[rest.index("\n[log]") :]
    section = render_config(
        moniker="x",
        signer=SignerSettings(
            kind="remote", address=HostPort("127.0.0.1", port), signer_id=signer_id
        ),
    )
    body = section.partition("\n[signer]\n")[2]
    body = body[: body.index("\n[log]")]
    config.write_text(head + "\n[signer]\n" + body + tail)


async def metric(net: Network, node: dict[str, Any], name: str, label: str = "") -> float:
    """The sum of a metric's samples on node whose line holds label (0 when absent or
    not answering yet)."""
    try:
        response = await net.http.get(str(node["metrics"]))
    except httpx.HTTPError:
        return 0.0
    total = 0.0
    for line in response.text.splitlines():
        if re.match(rf"{name}(\{{| )", line) and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def signed_at(net: Network, key: str, height: int) -> bool:
    block = await net.block(0, height)
    return key in block["commit"]["signers"]


async def wait_signed(net: Network, key: str, after: int) -> int:
    """The first height above after whose certificate holds key's precommit."""
    height = after + 1
    while True:  # bounded by the test's fail_after
        await net.wait_height(height, nodes=[0])
        if await signed_at(net, key, height):
            return height
        height += 1


async def wait_health(net: Network, index: int, up: bool) -> dict[str, Any]:
    while True:  # bounded by the test's fail_after
        code, body = await net.health(index)
        if isinstance(body, dict) and body.get("signer", {}).get("up") is up:
            if not up:
                assert code == 503, body  # a validator that cannot sign is unhealthy
            return body
        await trio.sleep(STEP_S)


@contextmanager
def killed_at_exit(*signers: SignerProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for signer in signers:
            signer.kill()


def test_signer_init_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "s"
    bad_allow = tenge_node(
        "signer", "init", "--home", str(home), "--chain-id", "c", "--allow", "zz"
    )
    assert "--allow" in one_error_line(bad_allow)
    bad_listen = tenge_node(
        "signer", "init", "--home", str(home), "--chain-id", "c", "--listen", "nowhere"
    )
    assert "--listen" in one_error_line(bad_listen)
    assert not home.exists(), "nothing is written for a refused init"
    made = tenge_node("signer", "init", "--home", str(home), "--chain-id", "c")
    assert made.returncode == 0, made.stderr
    for name in ("signer.toml", "node_key.json", "validator_key.json"):
        assert (home / name).exists()
    assert "already initialised" in one_error_line(
        tenge_node("signer", "init", "--home", str(home), "--chain-id", "c")
    )
    assert "signer.toml: not found" in one_error_line(
        tenge_node("signer", "start", "--home", str(tmp_path / "none"))
    )
    (home / "signer.toml").write_text('chain_id = "c"\nlisten = "x"\n')
    assert "listen" in one_error_line(tenge_node("signer", "start", "--home", str(home)))


@contextmanager
def token_if_installed(directory: Path) -> Iterator[dict[int, SignerSettings] | None]:
    """Validator 1 on a SoftHSM2 token when softhsm2 is installed (.ci/run installs it)."""
    if softhsm_missing() is not None:
        yield None
        return
    with softhsm_token(directory) as token:
        yield {1: token.settings("net-validator")}


async def test_a_validator_on_a_remote_signer_survives_its_death_and_signs_again(
    tmp_path: Path,
) -> None:
    signers: list[SignerProcess] = []

    def prepare(net: Network) -> None:
        signers.append(move_key_to_signer(net, 3, tmp_path / "signer", [net.nodes[3]["node_id"]]))

    with trio.fail_after(240), token_if_installed(tmp_path / "softhsm") as hsm:
        async with running_network(tmp_path, prepare=prepare, hsm_signers=hsm) as net:
            with killed_at_exit(*signers):
                hsm_key = net.nodes[1]["validator_public_key"]
                signer = signers[0]
                key = net.nodes[3]["validator_public_key"]
                await wait_signed(net, key, after=0)
                body = await wait_health(net, 3, up=True)
                assert body["signer"]["kind"] == "remote"
                assert await metric(net, net.nodes[3], "tenge_signer_up") == 1

                signer.kill()
                body = await wait_health(net, 3, up=False)
                assert "remote signer" in body["reason"]
                assert await metric(net, net.nodes[3], "tenge_signer_up") == 0
                down_at = await net.height(0)
                # The other three commit; node 3 follows without voting, and stays up.
                await net.wait_height(down_at + 4, nodes=[0, 1, 2, 3])
                for height in range(down_at + 2, down_at + 5):
                    assert not await signed_at(net, key, height), f"voted at {height}"
                if hsm is not None:  # only validator 3 is silent: the token's key still signs
                    await wait_signed(net, hsm_key, after=down_at + 1)
                pid = read_pid(Path(net.nodes[3]["home"]))
                assert pid is not None
                assert is_running(pid)
                refusals = await metric(net, net.nodes[3], "tenge_signer_refusals_total")
                assert refusals > 0

                signer.start()
                await wait_health(net, 3, up=True)
                await wait_signed(net, key, after=await net.height(0))
                log = (Path(net.nodes[3]["home"]) / "node.log").read_text()
                assert "remote signer" in log
                assert "lost" in log


async def test_two_nodes_on_one_signer_are_refused_not_double_signed(tmp_path: Path) -> None:
    signers: list[SignerProcess] = []
    twin_home = tmp_path / "twin"
    twin: dict[str, Any] = {"index": 4, "home": str(twin_home)}

    def prepare(net: Network) -> None:
        node3 = net.nodes[3]
        base = p2p_port(node3)
        peers = [arg for n in net.nodes for arg in ("--peer", f"{n['node_id']}@{n['p2p']}")]
        made = tenge_node(
            "init",
            "--home",
            str(twin_home),
            "--moniker",
            "twin",
            "--observer",
            "--genesis",
            str(Path(node3["home"]) / "genesis.json"),
            "--p2p-listen",
            f"127.0.0.1:{base + 6}",
            "--api-listen",
            f"127.0.0.1:{base + 7}",
            "--metrics-listen",
            f"127.0.0.1:{base + 8}",
            *peers,
        )
        assert made.returncode == 0, made.stderr
        twin_id = json.loads(made.stdout)["node_id"]
        twin.update(
            api=f"http://127.0.0.1:{base + 7}", metrics=f"http://127.0.0.1:{base + 8}/metrics"
        )
        for node in net.nodes:  # the four let the twin in
            config = Path(node["home"]) / "config.toml"
            config.write_text(
                config.read_text().replace("allowed = []", f'allowed = ["{twin_id}"]')
            )
        signer = move_key_to_signer(net, 3, tmp_path / "signer", [node3["node_id"], twin_id])
        signers.append(signer)
        signer_id = json.loads((tmp_path / "signer" / "node_key.json").read_text())["public_key"]
        use_remote_signer(twin_home, base + 5, signer_id)

    with trio.fail_after(240):
        async with running_network(tmp_path, prepare=prepare) as net:
            with killed_at_exit(*signers):
                start_node(twin, detach=False)
                try:
                    key = net.nodes[3]["validator_public_key"]
                    await wait_signed(net, key, after=0)
                    # Both ask the signer for validator 3's messages: for each position one
                    # gets it, the other's different request is refused. Without the
                    # signer's guard, both would be signed: evidence instead of refusals.
                    refused = evidence = 0.0
                    while not refused and not evidence:  # bounded by fail_after
                        await trio.sleep(STEP_S)
                        for node in (net.nodes[3], twin):
                            for reason in ("double_sign", "regression"):
                                refused += await metric(
                                    net, node, "tenge_signer_refusals_total", reason
                                )
                        for node in net.nodes[:3]:
                            evidence += await metric(net, node, "tenge_consensus_evidence_total")
                    assert evidence == 0
                    signer_log = signers[0].log.read_text()
                    assert "double_sign" in signer_log or "regression" in signer_log
                    height = await net.height(0)
                    await net.wait_height(height + 3, nodes=[0, 1, 2])
                    for node in net.nodes[:3]:
                        assert await metric(net, node, "tenge_consensus_evidence_total") == 0
                        listed = (await net.http.get(str(node["api"]) + "/v1/evidence")).json()
                        assert listed["evidence"] == []
                finally:
                    stop_node(twin, grace=10)
                    text = (twin_home / "node.log").read_text()
                    assert "Traceback" not in text, text[-3000:]


@needs_softhsm
def test_a_signer_home_on_a_pkcs11_token_signs_from_the_token(tmp_path: Path) -> None:
    with softhsm_token(tmp_path / "softhsm") as token:
        settings = token.settings("signer-key")
        public_key = hsm_generate(settings)
        home = tmp_path / "s"
        flags = ["--module", settings.module, "--token-label", settings.token_label]
        flags += ["--key-label", settings.key_label, "--pin-env", settings.pin_env]
        made = tenge_node("signer", "init", "--home", str(home), "--chain-id", "c", *flags)
        assert made.returncode == 0, made.stderr
        assert json.loads(made.stdout)["validator_public_key"] == public_key.hex()
        assert not (home / "validator_key.json").exists()
        config = load_signer_config(home)
        assert config.signer.kind == "pkcs11"
        signer = open_validator_signer(config, None)
        try:
            service = SignerService(config, KeyPair.generate(), signer)
            message = vote_sign_bytes("c", VoteType.PRECOMMIT, 3, 0, b"\x09" * 32)
            raw = signer_pb2.SignRequest(
                chain_id="c", sign_bytes=message, height=3, round=0, step=3
            ).SerializeToString()
            response = service.answer(raw)
            assert verify(public_key, message, response.signature)
        finally:
            signer.close()
        missing = tenge_node(
            "signer", "init", "--home", str(tmp_path / "t"), "--chain-id", "c", *flags[:4]
        )
        assert "--key-label" in one_error_line(missing)

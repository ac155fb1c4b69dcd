"""`tenge-testnet init`: keys, homes and a genesis for a local network.

Layout of DIR::

    DIR/testnet.json              the manifest scripts read (see ``write_manifest``)
    DIR/genesis.json              the network's genesis (also copied into every home)
    DIR/load-accounts.jsonl       its accounts file, when the bench funds load accounts
    DIR/nodes/node0 .. nodeN-1    node homes (config.toml, keys, data/)
    DIR/accounts/NAME/key-K.json  the account keys of the demo institutions

Validator 0 is run by the central bank, validators 1.. by the commercial banks bank-a,
bank-b, ... Ports: node i listens for peers on base+10i, serves the API on base+10i+1 and
metrics on base+10i+2, all on 127.0.0.1 (or its namespace address in --netns mode).
With --rtt-ms the relay (testnet._relay) listens for node i on base+10i+3 and every node
dials the others there.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from node.api import API_TOKENS_FILE, is_loopback
from node.config import (
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    HostPort,
    SignerSettings,
    render_config,
)
from node.genesis import parse_genesis
from node.keys import KeyPair, write_key_file
from testnet._relay import MAX_RTT_MS
from testnet.prometheus import render_prometheus_config

#: Test and testnet ports start here; the kernel's ephemeral range (client ports) starts
#: at DEFAULT_EPHEMERAL_START unless /proc says otherwise.
LOWEST_BASE_PORT: Final = 20_000
DEFAULT_EPHEMERAL_START: Final = 32_768

DEFAULT_BASE_PORT: Final = 26600
MANIFEST: Final = "testnet.json"
#: The genesis accounts file of the bench's load accounts, beside each genesis.json.
ACCOUNTS_FILE: Final = "load-accounts.jsonl"

#: Local-network consensus timing: quick rounds, a heartbeat block every second.
TESTNET_PARAMS: Final = {
    "timeout_propose_ms": 1000,
    "timeout_prevote_ms": 500,
    "timeout_precommit_ms": 500,
    "timeout_delta_ms": 250,
    "timeout_max_ms": 10000,
    "empty_block_interval_ms": 1000,
    "block_interval_ms": 200,  # collect for 200 ms after a commit: fewer, fuller blocks
}

KZT_ASSET: Final = {
    "code": "KZT",
    "decimals": 2,
    "issuer": "central-bank",
    "kind": "CBDC",
    "payment_zones": ["NATIONAL", "CRYPTOCITY"],
}

#: Limits per KYC tier in tiyn: tier 1 basic, tier 2 full KYC, tier 3 unlimited (firms).
TIER_LIMITS: Final = [
    # tier 1: 100,000 KZT a payment, 200,000 a day, 1,000,000 held
    {
        "kyc_tier": 1,
        "per_payment": "10000000",
        "daily_outflow": "20000000",
        "holding_cap": "100000000",
    },
    # tier 2: 10,000,000 KZT a payment, 50,000,000 a day, no holding cap
    {"kyc_tier": 2, "per_payment": "1000000000", "daily_outflow": "5000000000", "holding_cap": "0"},
    {"kyc_tier": 3, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"},
]


@dataclass(frozen=True, slots=True)
class Ports:
    p2p: int
    api: int
    metrics: int
    relay: int  # the relay's listener in front of p2p (used only with --rtt-ms)


def ports_of(base_port: int, index: int) -> Ports:
    """The ports of node index."""
    first = base_port + 10 * index
    return Ports(first, first + 1, first + 2, first + 3)


def ephemeral_port_start() -> int:
    """The first port of the kernel's ephemeral range (client sockets take ports from it)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START
    return low if low > LOWEST_BASE_PORT + 1000 else DEFAULT_EPHEMERAL_START


def free_base_port(nodes: int, attempts: int = 200) -> int:
    """A base port below the ephemeral range whose 10-port blocks for `nodes` nodes all bind
    now on 127.0.0.1.

    Below the ephemeral range no client socket of this machine holds one of the ports
    later; the probe sets SO_REUSEADDR, as the nodes' listeners do, so connections left in
    TIME_WAIT by an earlier run do not count as taken.

    Raises:
        RuntimeError: no such range was found.
    """
    rng = random.Random()
    top = ephemeral_port_start() - 10 * nodes
    for _ in range(attempts):
        base = rng.randrange(LOWEST_BASE_PORT, top)
        try:
            for port in range(base, base + 10 * nodes):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(
        f"no free range of {10 * nodes} ports between {LOWEST_BASE_PORT} and {top} on 127.0.0.1"
    )


def bank_names(validators: int) -> list[str]:
    """bank-a, bank-b, ... one per validator after the central bank (at least one)."""
    count = max(1, validators - 1)
    letters = string.ascii_lowercase
    return [f"bank-{letters[i % 26]}{'' if i < 26 else i // 26}" for i in range(count)]


def init_testnet(
    directory: Path,
    *,
    validators: int = 4,
    base_port: int = DEFAULT_BASE_PORT,
    chain_id: str | None = None,
    hosts: list[str] | None = None,
    params: dict[str, int] | None = None,
    file_accounts: Iterable[dict[str, Any]] = (),
    rtt_ms: int = 0,
    hsm_signers: dict[int, SignerSettings] | None = None,
    rulebook: dict[str, Any] | None = None,
    remote_signers: Iterable[int] = (),
) -> dict[str, Any]:
    """Create a testnet in directory and return its manifest.

    Args:
        directory: an empty or absent directory.
        validators: number of validator nodes (1 to 26).
        base_port: first port; node i uses base_port + 10 i (+1 API, +2 metrics).
        chain_id: defaults to "tenge-local-<unix seconds>".
        hosts: per-node listen address (netns mode); default 127.0.0.1 for all.
        params: consensus parameters overriding TESTNET_PARAMS.
        file_accounts: genesis account entries sorted by id for the genesis accounts file
            (the bench's funded load accounts, `testnet._load.genesis_load_accounts`);
            written to ACCOUNTS_FILE and linked into every node's home; their keys are not
            written. Empty (the default): no accounts file.
        rtt_ms: round-trip delay added between the nodes by the relay (testnet._relay):
            when positive, every node dials the others' relay ports (base_port + 10 i + 3)
            instead of their P2P ports. 0: no relay.
        hsm_signers: validator index -> the pkcs11 [signer] settings of its home: its key
            pair is generated in that token by `tenge-node keys hsm-init` (the token must
            exist; the PIN's variable or file must be readable now and when the node
            starts), and its home gets no validator_key.json.
        rulebook: genesis.json's ``rulebook`` entries (docs/genesis.md), e.g.
            ``{"travel_rule_enforced": True}``; None: the default rulebook.
        remote_signers: validators whose key moves into a remote signer's home,
            DIR/signers/nodeI (`tenge-node signer init --validator-key`), listening on the
            node's host at its base port + 4; the node's [signer] is kind "remote" and
            `up` starts the signer before the node (testnet._procs.start_signer).

    Raises:
        ValueError: bad arguments, or directory already holds a testnet.
    """
    if not 1 <= validators <= 26:
        raise ValueError("--validators must be 1 to 26")
    if not 1024 <= base_port <= 65535 - 10 * validators:
        raise ValueError("--base-port out of range")
    if not 0 <= rtt_ms <= MAX_RTT_MS:
        raise ValueError(f"--rtt-ms must be 0 to {MAX_RTT_MS}")
    if (directory / MANIFEST).exists():
        raise ValueError(f"{directory} already holds a testnet; remove it or pick another --dir")
    remote = sorted(set(remote_signers))
    if any(not 0 <= i < validators for i in remote):
        raise ValueError("--remote-signer: no such validator index")
    if set(remote) & set(hsm_signers or {}):
        raise ValueError("a validator's key is either in a token or at a remote signer")
    hosts = hosts or ["127.0.0.1"] * validators
    directory.mkdir(parents=True, exist_ok=True)
    chain_id = chain_id or f"tenge-local-{int(time.time())}"
    banks = bank_names(validators)
    monikers = ["central-bank", *banks][:validators]

    node_keys = [KeyPair.generate() for _ in range(validators)]
    validator_keys = [KeyPair.generate() for _ in range(validators)]
    hsm_signers = hsm_signers or {}
    validator_public_keys = [
        _hsm_init(hsm_signers[i]) if i in hsm_signers else key.public_key
        for i, key in enumerate(validator_keys)
    ]
    # Two state funds, each 2-of-3: the State Fund of Digital Assets and the Alem Crypto Fund.
    reserves = ("state-reserve", "alem-crypto-fund")
    account_names = ["central-bank", *banks, "treasury", *reserves, "regulator"]
    account_keys: dict[str, list[KeyPair]] = {
        name: [KeyPair.generate() for _ in range(3 if name in reserves else 1)]
        for name in account_names
    }
    roles = {"central-bank": "CENTRAL_BANK", "treasury": "TREASURY"}
    roles |= {"state-reserve": "STATE_RESERVE", "alem-crypto-fund": "STATE_RESERVE"}
    roles |= {"regulator": "REGULATOR"}
    roles |= {bank: "COMMERCIAL_BANK" for bank in banks}
    genesis_doc: dict[str, Any] = {
        "chain_id": chain_id,
        "genesis_time_ms": int(time.time() * 1000),
        "params": {**TESTNET_PARAMS, **(params or {})},
        "validators": [
            {"public_key": key.hex(), "power": 10, "moniker": monikers[i]}
            for i, key in enumerate(validator_public_keys)
        ],
        "assets": [KZT_ASSET],
        "limits": TIER_LIMITS,
        "accounts": [
            {
                "account_id": name,
                "role": roles[name],
                "zone": "NATIONAL",
                "kyc_tier": 3,
                "public_keys": [k.public_key.hex() for k in keys],
                "threshold": 2 if name in reserves else 1,
            }
            for name, keys in account_keys.items()
        ],
    }
    if rulebook:
        genesis_doc["rulebook"] = dict(rulebook)
    accounts_file = write_accounts_file(directory / ACCOUNTS_FILE, file_accounts)
    if accounts_file is not None:
        genesis_doc["accounts_file"] = accounts_file
    parse_genesis(genesis_doc)  # our own output must validate
    genesis_text = json.dumps(genesis_doc, indent=2) + "\n"
    (directory / GENESIS_FILE).write_text(genesis_text)

    accounts: dict[str, Any] = {}
    for name, keys in account_keys.items():
        folder = directory / "accounts" / name
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for k, key in enumerate(keys):
            path = folder / f"key-{k}.json"
            write_key_file(path, key)
            files.append(str(path.resolve()))
        accounts[name] = {"account_id": name, "role": roles[name], "key_files": files}

    nodes: list[dict[str, Any]] = []
    for i in range(validators):
        home = directory / "nodes" / f"node{i}"
        (home / "data").mkdir(parents=True, exist_ok=True)
        write_key_file(home / NODE_KEY_FILE, node_keys[i])
        if i not in hsm_signers:
            write_key_file(home / VALIDATOR_KEY_FILE, validator_keys[i])
        (home / GENESIS_FILE).write_text(genesis_text)
        if accounts_file is not None:
            _link_or_copy(directory / ACCOUNTS_FILE, home / ACCOUNTS_FILE)
        ports = ports_of(base_port, i)
        peers = [
            f"{node_keys[j].public_key.hex()}@{hosts[j]}:{_dial_port(base_port, j, rtt_ms)}"
            for j in range(validators)
            if j != i
        ]
        signer = hsm_signers.get(i)
        remote_signer: dict[str, str] = {}
        if i in remote:
            signer, remote_signer = _remote_signer(
                directory, home, chain_id, f"{hosts[i]}:{ports.p2p + 4}", node_keys[i]
            )
        (home / "config.toml").write_text(
            render_config(
                moniker=monikers[i],
                p2p_listen=f"{hosts[i]}:{ports.p2p}",
                peers=peers,
                api_listen=f"{hosts[i]}:{ports.api}",
                metrics_listen=f"{hosts[i]}:{ports.metrics}",
                signer=signer,
            )
        )
        nodes.append(
            {
                "index": i,
                "moniker": monikers[i],
                "home": str(home.resolve()),
                "api": f"http://{hosts[i]}:{ports.api}",
                "metrics": f"http://{hosts[i]}:{ports.metrics}/metrics",
                "p2p": f"{hosts[i]}:{ports.p2p}",
                "node_id": node_keys[i].public_key.hex(),
                "validator_public_key": validator_public_keys[i].hex(),
            }
            | ({"relay": f"{hosts[i]}:{ports.relay}"} if rtt_ms else {})
            | ({"signer": remote_signer} if remote_signer else {})
        )
    _write_prometheus_files(directory, {n["moniker"]: n["metrics"].split("/")[2] for n in nodes})
    api_token = _api_token(directory, [Path(n["home"]) for n in nodes], hosts)
    manifest = {
        "chain_id": chain_id,
        "nodes": nodes,
        "accounts": accounts,
        "prometheus_config": str((directory / "prometheus.yml").resolve()),
        "rtt_ms": rtt_ms,
    } | ({"api_token": api_token} if api_token else {})
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _remote_signer(
    directory: Path, home: Path, chain_id: str, listen: str, node_key: KeyPair
) -> tuple[SignerSettings, dict[str, str]]:
    """Move home's validator key into a signer home made by `tenge-node signer init`; the
    node's remote [signer] and the manifest's record of the signer."""
    signer_home = directory / "signers" / home.name
    key_file = home / VALIDATOR_KEY_FILE
    made = _tenge_node(
        "signer",
        "init",
        "--home",
        str(signer_home),
        "--chain-id",
        chain_id,
        "--listen",
        listen,
        "--allow",
        node_key.public_key.hex(),
        "--validator-key",
        str(key_file),
    )
    key_file.unlink()  # the key lives only at the signer
    host, _, port = listen.rpartition(":")
    settings = SignerSettings(
        kind="remote", address=HostPort(host, int(port)), signer_id=made["signer_id"]
    )
    return settings, {"home": str(signer_home.resolve()), "listen": listen}


def _hsm_init(settings: SignerSettings) -> bytes:
    """Generate a validator key pair in a PKCS#11 token with `tenge-node keys hsm-init`;
    its public key."""
    pin = ["--pin-env", settings.pin_env] if settings.pin_env else ["--pin-file"]
    if not settings.pin_env:
        pin.append(str(settings.pin_file))
    token = ["--module", settings.module, "--token-label", settings.token_label]
    key = ["--key-label", settings.key_label, *pin]
    made = _tenge_node("keys", "hsm-init", *token, *key)
    return bytes.fromhex(made["validator_public_key"])


def _tenge_node(*args: str) -> dict[str, Any]:
    """Run `tenge-node ARGS` (this Python's) and read the JSON it prints.

    Raises:
        ValueError: the command failed; its message ends with the command's error.
    """
    made = subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if made.returncode != 0:
        raise ValueError(f"tenge-node {' '.join(args[:2])} failed: {made.stderr.strip()[:300]}")
    doc: dict[str, Any] = json.loads(made.stdout)
    return doc


def _api_token(directory: Path, homes: list[Path], hosts: list[str]) -> str | None:
    """Off loopback (network namespaces, Docker Compose) a node needs API tokens: one
    ``admin`` token, made by `tenge-node api-token create` in the first home and copied to
    the others; its text for the manifest (None on loopback: the API asks for none)."""
    if all(is_loopback(host) for host in hosts):
        return None
    made = _tenge_node(
        "api-token",
        "create",
        "--home",
        str(homes[0]),
        "--scope",
        "admin",
        "--name",
        "testnet-admin",
    )
    for home in homes[1:]:
        shutil.copy2(homes[0] / API_TOKENS_FILE, home / API_TOKENS_FILE)
    token: str = made["token"]
    return token


def api_headers(manifest: dict[str, Any]) -> dict[str, str]:
    """The Authorization header of the testnet's admin token (none on loopback)."""
    token = manifest.get("api_token")
    return {"Authorization": f"Bearer {token}"} if token else {}


def write_accounts_file(path: Path, entries: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Write genesis account entries (sorted by id) as an accounts file, one compact JSON
    entry per line; the ``accounts_file`` object of genesis.json, or None for no entries."""
    digest = hashlib.sha256()
    count = 0
    with path.open("wb") as file:
        for entry in entries:
            line = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
            digest.update(line)
            file.write(line)
            count += 1
    if not count:
        path.unlink()
        return None
    return {"path": path.name, "sha256": digest.hexdigest(), "accounts": count}


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link (the nodes only read the file), or a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _dial_port(base_port: int, index: int, rtt_ms: int) -> int:
    """Where the other nodes dial node index: its relay port with a relay, else its P2P port."""
    ports = ports_of(base_port, index)
    return ports.relay if rtt_ms else ports.p2p


def _write_prometheus_files(directory: Path, targets: dict[str, str]) -> None:
    """A prometheus.yml scraping every node, and the project's alert rules beside it."""
    (directory / "prometheus.yml").write_text(render_prometheus_config(targets))
    alerts = Path(__file__).resolve().parent.parent / "deploy" / "alerts.yml"
    if alerts.exists():
        shutil.copyfile(alerts, directory / "alerts.yml")


def load_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the testnet in directory.

    Raises:
        FileNotFoundError: no testnet there.
    """
    doc: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    return doc

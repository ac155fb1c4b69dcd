"""The node's home directory and config.toml.

A home looks like other node software's::

    HOME/
      config.toml          this file's settings (written by `tenge-node init`)
      genesis.json         the network's genesis (docs/genesis.md)
      node_key.json        the P2P identity (Ed25519, mode 0600)
      validator_key.json   the consensus signing key (absent on an observer)
      data/                LevelDB store, consensus WAL, last-signed record
      (with [signer] kind = "pkcs11" the validator key is in an HSM token instead)
      api_tokens.json      the API's bearer tokens, hashed (node/api/_tokens.py; optional)

Every error names the file and the field, e.g. ``config.toml: p2p.listen: expected HOST:PORT``.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from node.errors import ConfigError

CONFIG_FILE: Final = "config.toml"
GENESIS_FILE: Final = "genesis.json"
NODE_KEY_FILE: Final = "node_key.json"
VALIDATOR_KEY_FILE: Final = "validator_key.json"
#: The validator's next key during a rotation (docs/deployment.md, "Rotating the validator key").
NEXT_VALIDATOR_KEY_FILE: Final = "validator_key.next.json"
DATA_DIR: Final = "data"

DEFAULT_P2P_PORT: Final = 26656
DEFAULT_API_PORT: Final = 26657
DEFAULT_METRICS_PORT: Final = 26660

#: Where the validator key lives ([signer] kind): a key file in the home, a PKCS#11 token
#: (an HSM), or a remote signer process (docs/deployment.md, "Validator keys").
SIGNER_KINDS: Final = ("file", "pkcs11", "remote")
#: The [signer] keys each kind takes; a key of another kind is refused as a likely mistake.
_SIGNER_KEYS: Final = {
    "file": frozenset(),
    "pkcs11": frozenset(
        {"module", "token_label", "key_label", "next_key_label", "pin_env", "pin_file"}
    ),
    "remote": frozenset({"address", "signer_id", "timeout_ms", "next_address", "next_signer_id"}),
}
#: The remote signer's home: its config file (the validator key and its own node key sit
#: beside it, as in a node's home).
SIGNER_CONFIG_FILE: Final = "signer.toml"

# [p2p] inbound queues per traffic class and tx gossip budgets (docs/p2p.md, "Traffic
# classes, queues and budgets"): key -> (default, lowest, highest). Same defaults as
# node.p2p.P2PConfig; *_bytes of the queues and gossip_burst_bytes must be at least
# max_frame_bytes.
_MiB: Final = 1024 * 1024
P2P_INBOUND_KEYS: Final[dict[str, tuple[int, int, int]]] = {
    "consensus_queue_frames": (1024, 1, 1_000_000),
    "consensus_queue_bytes": (16 * _MiB, 1024, 2**34),
    "sync_queue_frames": (256, 1, 1_000_000),
    "sync_queue_bytes": (16 * _MiB, 1024, 2**34),
    "tx_queue_frames": (64, 1, 1_000_000),
    "tx_queue_bytes": (8 * _MiB, 1024, 2**34),
    "gossip_bytes_per_s": (4 * _MiB, 1, 2**34),
    "gossip_burst_bytes": (8 * _MiB, 1024, 2**34),
    "gossip_txs_per_s": (5000, 1, 10_000_000),
    "gossip_burst_txs": (10_000, 1, 10_000_000),
    "gossip_drop_after_s": (10, 1, 86_400),
    "gossip_invalid_tx_cost": (100, 0, 1_000_000),
}


@dataclass(frozen=True, slots=True)
class HostPort:
    """A listen or dial address."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A persistent peer: its node id (hex of its node public key) and address."""

    node_id: str
    address: HostPort

    @property
    def public_key(self) -> bytes:
        """The peer's 32-byte node public key."""
        return bytes.fromhex(self.node_id)


@dataclass(frozen=True, slots=True)
class SignerSettings:
    """The [signer] section: which validator signer the node runs.

    kind "file": validator_key.json in the home (the default). kind "pkcs11": the key
    labelled key_label in the token labelled token_label of the PKCS#11 module (a shared
    library path); the user PIN is read at start from the environment variable pin_env or
    from pin_file (exactly one is set); next_key_label, during a key rotation, labels the
    new key pair in the same token. kind "remote": a signer process at address whose
    node id is signer_id; a signature not back within timeout_ms counts as unavailable;
    next_address and next_signer_id, during a key rotation, name the signer of the new key.
    """

    kind: str = "file"
    module: str = ""
    token_label: str = ""
    key_label: str = ""
    next_key_label: str = ""  # a rotation in progress: the new key's label in the token
    pin_env: str = ""
    pin_file: Path | None = None
    address: HostPort | None = None
    signer_id: str = ""
    timeout_ms: int = 1000
    # A key rotation in progress with kind "remote": the signer process of the new key.
    next_address: HostPort | None = None
    next_signer_id: str = ""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Parsed config.toml plus the home directory it came from."""

    home: Path
    moniker: str
    p2p_listen: HostPort
    peers: tuple[PeerAddress, ...]
    allowed_node_ids: frozenset[str]
    max_frame_bytes: int
    peer_send_queue: int
    api_listen: HostPort
    metrics_listen: HostPort
    mempool_max_txs: int
    mempool_max_bytes: int
    log_level: str
    log_format: str
    # [p2p] caps on inbound handshakes (see docs/p2p.md, "Strangers").
    p2p_max_pending_handshakes: int = 64
    p2p_max_pending_per_source: int = 4
    p2p_max_pending_per_key: int = 2
    # [admission] signature verification off the event loop (docs/monitoring.md,
    # "Event loop and admission").
    admission_verify_threads: int = 2
    admission_max_pending_txs: int = 16_000
    admission_max_pending_bytes: int = 32 * 1024 * 1024
    # [mempool] admission fairness (see docs/mempool.md).
    mempool_max_pending_per_account: int = 1000
    mempool_max_peer_share: float = 0.5
    # [mempool] room in time (docs/mempool.md, "Room in time"); 0 seconds: no bound in time.
    mempool_max_pending_s: float = 4.0
    mempool_min_pending_txs: int = 2000
    mempool_max_client_share: float = 0.5
    # [p2p] inbound queues and tx gossip budgets: {key of P2P_INBOUND_KEYS: value}.
    p2p_inbound: tuple[tuple[str, int], ...] = ()
    # [storage] the in-memory cache of committed state (docs/deployment.md, "Memory").
    storage_state_cache_mb: int = 64
    # [signer] where the validator key lives (docs/deployment.md, "Validator keys").
    signer: SignerSettings = SignerSettings()

    def p2p_inbound_settings(self) -> dict[str, Any]:
        """The P2PConfig fields of the [p2p] inbound queue and budget keys."""
        values = {key: default for key, (default, _, _) in P2P_INBOUND_KEYS.items()}
        values.update(self.p2p_inbound)
        drop_after = values.pop("gossip_drop_after_s")
        return {**values, "gossip_drop_after": float(drop_after)}

    # [api] connection and rate limits (see docs/api.md, "Limits").
    api_max_connections: int = 256
    api_max_connections_per_client: int = 64
    api_idle_timeout_s: float = 10.0
    api_requests_per_s: float = 1000.0
    api_burst: int = 2000
    api_submit_txs_per_s: float = 4000.0
    api_submit_burst: int = 8000
    api_exempt: tuple[str, ...] = ()

    @property
    def genesis_path(self) -> Path:
        return self.home / GENESIS_FILE

    @property
    def node_key_path(self) -> Path:
        return self.home / NODE_KEY_FILE

    @property
    def validator_key_path(self) -> Path:
        return self.home / VALIDATOR_KEY_FILE

    @property
    def next_validator_key_path(self) -> Path:
        return self.home / NEXT_VALIDATOR_KEY_FILE

    @property
    def data_dir(self) -> Path:
        return self.home / DATA_DIR


CONFIG_TEMPLATE: Final = """\
# tenge-node configuration. Restart the node after editing.
moniker = {moniker}

[p2p]
# Address to accept peer connections on.
listen = {p2p_listen}
# Peers to dial and keep connected: "NODE_ID@HOST:PORT" (NODE_ID = `tenge-node show-node-id`).
peers = {peers}
# Node ids allowed to connect besides the peers above (observers, new validators).
allowed = {allowed}
# Largest frame accepted from a peer, in bytes.
max_frame_bytes = {max_frame_bytes}
# Messages queued for one peer before that peer is dropped as too slow.
send_queue = {send_queue}
# Inbound queues, per peer and traffic class, bounded by frames and by bytes (each
# *_bytes at least max_frame_bytes). Consensus (proposals, votes, evidence) is read
# first, then block sync (status, block requests/responses), then tx gossip. A full
# consensus or sync queue pauses that peer's reader (TCP pushes back on that peer
# only); a full tx queue drops the frame (tenge_p2p_frames_dropped_total{{reason="tx_queue_full"}}).
consensus_queue_frames = {consensus_queue_frames}
consensus_queue_bytes = {consensus_queue_bytes}
sync_queue_frames = {sync_queue_frames}
sync_queue_bytes = {sync_queue_bytes}
tx_queue_frames = {tx_queue_frames}
tx_queue_bytes = {tx_queue_bytes}
# Tx gossip budget of each peer (token buckets: a rate and a burst). Over it the peer's
# reader waits (throttled); a frame with more txs than gossip_burst_txs is dropped; a
# peer over budget for gossip_drop_after_s seconds in a row is disconnected
# (tenge_p2p_peer_dropped_total{{reason="gossip_budget"}}). Keep the burst in bytes at
# least max_frame_bytes and the burst in txs above 512 (one gossip batch).
gossip_bytes_per_s = {gossip_bytes_per_s}
gossip_burst_bytes = {gossip_burst_bytes}
gossip_txs_per_s = {gossip_txs_per_s}
gossip_burst_txs = {gossip_burst_txs}
gossip_drop_after_s = {gossip_drop_after_s}
# Budget (in txs) a gossiped tx with an invalid signature costs the peer that sent it
# (honest nodes gossip only txs they verified); 0 disables the charge.
gossip_invalid_tx_cost = {gossip_invalid_tx_cost}
# Inbound handshakes in progress at once: in all, from one source address, and claiming
# one node key (docs/p2p.md, "Strangers"); listed peers keep slots of their own.
max_pending_handshakes = 64
max_pending_per_source = 4
max_pending_per_key = 2

[api]
# HTTP API (JSON). Keep it on a private interface or behind a proxy. Off loopback the
# node needs API tokens (`tenge-node api-token create`, kept hashed in api_tokens.json).
listen = {api_listen}
# Open connections at once, all clients together. At the cap the connection idle longest
# is closed to make room; a newcomer that finds no slot within 1 s gets 503.
max_connections = {api_max_connections}
# Open connections of one client address (over it: 503 TOO_MANY_CONNECTIONS).
max_connections_per_client = {api_max_connections_per_client}
# Seconds a connection may stay without a request in progress, its request headers still
# arriving included (slowloris); then it is closed.
idle_timeout_s = {api_idle_timeout_s}
# Requests per second one client address may make, sustained, and at once (429 past it).
requests_per_s = {api_requests_per_s}
burst = {api_burst}
# Transactions per second one client address may submit (a batch counts its envelopes).
submit_txs_per_s = {api_submit_txs_per_s}
submit_burst = {api_submit_burst}
# Client networks free of the per-client limits above, e.g. ["127.0.0.1/32", "10.0.0.0/8"].
exempt = {api_exempt}

[metrics]
# Prometheus /metrics.
listen = {metrics_listen}

[mempool]
max_txs = {mempool_max_txs}
max_bytes = {mempool_max_bytes}
# Pending transactions one account may have authorised (payer or signer); more get
# PENDING_TXS_EXCEEDED. See docs/mempool.md.
max_pending_per_account = {mempool_max_pending_per_account}
# Fraction (0 to 1] of the room and of max_bytes that the transactions gossiped by one
# peer may take; more get PEER_SHARE_EXCEEDED.
max_peer_share = {mempool_max_peer_share}
# Room in time: the pool holds at most this many seconds of the network's commit
# capacity (measured from the commits this node sees); more get MEMPOOL_FULL (HTTP 429
# with Retry-After). 0 turns the bound in time off: the pool then holds max_txs.
max_pending_seconds = {mempool_max_pending_s}
# The room never falls below this many transactions (about two blocks' worth), nor
# above max_txs; it is the room too while the capacity is not measured yet.
min_pending_txs = {mempool_min_pending_txs}
# Fraction (0 to 1] of the room one API client address may take; more get MEMPOOL_FULL.
# Clients in [api] exempt have no share.
max_client_share = {mempool_max_client_share}

[admission]
# Worker threads verifying transaction signatures (API submits, batches, gossip) at once.
verify_threads = {admission_verify_threads}
# Transactions (and bytes) waiting for admission at once from one source (the API, or
# one peer); past either the API answers 429 MEMPOOL_FULL and that peer's gossip is
# dropped (tenge_admission_overload_total). At least one batch (1000 txs, 1 MiB).
max_pending_txs = {admission_max_pending_txs}
max_pending_bytes = {admission_max_pending_bytes}

[storage]
# Memory (MiB) for committed ledger state kept in front of LevelDB: accounts, balances,
# limits, seen tx ids, absent keys too. Written through on each commit; least recently
# used entries go first. 0 reads every key from disk. See docs/deployment.md, "Memory".
state_cache_mb = {storage_state_cache_mb}

[signer]
# Where the validator key lives: "file" (validator_key.json in this home), "pkcs11" (an
# HSM token) or "remote" (a signer process). See docs/deployment.md, "Validator keys".
{signer}

[log]
# debug | info | warning | error
level = {log_level}
# text | json
format = {log_format}
"""


def render_config(
    *,
    moniker: str,
    p2p_listen: str = f"0.0.0.0:{DEFAULT_P2P_PORT}",
    peers: list[str] | None = None,
    allowed: list[str] | None = None,
    api_listen: str = f"127.0.0.1:{DEFAULT_API_PORT}",
    metrics_listen: str = f"127.0.0.1:{DEFAULT_METRICS_PORT}",
    max_frame_bytes: int = 4 * 1024 * 1024,
    send_queue: int = 1024,
    mempool_max_txs: int = 50_000,
    mempool_max_bytes: int = 64 * 1024 * 1024,
    admission_verify_threads: int = 2,
    admission_max_pending_txs: int = 16_000,
    admission_max_pending_bytes: int = 32 * 1024 * 1024,
    mempool_max_pending_per_account: int = 1000,
    mempool_max_peer_share: float = 0.5,
    mempool_max_pending_s: float = 4.0,
    mempool_min_pending_txs: int = 2000,
    mempool_max_client_share: float = 0.5,
    log_level: str = "info",
    log_format: str = "text",
    p2p_inbound: dict[str, int] | None = None,
    api_max_connections: int = 256,
    api_max_connections_per_client: int = 64,
    api_idle_timeout_s: float = 10.0,
    api_requests_per_s: float = 1000.0,
    api_burst: int = 2000,
    api_submit_txs_per_s: float = 4000.0,
    api_submit_burst: int = 8000,
    api_exempt: list[str] | None = None,
    storage_state_cache_mb: int = 64,
    signer: SignerSettings | None = None,
) -> str:
    """The text of a config.toml with these settings and explanatory comments.

    p2p_inbound overrides keys of ``P2P_INBOUND_KEYS`` (queues and gossip budgets);
    signer is the [signer] section (default: kind "file").
    """
    inbound = {key: default for key, (default, _, _) in P2P_INBOUND_KEYS.items()}
    inbound.update(p2p_inbound or {})

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def qlist(values: list[str] | None) -> str:
        return "[" + ", ".join(q(v) for v in values or []) + "]"

    return CONFIG_TEMPLATE.format(
        moniker=q(moniker),
        p2p_listen=q(p2p_listen),
        peers=qlist(peers),
        allowed=qlist(allowed),
        api_listen=q(api_listen),
        metrics_listen=q(metrics_listen),
        max_frame_bytes=max_frame_bytes,
        send_queue=send_queue,
        mempool_max_txs=mempool_max_txs,
        mempool_max_bytes=mempool_max_bytes,
        admission_verify_threads=admission_verify_threads,
        admission_max_pending_txs=admission_max_pending_txs,
        admission_max_pending_bytes=admission_max_pending_bytes,
        mempool_max_pending_per_account=mempool_max_pending_per_account,
        mempool_max_peer_share=repr(float(mempool_max_peer_share)),
        mempool_max_pending_s=repr(float(mempool_max_pending_s)),
        mempool_min_pending_txs=mempool_min_pending_txs,
        mempool_max_client_share=repr(float(mempool_max_client_share)),
        log_level=q(log_level),
        log_format=q(log_format),
        **inbound,
        api_max_connections=api_max_connections,
        api_max_connections_per_client=api_max_connections_per_client,
        api_idle_timeout_s=float(api_idle_timeout_s),
        api_requests_per_s=float(api_requests_per_s),
        api_burst=api_burst,
        api_submit_txs_per_s=float(api_submit_txs_per_s),
        api_submit_burst=api_submit_burst,
        api_exempt=qlist(api_exempt),
        storage_state_cache_mb=storage_state_cache_mb,
        signer=_render_signer(signer or SignerSettings(), q),
    )


def _render_signer(settings: SignerSettings, q: Any) -> str:
    """The [signer] section's lines for settings (q quotes a TOML string)."""
    lines = [f"kind = {q(settings.kind)}"]
    if settings.kind == "pkcs11":
        lines += [
            "# The PKCS#11 module (shared library), the token and the key's label in it.",
            f"module = {q(settings.module)}",
            f"token_label = {q(settings.token_label)}",
            f"key_label = {q(settings.key_label)}",
        ]
        if settings.next_key_label:
            lines += [
                "# A key rotation (docs/deployment.md): the new key, used from the height its",
                "# validator set holds it.",
                f"next_key_label = {q(settings.next_key_label)}",
            ]
        lines += [
            "# The token's user PIN: from an environment variable, or from a file (mode 0600).",
        ]
        if settings.pin_file is not None:
            lines.append(f"pin_file = {q(str(settings.pin_file))}")
        else:
            lines.append(f"pin_env = {q(settings.pin_env)}")
    elif settings.kind == "remote":
        assert settings.address is not None
        lines += [
            "# The signer process (`tenge-node signer start`) and its node id.",
            f"address = {q(str(settings.address))}",
            f"signer_id = {q(settings.signer_id)}",
            "# A signature not back within this many ms: the node skips that vote.",
            f"timeout_ms = {settings.timeout_ms}",
        ]
        if settings.next_address is not None:
            lines += [
                "# A key rotation (docs/deployment.md): the signer of the new key.",
                f"next_address = {q(str(settings.next_address))}",
                f"next_signer_id = {q(settings.next_signer_id)}",
            ]
    else:
        lines += [
            '# For an HSM: kind = "pkcs11", module = "/usr/lib/softhsm/libsofthsm2.so",',
            '# token_label = "tenge", key_label = "validator", pin_env = "TENGE_HSM_PIN".',
        ]
    return "\n".join(lines)


def load_config(home: Path) -> NodeConfig:
    """Read and validate HOME/config.toml.

    Raises:
        ConfigError: the file is missing, is not TOML, or a field is invalid; the message
            names the field.
    """
    path = home / CONFIG_FILE
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: not found (run `tenge-node init --home {home}`)") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    r = _Reader(path.name, doc)
    peers = tuple(_peer(r, f"p2p.peers[{i}]", p) for i, p in enumerate(r.list_of_str("p2p.peers")))
    allowed = set()
    for i, node_id in enumerate(r.list_of_str("p2p.allowed")):
        allowed.add(_node_id(r, f"p2p.allowed[{i}]", node_id))
    allowed.update(p.node_id for p in peers)
    level = r.text("log.level", "info").lower()
    if level not in ("debug", "info", "warning", "error"):
        raise r.error("log.level", "expected debug, info, warning or error")
    fmt = r.text("log.format", "text")
    if fmt not in ("text", "json"):
        raise r.error("log.format", "expected text or json")
    moniker = r.text("moniker", "")
    if not moniker or len(moniker) > 64:
        raise r.error("moniker", "expected 1 to 64 characters")
    max_frame_bytes = r.integer("p2p.max_frame_bytes", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024)
    return NodeConfig(
        home=home,
        moniker=moniker,
        p2p_listen=_host_port(r, "p2p.listen", f"0.0.0.0:{DEFAULT_P2P_PORT}"),
        peers=peers,
        allowed_node_ids=frozenset(allowed),
        max_frame_bytes=max_frame_bytes,
        peer_send_queue=r.integer("p2p.send_queue", 1024, 1, 1_000_000),
        api_listen=_host_port(r, "api.listen", f"127.0.0.1:{DEFAULT_API_PORT}"),
        metrics_listen=_host_port(r, "metrics.listen", f"127.0.0.1:{DEFAULT_METRICS_PORT}"),
        mempool_max_txs=r.integer("mempool.max_txs", 50_000, 1, 10_000_000),
        mempool_max_bytes=r.integer("mempool.max_bytes", 64 * 1024 * 1024, 1024, 2**40),
        log_level=level,
        log_format=fmt,
        p2p_max_pending_handshakes=r.integer("p2p.max_pending_handshakes", 64, 1, 10_000),
        p2p_max_pending_per_source=r.integer("p2p.max_pending_per_source", 4, 1, 1_000),
        p2p_max_pending_per_key=r.integer("p2p.max_pending_per_key", 2, 1, 100),
        admission_verify_threads=r.integer("admission.verify_threads", 2, 1, 64),
        admission_max_pending_txs=r.integer("admission.max_pending_txs", 16_000, 1_000, 10_000_000),
        admission_max_pending_bytes=r.integer(
            "admission.max_pending_bytes", 32 * 1024 * 1024, 1024 * 1024, 2**40
        ),
        mempool_max_pending_per_account=r.integer(
            "mempool.max_pending_per_account", 1000, 1, 10_000_000
        ),
        mempool_max_peer_share=r.fraction("mempool.max_peer_share", 0.5),
        mempool_max_pending_s=r.number("mempool.max_pending_seconds", 4.0, 0.0, 3600.0),
        mempool_min_pending_txs=r.integer("mempool.min_pending_txs", 2000, 1, 10_000_000),
        mempool_max_client_share=r.fraction("mempool.max_client_share", 0.5),
        p2p_inbound=_p2p_inbound(r, max_frame_bytes),
        storage_state_cache_mb=r.integer("storage.state_cache_mb", 64, 0, 65_536),
        signer=_signer(r, home),
        **_api_limits(r),
    )


def _signer(r: _Reader, home: Path) -> SignerSettings:
    """The [signer] section, validated: a known kind, its keys present, no other kind's."""
    section = r.get("signer")
    if section is None:
        return SignerSettings()
    if not isinstance(section, dict):
        raise r.error("signer", "expected a table")
    kind = r.text("signer.kind", "file")
    if kind not in SIGNER_KINDS:
        raise r.error("signer.kind", 'expected "file", "pkcs11" or "remote"')
    for key in sorted(section):
        if key != "kind" and key not in _SIGNER_KEYS[kind]:
            owner = [k for k, keys in _SIGNER_KEYS.items() if key in keys]
            why = f'only for kind = "{owner[0]}"' if owner else "unknown key"
            raise r.error(f"signer.{key}", why)

    def required(name: str) -> str:
        value = r.text(f"signer.{name}", "")
        if not value:
            raise r.error(f"signer.{name}", f'required for kind = "{kind}"')
        return value

    if kind == "pkcs11":
        pin_env = r.text("signer.pin_env", "")
        pin_file = r.text("signer.pin_file", "")
        if bool(pin_env) == bool(pin_file):
            raise r.error("signer.pin_env", "set exactly one of pin_env and pin_file")
        next_label = r.text("signer.next_key_label", "")
        if next_label and next_label == r.text("signer.key_label", ""):
            raise r.error("signer.next_key_label", "must differ from key_label")
        return SignerSettings(
            kind=kind,
            module=required("module"),
            token_label=required("token_label"),
            key_label=required("key_label"),
            next_key_label=next_label,
            pin_env=pin_env,
            pin_file=(home / pin_file) if pin_file else None,
        )
    if kind == "remote":
        next_address = r.text("signer.next_address", "")
        next_signer_id = r.text("signer.next_signer_id", "")
        if bool(next_address) != bool(next_signer_id):
            raise r.error("signer.next_address", "set both next_address and next_signer_id")
        address = _host_port(r, "signer.address", required("address"))
        signer_id = _node_id(r, "signer.signer_id", required("signer_id"))
        if next_signer_id and _node_id(r, "signer.next_signer_id", next_signer_id) == signer_id:
            raise r.error("signer.next_signer_id", "must differ from signer_id")
        return SignerSettings(
            kind=kind,
            address=address,
            signer_id=signer_id,
            timeout_ms=r.integer("signer.timeout_ms", 1000, 10, 60_000),
            next_address=(
                _host_port(r, "signer.next_address", next_address) if next_address else None
            ),
            next_signer_id=next_signer_id,
        )
    return SignerSettings()


def _p2p_inbound(r: _Reader, max_frame_bytes: int) -> tuple[tuple[str, int], ...]:
    """The [p2p] inbound queue and gossip budget keys, each bounded (P2P_INBOUND_KEYS)."""
    values = {}
    for key, (default, lo, hi) in P2P_INBOUND_KEYS.items():
        values[key] = r.integer(f"p2p.{key}", default, lo, hi)
    for key in (
        "consensus_queue_bytes",
        "sync_queue_bytes",
        "tx_queue_bytes",
        "gossip_burst_bytes",
    ):
        if values[key] < max_frame_bytes:
            raise r.error(
                f"p2p.{key}",
                f"must be at least p2p.max_frame_bytes ({max_frame_bytes}), got {values[key]}",
            )
    return tuple(sorted(values.items()))


# Largest POST /v1/txs/batch (node.api._requests.MAX_BATCH): submit_burst must hold one.
_MAX_BATCH: Final = 1000


def _api_limits(r: _Reader) -> dict[str, Any]:
    """The [api] connection and rate limits, validated."""
    max_connections = r.integer("api.max_connections", 256, 1, 100_000)
    per_client = r.integer("api.max_connections_per_client", 64, 1, 100_000)
    if per_client > max_connections:
        raise r.error(
            "api.max_connections_per_client",
            f"expected at most api.max_connections ({max_connections}), got {per_client}",
        )
    exempt = []
    for i, text in enumerate(r.list_of_str("api.exempt")):
        try:
            exempt.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise r.error(
                f"api.exempt[{i}]", f"expected an address or network (10.0.0.0/8), got {text!r}"
            ) from None
    return {
        "api_max_connections": max_connections,
        "api_max_connections_per_client": per_client,
        "api_idle_timeout_s": r.number("api.idle_timeout_s", 10.0, 0.5, 3600.0),
        "api_requests_per_s": r.number("api.requests_per_s", 1000.0, 0.01, 1e7),
        "api_burst": r.integer("api.burst", 2000, 1, 10_000_000),
        "api_submit_txs_per_s": r.number("api.submit_txs_per_s", 4000.0, 0.01, 1e7),
        "api_submit_burst": r.integer("api.submit_burst", 8000, _MAX_BATCH, 10_000_000),
        "api_exempt": tuple(exempt),
    }


class _Reader:
    def __init__(self, filename: str, doc: dict[str, Any]) -> None:
        self.filename = filename
        self.doc = doc

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.filename}: {name}: {problem}")

    def get(self, name: str) -> Any:
        node: Any = self.doc
        parts = name.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict):
                raise self.error(".".join(parts[:depth]), "expected a table")
            if part not in node:
                return None
            node = node[part]
        return node

    def text(self, name: str, default: str) -> str:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(name, "expected a string")
        return value

    def integer(self, name: str, default: int, lo: int, hi: int) -> int:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(name, "expected an integer")
        if not lo <= value <= hi:
            raise self.error(name, f"expected {lo} to {hi}, got {value}")
        return value

    def fraction(self, name: str, default: float) -> float:
        """A number above 0 and at most 1 (an integer 1 is accepted)."""
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.error(name, "expected a number")
        if not 0 < value <= 1:  # also refuses nan
            raise self.error(name, f"expected a number above 0 and at most 1, got {value}")
        return float(value)

    def number(self, name: str, default: float, lo: float, hi: float) -> float:
        """A number (integer or float) from lo to hi."""
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.error(name, "expected a number")
        if not lo <= value <= hi:  # NaN fails this too
            raise self.error(name, f"expected {lo:g} to {hi:g}, got {value}")
        return float(value)

    def list_of_str(self, name: str) -> list[str]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings")
        return value


def parse_host_port(text: str) -> HostPort:
    """Parse "HOST:PORT" (port 0 allowed: the OS picks one).

    Raises:
        ValueError: not of that form.
    """
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError("expected HOST:PORT")
    return HostPort(host, int(port_text))


def _host_port(r: _Reader, name: str, default: str) -> HostPort:
    try:
        return parse_host_port(r.text(name, default))
    except ValueError as e:
        raise r.error(name, str(e)) from None


def _node_id(r: _Reader, name: str, text: str) -> str:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise r.error(name, "a node id is 64 hex characters (`tenge-node show-node-id`)")
    return raw.hex()


def _peer(r: _Reader, name: str, text: str) -> PeerAddress:
    node_id, sep, address = text.partition("@")
    if not sep:
        raise r.error(name, "expected NODE_ID@HOST:PORT")
    try:
        host_port = parse_host_port(address)
    except ValueError as e:
        raise r.error(name, str(e)) from None
    return PeerAddress(_node_id(r, name, node_id), host_port)


# ---- the remote signer's home (`tenge-node signer`, node/signer_server.py) ----


@dataclass(frozen=True, slots=True)
class SignerHomeConfig:
    """Parsed signer.toml of a remote signer's home: the chain it signs for, where it
    listens, the node ids allowed to ask, and its validator key ([signer], kind "file"
    or "pkcs11")."""

    home: Path
    chain_id: str
    listen: HostPort
    allowed_node_ids: frozenset[str]
    signer: SignerSettings

    @property
    def node_key_path(self) -> Path:
        return self.home / NODE_KEY_FILE

    @property
    def validator_key_path(self) -> Path:
        return self.home / VALIDATOR_KEY_FILE

    @property
    def last_signed_path(self) -> Path:
        return self.home / "last_signed.json"


def render_signer_config(
    chain_id: str, listen: str, allowed: list[str], signer: SignerSettings | None = None
) -> str:
    """The text of a signer.toml (signer: kind "file" or "pkcs11"; default "file")."""

    def q(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    allowed_text = "[" + ", ".join(q(v) for v in allowed) + "]"
    return (
        "# A remote signer's home (`tenge-node signer start`); docs/deployment.md,\n"
        '# "Validator keys". Run exactly one signer per validator key.\n'
        f"chain_id = {q(chain_id)}\n"
        f"listen = {q(listen)}\n"
        "# Node ids (`tenge-node show-node-id`) allowed to ask for signatures.\n"
        f"allowed = {allowed_text}\n\n"
        "# Where the validator key lives: validator_key.json here, or a PKCS#11 token.\n"
        "[signer]\n" + _render_signer(signer or SignerSettings(), q) + "\n"
    )


def load_signer_config(home: Path) -> SignerHomeConfig:
    """Read and validate HOME/signer.toml.

    Raises:
        ConfigError: the file is missing, is not TOML, or a field is invalid.
    """
    path = home / SIGNER_CONFIG_FILE
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: not found (run `tenge-node signer init --home {home}`)") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    r = _Reader(path.name, doc)
    chain_id = r.text("chain_id", "")
    if not chain_id or len(chain_id.encode()) > 255:
        raise r.error("chain_id", "expected 1 to 255 bytes")
    allowed = frozenset(
        _node_id(r, f"allowed[{i}]", text) for i, text in enumerate(r.list_of_str("allowed"))
    )
    signer = _signer(r, home)
    if signer.kind == "remote":
        raise r.error("signer.kind", 'a signer signs itself: expected "file" or "pkcs11"')
    return SignerHomeConfig(
        home=home,
        chain_id=chain_id,
        listen=_host_port(r, "listen", "127.0.0.1:26670"),
        allowed_node_ids=allowed,
        signer=signer,
    )

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from node.config import (
    SIGNER_CONFIG_FILE,
    HostPort,
    SignerSettings,
    load_config,
    load_signer_config,
    parse_host_port,
    render_config,
    render_signer_config,
)
from node.errors import ConfigError

NODE_ID = "ab" * 32


def _write(home: Path, text: str) -> Path:
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(text)
    return home


def test_rendered_config_loads_back(tmp_path: Path) -> None:
    text = render_config(
        moniker='bank "a"',
        p2p_listen="127.0.0.1:0",
        peers=[f"{NODE_ID}@127.0.0.1:26656"],
        allowed=["cd" * 32],
        log_format="json",
    )
    cfg = load_config(_write(tmp_path / "h", text))
    assert cfg.moniker == 'bank "a"'
    assert cfg.p2p_listen.port == 0
    assert cfg.peers[0].node_id == NODE_ID
    assert cfg.peers[0].public_key == bytes.fromhex(NODE_ID)
    assert cfg.allowed_node_ids == {NODE_ID, "cd" * 32}
    assert cfg.log_format == "json"
    assert cfg.data_dir == tmp_path / "h" / "data"
    assert (cfg.admission_verify_threads, cfg.admission_max_pending_txs) == (2, 16_000)
    assert cfg.admission_max_pending_bytes == 32 * 1024 * 1024


def test_admission_settings_are_read(tmp_path: Path) -> None:
    text = render_config(
        moniker="x",
        admission_verify_threads=3,
        admission_max_pending_txs=5000,
        admission_max_pending_bytes=2 << 20,
    )
    cfg = load_config(_write(tmp_path / "h", text))
    assert (cfg.admission_verify_threads, cfg.admission_max_pending_txs) == (3, 5000)
    assert cfg.admission_max_pending_bytes == 2 << 20


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('moniker = "x"\n[p2p]\nlisten = "nohost"\n', "p2p.listen"),
        ('moniker = "x"\n[p2p]\nlisten = 5\n', "p2p.listen"),
        ('moniker = "x"\n[p2p]\npeers = ["zz@1.2.3.4:5"]\n', "p2p.peers[0]"),
        ('moniker = "x"\n[p2p]\npeers = ["abc"]\n', "p2p.peers[0]"),
        ('moniker = "x"\n[p2p]\nallowed = ["12"]\n', "p2p.allowed[0]"),
        ('moniker = "x"\n[p2p]\nmax_frame_bytes = 1\n', "p2p.max_frame_bytes"),
        ('moniker = "x"\n[mempool]\nmax_txs = "many"\n', "mempool.max_txs"),
        ('moniker = "x"\n[admission]\nverify_threads = 0\n', "admission.verify_threads"),
        ('moniker = "x"\n[admission]\nmax_pending_txs = 999\n', "admission.max_pending_txs"),
        ('moniker = "x"\n[admission]\nmax_pending_txs = "lots"\n', "admission.max_pending_txs"),
        ('moniker = "x"\n[admission]\nmax_pending_bytes = 1024\n', "admission.max_pending_bytes"),
        (
            'moniker = "x"\n[mempool]\nmax_pending_per_account = 0\n',
            "mempool.max_pending_per_account",
        ),
        ('moniker = "x"\n[mempool]\nmax_peer_share = 0\n', "mempool.max_peer_share"),
        ('moniker = "x"\n[mempool]\nmax_peer_share = 1.5\n', "mempool.max_peer_share"),
        ('moniker = "x"\n[mempool]\nmax_peer_share = nan\n', "mempool.max_peer_share"),
        ('moniker = "x"\n[mempool]\nmax_peer_share = "half"\n', "mempool.max_peer_share"),
        ('moniker = "x"\n[mempool]\nmax_peer_share = true\n', "mempool.max_peer_share"),
        ('moniker = "x"\n[mempool]\nmax_pending_seconds = -1\n', "mempool.max_pending_seconds"),
        ('moniker = "x"\n[mempool]\nmax_pending_seconds = nan\n', "mempool.max_pending_seconds"),
        ('moniker = "x"\n[mempool]\nmin_pending_txs = 0\n', "mempool.min_pending_txs"),
        ('moniker = "x"\n[mempool]\nmax_client_share = 2\n', "mempool.max_client_share"),
        ('moniker = "x"\n[log]\nlevel = "loud"\n', "log.level"),
        ('moniker = "x"\n[log]\nformat = "xml"\n', "log.format"),
        ('moniker = ""\n', "moniker"),
        ('moniker = "x"\np2p = 3\n', "p2p"),
    ],
)
def test_invalid_fields_are_named(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match="config\\.toml: " + re.escape(field) + ":"):
        load_config(_write(tmp_path / "h", text))


def test_mempool_fairness_settings(tmp_path: Path) -> None:
    defaults = load_config(_write(tmp_path / "d", render_config(moniker="x")))
    assert defaults.mempool_max_pending_per_account == 1000
    assert defaults.mempool_max_peer_share == 0.5
    text = render_config(
        moniker="x", mempool_max_pending_per_account=7, mempool_max_peer_share=0.25
    )
    cfg = load_config(_write(tmp_path / "h", text))
    assert cfg.mempool_max_pending_per_account == 7
    assert cfg.mempool_max_peer_share == 0.25
    one = load_config(_write(tmp_path / "o", 'moniker = "x"\n[mempool]\nmax_peer_share = 1\n'))
    assert one.mempool_max_peer_share == 1.0


def test_mempool_room_settings(tmp_path: Path) -> None:
    defaults = load_config(_write(tmp_path / "d", render_config(moniker="x")))
    assert defaults.mempool_max_pending_s == 4.0
    assert defaults.mempool_min_pending_txs == 2000
    assert defaults.mempool_max_client_share == 0.5
    text = render_config(
        moniker="x",
        mempool_max_pending_s=0,
        mempool_min_pending_txs=300,
        mempool_max_client_share=0.25,
    )
    cfg = load_config(_write(tmp_path / "h", text))
    assert (cfg.mempool_max_pending_s, cfg.mempool_min_pending_txs) == (0.0, 300)
    assert cfg.mempool_max_client_share == 0.25


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path / "h", "moniker = = \n"))


def test_host_port() -> None:
    assert str(parse_host_port("[::1]:80")) == "::1:80"
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port("host:99999")


# ---- [p2p] inbound queues and tx gossip budgets ----


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("gossip_txs_per_s = 0", "expected 1 to"),
        ('gossip_bytes_per_s = "fast"', "expected an integer"),
        ("tx_queue_frames = 0", "expected 1 to"),
        ("consensus_queue_bytes = 4096", "must be at least p2p.max_frame_bytes"),
        ("gossip_burst_bytes = 65536", "must be at least p2p.max_frame_bytes"),
        ("gossip_drop_after_s = 0", "expected 1 to"),
    ],
)
def test_bad_inbound_queue_and_budget_values_are_named(
    tmp_path: Path, text: str, problem: str
) -> None:
    key = text.split(" ")[0]
    with pytest.raises(ConfigError, match=f"config\\.toml: p2p\\.{key}: {re.escape(problem)}"):
        load_config(_write(tmp_path / "h", f'moniker = "x"\n[p2p]\n{text}\n'))


def test_inbound_settings_render_load_and_reach_the_p2p_layer(tmp_path: Path) -> None:
    from node.p2p import P2PConfig

    default = load_config(_write(tmp_path / "d", render_config(moniker="x")))
    assert P2PConfig(chain_id="c", **default.p2p_inbound_settings()) == P2PConfig(chain_id="c")
    text = render_config(moniker="x", p2p_inbound={"gossip_txs_per_s": 123, "tx_queue_frames": 9})
    assert "gossip_txs_per_s = 123" in text
    settings = load_config(_write(tmp_path / "h", text)).p2p_inbound_settings()
    assert settings["gossip_txs_per_s"] == 123
    assert settings["tx_queue_frames"] == 9
    assert settings["gossip_drop_after"] == 10.0
    P2PConfig(chain_id="c", **settings).validate()


# ---- [api] connection and rate limits ----


def test_api_limits_default_and_round_trip(tmp_path: Path) -> None:
    default = load_config(_write(tmp_path / "d", 'moniker = "x"\n'))
    assert (default.api_max_connections, default.api_max_connections_per_client) == (256, 64)
    assert default.api_idle_timeout_s == 10.0
    assert (default.api_requests_per_s, default.api_burst) == (1000.0, 2000)
    assert (default.api_submit_txs_per_s, default.api_submit_burst) == (4000.0, 8000)
    assert default.api_exempt == ()
    text = render_config(
        moniker="x",
        api_max_connections=50,
        api_max_connections_per_client=5,
        api_idle_timeout_s=2.5,
        api_requests_per_s=10,
        api_burst=20,
        api_submit_txs_per_s=100.5,
        api_submit_burst=1000,
        api_exempt=["127.0.0.1", "10.1.2.3/8"],
    )
    cfg = load_config(_write(tmp_path / "h", text))
    assert (cfg.api_max_connections, cfg.api_max_connections_per_client) == (50, 5)
    assert cfg.api_idle_timeout_s == 2.5
    assert (cfg.api_requests_per_s, cfg.api_burst) == (10.0, 20)
    assert (cfg.api_submit_txs_per_s, cfg.api_submit_burst) == (100.5, 1000)
    assert cfg.api_exempt == ("127.0.0.1/32", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("setting", "field", "problem"),
    [
        ("max_connections = 0", "api.max_connections", "expected 1 to"),
        ("max_connections = true", "api.max_connections", "expected an integer"),
        ("max_connections_per_client = 300", "api.max_connections_per_client", "expected at most"),
        ("idle_timeout_s = 0.1", "api.idle_timeout_s", "expected 0.5 to"),
        ('idle_timeout_s = "10"', "api.idle_timeout_s", "expected a number"),
        ("idle_timeout_s = nan", "api.idle_timeout_s", "expected 0.5 to"),
        ("requests_per_s = 0", "api.requests_per_s", "expected 0.01 to"),
        ("requests_per_s = inf", "api.requests_per_s", "expected 0.01 to"),
        ("burst = 0", "api.burst", "expected 1 to"),
        ("submit_txs_per_s = -1", "api.submit_txs_per_s", "expected 0.01 to"),
        ("submit_burst = 999", "api.submit_burst", "expected 1000 to"),
        ('exempt = ["localhost"]', "api.exempt[0]", "expected an address or network"),
        ("exempt = [1]", "api.exempt", "expected a list of strings"),
    ],
)
def test_bad_api_limits_are_named(tmp_path: Path, setting: str, field: str, problem: str) -> None:
    text = f'moniker = "x"\n[api]\n{setting}\n'
    pattern = "config\\.toml: " + re.escape(field) + ": " + re.escape(problem)
    with pytest.raises(ConfigError, match=pattern):
        load_config(_write(tmp_path / "h", text))


def test_state_cache_setting(tmp_path: Path) -> None:
    defaults = load_config(_write(tmp_path / "d", render_config(moniker="x")))
    assert defaults.storage_state_cache_mb == 64
    off = load_config(_write(tmp_path / "o", render_config(moniker="x", storage_state_cache_mb=0)))
    assert off.storage_state_cache_mb == 0
    for bad in ("-1", "65537", '"big"'):
        text = f'moniker = "x"\n[storage]\nstate_cache_mb = {bad}\n'
        with pytest.raises(ConfigError, match=r"config\.toml: storage\.state_cache_mb:"):
            load_config(_write(tmp_path / "b", text))


def test_signer_defaults_to_the_key_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path / "h", render_config(moniker="x")))
    assert cfg.signer == SignerSettings()
    assert cfg.signer.kind == "file"
    cfg = load_config(_write(tmp_path / "bare", 'moniker = "x"\n'))
    assert cfg.signer.kind == "file"


def test_pkcs11_signer_renders_and_loads_back(tmp_path: Path) -> None:
    home = tmp_path / "h"
    for pin in ({"pin_env": "HSM_PIN"}, {"pin_file": home / "hsm.pin"}):
        for next_label in ("", "k-next"):  # a key rotation in progress names the new pair
            settings = SignerSettings(
                kind="pkcs11",
                module="/usr/lib/x.so",
                token_label="t",
                key_label="k",
                next_key_label=next_label,
                **pin,
            )
            cfg = load_config(_write(home, render_config(moniker="x", signer=settings)))
            assert cfg.signer == settings


def test_a_relative_pin_file_is_in_the_home(tmp_path: Path) -> None:
    text = PKCS11 + 'pin_file = "hsm.pin"\n'
    assert load_config(_write(tmp_path / "h", text)).signer.pin_file == tmp_path / "h" / "hsm.pin"


PKCS11 = (
    'moniker = "x"\n[signer]\nkind = "pkcs11"\nmodule = "/m.so"\ntoken_label = "t"\n'
    'key_label = "k"\n'
)


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('moniker = "x"\nsigner = 3\n', "signer", "expected a table"),
        ('moniker = "x"\n[signer]\nkind = "yubikey"\n', "signer.kind", "expected"),
        ('moniker = "x"\n[signer]\nkind = 1\n', "signer.kind", "expected a string"),
        (
            'moniker = "x"\n[signer]\nmodule = "/m.so"\n',
            "signer.module",
            'only for kind = "pkcs11"',
        ),
        ('moniker = "x"\n[signer]\nkind = "file"\npin = "1"\n', "signer.pin", "unknown key"),
        (PKCS11, "signer.pin_env", "exactly one of pin_env and pin_file"),
        (PKCS11 + 'pin_env = "A"\npin_file = "f"\n', "signer.pin_env", "exactly one"),
        (PKCS11.replace('module = "/m.so"\n', "") + 'pin_env = "A"\n', "signer.module", "required"),
        (
            PKCS11.replace('key_label = "k"\n', "") + 'pin_env = "A"\n',
            "signer.key_label",
            "required",
        ),
        (PKCS11 + 'pin_env = "A"\naddress = "h:1"\n', "signer.address", 'only for kind = "remote"'),
        (
            PKCS11 + 'pin_env = "A"\nnext_key_label = "k"\n',
            "signer.next_key_label",
            "must differ from key_label",
        ),
        ('moniker = "x"\n[signer]\nnext_key_label = "n"\n', "signer.next_key_label", "pkcs11"),
        ('moniker = "x"\n[signer]\nkind = "remote"\n', "signer.address", "required"),
        (
            'moniker = "x"\n[signer]\nkind = "remote"\naddress = "nope"\n'
            f'signer_id = "{NODE_ID}"\n',
            "signer.address",
            "HOST:PORT",
        ),
        (
            'moniker = "x"\n[signer]\nkind = "remote"\naddress = "h:1"\nsigner_id = "ab"\n',
            "signer.signer_id",
            "64 hex",
        ),
        (
            'moniker = "x"\n[signer]\nkind = "remote"\naddress = "h:1"\n'
            f'signer_id = "{NODE_ID}"\ntimeout_ms = 5\n',
            "signer.timeout_ms",
            "10",
        ),
        (PKCS11 + 'pin_env = "A"\ntimeout_ms = 100\n', "signer.timeout_ms", "only for kind"),
    ],
)
def test_signer_section_errors_name_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path / "h", text))
    assert f"config.toml: {field}: " in str(raised.value)
    assert problem in str(raised.value)


def test_remote_signer_renders_and_loads_back(tmp_path: Path) -> None:
    settings = SignerSettings(
        kind="remote", address=HostPort("10.0.0.5", 26670), signer_id=NODE_ID, timeout_ms=250
    )
    cfg = load_config(_write(tmp_path / "h", render_config(moniker="x", signer=settings)))
    assert cfg.signer == settings
    rotating = dataclasses.replace(
        settings, next_address=HostPort("10.0.0.6", 26670), next_signer_id="cd" * 32
    )
    cfg = load_config(_write(tmp_path / "r", render_config(moniker="x", signer=rotating)))
    assert cfg.signer == rotating


REMOTE = f'moniker = "x"\n[signer]\nkind = "remote"\naddress = "h:1"\nsigner_id = "{NODE_ID}"\n'


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ('next_address = "h:2"\n', "signer.next_address", "set both"),
        (f'next_signer_id = "{NODE_ID}"\n', "signer.next_address", "set both"),
        (
            f'next_address = "h:2"\nnext_signer_id = "{NODE_ID}"\n',
            "signer.next_signer_id",
            "differ",
        ),
        (
            'next_address = "nope"\nnext_signer_id = "' + "cd" * 32 + '"\n',
            "signer.next_address",
            "HOST:PORT",
        ),
    ],
)
def test_a_remote_rotation_names_both_and_another_signer(
    tmp_path: Path, extra: str, field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path / "h", REMOTE + extra))
    assert field in str(caught.value)
    assert problem in str(caught.value)


def test_a_signer_home_renders_and_loads_back(tmp_path: Path) -> None:
    home = tmp_path / "s"
    home.mkdir()
    (home / SIGNER_CONFIG_FILE).write_text(
        render_signer_config('chain "quoted"', "127.0.0.1:26670", [NODE_ID])
    )
    cfg = load_signer_config(home)
    assert (cfg.chain_id, cfg.listen, cfg.allowed_node_ids) == (
        'chain "quoted"',
        HostPort("127.0.0.1", 26670),
        frozenset({NODE_ID}),
    )
    assert cfg.signer == SignerSettings()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('listen = "127.0.0.1:1"\n', "chain_id"),
        ('chain_id = "c"\nlisten = "nope"\n', "listen"),
        ('chain_id = "c"\nallowed = ["ab"]\n', "allowed[0]"),
        ('chain_id = "c"\nallowed = "x"\n', "allowed"),
        (
            'chain_id = "c"\n[signer]\nkind = "remote"\naddress = "h:1"\n'
            f'signer_id = "{NODE_ID}"\n',
            "signer.kind",
        ),
    ],
)
def test_signer_home_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    home = tmp_path / "s"
    home.mkdir()
    (home / SIGNER_CONFIG_FILE).write_text(text)
    with pytest.raises(ConfigError, match=f"signer.toml: {re.escape(field)}: "):
        load_signer_config(home)

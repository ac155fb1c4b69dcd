"""genesis.json validation names the offending field; state and app hash follow from it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ledger_world import genesis_doc, key

from node.errors import ConfigError
from node.genesis import genesis_to_json, load_genesis, parse_genesis
from node.ledger import (
    genesis_app_hash,
    genesis_state,
    get_account,
    get_asset,
    get_balances,
    get_role_account,
    get_validators,
)
from proto import ledger_pb2 as pb


def with_balances(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["accounts"][1]["balances"] = {"KZT": "1000"}
    doc["accounts"][2]["balances"] = {"KZT": 500}
    return doc


def test_round_trip_through_json(tmp_path: Path) -> None:
    genesis = parse_genesis(with_balances(genesis_doc()))
    doc = genesis_to_json(genesis)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(doc))
    again = load_genesis(path)
    assert again == genesis
    assert genesis_to_json(again) == doc
    assert again.params.max_tx_ttl == 20
    assert again.params.empty_block_interval_ms == 5000  # default filled in


def test_genesis_state_and_hash() -> None:
    genesis = parse_genesis(with_balances(genesis_doc()))
    state = dict(genesis_state(genesis))
    assert get_asset(state, "KZT").issued == 1500  # type: ignore[union-attr]
    assert get_balances(state, "halyk") == {"KZT": 1000}
    assert get_account(state, "reserve").threshold == 2  # type: ignore[union-attr]
    assert get_role_account(state, pb.STATE_RESERVE) is None  # several reserves may exist
    assert get_role_account(state, pb.CENTRAL_BANK) == "nbk"
    assert [v.power for v in get_validators(state)] == [10]
    h = genesis_app_hash(genesis)
    assert len(h) == 32
    assert genesis_app_hash(parse_genesis(with_balances(genesis_doc()))) == h
    other = with_balances(genesis_doc())
    other["chain_id"] = "tenge-test-2"
    assert genesis_app_hash(parse_genesis(other)) != h


def _set(doc: dict[str, Any], path: list[Any], value: Any) -> None:
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["chain_id"], "", "chain_id: 1 to 64"),
        (["chain_id"], _DELETE, "chain_id: is required"),
        (["genesis_time_ms"], "soon", "genesis_time_ms: must be an integer"),
        (["colour"], "blue", "colour: unknown field"),
        (["params", "max_tx_ttl"], 0, "params.max_tx_ttl: 0 is outside"),
        (["params", "max_tx_bytes"], 100, "params.max_tx_bytes: must be at least 256"),
        (["params", "speed"], 1, "params.speed: unknown field"),
        (["validators"], [], "validators: at least one validator"),
        (["validators", 0, "public_key"], "zz", "validators[0].public_key: not 32 bytes of hex"),
        (["validators", 0, "power"], 0, "validators[0].power: 0 is outside"),
        (
            ["accounts", 3, "public_keys", 0],
            "abcd",
            "accounts[3].public_keys[0]: not 32 bytes of hex",
        ),
        (["accounts", 3, "public_keys"], [], "accounts[3].public_keys: 1 to 16 keys"),
        (["accounts", 1, "account_id"], "Halyk", "accounts[1].account_id: 3 to 64"),
        (["accounts", 2, "account_id"], "halyk", "accounts[2].account_id: 'halyk' is listed twice"),
        (["accounts", 2, "role"], "BANK", "accounts[2].role: 'BANK' is not a role"),
        (["accounts", 2, "zone"], "MARS", "accounts[2].zone: 'MARS' is not a zone"),
        (["accounts", 1, "role"], "CENTRAL_BANK", "accounts[1].role: a second CENTRAL_BANK"),
        (["accounts", 0, "role"], "COMMERCIAL_BANK", "accounts: exactly one CENTRAL_BANK"),
        (["accounts", 4, "threshold"], 4, "accounts[4].threshold: 4 is outside 1..3"),
        (["accounts", 1, "licensed"], "yes", "accounts[1].licensed: no longer accepted"),
        (["accounts", 1, "balances"], {"GOLD": 1}, "accounts[1].balances.GOLD: no asset 'GOLD'"),
        (["accounts", 1, "balances"], {"KZT": -1}, "accounts[1].balances.KZT: -1 is outside"),
        (
            ["accounts", 1, "balances"],
            {"KZT": str(2**128)},
            "accounts[1].balances.KZT: '340282366920938463463374607431768211456' is more than "
            "2^128 - 1",
        ),
        (["accounts", 1, "balances"], {"KZT": 2**128}, "accounts[1].balances.KZT: 3402"),
        (
            ["accounts", 1, "balances"],
            {"KZT": "0100"},
            "accounts[1].balances.KZT: '0100' is not canonical",
        ),
        (
            ["accounts", 1, "balances"],
            {"KZT": "1e5"},
            "accounts[1].balances.KZT: '1e5' is not a decimal amount",
        ),
        (["accounts", 1, "balances"], {"KZT": True}, "accounts[1].balances.KZT: must be an amount"),
        (["assets"], [], "assets: the KZT asset is required"),
        (["assets", 0, "issuer"], "halyk", "assets[0].issuer: KZT is issued by the CENTRAL_BANK"),
        (["assets", 0, "issuer"], "ghost", "assets[0].issuer: no account 'ghost'"),
        (["assets", 0, "kind"], "STABLECOIN", "assets[0].kind: KZT is the CBDC"),
        (
            ["assets", 0, "payment_zones"],
            ["NATIONAL"],
            "assets[0].payment_zones: KZT pays everywhere",
        ),
        (["assets", 0, "code"], "kzt", "assets[0].code: an upper-case letter"),
        (["assets", 0, "decimals"], _DELETE, "assets[0].decimals: is required"),
        (["limits", 0, "per_payment"], "1e5", "limits[0].per_payment: must be an integer"),
        (["limits", 1, "kyc_tier"], 1, "limits[1].kyc_tier: tier 1 is listed twice"),
    ],
)
def test_errors_name_the_field(path: list[Any], value: Any, message: str) -> None:
    doc = genesis_doc()
    _set(doc, path, value)
    with pytest.raises(ConfigError) as info:
        parse_genesis(doc)
    assert str(info.value).startswith("genesis.json: ")
    assert message in str(info.value)


def test_customer_tier_needs_limits_and_cap() -> None:
    doc = genesis_doc()
    doc["accounts"].append(
        {
            "account_id": "ali.halyk",
            "role": "CUSTOMER",
            "zone": "NATIONAL",
            "kyc_tier": 7,
            "public_keys": [key("ali").public_key.hex()],
        }
    )
    with pytest.raises(ConfigError, match=r"accounts\[6\]\.kyc_tier: no limits are set for tier 7"):
        parse_genesis(doc)
    doc["accounts"][6]["kyc_tier"] = 1
    doc["accounts"][6]["balances"] = {"KZT": str(10**12)}
    with pytest.raises(ConfigError, match=r"accounts\[6\]\.balances: above the tier 1 holding cap"):
        parse_genesis(doc)


def test_a_non_zone_account_may_not_start_with_a_cryptocity_asset() -> None:
    doc = genesis_doc()
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 6,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["accounts"].append(
        {
            "account_id": "ali.halyk",
            "role": "CUSTOMER",
            "zone": "NATIONAL",
            "kyc_tier": 1,
            "public_keys": [key("ali").public_key.hex()],
            "balances": {"USDT": "5"},
        }
    )
    with pytest.raises(
        ConfigError, match=r"accounts\[6\]\.balances\.USDT: 'ali.halyk' may not hold USDT"
    ):
        parse_genesis(doc)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_genesis(tmp_path / "missing.json")
    bad = tmp_path / "genesis.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"genesis\.json: not valid JSON"):
        load_genesis(bad)
    bad.write_text("[]")
    with pytest.raises(ConfigError, match=r"genesis\.json: must be an object"):
        load_genesis(bad)
    # An amount written as a JSON number too long for any integer (not a traceback).
    bad.write_text('{"accounts": [{"balances": {"KZT": ' + "9" * 5000 + "}}]}")
    with pytest.raises(ConfigError, match=r"genesis\.json: not valid JSON \(Exceeds the limit"):
        load_genesis(bad)


def test_the_documented_example_is_valid() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "genesis.md").read_text()
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    genesis = parse_genesis(json.loads(example))
    assert genesis.chain_id == "tenge-testnet-1"
    assert genesis_to_json(genesis) == json.loads(example)


def usdt18(doc: dict[str, Any]) -> dict[str, Any]:
    """doc with an 18-decimal USDT issued by kaspi, holding 10^21 (1,000 whole units) and
    halyk the largest amount there is."""
    doc = copy.deepcopy(doc)
    doc["assets"].append(
        {
            "code": "USDT",
            "decimals": 18,
            "issuer": "kaspi",
            "kind": "STABLECOIN",
            "payment_zones": ["CRYPTOCITY"],
        }
    )
    doc["accounts"][2]["balances"] = {"USDT": str(10**21)}
    return doc


def test_genesis_balances_above_2_64_round_trip_and_become_16_byte_state(tmp_path: Path) -> None:
    doc = usdt18(genesis_doc())
    genesis = parse_genesis(doc)
    state = dict(genesis_state(genesis))
    assert get_balances(state, "kaspi") == {"USDT": 10**21}
    assert len(state[b"bal/kaspi/USDT"]) == 16
    usdt = get_asset(state, "USDT")
    assert usdt is not None
    assert (usdt.issued, usdt.issued_high) == (10**21 % 2**64, 10**21 >> 64)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis_to_json(genesis)))
    assert load_genesis(path) == genesis
    assert genesis_to_json(genesis)["accounts"][2]["balances"] == {"USDT": str(10**21)}

    doc["accounts"][1]["balances"] = {"USDT": str(2**128 - 1 - 10**21)}
    assert get_balances(dict(genesis_state(parse_genesis(doc))), "halyk") == {
        "USDT": 2**128 - 1 - 10**21
    }
    doc["accounts"][1]["balances"] = {"USDT": str(2**128 - 10**21)}
    with pytest.raises(ConfigError, match=r"accounts\[2\]\.balances\.USDT: the USDT balances sum"):
        parse_genesis(doc)


def test_every_asset_must_state_its_decimals() -> None:
    doc = usdt18(genesis_doc())
    doc["assets"].append(
        {"code": "GOLD", "issuer": "kaspi", "kind": "CRYPTO", "payment_zones": ["CRYPTOCITY"]}
    )
    with pytest.raises(ConfigError, match=r"genesis\.json: assets\[2\]\.decimals: is required"):
        parse_genesis(doc)

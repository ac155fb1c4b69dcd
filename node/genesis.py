"""genesis.json: loading, validation and the inverse (see docs/genesis.md).

Every error is a `ConfigError` whose message names the file and the field path, e.g.
``genesis.json: accounts[3].public_keys[0]: not 32 bytes of hex``. Unknown keys are
errors too, so a misspelt field never passes silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from consensus._validators import MAX_TOTAL_POWER, validator_set_error
from node.errors import ConfigError
from node.ledger import (
    AMOUNT_MAX,
    BACKINGS,
    KZT,
    U64_MAX,
    Rules,
    amount_of,
    default_rulebook,
    parse_amount_text,
    rulebook_error,
    set_amount,
    valid_account_id,
    valid_asset_code,
)
from node.ledger._persons import account_cap
from node.ledger._reserves import key_set_refusal
from node.ledger._rules import MAX_DECIMALS, MAX_KEYS, MAX_LEGS, MAX_MONIKER, MAX_TEXT
from proto import genesis_pb2, ledger_pb2

U32_MAX: Final = 2**32 - 1
CHAIN_ID_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: Consensus parameters and their defaults.
DEFAULT_PARAMS: Final = {
    "timeout_propose_ms": 3000,
    "timeout_prevote_ms": 1000,
    "timeout_precommit_ms": 1000,
    "timeout_delta_ms": 500,
    "timeout_max_ms": 30000,
    "empty_block_interval_ms": 5000,
    "max_block_txs": 10000,
    "max_block_bytes": 8 * 1024 * 1024,
    "max_tx_bytes": 16384,
    "max_tx_ttl": 600,
    "evidence_max_age_blocks": 100_000,
    "block_interval_ms": 0,  # 0 keeps the hash of a genesis written before the param
}
_ZERO_ALLOWED_PARAMS: Final = {"block_interval_ms"}

_TOP_KEYS: Final = {
    "chain_id",
    "genesis_time_ms",
    "params",
    "validators",
    "accounts",
    "assets",
    "limits",
    "rulebook",
    "accounts_file",
}
_ACCOUNTS_FILE_KEYS: Final = {"path", "sha256", "accounts"}
#: An accounts file is named like this and lies beside genesis.json (no directories).
ACCOUNTS_FILE_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
#: The longest line of an accounts file: an entry with MAX_KEYS keys and a few balances
#: is far shorter; a longer line is refused before it is decoded.
MAX_ACCOUNTS_FILE_LINE: Final = 16 * 1024
#: How many accounts one accounts file may hold.
MAX_FILE_ACCOUNTS: Final = 100_000_000
_ACCOUNT_KEYS: Final = {
    "account_id",
    "role",
    "zone",
    "kyc_tier",
    "public_keys",
    "threshold",
    "licensed",  # refused: see _parse_licence
    "licence",
    "person_ref",
    "balances",
}
_LICENCE_KEYS: Final = {"assets", "purposes", "expires_at_height", "reference"}
_ASSET_KEYS: Final = {
    "code",
    "decimals",
    "issuer",
    "kind",
    "payment_zones",
    "backed_by",
    "reserve_account",
}
_LIMIT_KEYS: Final = {"kyc_tier", "per_payment", "daily_outflow", "holding_cap"}
_VALIDATOR_KEYS: Final = {"public_key", "power", "moniker"}
_RULEBOOK_KEYS: Final = {
    "kinds",
    "central_bank_payees",
    "purpose_rules",
    "rates",
    "travel_rule_threshold",
    "travel_rule_enforced",
    "governance_quorum",
    "max_accounts_per_person",
    "reserve_payees",
    "inflow_rules",
    "min_reserve_threshold",
}
_KIND_RULE_KEYS: Final = {"kind", "payment_zones", "holder_roles", "zone_roles", "licensed_roles"}
_PURPOSE_RULE_KEYS: Final = {"id", "kind", "payee_roles", "purpose"}
_INFLOW_RULE_KEYS: Final = {"purpose", "payer_roles", "kind"}
_LIMITED_ROLES: Final = {ledger_pb2.CUSTOMER, ledger_pb2.MERCHANT}
_ONE_OF_A_KIND: Final = {ledger_pb2.CENTRAL_BANK, ledger_pb2.TREASURY}


class _Err(Exception):
    """A validation failure at a field path (turned into ConfigError at the boundary)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


def load_genesis(path: Path) -> genesis_pb2.Genesis:
    """Read and validate a genesis.json file.

    Raises:
        ConfigError: the file is missing, not JSON, or a field is invalid; the message
            names the file and the field path.
    """
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{name}: not valid JSON ({e.msg} at line {e.lineno})") from e
    except (ValueError, RecursionError) as e:  # a number of 4300+ digits, deep nesting
        raise ConfigError(f"{name}: not valid JSON ({str(e)[:80] or 'nested too deeply'})") from e
    return parse_genesis(doc, source=name)


def parse_genesis(doc: Any, *, source: str = "genesis.json") -> genesis_pb2.Genesis:
    """Validate a decoded genesis document and build the Genesis message.

    Raises:
        ConfigError: a field is invalid; the message starts with source and the field path.
    """
    try:
        return _parse(doc)
    except _Err as e:
        raise ConfigError(f"{source}: {e}") from None


def genesis_to_json(genesis: genesis_pb2.Genesis) -> dict[str, Any]:
    """The genesis.json document of genesis (the inverse of parse_genesis).

    Amounts are decimal strings of minor units; keys are hex.
    """
    params = {name: getattr(genesis.params, name) for name in DEFAULT_PARAMS}
    accounts = []
    for entry in genesis.accounts:
        a = entry.account
        accounts.append(
            {
                "account_id": a.account_id,
                "role": ledger_pb2.Role.Name(a.role),
                "zone": ledger_pb2.Zone.Name(a.zone),
                "kyc_tier": a.kyc_tier,
                "public_keys": [key.hex() for key in a.public_keys],
                "threshold": max(1, a.threshold),
                "balances": {b.asset: str(amount_of(b)) for b in entry.balances},
            }
        )
        if a.person_ref:
            accounts[-1]["person_ref"] = a.person_ref.hex()
        if entry.HasField("licence"):
            accounts[-1]["licence"] = {
                "assets": list(entry.licence.assets),
                "purposes": [ledger_pb2.Purpose.Name(p) for p in entry.licence.purposes],
                "expires_at_height": entry.licence.expires_at_height,
                "reference": entry.licence.reference,
            }
    return {
        "chain_id": genesis.chain_id,
        "genesis_time_ms": genesis.genesis_time_ms,
        "params": params,
        "validators": [
            {"public_key": v.public_key.hex(), "power": v.power, "moniker": v.moniker}
            for v in genesis.validators
        ],
        "assets": [_asset_doc(s) for s in genesis.assets],
        "limits": [
            {
                "kyc_tier": t.kyc_tier,
                "per_payment": str(t.per_payment),
                "daily_outflow": str(t.daily_outflow),
                "holding_cap": str(t.holding_cap),
            }
            for t in genesis.rulebook.tier_limits
        ],
        "rulebook": rulebook_to_doc(genesis.rulebook),
        "accounts": accounts,
    } | (
        {
            "accounts_file": {
                "path": genesis.accounts_file.path,
                "sha256": genesis.accounts_file.sha256.hex(),
                "accounts": genesis.accounts_file.accounts,
            }
        }
        if genesis.HasField("accounts_file")
        else {}
    )


def _asset_doc(asset: ledger_pb2.Asset) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "code": asset.code,
        "decimals": asset.decimals,
        "issuer": asset.issuer,
        "kind": ledger_pb2.AssetKind.Name(asset.kind),
        "payment_zones": [ledger_pb2.Zone.Name(z) for z in asset.payment_zones],
    }
    if asset.backed_by:
        doc |= {"backed_by": asset.backed_by, "reserve_account": asset.reserve_account}
    return doc


def rulebook_to_doc(book: ledger_pb2.Rulebook) -> dict[str, Any]:
    """A rulebook as genesis.json and the API write it (tier limits are `limits`)."""
    role = ledger_pb2.Role.Name
    return {
        "kinds": [
            {
                "kind": ledger_pb2.AssetKind.Name(r.kind),
                "payment_zones": [ledger_pb2.Zone.Name(z) for z in r.payment_zones],
                "holder_roles": [role(x) for x in r.holder_roles],
                "zone_roles": [role(x) for x in r.zone_roles],
                "licensed_roles": [role(x) for x in r.licensed_roles],
            }
            for r in book.kinds
        ],
        "central_bank_payees": [role(x) for x in book.central_bank_payees],
        "purpose_rules": [
            {
                "id": r.id,
                "kind": ledger_pb2.AssetKind.Name(r.kind),
                "payee_roles": [role(x) for x in r.payee_roles],
                "purpose": ledger_pb2.Purpose.Name(r.purpose),
            }
            for r in book.purpose_rules
        ],
        "rates": {r.asset: str(r.tiyn_per_unit) for r in book.rates},
        "travel_rule_threshold": str(book.travel_rule_threshold),
        "travel_rule_enforced": book.travel_rule_enforced,
        "governance_quorum": [role(x) for x in book.governance_quorum],
        "max_accounts_per_person": book.max_accounts_per_person,
        "reserve_payees": [role(x) for x in book.reserve_payees],
        "inflow_rules": [
            {
                "purpose": ledger_pb2.Purpose.Name(r.purpose),
                "payer_roles": [role(x) for x in r.payer_roles],
                "kind": ledger_pb2.InflowKind.Name(r.kind),
            }
            for r in book.inflow_rules
        ],
        "min_reserve_threshold": book.min_reserve_threshold,
    }


# ---------------------------------------------------------------- field readers


def _obj(value: Any, path: str, keys: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Err(path, "must be an object")
    for key in value:
        if key not in keys:
            raise _Err(_join(path, key), "unknown field")
    for key in sorted(required):
        if key not in value:
            raise _Err(_join(path, key), "is required")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Err(path, "must be a list")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Err(path, "must be a string")
    return value


def _int(value: Any, path: str, low: int, high: int) -> int:
    """An integer, given as a JSON number or a decimal string (amounts), in [low, high]."""
    if isinstance(value, bool):
        raise _Err(path, "must be an integer")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int):
        raise _Err(path, "must be an integer (a number or a string of decimal digits)")
    if not low <= value <= high:
        raise _Err(path, f"{value} is outside {low}..{high}")
    return value


def _amount(value: Any, path: str) -> int:
    """An amount of minor units, 0 to 2^128 - 1: a canonical decimal string or a JSON number."""
    if isinstance(value, bool):
        raise _Err(path, "must be an amount (a string of decimal digits)")
    if isinstance(value, int):
        if not 0 <= value <= AMOUNT_MAX:
            raise _Err(path, f"{value} is outside 0..2^128 - 1")
        return value
    if not isinstance(value, str):
        raise _Err(path, "must be an amount (a string of decimal digits)")
    try:
        return parse_amount_text(value)
    except ValueError as e:
        raise _Err(path, str(e)) from None


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Err(path, "must be true or false")
    return value


def _key(value: Any, path: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise _Err(path, "not 32 bytes of hex")
    return raw


def _enum(value: Any, path: str, enum: Any, what: str) -> int:
    numbers = _enum_numbers(enum)
    number = numbers.get(value) if isinstance(value, str) else None
    if number is None:
        raise _Err(path, f"{value!r} is not a {what} (one of {', '.join(numbers)})")
    return number


@functools.cache
def _enum_numbers(enum: Any) -> dict[str, int]:
    """An enum's names (without the UNSPECIFIED one) and numbers, in declaration order."""
    return {n: v for n, v in enum.items() if not n.endswith("UNSPECIFIED")}


# ---------------------------------------------------------------- the document


def _parse(doc: Any) -> genesis_pb2.Genesis:
    doc = _obj(
        doc, "", _TOP_KEYS, {"chain_id", "genesis_time_ms", "validators", "accounts", "assets"}
    )
    g = genesis_pb2.Genesis()
    g.chain_id = _str(doc["chain_id"], "chain_id")
    if not CHAIN_ID_RE.fullmatch(g.chain_id):
        raise _Err("chain_id", "1 to 64 of A-Z, a-z, 0-9, '.', '_', '-'")
    g.genesis_time_ms = _int(doc["genesis_time_ms"], "genesis_time_ms", 0, 2**62)
    _parse_params(g, doc.get("params", {}))
    _parse_validators(g, doc["validators"])
    _parse_limits(g, doc.get("limits", []))
    _parse_rulebook(g, doc.get("rulebook", {}))
    balances = _parse_accounts(g, doc["accounts"])
    _parse_assets(g, doc["assets"])
    _check_licences(g)
    _check_rates(g)
    _check_balances(g, balances)
    if "accounts_file" in doc:
        _parse_accounts_file(g, doc["accounts_file"])
    return g


def _parse_accounts_file(g: genesis_pb2.Genesis, value: Any) -> None:
    a = _obj(value, "accounts_file", _ACCOUNTS_FILE_KEYS, _ACCOUNTS_FILE_KEYS)
    name = _str(a["path"], "accounts_file.path")
    if not ACCOUNTS_FILE_NAME_RE.fullmatch(name):
        raise _Err(
            "accounts_file.path",
            "the name of a file beside genesis.json: 1 to 128 of A-Z, a-z, 0-9, '.', '_', '-', "
            "not starting with '.'",
        )
    digest = _key(a["sha256"], "accounts_file.sha256")  # 32 bytes of hex, like a key
    count = _int(a["accounts"], "accounts_file.accounts", 1, MAX_FILE_ACCOUNTS)
    g.accounts_file.path = name
    g.accounts_file.sha256 = digest
    g.accounts_file.accounts = count


def accounts_file_path(genesis: genesis_pb2.Genesis, genesis_dir: Path) -> Path | None:
    """Where the accounts file of genesis lies (beside genesis.json), or None without one."""
    if not genesis.HasField("accounts_file"):
        return None
    return genesis_dir / genesis.accounts_file.path


def read_accounts_file(
    genesis: genesis_pb2.Genesis, genesis_dir: Path
) -> Iterator[genesis_pb2.GenesisAccount]:
    """Stream and validate the accounts of genesis's accounts file, one entry at a time.

    Each line is one JSON account entry as in genesis.json's ``accounts`` (docs/genesis.md),
    of a CUSTOMER or MERCHANT with neither a person reference nor a licence; the lines are
    sorted by account id (byte order, each id once) and name no account of genesis.json.
    Memory stays bounded whatever the file's size; the file's digest and count are checked
    against genesis once it has been read to the end, so a consumer must treat what it
    received as provisional until the iterator is exhausted.

    Raises:
        ConfigError: (while iterating) the file is missing or unreadable, a line is not
            valid, or the digest or the count differ from genesis; the message names the
            file and the line.
    """
    path = accounts_file_path(genesis, genesis_dir)
    if path is None:
        return
    name = path.name
    taken = {e.account.account_id for e in genesis.accounts}
    taken.update(s.reserve_account for s in genesis.assets if s.reserve_account)
    tiers = {t.kyc_tier for t in genesis.rulebook.tier_limits}
    assets = {s.code: s for s in genesis.assets}
    rules = Rules.of(genesis.rulebook)
    totals: dict[str, int] = {}
    for entry in genesis.accounts:
        for bal in entry.balances:
            totals[bal.asset] = totals.get(bal.asset, 0) + amount_of(bal)
    digest = hashlib.sha256()
    count = 0
    previous = ""
    try:
        with path.open("rb") as file:
            while True:
                line = file.readline(MAX_ACCOUNTS_FILE_LINE + 1)
                if not line:
                    break
                count += 1
                digest.update(line)
                where = f"line {count}"
                if len(line) > MAX_ACCOUNTS_FILE_LINE:
                    raise _Err(where, f"longer than {MAX_ACCOUNTS_FILE_LINE} bytes")
                if count > genesis.accounts_file.accounts:
                    raise _Err(
                        where,
                        f"more lines than accounts_file.accounts says "
                        f"({genesis.accounts_file.accounts})",
                    )
                try:
                    item = json.loads(line)
                except (ValueError, RecursionError) as e:  # bad JSON or UTF-8, deep nesting
                    raise _Err(where, f"not a JSON account entry ({str(e)[:80]})") from None
                entry, balances = _parse_account(
                    genesis, genesis_pb2.GenesisAccount(), item, where, tiers
                )
                account = entry.account
                if account.role not in _LIMITED_ROLES:
                    raise _Err(
                        f"{where}.role",
                        "the accounts file holds CUSTOMER and MERCHANT accounts; list the "
                        "others in genesis.json",
                    )
                if account.person_ref or entry.HasField("licence"):
                    raise _Err(
                        where,
                        "an account with a person_ref or a licence belongs in genesis.json",
                    )
                if account.account_id <= previous:
                    raise _Err(
                        f"{where}.account_id",
                        f"{account.account_id!r} is not after {previous!r}: the file is "
                        "sorted by account id, each id once",
                    )
                if account.account_id in taken:
                    raise _Err(f"{where}.account_id", f"{account.account_id!r} is in genesis.json")
                previous = account.account_id
                _entry_balances(entry, where, balances, assets, rules, totals)
                yield entry
    except _Err as e:
        raise ConfigError(f"{name}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    if count != genesis.accounts_file.accounts:
        raise ConfigError(
            f"{name}: {count} accounts, genesis.json's accounts_file.accounts says "
            f"{genesis.accounts_file.accounts}"
        )
    if digest.digest() != genesis.accounts_file.sha256:
        raise ConfigError(
            f"{name}: its sha256 is {digest.hexdigest()}, genesis.json's accounts_file.sha256 "
            f"says {genesis.accounts_file.sha256.hex()}: not the file this genesis was made with"
        )


def _parse_params(g: genesis_pb2.Genesis, value: Any) -> None:
    params = _obj(value, "params", set(DEFAULT_PARAMS), set())
    for name, default in DEFAULT_PARAMS.items():
        low = 0 if name in _ZERO_ALLOWED_PARAMS else 1
        setattr(g.params, name, _int(params.get(name, default), f"params.{name}", low, U32_MAX))
    p = g.params
    if p.max_tx_bytes < 256:
        raise _Err("params.max_tx_bytes", "must be at least 256")
    if p.max_tx_bytes > p.max_block_bytes:
        raise _Err("params.max_tx_bytes", "must not exceed params.max_block_bytes")
    if p.timeout_max_ms < max(p.timeout_propose_ms, p.timeout_prevote_ms, p.timeout_precommit_ms):
        raise _Err("params.timeout_max_ms", "must be at least every base timeout")


def _parse_validators(g: genesis_pb2.Genesis, value: Any) -> None:
    items = _list(value, "validators")
    if not items:
        raise _Err("validators", "at least one validator is required")
    seen: set[bytes] = set()
    total = 0
    for i, item in enumerate(items):
        path = f"validators[{i}]"
        v = _obj(item, path, _VALIDATOR_KEYS, {"public_key", "power"})
        key = _key(v["public_key"], f"{path}.public_key")
        if key in seen:
            raise _Err(f"{path}.public_key", "listed twice")
        seen.add(key)
        power = _int(v["power"], f"{path}.power", 1, MAX_TOTAL_POWER)
        total += power
        if total > MAX_TOTAL_POWER:
            raise _Err(f"{path}.power", f"total power above {MAX_TOTAL_POWER}")
        moniker = _str(v.get("moniker", ""), f"{path}.moniker")
        if len(moniker) > MAX_MONIKER:
            raise _Err(f"{path}.moniker", f"longer than {MAX_MONIKER} characters")
        g.validators.add(public_key=key, power=power, moniker=moniker)
    # The same limits as the ledger's UpdateValidator and consensus.ValidatorSet.
    error = validator_set_error({v.public_key: v.power for v in g.validators})
    if error is not None:
        raise _Err("validators", error)


def _parse_limits(g: genesis_pb2.Genesis, value: Any) -> None:
    tiers: set[int] = set()
    for i, item in enumerate(_list(value, "limits")):
        path = f"limits[{i}]"
        t = _obj(item, path, _LIMIT_KEYS, {"kyc_tier"})
        tier = _int(t["kyc_tier"], f"{path}.kyc_tier", 0, U32_MAX)
        if tier in tiers:
            raise _Err(f"{path}.kyc_tier", f"tier {tier} is listed twice")
        tiers.add(tier)
        g.rulebook.tier_limits.add(
            kyc_tier=tier,
            per_payment=_int(t.get("per_payment", 0), f"{path}.per_payment", 0, U64_MAX),
            daily_outflow=_int(t.get("daily_outflow", 0), f"{path}.daily_outflow", 0, U64_MAX),
            holding_cap=_int(t.get("holding_cap", 0), f"{path}.holding_cap", 0, U64_MAX),
        )


def _roles(value: Any, path: str) -> list[int]:
    return [
        _enum(r, f"{path}[{j}]", ledger_pb2.Role, "role") for j, r in enumerate(_list(value, path))
    ]


def _parse_rulebook(g: genesis_pb2.Genesis, value: Any) -> None:
    """The first rulebook: the default one (node/ledger/_rulebook.py), with what the
    document's ``rulebook`` object sets instead; its tier limits are ``limits``."""
    doc = _obj(value, "rulebook", _RULEBOOK_KEYS, set())
    book = default_rulebook(g.rulebook.tier_limits)
    if "kinds" in doc:
        del book.kinds[:]
        for i, item in enumerate(_list(doc["kinds"], "rulebook.kinds")):
            path = f"rulebook.kinds[{i}]"
            r = _obj(item, path, _KIND_RULE_KEYS, {"kind", "payment_zones"})
            book.kinds.add(
                kind=_enum(r["kind"], f"{path}.kind", ledger_pb2.AssetKind, "asset kind"),
                payment_zones=[
                    _enum(z, f"{path}.payment_zones[{j}]", ledger_pb2.Zone, "zone")
                    for j, z in enumerate(_list(r["payment_zones"], f"{path}.payment_zones"))
                ],
                holder_roles=_roles(r.get("holder_roles", []), f"{path}.holder_roles"),
                zone_roles=_roles(r.get("zone_roles", []), f"{path}.zone_roles"),
                licensed_roles=_roles(r.get("licensed_roles", []), f"{path}.licensed_roles"),
            )
    if "central_bank_payees" in doc:
        del book.central_bank_payees[:]
        payees = _roles(doc["central_bank_payees"], "rulebook.central_bank_payees")
        book.central_bank_payees.extend(payees)  # type: ignore[arg-type]
    if "governance_quorum" in doc:
        quorum = _roles(doc["governance_quorum"], "rulebook.governance_quorum")
        del book.governance_quorum[:]
        book.governance_quorum.extend(quorum)  # type: ignore[arg-type]
    if "purpose_rules" in doc:
        del book.purpose_rules[:]
        for i, item in enumerate(_list(doc["purpose_rules"], "rulebook.purpose_rules")):
            path = f"rulebook.purpose_rules[{i}]"
            r = _obj(item, path, _PURPOSE_RULE_KEYS, {"id", "kind", "payee_roles", "purpose"})
            book.purpose_rules.add(
                id=_str(r["id"], f"{path}.id"),
                kind=_enum(r["kind"], f"{path}.kind", ledger_pb2.AssetKind, "asset kind"),
                payee_roles=_roles(r["payee_roles"], f"{path}.payee_roles"),
                purpose=_enum(r["purpose"], f"{path}.purpose", ledger_pb2.Purpose, "purpose"),
            )
    _parse_reserve_rules(book, doc)
    rates = doc.get("rates", {})
    if not isinstance(rates, dict):
        raise _Err("rulebook.rates", "must be an object of asset code to tiyn per whole unit")
    for code, rate in sorted(rates.items()):
        book.rates.add(asset=code, tiyn_per_unit=_int(rate, f"rulebook.rates.{code}", 1, U64_MAX))
    if "travel_rule_threshold" in doc:
        book.travel_rule_threshold = _int(
            doc["travel_rule_threshold"], "rulebook.travel_rule_threshold", 0, U64_MAX
        )
    if "travel_rule_enforced" in doc:
        book.travel_rule_enforced = _bool(
            doc["travel_rule_enforced"], "rulebook.travel_rule_enforced"
        )
    if "max_accounts_per_person" in doc:
        book.max_accounts_per_person = _int(
            doc["max_accounts_per_person"], "rulebook.max_accounts_per_person", 0, U32_MAX
        )
    error = rulebook_error(book)
    if error is not None:
        raise _Err("rulebook", error)
    g.rulebook.CopyFrom(book)


def _parse_reserve_rules(book: ledger_pb2.Rulebook, doc: dict[str, Any]) -> None:
    """The state-fund rules (docs/rulebook.md, "State funds"): whom a reserve pays, who pays
    it and as which inflow, and the least m of its m-of-n keys."""
    if "reserve_payees" in doc:
        payees = _roles(doc["reserve_payees"], "rulebook.reserve_payees")
        del book.reserve_payees[:]
        book.reserve_payees.extend(payees)  # type: ignore[arg-type]
    if "inflow_rules" in doc:
        del book.inflow_rules[:]
        for i, item in enumerate(_list(doc["inflow_rules"], "rulebook.inflow_rules")):
            path = f"rulebook.inflow_rules[{i}]"
            r = _obj(item, path, _INFLOW_RULE_KEYS, _INFLOW_RULE_KEYS)
            book.inflow_rules.add(
                purpose=ledger_pb2.Purpose.Value(r["purpose"])
                if r["purpose"] == "PURPOSE_UNSPECIFIED"
                else _enum(r["purpose"], f"{path}.purpose", ledger_pb2.Purpose, "purpose"),
                payer_roles=_roles(r["payer_roles"], f"{path}.payer_roles"),
                kind=_enum(r["kind"], f"{path}.kind", ledger_pb2.InflowKind, "inflow kind"),
            )
    if "min_reserve_threshold" in doc:
        book.min_reserve_threshold = _int(
            doc["min_reserve_threshold"], "rulebook.min_reserve_threshold", 2, MAX_KEYS
        )


def _check_rates(g: genesis_pb2.Genesis) -> None:
    codes = {s.code for s in g.assets}
    for rate in g.rulebook.rates:
        if rate.asset not in codes:
            raise _Err(f"rulebook.rates.{rate.asset}", f"no asset {rate.asset!r} in assets")
    rules = Rules.of(g.rulebook)
    for i, asset in enumerate(g.assets):
        rule = rules.kinds.get(asset.kind)
        if rule is None:
            raise _Err(f"assets[{i}].kind", "the rulebook has no rule for this asset kind")
        banned = [z for z in asset.payment_zones if z not in rule.payment_zones]
        if banned:
            raise _Err(
                f"assets[{i}].payment_zones",
                f"the rulebook bans paying {ledger_pb2.AssetKind.Name(asset.kind)} in "
                + ", ".join(ledger_pb2.Zone.Name(z) for z in banned),
            )


def _parse_accounts(g: genesis_pb2.Genesis, value: Any) -> list[tuple[str, dict[str, Any]]]:
    """Parse accounts; returns (path, balances object) per account for a later check."""
    tiers = {t.kyc_tier for t in g.rulebook.tier_limits}
    ids: set[str] = set()
    roles: dict[int, str] = {}
    persons: dict[bytes, int] = {}  # person reference -> its accounts so far
    pending: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(_list(value, "accounts")):
        path = f"accounts[{i}]"
        entry, balances = _parse_account(g, g.accounts.add(), item, path, tiers)
        account = entry.account
        if account.account_id in ids:
            raise _Err(f"{path}.account_id", f"{account.account_id!r} is listed twice")
        ids.add(account.account_id)
        if account.role in _ONE_OF_A_KIND and account.role in roles:
            raise _Err(
                f"{path}.role",
                f"a second {ledger_pb2.Role.Name(account.role)} (the first is "
                f"{roles[account.role]!r})",
            )
        roles.setdefault(account.role, account.account_id)
        if account.person_ref:
            ref = account.person_ref
            persons[ref] = persons.get(ref, 0) + 1
            cap = account_cap(g.rulebook.max_accounts_per_person)
            if persons[ref] > cap:
                raise _Err(f"{path}.person_ref", f"the person would have more than {cap} accounts")
        pending.append((path, balances))
    if ledger_pb2.CENTRAL_BANK not in roles:
        raise _Err("accounts", "exactly one CENTRAL_BANK account is required")
    return pending


def _parse_account(
    g: genesis_pb2.Genesis,
    entry: genesis_pb2.GenesisAccount,
    item: Any,
    path: str,
    tiers: set[int],
) -> tuple[genesis_pb2.GenesisAccount, dict[str, Any]]:
    """One account entry into entry (its balances are checked later, with the assets)."""
    a = _obj(item, path, _ACCOUNT_KEYS, {"account_id", "role", "zone", "public_keys"})
    account_id = _str(a["account_id"], f"{path}.account_id")
    if not valid_account_id(account_id):
        raise _Err(f"{path}.account_id", "3 to 64 of a-z, 0-9, '.', '-'")
    role = _enum(a["role"], f"{path}.role", ledger_pb2.Role, "role")
    if role == ledger_pb2.ISSUANCE_RESERVE:
        raise _Err(
            f"{path}.role",
            "an ISSUANCE_RESERVE account is created by its asset (assets[].reserve_account)",
        )
    zone = _enum(a["zone"], f"{path}.zone", ledger_pb2.Zone, "zone")
    tier = _int(a.get("kyc_tier", 0), f"{path}.kyc_tier", 0, U32_MAX)
    if role in _LIMITED_ROLES and tier not in tiers:
        raise _Err(f"{path}.kyc_tier", f"no limits are set for tier {tier}")
    keys_path = f"{path}.public_keys"
    keys = [
        _key(key, f"{keys_path}[{j}]") for j, key in enumerate(_list(a["public_keys"], keys_path))
    ]
    if not 1 <= len(keys) <= MAX_KEYS:
        raise _Err(keys_path, f"1 to {MAX_KEYS} keys")
    if len(set(keys)) != len(keys):
        raise _Err(keys_path, "a key is listed twice")
    threshold = _int(a.get("threshold", 1), f"{path}.threshold", 1, len(keys))
    if role == ledger_pb2.STATE_RESERVE:
        bad = key_set_refusal(Rules.of(g.rulebook), role, keys, threshold, where=path)
        if bad is not None:
            raise _Err("", bad.message)
    entry.account.account_id = account_id
    entry.account.role = role  # type: ignore[assignment]
    entry.account.zone = zone  # type: ignore[assignment]
    entry.account.kyc_tier = tier
    entry.account.public_keys.extend(keys)
    entry.account.threshold = threshold
    if "licensed" in a:
        raise _Err(
            f"{path}.licensed",
            "no longer accepted: a bank cannot license an account; give it a "
            '"licence" object ({"assets", "purposes", "expires_at_height", "reference"}), '
            "granted at genesis by the REGULATOR account (docs/genesis.md)",
        )
    if "licence" in a:
        _parse_licence(entry, a["licence"], f"{path}.licence")
    if "person_ref" in a:
        ref = _key(a["person_ref"], f"{path}.person_ref")
        if role not in _LIMITED_ROLES:
            raise _Err(f"{path}.person_ref", "only a CUSTOMER or MERCHANT account is a person's")
        entry.account.person_ref = ref
    balances = a.get("balances", {})
    if not isinstance(balances, dict):
        raise _Err(f"{path}.balances", "must be an object of asset code to amount")
    return entry, balances


def _parse_licence(entry: genesis_pb2.GenesisAccount, value: Any, path: str) -> None:
    """An account's genesis licence; `_check_licences` checks it against the assets."""
    doc = _obj(value, path, _LICENCE_KEYS, {"assets", "expires_at_height", "reference"})
    codes = [
        _str(c, f"{path}.assets[{j}]") for j, c in enumerate(_list(doc["assets"], f"{path}.assets"))
    ]
    if not 1 <= len(codes) <= MAX_LEGS or len(set(codes)) != len(codes):
        raise _Err(f"{path}.assets", f"1 to {MAX_LEGS} distinct asset codes")
    purposes = [
        _enum(p, f"{path}.purposes[{j}]", ledger_pb2.Purpose, "purpose")
        for j, p in enumerate(_list(doc.get("purposes", []), f"{path}.purposes"))
    ]
    if len(set(purposes)) != len(purposes):
        raise _Err(f"{path}.purposes", "a purpose is listed twice")
    reference = _str(doc["reference"], f"{path}.reference")
    if not 1 <= len(reference) <= MAX_TEXT:
        raise _Err(f"{path}.reference", f"1 to {MAX_TEXT} characters (the licence number)")
    entry.licence.account_id = entry.account.account_id
    entry.licence.assets.extend(codes)
    entry.licence.purposes.extend(purposes)  # type: ignore[arg-type]
    entry.licence.expires_at_height = _int(
        doc["expires_at_height"], f"{path}.expires_at_height", 1, U64_MAX
    )
    entry.licence.reference = reference


def _check_licences(g: genesis_pb2.Genesis) -> None:
    """Genesis licences: known assets of a kind that licenses the account's role, granted
    at height 0 by the first REGULATOR account."""
    regulator = next(
        (e.account.account_id for e in g.accounts if e.account.role == ledger_pb2.REGULATOR), None
    )
    assets = {s.code: s for s in g.assets}
    kinds = {r.kind: r for r in g.rulebook.kinds}
    for i, entry in enumerate(g.accounts):
        if not entry.HasField("licence"):
            continue
        path = f"accounts[{i}].licence"
        if regulator is None:
            raise _Err(path, "a licence needs a REGULATOR account in accounts to grant it")
        role = entry.account.role
        for j, code in enumerate(entry.licence.assets):
            asset = assets.get(code)
            if asset is None:
                raise _Err(f"{path}.assets[{j}]", f"no asset {code!r} in assets")
            rule = kinds.get(asset.kind)
            if rule is None or role not in rule.licensed_roles:
                raise _Err(
                    f"{path}.assets[{j}]",
                    f"the rulebook licenses no {ledger_pb2.Role.Name(role)} to hold "
                    f"{ledger_pb2.AssetKind.Name(asset.kind)} assets (licensed_roles)",
                )
        entry.licence.granted_by = regulator
        entry.licence.granted_height = 0


def _parse_assets(g: genesis_pb2.Genesis, value: Any) -> None:
    accounts = {e.account.account_id: e.account for e in g.accounts}
    codes: set[str] = set()
    reserves: set[str] = set()
    for i, item in enumerate(_list(value, "assets")):
        path = f"assets[{i}]"
        s = _obj(item, path, _ASSET_KEYS, {"code", "decimals", "issuer", "kind", "payment_zones"})
        code = _str(s["code"], f"{path}.code")
        if not valid_asset_code(code):
            raise _Err(f"{path}.code", "an upper-case letter then 1 to 11 of A-Z, 0-9")
        if code in codes:
            raise _Err(f"{path}.code", f"{code!r} is listed twice")
        codes.add(code)
        issuer = _str(s["issuer"], f"{path}.issuer")
        holder = accounts.get(issuer)
        if holder is None:
            raise _Err(f"{path}.issuer", f"no account {issuer!r} in accounts")
        if holder.role not in (ledger_pb2.CENTRAL_BANK, ledger_pb2.COMMERCIAL_BANK):
            raise _Err(f"{path}.issuer", f"{issuer!r} is not a bank")
        kind = _enum(s["kind"], f"{path}.kind", ledger_pb2.AssetKind, "asset kind")
        zones_path = f"{path}.payment_zones"
        zones = [
            _enum(z, f"{zones_path}[{j}]", ledger_pb2.Zone, "zone")
            for j, z in enumerate(_list(s["payment_zones"], zones_path))
        ]
        if kind == ledger_pb2.RESERVE_ONLY:
            if zones:
                raise _Err(zones_path, "a RESERVE_ONLY asset pays nowhere: list no zones")
        elif not zones or len(set(zones)) != len(zones):
            raise _Err(zones_path, "one or more distinct zones")
        if code == KZT:
            if kind != ledger_pb2.CBDC:
                raise _Err(f"{path}.kind", "KZT is the CBDC")
            if holder.role != ledger_pb2.CENTRAL_BANK:
                raise _Err(f"{path}.issuer", "KZT is issued by the CENTRAL_BANK account")
            if set(zones) != {ledger_pb2.NATIONAL, ledger_pb2.CRYPTOCITY}:
                raise _Err(zones_path, "KZT pays everywhere: list NATIONAL and CRYPTOCITY")
        elif kind == ledger_pb2.CBDC:
            raise _Err(f"{path}.kind", "only KZT is a CBDC")
        decimals = _int(s["decimals"], f"{path}.decimals", 0, MAX_DECIMALS)
        backed_by, reserve = _backing(s, path, kind, accounts, reserves)
        g.assets.add(
            code=code,
            decimals=decimals,
            issuer=issuer,
            kind=kind,
            payment_zones=zones,
            backed_by=backed_by,
            reserve_account=reserve,
        )
    if KZT not in codes:
        raise _Err("assets", "the KZT asset is required")


def _backing(
    s: dict[str, Any],
    path: str,
    kind: int,
    accounts: dict[str, ledger_pb2.Account],
    reserves: set[str],
) -> tuple[str, str]:
    """A backed stablecoin's backing and the new account that holds it (docs/genesis.md)."""
    if "backed_by" not in s and "reserve_account" not in s:
        return "", ""
    for name in ("backed_by", "reserve_account"):
        if name not in s:
            other = "reserve_account" if name == "backed_by" else "backed_by"
            raise _Err(_join(path, name), f"is required with {other}")
    backed_by = _str(s["backed_by"], f"{path}.backed_by")
    if backed_by not in BACKINGS:
        raise _Err(f"{path}.backed_by", f"{backed_by[:40]!r} is not a backing (only KZT)")
    if kind != ledger_pb2.STABLECOIN:
        raise _Err(f"{path}.backed_by", "only a STABLECOIN may be backed")
    reserve = _str(s["reserve_account"], f"{path}.reserve_account")
    if not valid_account_id(reserve):
        raise _Err(f"{path}.reserve_account", "3 to 64 of a-z, 0-9, '.', '-'")
    if reserve in accounts or reserve in reserves:
        raise _Err(f"{path}.reserve_account", f"{reserve!r} is taken: the reserve is a new account")
    reserves.add(reserve)
    return backed_by, reserve


def _check_balances(g: genesis_pb2.Genesis, pending: list[tuple[str, dict[str, Any]]]) -> None:
    assets = {s.code: s for s in g.assets}
    rules = Rules.of(g.rulebook)
    totals: dict[str, int] = {}
    for entry, (path, balances) in zip(g.accounts, pending, strict=True):
        _entry_balances(entry, path, balances, assets, rules, totals)


def _entry_balances(
    entry: genesis_pb2.GenesisAccount,
    path: str,
    balances: dict[str, Any],
    assets: dict[str, ledger_pb2.Asset],
    rules: Rules,
    totals: dict[str, int],
) -> None:
    """Check an entry's balances object and add it to entry; totals: the supply so far."""
    account = entry.account
    for code, amount_value in balances.items():
        where = f"{path}.balances.{code}"
        asset = assets.get(code)
        if asset is None:
            raise _Err(where, f"no asset {code!r} in assets")
        amount = _amount(amount_value, where)
        if asset.backed_by and amount:
            raise _Err(
                where,
                f"{code} is backed by {asset.backed_by}: it starts with no supply, and "
                "issuing it after genesis moves its backing into its reserve",
            )
        licence = entry.licence if entry.HasField("licence") else None
        if rules.holding(account, asset, licence) is None:
            raise _Err(where, f"{account.account_id!r} may not hold {code} by the rulebook")
        totals[code] = totals.get(code, 0) + amount
        if totals[code] > AMOUNT_MAX:
            raise _Err(where, f"the {code} balances sum past 2^128 - 1")
        set_amount(entry.balances.add(asset=code), "amount", amount)
    _check_holding_cap(rules, assets, path, entry)


def _check_holding_cap(
    rules: Rules,
    assets: dict[str, ledger_pb2.Asset],
    path: str,
    entry: genesis_pb2.GenesisAccount,
) -> None:
    """A tier-limited account starts within its cap, in KZT-equivalent over every asset."""
    account = entry.account
    tier = rules.limits.get(account.kyc_tier)
    if account.role not in _LIMITED_ROLES or tier is None or not tier.holding_cap:
        return
    total = 0
    for balance in entry.balances:
        value = rules.kzt_value(assets[balance.asset], amount_of(balance))
        if value is None:
            raise _Err(f"{path}.balances.{balance.asset}", "no reference rate in rulebook.rates")
        total += value
    if total > tier.holding_cap:
        raise _Err(f"{path}.balances", f"above the tier {account.kyc_tier} holding cap")

"""The settlement rules: one handler per transaction kind (DESIGN.md §4).

Rules this module keeps:

1. A handler first checks everything, then writes. Once it starts writing it cannot fail,
   so a refused transaction leaves no trace in the overlay (all or nothing).
2. Refusals are values (`Refusal`), never exceptions; every one has a stable code and a
   sentence naming the offending field or account.
3. Amounts are ints in minor units, read with `amount_of`; every sum and balance is checked
   against 2^128 - 1 (`AMOUNT_MAX`).
4. Nothing here reads a clock: block time comes in the context.
5. What the regulator may change is in the rulebook (`Context.rules`, node/ledger/_rulebook.py),
   not here; a refusal made by one of its rules names the rule (`Refusal.rule`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from consensus._validators import MAX_TOTAL_POWER, validator_set_error
from node.keys import ROTATE_DOMAIN, sign_bytes, verify
from node.ledger import _backing as backing
from node.ledger import _keys as k
from node.ledger import _lifecycle as lc
from node.ledger import _payment_ids as payment_ids
from node.ledger import _persons as persons
from node.ledger import _rulebook as rb
from node.ledger import _travel as travel
from node.ledger._amounts import AMOUNT_MAX, amount_of, set_amount
from node.ledger._state import Overlay
from proto import ledger_pb2 as pb

MAX_KEYS: Final = 16
MAX_LEGS: Final = 16
MAX_TEXT: Final = 256
MAX_MONIKER: Final = 64
MAX_DECIMALS: Final = 18

#: Roles that the limits of their KYC tier apply to.
LIMITED_ROLES: Final = frozenset({pb.CUSTOMER, pb.MERCHANT})
#: Roles of which at most one account exists (found through the ``role/`` index).
SINGLETON_ROLES: Final = frozenset({pb.CENTRAL_BANK, pb.TREASURY})
#: Who may register whom.
REGISTRARS: Final = {
    pb.CENTRAL_BANK: frozenset({pb.COMMERCIAL_BANK, pb.TREASURY, pb.STATE_RESERVE, pb.REGULATOR}),
    pb.COMMERCIAL_BANK: frozenset({pb.MERCHANT, pb.CUSTOMER, pb.VASP}),
}
VALID_ROLES: Final = frozenset(v for v in pb.Role.values() if v != pb.ROLE_UNSPECIFIED)
VALID_ZONES: Final = frozenset(v for v in pb.Zone.values() if v != pb.ZONE_UNSPECIFIED)
VALID_KINDS: Final = frozenset(v for v in pb.AssetKind.values() if v != pb.ASSET_KIND_UNSPECIFIED)
#: Purposes a licence may list (an ordinary payment needs no licence's leave).
LICENCE_PURPOSES: Final = frozenset(v for v in pb.Purpose.values() if v != pb.PURPOSE_UNSPECIFIED)
#: Accounts of the state itself: a court order never freezes them (the state funds' own
#: outflows are the rulebook's business).
UNFREEZABLE_ROLES: Final = frozenset(
    {pb.CENTRAL_BANK, pb.REGULATOR, pb.TREASURY, pb.STATE_RESERVE, pb.ISSUANCE_RESERVE}
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a transaction was refused: a ResultCode value, a sentence, and the id of the
    rulebook rule that refused it ("" for a refusal that is not the rulebook's)."""

    code: int
    message: str
    rule: str = ""


@dataclass(slots=True)
class Context:
    """What a handler may use besides the body: the overlay and the block it runs in."""

    ov: Overlay
    height: int
    time_ms: int
    tx_id: bytes
    validator_updates: list[pb.Validator]
    rules: rb.Rules
    check_only: bool = False  # mempool pre-check: no block time, so no daily limit
    not_before: int = 0  # a governed rulebook change: the proposal's activation height


#: On success a handler returns the accounts whose statement lists the transaction.
Outcome = Refusal | list[str]


def show(text: str, limit: int = 40) -> str:
    """Quote a client-supplied string for a message, cut to a readable length."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def role_name(role: int) -> str:
    return pb.Role.Name(role) if role in pb.Role.values() else str(role)


def hold_refusal(
    rules: rb.Rules, where: str, account: pb.Account, asset: pb.Asset
) -> Refusal | None:
    """Why an account may not hold an asset under the rulebook, or None if it may."""
    if asset.kind not in rules.kinds:
        return Refusal(
            pb.ASSET_KIND_NOT_IN_RULEBOOK,
            f"{where}: the rulebook has no rule for {pb.AssetKind.Name(asset.kind)} assets",
            rb.RULE_KIND,
        )
    if rules.holding(account, asset) is None:
        return Refusal(
            pb.ASSET_NOT_ALLOWED,
            f"{where}: {account.account_id!r} ({role_name(account.role)}, "
            f"{pb.Zone.Name(account.zone)}) may not hold {asset.code}",
            rb.RULE_HOLD_ZONE,
        )
    return None


def holding_capped(rules: rb.Rules, account: pb.Account) -> bool:
    """Whether a holding cap bounds account's balances (`holding_cap_refusal` judges it)."""
    if account.role not in LIMITED_ROLES:
        return False
    limits = rules.limits.get(account.kyc_tier)
    return limits is not None and bool(limits.holding_cap)


def holding_cap_refusal(
    ov: Overlay,
    rules: rb.Rules,
    account: pb.Account,
    new: dict[str, int],
    where: str,
    moved: dict[str, dict[str, int]] | None = None,
) -> Refusal | None:
    """The tier's holding cap, in KZT-equivalent over every asset the account holds, and
    over every account of its person when it has a person reference (node/ledger/_persons.py).

    A tier with payment limits but no cap still refuses an asset without a reference rate:
    the account could not pay it (`execute_transfer` values what it sends).

    Args:
        new: the balances a transaction would leave, per asset code (the others are read).
        moved: the same for the other accounts the transaction moves, by account id.
    """
    if account.role not in LIMITED_ROLES:
        return None
    limits = rules.limits.get(account.kyc_tier)
    if limits is None:
        return None
    if not limits.holding_cap:
        if limits.per_payment or limits.daily_outflow:
            for code in new:
                asset = ov.asset(code)
                if asset is not None and rules.kzt_value(asset, 0) is None:
                    return Refusal(
                        pb.NO_REFERENCE_RATE,
                        f"{where}: {code} has no reference rate, so {account.account_id!r} "
                        "could not pay it under its tier's limits",
                        rb.RULE_RATE,
                    )
        return None
    total = 0
    held = persons.holders(ov, account, new, moved)
    for holder, after in held:
        codes = holder.assets[:]  # a slice copies a repeated field faster than iterating it
        codes.extend(after)
        for code in dict.fromkeys(codes):
            balance = after[code] if code in after else ov.balance(holder.account_id, code)
            if balance == 0:
                continue
            asset = ov.asset(code)
            value = None if asset is None else rules.kzt_value(asset, balance)
            if value is None:
                return Refusal(
                    pb.NO_REFERENCE_RATE,
                    f"{where}: {code} has no reference rate, so {holder.account_id!r}'s "
                    "holdings cannot be judged against its tier's cap",
                    rb.RULE_RATE,
                )
            total += value
    if total > limits.holding_cap:
        whose = repr(account.account_id)
        if len(held) > 1:
            whose += (
                f" with the other {len(held) - 1} account(s) of person "
                f"{persons.short(account.person_ref)}"
            )
        return Refusal(
            pb.LIMIT_HOLDING_CAP,
            f"{where}: {whose} would hold {total} tiyn in KZT-equivalent, above "
            f"the tier {account.kyc_tier} cap of {limits.holding_cap}",
            rb.RULE_HOLDING,
        )
    return None


# ---------------------------------------------------------------- stateless checks


def _bad_id(field: str, account_id: str) -> Refusal | None:
    if k.valid_account_id(account_id):
        return None
    return Refusal(
        pb.INVALID_ACCOUNT_ID,
        f"{field}: {show(account_id)} is not an account id (3 to 64 of a-z, 0-9, '.', '-')",
    )


def _bad_code(field: str, code: str) -> Refusal | None:
    if k.valid_asset_code(code):
        return None
    return Refusal(
        pb.INVALID_FIELD,
        f"{field}: {show(code)} is not an asset code (A-Z then 1 to 11 of A-Z, 0-9)",
    )


def _bad_text(field: str, text: str, *, required: bool) -> Refusal | None:
    if required and not text:
        return Refusal(pb.INVALID_FIELD, f"{field} is required")
    if len(text) > MAX_TEXT:
        return Refusal(pb.INVALID_FIELD, f"{field} is longer than {MAX_TEXT} characters")
    return None


def static_check(body: pb.TxBody) -> Refusal | None:
    """Checks that need no state: ids, codes, amounts, enum values, text lengths."""
    kind = body.WhichOneof("kind")
    if kind is None:
        return Refusal(pb.MALFORMED, "the body carries no transaction kind")
    if len(body.memo) > MAX_TEXT:
        return Refusal(pb.INVALID_FIELD, f"memo is longer than {MAX_TEXT} characters")
    if kind == "transfer":
        return _static_transfer(body)
    bad = _bad_id("signer", body.signer)
    if bad is not None:
        return bad
    check = _STATIC.get(kind)
    if check is None:  # a kind the schema knows and this node does not handle yet
        return Refusal(pb.MALFORMED, f"{kind}: this node does not handle the kind")
    return check(body)


def _static_transfer(body: pb.TxBody) -> Refusal | None:
    legs = body.transfer.legs
    if not 1 <= len(legs) <= MAX_LEGS:
        return Refusal(pb.INVALID_FIELD, f"transfer.legs: 1 to {MAX_LEGS} legs, not {len(legs)}")
    valid_id, valid_code = k.valid_account_id, k.valid_asset_code
    for i, leg in enumerate(legs):
        payer, payee = leg.payer, leg.payee
        if (
            valid_id(payer)
            and valid_id(payee)
            and valid_code(leg.asset)
            and (leg.amount or leg.amount_high)
            and payer != payee
        ):
            if payment_ids.carries_ids(leg):
                bad = payment_ids.leg_refusal(f"transfer.legs[{i}]", leg)
                if bad is not None:
                    return bad
            if leg.travel_copies:
                bad = travel.static_refusal(f"transfer.legs[{i}]", leg)
                if bad is not None:
                    return bad
            continue  # the common case, without building the messages of a refusal
        where = f"transfer.legs[{i}]"
        bad = (
            _bad_id(f"{where}.payer", payer)
            or _bad_id(f"{where}.payee", payee)
            or _bad_code(f"{where}.asset", leg.asset)
        )
        if bad is not None:
            return bad
        if amount_of(leg) == 0:
            return Refusal(pb.INVALID_AMOUNT, f"{where}.amount is 0")
        return Refusal(pb.INVALID_FIELD, f"{where}: payer and payee are both {payer!r}")
    if body.signer and all(leg.payer != body.signer for leg in legs):
        return Refusal(pb.INVALID_FIELD, f"signer {show(body.signer)} pays on no leg")
    return _bad_text("transfer.reference", body.transfer.reference, required=False)


def _static_register_account(body: pb.TxBody) -> Refusal | None:
    m = body.register_account
    bad = _bad_id("register_account.account_id", m.account_id)
    if bad is not None:
        return bad
    if m.role not in VALID_ROLES:
        return Refusal(pb.INVALID_FIELD, f"register_account.role: {m.role} is not a role")
    if m.zone not in VALID_ZONES:
        return Refusal(pb.INVALID_FIELD, f"register_account.zone: {m.zone} is not a zone")
    if m.person_ref and len(m.person_ref) != persons.PERSON_REF_SIZE:
        return Refusal(
            pb.INVALID_PERSON_REF,
            f"register_account.person_ref: {len(m.person_ref)} bytes, not "
            f"{persons.PERSON_REF_SIZE} (an HMAC-SHA256 of the national ID)",
        )
    if m.person_ref and m.role not in LIMITED_ROLES:
        return Refusal(
            pb.INVALID_PERSON_REF,
            f"register_account.person_ref: a {role_name(m.role)} account carries no person "
            "reference (only CUSTOMER and MERCHANT accounts do)",
        )
    return check_keys("register_account", list(m.public_keys), m.threshold)


def check_keys(where: str, keys: list[bytes], threshold: int) -> Refusal | None:
    """Keys: 1 to MAX_KEYS distinct 32-byte keys; threshold (0 means 1) at most their count."""
    if not 1 <= len(keys) <= MAX_KEYS:
        return Refusal(pb.INVALID_FIELD, f"{where}.public_keys: 1 to {MAX_KEYS} keys")
    for i, key in enumerate(keys):
        if len(key) != 32:
            return Refusal(pb.INVALID_FIELD, f"{where}.public_keys[{i}]: not 32 bytes")
    if len(set(keys)) != len(keys):
        return Refusal(pb.INVALID_FIELD, f"{where}.public_keys: a key is listed twice")
    if threshold > len(keys):
        return Refusal(
            pb.INVALID_FIELD, f"{where}.threshold: {threshold} is more than {len(keys)} keys"
        )
    return None


def _static_register_asset(body: pb.TxBody) -> Refusal | None:
    m = body.register_asset
    bad = _bad_code("register_asset.code", m.code) or _bad_id("register_asset.issuer", m.issuer)
    if bad is not None:
        return bad
    if m.decimals > MAX_DECIMALS:
        return Refusal(pb.INVALID_FIELD, f"register_asset.decimals: more than {MAX_DECIMALS}")
    if m.kind not in VALID_KINDS or m.kind == pb.CBDC:
        return Refusal(
            pb.INVALID_FIELD, "register_asset.kind: must be STABLECOIN, CRYPTO or RESERVE_ONLY"
        )
    zones = list(m.payment_zones)
    if m.kind == pb.RESERVE_ONLY:  # payable nowhere (node/ledger/_reserves.py)
        if zones:
            return Refusal(
                pb.INVALID_FIELD, "register_asset.payment_zones: a RESERVE_ONLY asset lists none"
            )
    elif not zones or any(z not in VALID_ZONES for z in zones) or len(set(zones)) != len(zones):
        return Refusal(
            pb.INVALID_FIELD, "register_asset.payment_zones: one or more distinct known zones"
        )
    return backing.static_refusal(m)


def _static_amount(where: str, asset: str, amount: int) -> Refusal | None:
    bad = _bad_code(f"{where}.asset", asset)
    if bad is not None:
        return bad
    if amount == 0:
        return Refusal(pb.INVALID_AMOUNT, f"{where}.amount is 0")
    return None


def _static_issue(body: pb.TxBody) -> Refusal | None:
    m = body.issue
    return _bad_id("issue.to", m.to) or _static_amount("issue", m.asset, amount_of(m))


def _static_redeem(body: pb.TxBody) -> Refusal | None:
    return _static_amount("redeem", body.redeem.asset, amount_of(body.redeem))


def _static_freeze(body: pb.TxBody) -> Refusal | None:
    m = body.freeze
    return _bad_id("freeze.account_id", m.account_id) or _bad_text(
        "freeze.legal_ref", m.legal_ref, required=True
    )


def _static_unfreeze(body: pb.TxBody) -> Refusal | None:
    m = body.unfreeze
    return _bad_id("unfreeze.account_id", m.account_id) or _bad_text(
        "unfreeze.legal_ref", m.legal_ref, required=True
    )


def _static_seize(body: pb.TxBody) -> Refusal | None:
    from node.ledger._reserves import static_seize_refusal  # it imports this module

    m = body.seize
    return (
        _bad_id("seize.account_id", m.account_id)
        or _static_amount("seize", m.asset, amount_of(m))
        or static_seize_refusal(m)
    )


def _static_update_validator(body: pb.TxBody) -> Refusal | None:
    m = body.update_validator
    if len(m.public_key) != 32:
        return Refusal(pb.INVALID_VALIDATOR, "update_validator.public_key: not 32 bytes")
    if len(m.moniker) > MAX_MONIKER:
        return Refusal(pb.INVALID_VALIDATOR, f"update_validator.moniker: longer than {MAX_MONIKER}")
    if m.power > MAX_TOTAL_POWER:
        return Refusal(pb.VALIDATOR_SET_LIMIT, f"update_validator.power: above {MAX_TOTAL_POWER}")
    return None


def rotation_sign_bytes(chain_id: str, public_key: bytes, new_public_key: bytes) -> bytes:
    """What the new key of a RotateValidatorKey signs as its proof."""
    return sign_bytes(ROTATE_DOMAIN, chain_id, public_key + new_public_key)


def _static_rotate_validator_key(body: pb.TxBody) -> Refusal | None:
    m = body.rotate_validator_key
    where = "rotate_validator_key"
    if len(m.public_key) != 32 or len(m.new_public_key) != 32:
        return Refusal(pb.INVALID_VALIDATOR, f"{where}: public_key and new_public_key are 32 bytes")
    if m.public_key == m.new_public_key:
        return Refusal(pb.INVALID_VALIDATOR, f"{where}: the new key is the old one")
    message = rotation_sign_bytes(body.chain_id, m.public_key, m.new_public_key)
    if not verify(m.new_public_key, message, m.proof):
        return Refusal(
            pb.INVALID_VALIDATOR,
            f"{where}.proof: not the new key's signature of the rotation (docs/governance.md)",
        )
    return None


def _static_set_rates(body: pb.TxBody) -> Refusal | None:
    rates = body.set_rates.rates
    if not 1 <= len(rates) <= MAX_LEGS:
        return Refusal(pb.INVALID_FIELD, f"set_rates.rates: 1 to {MAX_LEGS} rates")
    for i, rate in enumerate(rates):
        bad = _bad_code(f"set_rates.rates[{i}].asset", rate.asset)
        if bad is not None:
            return bad
        if rate.asset == k.KZT:
            return Refusal(pb.INVALID_FIELD, "set_rates: KZT is the unit of account, not rated")
    if len({r.asset for r in rates}) != len(rates):
        return Refusal(pb.INVALID_FIELD, "set_rates.rates: an asset is listed twice")
    return None


def _static_grant_licence(body: pb.TxBody) -> Refusal | None:
    m = body.grant_licence
    bad = _bad_id("grant_licence.account_id", m.account_id)
    if bad is not None:
        return bad
    if not 1 <= len(m.assets) <= MAX_LEGS:
        return Refusal(pb.INVALID_FIELD, f"grant_licence.assets: 1 to {MAX_LEGS} asset codes")
    for i, code in enumerate(m.assets):
        bad = _bad_code(f"grant_licence.assets[{i}]", code)
        if bad is not None:
            return bad
    if len(set(m.assets)) != len(m.assets):
        return Refusal(pb.INVALID_FIELD, "grant_licence.assets: an asset is listed twice")
    for i, purpose in enumerate(m.purposes):
        if purpose not in LICENCE_PURPOSES:
            return Refusal(
                pb.INVALID_FIELD,
                f"grant_licence.purposes[{i}]: {purpose} is not a purpose a licence covers "
                f"({', '.join(pb.Purpose.Name(p) for p in sorted(LICENCE_PURPOSES))})",
            )
    if len(set(m.purposes)) != len(m.purposes):
        return Refusal(pb.INVALID_FIELD, "grant_licence.purposes: a purpose is listed twice")
    return _bad_text("grant_licence.reference", m.reference, required=True)


def _static_revoke_licence(body: pb.TxBody) -> Refusal | None:
    m = body.revoke_licence
    return _bad_id("revoke_licence.account_id", m.account_id) or _bad_text(
        "revoke_licence.reference", m.reference, required=True
    )


def _static_nothing(body: pb.TxBody) -> Refusal | None:
    return None


_STATIC: Final[dict[str, Callable[[pb.TxBody], Refusal | None]]] = {
    "register_account": _static_register_account,
    "register_asset": _static_register_asset,
    "set_limits": _static_nothing,
    "set_rates": _static_set_rates,
    "issue": _static_issue,
    "redeem": _static_redeem,
    "freeze": _static_freeze,
    "unfreeze": _static_unfreeze,
    "seize": _static_seize,
    "update_validator": _static_update_validator,
    "rotate_validator_key": _static_rotate_validator_key,
    "propose": lambda body: _static_propose(body),
    "approve": lambda body: _static_proposal_id("approve", body.approve.proposal_id),
    "withdraw": lambda body: _static_proposal_id("withdraw", body.withdraw.proposal_id),
    **lc.STATIC,
    **travel.STATIC,
    "grant_licence": _static_grant_licence,
    "revoke_licence": _static_revoke_licence,
}


def proposed_body(body: pb.TxBody) -> pb.TxBody | None:
    """The change a Propose carries, as a body of its own kind (None when it carries none)."""
    action = body.propose.WhichOneof("action")
    if action is None:
        return None
    inner = pb.TxBody(chain_id=body.chain_id, signer=body.signer)
    getattr(inner, action).CopyFrom(getattr(body.propose, action))
    return inner


def _static_propose(body: pb.TxBody) -> Refusal | None:
    inner = proposed_body(body)
    if inner is None:
        return Refusal(pb.MALFORMED, "propose: the proposal carries no change")
    kind = inner.WhichOneof("kind")
    assert kind is not None
    return _STATIC[kind](inner) or _bad_text("propose.summary", body.propose.summary, required=True)


def _static_proposal_id(where: str, proposal_id: bytes) -> Refusal | None:
    if len(proposal_id) != 32:
        return Refusal(pb.INVALID_FIELD, f"{where}.proposal_id: not 32 bytes (a tx id)")
    return None


def required_accounts(body: pb.TxBody) -> list[str]:
    """Accounts that must authorise: every payer of a transfer; the signer and the approving
    regulator of a recovery; else the signer."""
    kind = body.WhichOneof("kind")
    if kind == "transfer":
        legs = body.transfer.legs
        if len(legs) == 1:  # most payments: no iteration over the repeated field
            return [legs[0].payer]
        return list(dict.fromkeys(leg.payer for leg in legs))
    if kind == "recover_account":
        return list(dict.fromkeys([body.signer, body.recover_account.regulator]))
    return [body.signer]


def debits_of(body: pb.TxBody) -> dict[tuple[str, str], int]:
    """What a transaction takes from balances if it succeeds, per (account, asset).

    Transfers: each payer's net outflow per asset over all legs (what it pays minus what
    the same transaction pays it, as execution checks the balance); redeem: the signer's
    amount; seize: the frozen account's amount. Other kinds debit nothing. Needs no state,
    so the mempool can keep per-account pending sums without asking the ledger again.
    """
    kind = body.WhichOneof("kind")
    if kind == "transfer":
        net: dict[tuple[str, str], int] = {}
        for leg in body.transfer.legs:
            out = (leg.payer, leg.asset)
            net[out] = net.get(out, 0) + amount_of(leg)
            into = (leg.payee, leg.asset)
            net[into] = net.get(into, 0) - amount_of(leg)
        return {key: amount for key, amount in net.items() if amount > 0}
    if kind == "redeem":
        return {(body.signer, body.redeem.asset): amount_of(body.redeem)}
    if kind == "seize":
        return {(body.seize.account_id, body.seize.asset): amount_of(body.seize)}
    return {}


# ---------------------------------------------------------------- stateful handlers
# Each handler runs after the signatures of required_accounts(body) were checked and
# none of them is frozen; `signer` is the signer's account (None for a transfer).


def _need_role(signer: pb.Account, role: int, what: str) -> Refusal | None:
    if signer.role == role:
        return None
    return Refusal(
        pb.UNAUTHORIZED,
        f"{what}: signer {signer.account_id!r} is {role_name(signer.role)}, not {role_name(role)}",
    )


def _register_account(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.register_account
    if m.licensed:
        return Refusal(
            pb.UNAUTHORIZED,
            "register_account.licensed: a bank cannot license an account; licences are "
            "granted by the regulator with tx grant-licence",
        )
    allowed = REGISTRARS.get(signer.role, frozenset())
    if m.role not in allowed:
        return Refusal(
            pb.UNAUTHORIZED,
            f"register_account: a {role_name(signer.role)} may not register a "
            f"{role_name(m.role)} account",
        )
    if ctx.ov.account(m.account_id) is not None:
        return Refusal(pb.ACCOUNT_EXISTS, f"account {m.account_id!r} already exists")
    role_key = k.role_key(role_name(m.role))
    if m.role in SINGLETON_ROLES:
        holder = ctx.ov.get_raw(role_key)
        if holder is not None:
            return Refusal(
                pb.ACCOUNT_EXISTS,
                f"a {role_name(m.role)} account already exists ({holder.decode()!r})",
            )
    from node.ledger._reserves import key_set_refusal  # it imports this module

    bad = key_set_refusal(ctx.rules, m.role, m.public_keys, m.threshold)
    if bad is not None:
        return bad
    if m.role in LIMITED_ROLES and m.kyc_tier not in ctx.rules.limits:
        return Refusal(
            pb.UNKNOWN_KYC_TIER,
            f"register_account.kyc_tier: the rulebook sets no limits for tier {m.kyc_tier}",
            rb.RULE_TIER,
        )
    person = persons.person(ctx.ov, m.person_ref) if m.person_ref else None
    cap = persons.account_cap(ctx.rules.book.max_accounts_per_person)
    if person is not None and len(person.accounts) >= cap:
        return Refusal(
            pb.PERSON_ACCOUNTS_EXCEEDED,
            f"register_account.person_ref: person {persons.short(m.person_ref)} already has "
            f"{len(person.accounts)} account(s), the most the rulebook allows ({cap})",
            rb.RULE_PERSON_ACCOUNTS,
        )
    account = pb.Account(
        account_id=m.account_id,
        role=m.role,
        zone=m.zone,
        kyc_tier=m.kyc_tier,
        public_keys=m.public_keys,
        threshold=max(1, m.threshold),
        registered_by=signer.account_id,
        registered_height=ctx.height,
        person_ref=m.person_ref,
    )
    ctx.ov.put_account(account)
    if m.person_ref:
        persons.enrol(ctx.ov, account, person)
    if m.role in SINGLETON_ROLES:
        ctx.ov.put_raw(role_key, m.account_id.encode())
    return [signer.account_id, m.account_id]


def _register_asset(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.register_asset
    bad = _need_role(signer, pb.CENTRAL_BANK, "register_asset")
    if bad is not None:
        return bad
    if ctx.ov.asset(m.code) is not None:
        return Refusal(pb.ASSET_EXISTS, f"asset {m.code!r} already exists")
    issuer = ctx.ov.account(m.issuer)
    if issuer is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"register_asset.issuer: no account {m.issuer!r}")
    if issuer.role not in (pb.CENTRAL_BANK, pb.COMMERCIAL_BANK):
        return Refusal(
            pb.INVALID_FIELD,
            f"register_asset.issuer: {m.issuer!r} is {role_name(issuer.role)}, not a bank",
        )
    kind_rule = ctx.rules.kinds.get(m.kind)
    if kind_rule is None:
        return Refusal(
            pb.ASSET_KIND_NOT_IN_RULEBOOK,
            f"register_asset.kind: the rulebook has no rule for {pb.AssetKind.Name(m.kind)}",
            rb.RULE_KIND,
        )
    banned = [z for z in m.payment_zones if z not in kind_rule.payment_zones]
    if banned:
        return Refusal(
            pb.ZONE_BANNED,
            f"register_asset.payment_zones: {pb.AssetKind.Name(m.kind)} assets may not be paid "
            f"in {', '.join(pb.Zone.Name(z) for z in banned)}",
            rb.RULE_BAN,
        )
    bad = backing.register_refusal(ctx.ov, m)
    if bad is not None:
        return bad
    ctx.ov.put_asset(
        pb.Asset(
            code=m.code,
            decimals=m.decimals,
            issuer=m.issuer,
            kind=m.kind,
            payment_zones=m.payment_zones,
            backed_by=m.backed_by,
            reserve_account=m.reserve_account,
        )
    )
    backing.create_reserve(ctx.ov, m, ctx.height)
    return [signer.account_id]


def _set_limits(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    bad = _need_role(signer, pb.CENTRAL_BANK, "set_limits")
    if bad is not None:
        return bad
    m = body.set_limits
    limits = pb.TierLimits(
        kyc_tier=m.kyc_tier,
        per_payment=m.per_payment,
        daily_outflow=m.daily_outflow,
        holding_cap=m.holding_cap,
    )
    change = rb.pending_change(ctx.ov.get_raw, ctx.rules, ctx.height, ctx.not_before)
    kept = [t for t in change.tier_limits if t.kyc_tier != m.kyc_tier]
    del change.tier_limits[:]
    change.tier_limits.extend(sorted([*kept, limits], key=lambda t: t.kyc_tier))
    rb.put_pending(ctx.ov.put_raw, change)
    return [signer.account_id]


def _set_rates(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    bad = _need_role(signer, pb.CENTRAL_BANK, "set_rates")
    if bad is not None:
        return bad
    for i, rate in enumerate(body.set_rates.rates):
        if ctx.ov.asset(rate.asset) is None:
            return Refusal(pb.UNKNOWN_ASSET, f"set_rates.rates[{i}].asset: no asset {rate.asset!r}")
    change = rb.pending_change(ctx.ov.get_raw, ctx.rules, ctx.height, ctx.not_before)
    rates = {r.asset: r.tiyn_per_unit for r in change.rates}
    for rate in body.set_rates.rates:
        rates[rate.asset] = rate.tiyn_per_unit
    del change.rates[:]
    for code, value in sorted(rates.items()):
        if value:
            change.rates.add(asset=code, tiyn_per_unit=value)
    rb.put_pending(ctx.ov.put_raw, change)
    return [signer.account_id]


def _issue(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.issue
    asset = ctx.ov.asset(m.asset)
    if asset is None:
        return Refusal(pb.UNKNOWN_ASSET, f"issue.asset: no asset {m.asset!r}")
    if asset.issuer != signer.account_id:
        return Refusal(
            pb.UNAUTHORIZED,
            f"issue: only {asset.issuer!r} issues {m.asset}, not {signer.account_id!r}",
        )
    to = ctx.ov.account(m.to)
    if to is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"issue.to: no account {m.to!r}")
    bad = lc.closed_refusal("issue.to", to)
    if bad is not None:
        return bad
    if m.asset == k.KZT and to.role != pb.COMMERCIAL_BANK:
        return Refusal(
            pb.TWO_TIER_RULE,
            f"issue.to: KZT is issued only to commercial banks; {m.to!r} is {role_name(to.role)}",
            rb.RULE_TWO_TIER_ISSUE,
        )
    from node.ledger._licences import licence_hold_refusal  # it builds on this module
    from node.ledger._reserves import issue_refusal  # it imports this module

    bad = licence_hold_refusal(ctx, "issue.to", to, asset) or issue_refusal(to)
    if bad is not None:
        return bad
    amount = amount_of(m)
    new_balance = ctx.ov.balance(m.to, m.asset) + amount
    issued = amount_of(asset, "issued") + amount
    if new_balance > AMOUNT_MAX or issued > AMOUNT_MAX:
        return Refusal(pb.AMOUNT_OVERFLOW, f"issue.amount: {m.asset} would pass 2^128 - 1")
    bad = holding_cap_refusal(ctx.ov, ctx.rules, to, {m.asset: new_balance}, "issue")
    if bad is not None:
        return bad
    move = backing.reserve_move(ctx.ov, "issue", asset, signer, amount, issue=True)
    if isinstance(move, Refusal):
        return move
    set_amount(asset, "issued", issued)
    ctx.ov.put_asset(asset)
    ctx.ov.set_balance(to, m.asset, new_balance)
    accounts = [signer.account_id, m.to] if m.to != signer.account_id else [m.to]
    if move is not None:
        move.apply(ctx.ov)
        accounts.append(move.reserve.account_id)
    return accounts


def _redeem(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.redeem
    asset = ctx.ov.asset(m.asset)
    if asset is None:
        return Refusal(pb.UNKNOWN_ASSET, f"redeem.asset: no asset {m.asset!r}")
    bank_returns_kzt = m.asset == k.KZT and signer.role == pb.COMMERCIAL_BANK
    if asset.issuer != signer.account_id and not bank_returns_kzt:
        return Refusal(
            pb.UNAUTHORIZED,
            f"redeem: {signer.account_id!r} may not redeem {m.asset} "
            f"(only its issuer{', or a commercial bank' if m.asset == k.KZT else ''})",
        )
    amount = amount_of(m)
    balance = ctx.ov.balance(signer.account_id, m.asset)
    if balance < amount:
        return Refusal(
            pb.INSUFFICIENT_FUNDS,
            f"redeem: {signer.account_id!r} holds {balance} {m.asset}, not {amount}",
        )
    move = backing.reserve_move(ctx.ov, "redeem", asset, signer, amount, issue=False)
    if isinstance(move, Refusal):
        return move
    set_amount(asset, "redeemed", amount_of(asset, "redeemed") + amount)
    ctx.ov.put_asset(asset)
    ctx.ov.set_balance(signer, m.asset, balance - amount)
    if move is not None:
        move.apply(ctx.ov)
        return [signer.account_id, move.reserve.account_id]
    return [signer.account_id]


def _freeze(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.freeze
    bad = _need_role(signer, pb.REGULATOR, "freeze")
    if bad is not None:
        return bad
    target = ctx.ov.account(m.account_id)
    if target is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"freeze.account_id: no account {m.account_id!r}")
    bad = lc.closed_refusal("freeze.account_id", target)
    if bad is not None:
        return bad
    if target.role in UNFREEZABLE_ROLES:
        return Refusal(
            pb.UNAUTHORIZED, f"freeze: a {role_name(target.role)} account cannot be frozen"
        )
    if target.frozen:
        return Refusal(
            pb.FROZEN, f"freeze: {m.account_id!r} is already frozen ({target.frozen_legal_ref})"
        )
    target.frozen = True
    target.frozen_legal_ref = m.legal_ref
    ctx.ov.put_account(target)
    if target.person_ref:  # the order freezes the person: every account of it, and new ones
        return [
            signer.account_id,
            m.account_id,
            *persons.set_frozen(ctx.ov, target, m.legal_ref, frozen=True),
        ]
    return [signer.account_id, m.account_id]


def _unfreeze(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.unfreeze
    bad = _need_role(signer, pb.REGULATOR, "unfreeze")
    if bad is not None:
        return bad
    target = ctx.ov.account(m.account_id)
    if target is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"unfreeze.account_id: no account {m.account_id!r}")
    bad = lc.closed_refusal("unfreeze.account_id", target)
    if bad is not None:
        return bad
    if not target.frozen:
        return Refusal(pb.NOT_FROZEN, f"unfreeze: {m.account_id!r} is not frozen")
    target.frozen = False
    target.frozen_legal_ref = ""
    ctx.ov.put_account(target)
    if target.person_ref:
        return [
            signer.account_id,
            m.account_id,
            *persons.set_frozen(ctx.ov, target, "", frozen=False),
        ]
    return [signer.account_id, m.account_id]


def _validators(ctx: Context) -> dict[bytes, pb.Validator]:
    """The validator set in state (that of height + 2 once this block's updates ran)."""
    raw = ctx.ov.get_raw(k.VALIDATORS)
    if raw is None:
        return {}
    return {v.public_key: v for v in pb.ValidatorSet.FromString(raw).validators}


def _put_validators(ctx: Context, current: dict[bytes, pb.Validator]) -> None:
    validators = [current[key] for key in sorted(current)]
    ctx.ov.put_raw(k.VALIDATORS, pb.ValidatorSet(validators=validators).SerializeToString())


def _update_validator(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    bad = _need_role(signer, pb.CENTRAL_BANK, "update_validator")
    if bad is not None:
        return bad
    m = body.update_validator
    current = _validators(ctx)
    if m.power == 0:
        if m.public_key not in current:
            return Refusal(
                pb.INVALID_VALIDATOR, f"update_validator: {m.public_key.hex()} is not a validator"
            )
        del current[m.public_key]
        if not current:
            return Refusal(
                pb.INVALID_VALIDATOR, "update_validator: would remove the last validator"
            )
    else:
        current[m.public_key] = pb.Validator(
            public_key=m.public_key, power=m.power, moniker=m.moniker
        )
    # The set this update produces must be one consensus accepts, or it would never run.
    error = validator_set_error({key: v.power for key, v in current.items()})
    if error is not None:
        return Refusal(pb.VALIDATOR_SET_LIMIT, f"update_validator: {error}")
    _put_validators(ctx, current)
    ctx.validator_updates.append(
        pb.Validator(public_key=m.public_key, power=m.power, moniker=m.moniker)
    )
    return [signer.account_id]


def _rotate_validator_key(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    bad = _need_role(signer, pb.CENTRAL_BANK, "rotate_validator_key")
    if bad is not None:
        return bad
    m = body.rotate_validator_key
    current = _validators(ctx)
    old = current.pop(m.public_key, None)
    if old is None:
        return Refusal(
            pb.INVALID_VALIDATOR, f"rotate_validator_key: {m.public_key.hex()} is not a validator"
        )
    if m.new_public_key in current:
        return Refusal(
            pb.INVALID_VALIDATOR,
            f"rotate_validator_key: {m.new_public_key.hex()} is already a validator's key",
        )
    new = pb.Validator(public_key=m.new_public_key, power=old.power, moniker=old.moniker)
    current[m.new_public_key] = new
    _put_validators(ctx, current)
    # Both in one block's updates: the set of height + 2 has the new key and not the old.
    ctx.validator_updates.append(pb.Validator(public_key=m.public_key, power=0))
    ctx.validator_updates.append(new)
    return [signer.account_id]


Handler = Callable[[Context, pb.TxBody, pb.Account], Outcome]

#: Changes under dual control: a transaction of these kinds is refused; the same handlers
#: run when a governance proposal carrying the change is approved (node/ledger/_governance.py),
#: with the central bank's account as signer.
GOVERNED: Final[dict[str, Handler]] = {
    "register_asset": _register_asset,
    "set_limits": _set_limits,
    "set_rates": _set_rates,
    "update_validator": _update_validator,
    "rotate_validator_key": _rotate_validator_key,
}


def _governance_required(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    kind = body.WhichOneof("kind")
    return Refusal(
        pb.GOVERNANCE_REQUIRED,
        f"{kind}: takes effect only through a governance proposal that the quorum "
        f"({', '.join(role_name(r) for r in ctx.rules.book.governance_quorum)}) approves: "
        "send it as tx propose",
        rb.RULE_GOVERNANCE,
    )


HANDLERS: Final[dict[str, Handler]] = {
    "register_account": _register_account,
    "issue": _issue,
    "redeem": _redeem,
    "freeze": _freeze,
    "unfreeze": _unfreeze,
    **lc.HANDLERS,
    **{kind: _governance_required for kind in GOVERNED},
}

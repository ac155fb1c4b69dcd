"""Travel-rule data: originator and beneficiary information sealed to the banks of a leg
and to the regulators, never in clear on the ledger (docs/rulebook.md, "Travel-rule data").

Rules this module keeps:

1. Published keys: a bank, a licensed VASP, the central bank or a regulator publishes a
   32-byte X25519 key (`PublishTravelKey`); it is stored on its account. A regulator's id
   also joins ``travel/regulators`` (sorted ids, one per line), so a leg finds every
   regulator key with one read; at most `MAX_REGULATOR_KEYS` regulators publish.
2. When the rulebook enforces the rule (``travel_rule_enforced``), a leg of a non-KZT
   asset, or of a KZT-equivalent at or above ``travel_rule_threshold``, carries one copy
   per recipient: the payer's institution, the payee's institution (the account itself if
   it is a bank, VASP or the central bank, else the bank that registered it) and every
   regulator with a key. A leg that carries copies when none are required is judged the
   same way: copies come complete or not at all.
3. The ledger never decrypts. It checks the form with the body alone (`static_refusal`:
   count, sizes, recipient ids, duplicates; INVALID_TRAVEL_RULE) and the recipients with
   state (`leg_refusal`): a copy to anyone else is INVALID_TRAVEL_RULE, a recipient without
   a key NO_TRAVEL_KEY, a recipient without a copy TRAVEL_RULE_REQUIRED.
4. A plain payment never carries copies nor needs them: `plain_transfer` defers such legs
   (`defers_plain`) to the general path, which judges them here.
"""

from __future__ import annotations

from typing import Final

import nacl.bindings
import nacl.exceptions

from node.ledger import _keys as k
from node.ledger import _rules as r
from node.ledger._rulebook import KZT_CODE, Rules
from node.ledger._state import Overlay, StateReader
from proto import ledger_pb2 as pb

TRAVEL_KEY_SIZE: Final = 32
MAX_COPIES: Final = 4
#: A sealed box adds 48 bytes (its ephemeral key and MAC) to at least one byte of data.
MIN_SEALED: Final = 49
MAX_SEALED: Final = 2048
#: Two banks and this many regulators make `MAX_COPIES`.
MAX_REGULATOR_KEYS: Final = MAX_COPIES - 2
REGULATORS: Final = b"travel/regulators"
#: Roles that publish a travel key (a VASP only under a licence in force).
PUBLISHER_ROLES: Final = frozenset({pb.COMMERCIAL_BANK, pb.CENTRAL_BANK, pb.VASP, pb.REGULATOR})
#: Roles that receive travel data for their own legs; other accounts' come to their bank.
INSTITUTION_ROLES: Final = frozenset({pb.COMMERCIAL_BANK, pb.CENTRAL_BANK, pb.VASP})
RULE_TRAVEL: Final = "travel.required"

#: Any scalar: a low-order point times it (after clamping, times 8) is the identity.
_PROBE_SCALAR: Final = bytes(range(1, 33))


def low_order(public_key: bytes) -> bool:
    """Whether a 32-byte X25519 key is a low-order point (its shared secrets are zero)."""
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, public_key)
    except nacl.exceptions.RuntimeError:
        return True
    return False


def travel_key_error(public_key: bytes) -> str | None:
    """Why public_key cannot be a travel key, or None."""
    if len(public_key) != TRAVEL_KEY_SIZE:
        return f"{len(public_key)} bytes, not {TRAVEL_KEY_SIZE} (an X25519 public key)"
    if low_order(public_key):
        return "a low-order point (all zero, or one of the points whose shared secret is zero)"
    return None


def required(rules: Rules, asset_code: str, kzt_value: int | None) -> bool:
    """Whether a leg of asset_code worth kzt_value tiyn (None: no rate) needs travel data."""
    return required_from(rules.travel_from, asset_code, kzt_value)


def required_from(threshold: int | None, asset_code: str, kzt_value: int | None) -> bool:
    """`required` for the threshold in force (None: the rule is not enforced); clients
    that read the rulebook as JSON ask this too."""
    if threshold is None:  # the rulebook does not enforce the rule
        return False
    if asset_code != KZT_CODE or kzt_value is None:
        return True
    return kzt_value >= threshold


def defers_plain(rules: Rules, leg: pb.TransferLeg, amount: int) -> bool:
    """Whether a KZT leg of amount goes to the general path for its travel data (`required`
    for KZT, inline: every plain payment asks)."""
    if leg.travel_copies:
        return True
    threshold = rules.travel_from
    return threshold is not None and amount >= threshold


def static_refusal(where: str, leg: pb.TransferLeg) -> r.Refusal | None:
    """The form of a leg's travel copies, judged with the body alone (rule 3)."""
    copies = leg.travel_copies
    if len(copies) > MAX_COPIES:
        return r.Refusal(
            pb.INVALID_TRAVEL_RULE,
            f"{where}.travel_copies: {len(copies)} copies, more than {MAX_COPIES}",
        )
    seen: set[str] = set()
    for i, copy in enumerate(copies):
        at = f"{where}.travel_copies[{i}]"
        if not k.valid_account_id(copy.recipient):
            return r.Refusal(
                pb.INVALID_TRAVEL_RULE, f"{at}.recipient: {r.show(copy.recipient)} is no account id"
            )
        if copy.recipient in seen:
            return r.Refusal(
                pb.INVALID_TRAVEL_RULE, f"{at}.recipient: a second copy for {copy.recipient!r}"
            )
        seen.add(copy.recipient)
        if not MIN_SEALED <= len(copy.sealed) <= MAX_SEALED:
            return r.Refusal(
                pb.INVALID_TRAVEL_RULE,
                f"{at}.sealed: {len(copy.sealed)} bytes, not {MIN_SEALED} to {MAX_SEALED}",
            )
    return None


def regulator_ids(ov: Overlay) -> list[str]:
    """The regulators that published a travel key, sorted (``travel/regulators``)."""
    raw = ov.get_raw(REGULATORS)
    return [] if not raw else raw.decode().split("\n")


def institution_of(account: pb.Account) -> str:
    """Who receives travel data for account's legs: itself if it is an institution, else
    the bank that registered it ("" for an account of genesis)."""
    if account.role in INSTITUTION_ROLES:
        return account.account_id
    return account.registered_by


def _recipients(
    ov: Overlay, payer: pb.Account, payee: pb.Account
) -> tuple[dict[str, str], pb.Account | None]:
    """The recipients of a leg's travel data (account id -> whom it receives for), in
    order: the payer's institution, the payee's, the regulators; and the first side with
    no institution (None when both have one)."""
    recipients: dict[str, str] = {}
    for side, account in (("the payer", payer), ("the payee", payee)):
        bank = institution_of(account)
        if not bank:
            return recipients, account
        recipients.setdefault(bank, side)
    for regulator in regulator_ids(ov):
        recipients.setdefault(regulator, "the regulator")
    return recipients, None


def travel_recipients(
    state: StateReader, payer: pb.Account, payee: pb.Account
) -> list[tuple[str, str, bytes]]:
    """Whom a leg from payer to payee seals its travel data to: (account id, whom it
    receives for, its published travel key or b"") in order (GET /v1/travel/recipients).

    Raises:
        ValueError: payer or payee is an account of genesis that no bank registered.
    """
    ov = Overlay(state)
    recipients, unbanked = _recipients(ov, payer, payee)
    if unbanked is not None:
        raise ValueError(f"{unbanked.account_id!r} was registered at genesis by no bank")
    out = []
    for recipient, side in recipients.items():
        holder = ov.account(recipient)
        key = b"" if holder is None or holder.closed else holder.travel_key
        out.append((recipient, side, key))
    return out


def leg_refusal(
    ctx: r.Context,
    where: str,
    leg: pb.TransferLeg,
    payer: pb.Account,
    payee: pb.Account,
    kzt_value: int | None,
) -> r.Refusal | None:
    """Whether the leg carries the travel copies it needs (rules 2 and 3), or None."""
    copies = leg.travel_copies
    if not copies and not required(ctx.rules, leg.asset, kzt_value):
        return None
    ov = ctx.ov
    recipients, unbanked = _recipients(ov, payer, payee)
    if unbanked is not None:
        side = "payer" if unbanked is payer else "payee"
        return r.Refusal(
            pb.NO_TRAVEL_KEY,
            f"{where}.{side}: {unbanked.account_id!r} was registered at genesis by no "
            "bank, so travel-rule data has no recipient for it",
            RULE_TRAVEL,
        )
    sealed_for = {copy.recipient for copy in copies}
    for i, copy in enumerate(copies):
        if copy.recipient not in recipients:
            return r.Refusal(
                pb.INVALID_TRAVEL_RULE,
                f"{where}.travel_copies[{i}].recipient: {copy.recipient!r} is none of the "
                f"leg's recipients ({', '.join(sorted(recipients))})",
                RULE_TRAVEL,
            )
    for recipient, side in sorted(recipients.items()):
        holder = ov.account(recipient)
        if holder is None or holder.closed or not holder.travel_key:
            return r.Refusal(
                pb.NO_TRAVEL_KEY,
                f"{where}: {recipient!r} (for {side}) has published no travel key to "
                "seal travel-rule data to",
                RULE_TRAVEL,
            )
    for recipient, side in sorted(recipients.items()):
        if recipient not in sealed_for:
            return r.Refusal(
                pb.TRAVEL_RULE_REQUIRED,
                f"{where}.travel_copies: no copy for {recipient!r} (for {side}); this "
                f"{leg.asset} leg carries originator and beneficiary data sealed to each "
                "recipient",
                RULE_TRAVEL,
            )
    return None


# ---------------------------------------------------------------- PublishTravelKey


def _static_publish(body: pb.TxBody) -> r.Refusal | None:
    bad = travel_key_error(body.publish_travel_key.public_key)
    if bad is None:
        return None
    return r.Refusal(pb.INVALID_FIELD, f"publish_travel_key.public_key: {bad}")


def _publish_travel_key(ctx: r.Context, body: pb.TxBody, signer: pb.Account) -> r.Outcome:
    from node.ledger._licences import licence_in_force  # it imports _rules, as this does

    if signer.role not in PUBLISHER_ROLES:
        return r.Refusal(
            pb.UNAUTHORIZED,
            f"publish_travel_key: a {r.role_name(signer.role)} account receives no travel "
            "data (banks, licensed VASPs, the central bank and regulators do)",
        )
    if (
        signer.role == pb.VASP
        and licence_in_force(ctx.ov.get_raw, signer.account_id, ctx.height) is None
    ):
        return r.Refusal(
            pb.NO_LICENCE,
            f"publish_travel_key: {signer.account_id!r} is a VASP without a licence in force",
        )
    regulators = regulator_ids(ctx.ov)
    joins = signer.role == pb.REGULATOR and signer.account_id not in regulators
    if joins and len(regulators) >= MAX_REGULATOR_KEYS:
        return r.Refusal(
            pb.INVALID_FIELD,
            f"publish_travel_key: {len(regulators)} regulators have travel keys already, the "
            f"most a leg's {MAX_COPIES} copies leave room for",
        )
    signer.travel_key = body.publish_travel_key.public_key
    signer.travel_key_height = ctx.height
    ctx.ov.put_account(signer)
    if joins:
        ctx.ov.put_raw(REGULATORS, "\n".join(sorted([*regulators, signer.account_id])).encode())
    return [signer.account_id]


STATIC: Final = {"publish_travel_key": _static_publish}
HANDLERS: Final = {"publish_travel_key": _publish_travel_key}

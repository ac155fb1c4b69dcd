"""Licences: granted and revoked by the REGULATOR, never by a bank (docs/rulebook.md).

A licence (``lic/`` + account id → ``Licence``) lets an account of a role that the
rulebook's kind rule lists in ``licensed_roles`` hold the listed assets where its role and
zone alone would not, and, holding them outside the asset's payment zones, pay them for the
listed purposes as a purpose rule allows. A VASP holds nothing but KZT without one.

Rules this module keeps:

1. Only a REGULATOR grants or revokes. A grant replaces the account's licence (one per
   account); the record of a revoked or expired licence stays in state for examiners.
2. A licence is in force from the block that grants it through ``expires_at_height``
   inclusive, unless revoked. Every transaction reads it through the block's overlay, so
   a revocation stops use at once: the next transaction of the same block is judged
   without it.
3. The common path reads no licence: banks, institutions and accounts that hold an asset
   by their role and zone are admitted by `Rules.holding` before any lookup; only a
   licensed role that would otherwise be refused looks its licence up (`holding_under_licence`).
4. Refusals: no licence in force (none, expired, revoked) is ``NO_LICENCE``
   (``licence.required``); a licence in force that does not cover the asset is
   ``LICENCE_SCOPE`` (``licence.scope``), one that does not cover the payment's purpose is
   ``LICENCE_SCOPE`` (``licence.purpose``).
"""

from __future__ import annotations

from typing import Final

from node.ledger import _rulebook as rb
from node.ledger._rules import (
    Context,
    Outcome,
    Refusal,
    hold_refusal,
    role_name,
)
from proto import ledger_pb2 as pb

LICENCE: Final = b"lic/"

# Stable rule ids (docs/rulebook.md).
RULE_LICENCE_REQUIRED: Final = "licence.required"
RULE_LICENCE_SCOPE: Final = "licence.scope"
RULE_LICENCE_PURPOSE: Final = "licence.purpose"
RULE_LICENCE_ROLE: Final = "licence.role"


def licence_key(account_id: str) -> bytes:
    return LICENCE + account_id.encode()


def get_licence(get_raw: rb.RawGetter, account_id: str) -> pb.Licence | None:
    """The account's licence record, in force or not (None when it never had one)."""
    raw = get_raw(licence_key(account_id))
    return None if raw is None else pb.Licence.FromString(raw)


def in_force(licence: pb.Licence, height: int) -> bool:
    return not licence.revoked and height <= licence.expires_at_height


def licence_in_force(get_raw: rb.RawGetter, account_id: str, height: int) -> pb.Licence | None:
    """The account's licence if it is in force at height (not revoked, not expired)."""
    licence = get_licence(get_raw, account_id)
    return licence if licence is not None and in_force(licence, height) else None


def holding_under_licence(
    ctx: Context, account: pb.Account, asset: pb.Asset
) -> tuple[str | None, pb.Licence | None]:
    """How an account holds an asset when `Rules.holding` alone did not admit it.

    Reads the licence only for a role of the kind's ``licensed_roles``; the licence is
    returned with the answer (None when none is in force or none was needed).
    """
    if not ctx.rules.needs_licence(account, asset):
        return None, None
    licence = licence_in_force(ctx.ov.get_raw, account.account_id, ctx.height)
    return ctx.rules.holding(account, asset, licence), licence


def licence_hold_refusal(
    ctx: Context, where: str, account: pb.Account, asset: pb.Asset
) -> Refusal | None:
    """Why an account may not hold an asset, licences considered, or None if it may."""
    how = ctx.rules.holding(account, asset)
    if how is None:
        how, _ = holding_under_licence(ctx, account, asset)
    if how is not None:
        return None
    if not ctx.rules.needs_licence(account, asset):
        return hold_refusal(ctx.rules, where, account, asset)
    return _no_licence(ctx, where, account, asset)


def _no_licence(ctx: Context, where: str, account: pb.Account, asset: pb.Asset) -> Refusal:
    """NO_LICENCE or LICENCE_SCOPE for a licensed role that does not hold the asset."""
    who = f"{account.account_id!r} ({role_name(account.role)}, {pb.Zone.Name(account.zone)})"
    licence = get_licence(ctx.ov.get_raw, account.account_id)
    if licence is None:
        why = "has none"
    elif licence.revoked:
        why = (
            f"its licence {licence.reference!r} was revoked at height "
            f"{licence.revoked_height} ({licence.revoke_reference})"
        )
    elif ctx.height > licence.expires_at_height:
        why = f"its licence {licence.reference!r} expired after height {licence.expires_at_height}"
    else:
        return Refusal(
            pb.LICENCE_SCOPE,
            f"{where}: the licence {licence.reference!r} of {who} does not cover {asset.code} "
            f"(it covers {', '.join(licence.assets)})",
            RULE_LICENCE_SCOPE,
        )
    return Refusal(
        pb.NO_LICENCE,
        f"{where}: {who} holds {asset.code} only under a licence from the regulator, and {why}",
        RULE_LICENCE_REQUIRED,
    )


def purpose_refusal(
    where: str, payer: pb.Account, licence: pb.Licence | None, purpose: int
) -> Refusal | None:
    """An outside-zone payer pays only for a purpose its licence lists."""
    if licence is not None and purpose in licence.purposes:
        return None
    listed = "none" if licence is None else ", ".join(pb.Purpose.Name(p) for p in licence.purposes)
    reference = "" if licence is None else f" {licence.reference!r}"
    return Refusal(
        pb.LICENCE_SCOPE,
        f"{where}.payer: the licence{reference} of {payer.account_id!r} does not cover paying "
        f"for {pb.Purpose.Name(purpose) if purpose in pb.Purpose.values() else purpose} "
        f"(it covers {listed or 'none'})",
        RULE_LICENCE_PURPOSE,
    )


# ---------------------------------------------------------------- handlers


def _need_regulator(signer: pb.Account, what: str) -> Refusal | None:
    if signer.role == pb.REGULATOR:
        return None
    return Refusal(
        pb.UNAUTHORIZED,
        f"{what}: signer {signer.account_id!r} is {role_name(signer.role)}; only a REGULATOR "
        "grants and revokes licences",
    )


def _grant_licence(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.grant_licence
    bad = _need_regulator(signer, "grant_licence")
    if bad is not None:
        return bad
    target = ctx.ov.account(m.account_id)
    if target is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, f"grant_licence.account_id: no account {m.account_id!r}")
    if target.closed:
        return Refusal(pb.ACCOUNT_CLOSED, f"grant_licence: {m.account_id!r} is closed")
    licensable = [rule.kind for rule in ctx.rules.book.kinds if target.role in rule.licensed_roles]
    if not licensable:
        return Refusal(
            pb.INVALID_FIELD,
            f"grant_licence.account_id: {m.account_id!r} is {role_name(target.role)}, a role "
            "no kind rule of the rulebook licenses (licensed_roles)",
            RULE_LICENCE_ROLE,
        )
    for i, code in enumerate(m.assets):
        asset = ctx.ov.asset(code)
        if asset is None:
            return Refusal(pb.UNKNOWN_ASSET, f"grant_licence.assets[{i}]: no asset {code!r}")
        if asset.kind not in licensable:
            return Refusal(
                pb.INVALID_FIELD,
                f"grant_licence.assets[{i}]: the rulebook licenses no "
                f"{role_name(target.role)} to hold {pb.AssetKind.Name(asset.kind)} assets "
                f"such as {code}",
                RULE_LICENCE_ROLE,
            )
    if m.expires_at_height <= ctx.height:
        return Refusal(
            pb.INVALID_FIELD,
            f"grant_licence.expires_at_height: {m.expires_at_height} is not after this "
            f"height {ctx.height}",
        )
    licence = pb.Licence(
        account_id=m.account_id,
        assets=m.assets,
        purposes=m.purposes,
        expires_at_height=m.expires_at_height,
        reference=m.reference,
        granted_by=signer.account_id,
        granted_height=ctx.height,
    )
    ctx.ov.put_raw(licence_key(m.account_id), licence.SerializeToString())
    return [signer.account_id, m.account_id]


def _revoke_licence(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.revoke_licence
    bad = _need_regulator(signer, "revoke_licence")
    if bad is not None:
        return bad
    if ctx.ov.account(m.account_id) is None:
        return Refusal(
            pb.UNKNOWN_ACCOUNT, f"revoke_licence.account_id: no account {m.account_id!r}"
        )
    licence = get_licence(ctx.ov.get_raw, m.account_id)
    if licence is None or not in_force(licence, ctx.height):
        state = "none" if licence is None else ("revoked" if licence.revoked else "expired")
        return Refusal(
            pb.NO_LICENCE,
            f"revoke_licence: {m.account_id!r} has no licence in force to revoke ({state})",
        )
    licence.revoked = True
    licence.revoked_height = ctx.height
    licence.revoke_reference = m.reference
    ctx.ov.put_raw(licence_key(m.account_id), licence.SerializeToString())
    return [signer.account_id, m.account_id]


LICENCE_HANDLERS: Final = {
    "grant_licence": _grant_licence,
    "revoke_licence": _revoke_licence,
}

"""Backed stablecoins: a tenge stablecoin (KZTE) is backed 1:1 by KZT in a segregated reserve.

A STABLECOIN registered with ``backed_by`` "KZT" names a ``reserve_account``: registration
creates that account (role ISSUANCE_RESERVE, no keys, registered by the issuer). Issuing
the coin moves the same KZT value from the issuer's KZT balance into the reserve, in the
same transaction as the minting; the issuer's redemption releases it back. Nothing else
moves the reserve's KZT: it has no keys, so it never pays; it is never a payee; it cannot
be frozen or seized from. docs/rulebook.md, "Backed stablecoins".

Rules this module keeps:

1. The invariant: for every backed asset, its supply (issued - redeemed) converted to KZT
   equals the KZT balance of its reserve account, after every transaction. Seizing the
   coin moves coins only, so it changes neither side.
2. The conversion is exact: ``kzt = amount * 10^KZT.decimals / 10^asset.decimals`` must
   be a whole number of tiyn, else the amount is refused (UNBACKED_AMOUNT). No rounding
   ever moves value between the issuer and the reserve.
3. Like every handler (node/ledger/_rules.py), the functions here check first and return
   a `Refusal`, or a `ReserveMove` that only writes once the caller has checked everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from node.ledger import _keys as k
from node.ledger import _rules
from node.ledger._amounts import AMOUNT_MAX, amount_of
from node.ledger._state import Overlay, StateReader, get_asset, get_balance
from proto import ledger_pb2 as pb

#: The assets a stablecoin may be backed by.
BACKINGS: Final = (k.KZT,)

# Stable rule ids (docs/rulebook.md, "Backed stablecoins").
RULE_COVER: Final = "backing.cover"
RULE_EXACT: Final = "backing.exact"
RULE_SEGREGATED: Final = "backing.segregated"


def static_refusal(m: pb.RegisterAsset) -> _rules.Refusal | None:
    """The stateless checks of a RegisterAsset's backing fields."""
    if not m.backed_by and not m.reserve_account:
        return None
    if not m.backed_by:
        return _rules.Refusal(
            pb.INVALID_FIELD,
            "register_asset.backed_by: a reserve_account is named, so the asset must name "
            "its backing (KZT)",
        )
    if not m.reserve_account:
        return _rules.Refusal(
            pb.INVALID_FIELD,
            f"register_asset.reserve_account: an asset backed by {_rules.show(m.backed_by)} "
            "names the new account that holds its reserve",
        )
    if m.backed_by not in BACKINGS:
        return _rules.Refusal(
            pb.INVALID_FIELD,
            f"register_asset.backed_by: {_rules.show(m.backed_by)} is not a backing "
            f"(only {', '.join(BACKINGS)})",
        )
    if m.kind != pb.STABLECOIN:
        return _rules.Refusal(
            pb.INVALID_FIELD,
            "register_asset.backed_by: only a STABLECOIN may be backed, not "
            f"{pb.AssetKind.Name(m.kind) if m.kind in pb.AssetKind.values() else m.kind}",
        )
    if not k.valid_account_id(m.reserve_account):
        return _rules.Refusal(
            pb.INVALID_ACCOUNT_ID,
            f"register_asset.reserve_account: {_rules.show(m.reserve_account)} is not an "
            "account id (3 to 64 of a-z, 0-9, '.', '-')",
        )
    return None


def reserve_account(asset: pb.Asset | pb.RegisterAsset, registered_height: int) -> pb.Account:
    """The ISSUANCE_RESERVE account of a backed asset, as registration creates it: NATIONAL
    zone, no keys (it can never sign), registered by the issuer."""
    return pb.Account(
        account_id=asset.reserve_account,
        role=pb.ISSUANCE_RESERVE,
        zone=pb.NATIONAL,
        threshold=1,
        registered_by=asset.issuer,
        registered_height=registered_height,
    )


def register_refusal(ov: Overlay, m: pb.RegisterAsset) -> _rules.Refusal | None:
    """Why a backed RegisterAsset cannot create its reserve (after its static checks)."""
    if not m.reserve_account:
        return None
    if ov.account(m.reserve_account) is not None:
        return _rules.Refusal(
            pb.ACCOUNT_EXISTS,
            f"register_asset.reserve_account: account {m.reserve_account!r} already exists; "
            "the reserve is a new account",
        )
    if ov.asset(m.backed_by) is None:
        return _rules.Refusal(
            pb.UNKNOWN_ASSET, f"register_asset.backed_by: no asset {m.backed_by!r}"
        )
    return None


def create_reserve(ov: Overlay, m: pb.RegisterAsset, height: int) -> None:
    """Write the reserve account of a backed asset being registered (no-op if unbacked)."""
    if m.reserve_account:
        ov.put_account(reserve_account(m, height))


def backing_value(backing: pb.Asset, asset: pb.Asset, amount: int) -> int | None:
    """The backing's minor units worth amount of asset, or None when that is not whole."""
    scaled: int = amount * 10**backing.decimals
    unit: int = 10**asset.decimals
    if scaled % unit:
        return None
    return scaled // unit


@dataclass(frozen=True, slots=True)
class ReserveMove:
    """KZT moving between an issuer and its asset's reserve, checked and ready to write."""

    issuer: pb.Account
    reserve: pb.Account
    backing: str
    issuer_balance: int  # after the move
    reserve_balance: int  # after the move

    def apply(self, ov: Overlay) -> None:
        ov.set_balance(self.issuer, self.backing, self.issuer_balance)
        ov.set_balance(self.reserve, self.backing, self.reserve_balance)


def reserve_move(
    ov: Overlay, where: str, asset: pb.Asset, issuer: pb.Account, amount: int, *, issue: bool
) -> _rules.Refusal | ReserveMove | None:
    """The backing an issue puts into the reserve (issue=True) or a redemption takes out.

    Returns:
        None for an unbacked asset; else the refusal, or the move to apply once the
        handler has checked everything else.
    """
    if not asset.backed_by:
        return None
    backing = ov.asset(asset.backed_by)
    reserve = ov.account(asset.reserve_account)
    if backing is None or reserve is None:  # registration created both; a corrupt state
        return _rules.Refusal(
            pb.UNKNOWN_ACCOUNT,
            f"{where}: {asset.code} has no reserve account {asset.reserve_account!r}",
        )
    value = backing_value(backing, asset, amount)
    if value is None:
        return _rules.Refusal(
            pb.UNBACKED_AMOUNT,
            f"{where}.amount: {amount} minor units of {asset.code} ({asset.decimals} decimals) "
            f"are not a whole number of {backing.code} minor units ({backing.decimals} "
            f"decimals); use a multiple of {_step(backing, asset)}",
            RULE_EXACT,
        )
    held = ov.balance(issuer.account_id, backing.code)
    in_reserve = ov.balance(reserve.account_id, backing.code)
    if issue and held < value:
        return _rules.Refusal(
            pb.INSUFFICIENT_FUNDS,
            f"{where}: {amount} {asset.code} needs {value} {backing.code} from its issuer "
            f"{issuer.account_id!r} into the reserve {reserve.account_id!r}; the issuer "
            f"holds {held}",
            RULE_COVER,
        )
    if not issue and in_reserve < value:  # rule 1 makes this impossible; never go negative
        return _rules.Refusal(
            pb.INSUFFICIENT_FUNDS,
            f"{where}: {amount} {asset.code} would release {value} {backing.code} from the "
            f"reserve {reserve.account_id!r}, which holds {in_reserve}",
            RULE_COVER,
        )
    if issue:
        held, in_reserve = held - value, in_reserve + value
    else:
        held, in_reserve = held + value, in_reserve - value
    if held > AMOUNT_MAX or in_reserve > AMOUNT_MAX:
        return _rules.Refusal(
            pb.AMOUNT_OVERFLOW, f"{where}.amount: a {backing.code} balance would pass 2^128 - 1"
        )
    return ReserveMove(issuer, reserve, backing.code, held, in_reserve)


def issue_debits(state: StateReader, body: pb.TxBody) -> dict[tuple[str, str], int]:
    """What a backed issue takes from its issuer's backing balance, for mempool admission.

    `debits_of` needs no state and so cannot see it; without this, several pending issues
    could each be admitted on the same KZT and all but one refused in the block.
    """
    if body.WhichOneof("kind") != "issue":
        return {}
    asset = get_asset(state, body.issue.asset)
    if asset is None or not asset.backed_by:
        return {}
    backing = get_asset(state, asset.backed_by)
    value = None if backing is None else backing_value(backing, asset, amount_of(body.issue))
    return {(body.signer, asset.backed_by): value} if value else {}


def _step(backing: pb.Asset, asset: pb.Asset) -> int:
    """The least amount of asset that is a whole number of backing minor units."""
    step = 1
    while backing_value(backing, asset, step) is None:
        step *= 10
    return step


def segregated_payee(where: str, payee: pb.Account) -> _rules.Refusal | None:
    """A transfer never pays a reserve: a payment in would back no coin (rule 1)."""
    if payee.role != pb.ISSUANCE_RESERVE:
        return None
    return _rules.Refusal(
        pb.ASSET_NOT_ALLOWED,
        f"{where}.payee: {payee.account_id!r} is the segregated reserve of a backed "
        "stablecoin; only issuing the coin puts value into it",
        RULE_SEGREGATED,
    )


def segregated_target(where: str, target: pb.Account) -> _rules.Refusal | None:
    """A reserve is not an account a regulator or bank acts on (seize, recover, close...):
    its KZT leaves it only by the issuer's redemption."""
    if target.role != pb.ISSUANCE_RESERVE:
        return None
    return _rules.Refusal(
        pb.UNAUTHORIZED,
        f"{where}: {target.account_id!r} is the segregated reserve of a backed stablecoin; "
        "its KZT leaves it only when the issuer redeems the coin",
        RULE_SEGREGATED,
    )


def genesis_writes(assets: Iterable[pb.Asset]) -> dict[bytes, bytes]:
    """The reserve accounts genesis creates for its backed assets (they start empty)."""
    return {
        k.account_key(asset.reserve_account): reserve_account(asset, 0).SerializeToString()
        for asset in assets
        if asset.reserve_account
    }


def reserve_balance(state: StateReader, asset: pb.Asset) -> int | None:
    """The committed backing held in a backed asset's reserve (None for an unbacked asset)."""
    if not asset.backed_by:
        return None
    return get_balance(state, asset.reserve_account, asset.backed_by)


def supply(asset: pb.Asset) -> int:
    """What is outstanding of an asset: issued minus redeemed (seizures move coins only)."""
    return amount_of(asset, "issued") - amount_of(asset, "redeemed")

"""The transaction side of `node.client.TengeClient`: amounts, submission options and
results, and one helper per transaction kind that builds, signs and submits it.

`TransactionKinds` is a mixin: its helpers build the kind's protobuf message, check
amounts, and hand it to ``send`` (implemented by `TengeClient`). Everything public here is
re-exported from `node.client`; import it from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict, Unpack

from node.keys import KeyPair
from node.ledger import AMOUNT_MAX, U64_MAX, txbuild
from node.ledger.txbuild import KindMessage, Leg, transfer
from proto import ledger_pb2 as pb


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The node's answer to a submission.

    Attributes:
        tx_id: hex of the transaction id.
        status: "pending" (admitted) or "committed" (final, with height and code).
        height, index: where it was committed (None while pending).
        code: the receipt's code name once committed ("OK" or a rule failure), else None.
        message: the receipt's message ("" when OK).
    """

    tx_id: str
    status: str
    height: int | None = None
    index: int | None = None
    code: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """Committed with code OK."""
        return self.status == "committed" and self.code == "OK"


#: Digits of 2^128 - 1: a longer number of minor units is out of range at once.
_AMOUNT_DIGITS: Final = len(str(AMOUNT_MAX))


class SendOptions(TypedDict, total=False):
    """How a built transaction is submitted.

    Keys:
        wait: wait until committed (``?wait=commit``).
        timeout_s: how long the node waits for the commit.
        nonce: the body's nonce (default: random 63 bits).
        expires_at_height: last height for inclusion (default: tip + ``expires_in``).
        expires_in: blocks from the tip (default: min(100, the chain's max_tx_ttl)).
        memo: free text stored with the transaction.
    """

    wait: bool
    timeout_s: float
    nonce: int
    expires_at_height: int
    expires_in: int
    memo: str


def parse_amount(text: str, decimals: int) -> int:
    """Minor units of a decimal amount in an asset's units: ("1250.50", 2) -> 125050.

    Exact at any size (no floating point, no decimal context): "1000" of an 18-decimal
    asset is 10^21 minor units.

    Raises:
        ValueError: not a plain non-negative decimal, more decimals than the asset has,
            or more than 2^128 - 1 minor units.
    """
    whole, _, fraction = text.partition(".")
    digits = whole + fraction
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"{text[:50]!r} is not a non-negative decimal amount")
    fraction = fraction.rstrip("0")
    if len(fraction) > decimals:
        raise ValueError(f"{text[:50]!r} has more than {decimals} decimal places")
    whole = whole.lstrip("0")
    if len(whole) + decimals > _AMOUNT_DIGITS:
        raise ValueError(f"{text[:50]!r} is more than 2^128 - 1 minor units")
    scale: int = 10**decimals
    units = int(whole or "0") * scale + int(fraction.ljust(decimals, "0") or "0")
    if units > AMOUNT_MAX:
        raise ValueError(f"{text[:50]!r} is more than 2^128 - 1 minor units")
    return units


def format_amount(units: int, decimals: int) -> str:
    """The inverse of `parse_amount`: (125050, 2) -> "1250.50"."""
    if decimals == 0:
        return str(units)
    text = str(units).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def _u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
        raise ValueError(f"{what} must be an integer from 0 to 2^64 - 1, not {value!r}")
    return value


def _amount(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AMOUNT_MAX:
        raise ValueError(f"{what} must be an integer from 0 to 2^128 - 1, not {value!r}")
    return value


def _enum(enum: Any, value: str | int, what: str) -> int:
    if isinstance(value, int):
        return value
    try:
        number: int = enum.Value(value)
    except ValueError:
        raise ValueError(f"{what}: unknown value {value!r}") from None
    return number


#: Blocks a proposal stays open unless the caller says otherwise.
DEFAULT_PROPOSAL_TTL: Final = 17_280


class TransactionKinds:
    """One method per transaction kind; mixed into `TengeClient`, which supplies `send`."""

    async def send(
        self,
        kind: KindMessage,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Build, sign and submit one transaction of any kind (see `TengeClient.send`)."""
        raise NotImplementedError

    async def status(self) -> dict[str, Any]:
        """GET /v1/status (see `TengeClient.status`)."""
        raise NotImplementedError

    async def chain_id(self) -> str:
        """The chain id (see `TengeClient.chain_id`)."""
        raise NotImplementedError

    async def propose(
        self,
        change: txbuild.GovernedChange,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        activation_height: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose a governed change (limits, rates, an asset, a validator): it applies when
        every role of the governance quorum has approved (`approve`), within `ttl` blocks.

        The result's tx_id is the proposal id the approvers name. docs/governance.md.
        """
        height = int((await self.status())["height"])
        message = txbuild.propose(
            change,
            expires_at_height=height + ttl,
            activation_height=activation_height,
            summary=summary,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def approve(
        self,
        proposal_id: str,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Approve a proposal (a quorum role); the approval completing the quorum applies it."""
        message = pb.Approve(proposal_id=bytes.fromhex(proposal_id))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def withdraw(
        self,
        proposal_id: str,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Withdraw an open proposal (its proposer)."""
        message = pb.Withdraw(proposal_id=bytes.fromhex(proposal_id))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def register_account(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        role: str | int,
        zone: str | int,
        public_keys: Sequence[bytes],
        kyc_tier: int = 0,
        threshold: int = 0,
        person_ref: bytes = b"",
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Register an account (central bank: banks and state roles; a bank: its clients).

        person_ref: the holder's 32-byte person reference (`node.client.person_ref`), for a
        CUSTOMER or MERCHANT; its tier limits and freezes then apply across the person.
        """
        message = pb.RegisterAccount(
            account_id=account_id,
            role=_enum(pb.Role, role, "role"),  # type: ignore[arg-type]
            zone=_enum(pb.Zone, zone, "zone"),  # type: ignore[arg-type]
            kyc_tier=kyc_tier,
            public_keys=list(public_keys),
            threshold=threshold,
            person_ref=person_ref,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def register_asset(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        code: str,
        decimals: int,
        issuer: str,
        kind: str | int,
        payment_zones: Sequence[str | int],
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        activation_height: int = 0,
        backed_by: str = "",
        reserve_account: str = "",
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose registering an asset (a governance quorum role; `propose`).

        A backed stablecoin names its backing (``backed_by="KZT"``) and the new account
        that will hold it (``reserve_account``); docs/rulebook.md, "Backed stablecoins".
        """
        message = pb.RegisterAsset(
            code=code,
            decimals=decimals,
            issuer=issuer,
            kind=_enum(pb.AssetKind, kind, "kind"),  # type: ignore[arg-type]
            payment_zones=[_enum(pb.Zone, z, "payment_zones") for z in payment_zones],  # type: ignore[misc]
            backed_by=backed_by,
            reserve_account=reserve_account,
        )
        return await self.propose(
            message,
            signer=signer,
            keys=keys,
            summary=summary,
            ttl=ttl,
            activation_height=activation_height,
            **options,
        )

    async def set_limits(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        kyc_tier: int,
        per_payment: int,
        daily_outflow: int,
        holding_cap: int,
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        activation_height: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose the limits of a KYC tier, in tiyn of KZT-equivalent; 0 means no limit."""
        message = pb.SetLimits(
            kyc_tier=kyc_tier,
            per_payment=_u64(per_payment, "per_payment"),
            daily_outflow=_u64(daily_outflow, "daily_outflow"),
            holding_cap=_u64(holding_cap, "holding_cap"),
        )
        return await self.propose(
            message,
            signer=signer,
            keys=keys,
            summary=summary,
            ttl=ttl,
            activation_height=activation_height,
            **options,
        )

    async def set_rates(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        rates: dict[str, int],
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        activation_height: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose reference rates in tiyn per whole unit; 0 removes a rate."""
        message = pb.SetRates(
            rates=[
                pb.ReferenceRate(asset=code, tiyn_per_unit=_u64(tiyn, f"rates[{code}]"))
                for code, tiyn in sorted(rates.items())
            ]
        )
        return await self.propose(
            message,
            signer=signer,
            keys=keys,
            summary=summary,
            ttl=ttl,
            activation_height=activation_height,
            **options,
        )

    async def issue(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        asset: str,
        to: str,
        amount: int,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Create supply of an asset into an account (the asset's issuer)."""
        message = txbuild.issue(asset, to, _amount(amount, "amount"))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def redeem(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        asset: str,
        amount: int,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Destroy supply held by the signer."""
        message = txbuild.redeem(asset, _amount(amount, "amount"))
        return await self.send(message, signer=signer, keys=keys, **options)

    async def transfer(
        self,
        *,
        keys: Sequence[KeyPair],
        legs: Sequence[Leg],
        reference: str = "",
        purpose: str = "PURPOSE_UNSPECIFIED",
        signer: str | None = None,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Pay: one or more (payer, payee, asset, amount) legs, settled all or nothing.

        A leg may carry its payment ids as a fifth item (`PaymentIds`: end-to-end id,
        UETR, ISO purpose code, remittance; docs/iso20022.md), and then its sealed
        travel-rule data as a sixth (`txbuild.seal_travel_data`).
        Every paying account must sign; `signer` defaults to the first leg's payer.
        `purpose` (e.g. "GOVERNMENT_FEE") is what a rulebook purpose rule may ask for.
        """
        if not legs:
            raise ValueError("a transfer needs at least one leg")
        checked: list[Leg] = []
        for i, leg in enumerate(legs):
            amount = _amount(leg[3], f"legs[{i}].amount")
            if len(leg) == 6:
                checked.append((leg[0], leg[1], leg[2], amount, leg[4], leg[5]))
            elif len(leg) == 5:
                checked.append((leg[0], leg[1], leg[2], amount, leg[4]))
            else:
                checked.append((leg[0], leg[1], leg[2], amount))
        message = transfer(
            *checked, reference=reference, purpose=_enum(pb.Purpose, purpose, "purpose")
        )
        acting = legs[0][0] if signer is None else signer
        return await self.send(message, signer=acting, keys=keys, **options)

    async def freeze(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        legal_ref: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Freeze an account (regulator)."""
        message = pb.Freeze(account_id=account_id, legal_ref=legal_ref)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def grant_licence(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        assets: Sequence[str],
        licence_expires_at: int,
        reference: str,
        purposes: Sequence[str | int] = (),
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Grant or replace an account's licence (regulator): the assets it may hold and
        the purposes (e.g. "GOVERNMENT_FEE") it may pay for, through the height
        licence_expires_at (the licence's expires_at_height, not the transaction's)."""
        message = pb.GrantLicence(
            account_id=account_id,
            assets=list(assets),
            purposes=[_enum(pb.Purpose, p, "purpose") for p in purposes],  # type: ignore[misc]
            expires_at_height=licence_expires_at,
            reference=reference,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def revoke_licence(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        reference: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """End an account's licence at once (regulator)."""
        message = pb.RevokeLicence(account_id=account_id, reference=reference)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def unfreeze(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        legal_ref: str,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Unfreeze an account (regulator)."""
        message = pb.Unfreeze(account_id=account_id, legal_ref=legal_ref)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def seize(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        asset: str,
        amount: int,
        reserve: str,
        court: str,
        case_number: str,
        order_number: str,
        order_date: str,
        legal_ref: str = "",
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Move funds of a frozen account to the STATE_RESERVE account reserve under a court
        order (regulator); order_date is YYYY-MM-DD."""
        order = pb.CourtOrder(
            court=court, case_number=case_number, order_number=order_number, order_date=order_date
        )
        message = txbuild.seize(
            account_id,
            asset,
            _amount(amount, "amount"),
            reserve=reserve,
            court_order=order,
            legal_ref=legal_ref,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def publish_travel_key(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        public_key: bytes,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Publish the signer's X25519 travel key (a bank, licensed VASP, the central bank
        or a regulator); payers seal travel-rule data to it (`TengeClient.seal_travel`)."""
        message = pb.PublishTravelKey(public_key=public_key)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def rotate_keys(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        public_keys: Sequence[bytes],
        threshold: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Replace the signer's own keys (signed by its current keys, threshold of them)."""
        message = pb.RotateKeys(public_keys=list(public_keys), threshold=threshold)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def recover_account(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        public_keys: Sequence[bytes],
        regulator: str,
        reason: str,
        threshold: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """New keys for a customer or merchant: `keys` holds the registering bank's key(s)
        (the signer) and the approving regulator's, who sign the one transaction."""
        message = pb.RecoverAccount(
            account_id=account_id,
            public_keys=list(public_keys),
            threshold=threshold,
            regulator=regulator,
            reason=reason,
        )
        return await self.send(message, signer=signer, keys=keys, **options)

    async def change_account(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        kyc_tier: int | None = None,
        zone: str | int | None = None,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Change the KYC tier and/or zone of an account (the bank that registered it)."""
        message = pb.ChangeAccount(account_id=account_id)
        if kyc_tier is not None:
            message.kyc_tier = kyc_tier
        if zone is not None:
            message.zone = _enum(pb.Zone, zone, "zone")  # type: ignore[assignment]
        return await self.send(message, signer=signer, keys=keys, **options)

    async def close_account(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        account_id: str,
        sweep_to: str = "",
        legal_ref: str = "",
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Close an account for good: its bank at zero balances, or a regulator moving every
        balance to `sweep_to` under `legal_ref`."""
        message = pb.CloseAccount(account_id=account_id, sweep_to=sweep_to, legal_ref=legal_ref)
        return await self.send(message, signer=signer, keys=keys, **options)

    async def rotate_validator_key(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        public_key: bytes,
        new_key: KeyPair,
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose moving the validator of public_key to new_key (its power and moniker),
        effective two blocks after the approving block; new_key signs the proof."""
        message = txbuild.rotate_validator_key(await self.chain_id(), public_key, new_key)
        return await self.propose(
            message, signer=signer, keys=keys, summary=summary, ttl=ttl, **options
        )

    async def update_validator(
        self,
        *,
        signer: str,
        keys: Sequence[KeyPair],
        public_key: bytes,
        power: int,
        moniker: str = "",
        summary: str,
        ttl: int = DEFAULT_PROPOSAL_TTL,
        activation_height: int = 0,
        **options: Unpack[SendOptions],
    ) -> SubmitResult:
        """Propose adding, re-weighting or (power 0) removing a validator."""
        message = pb.UpdateValidator(
            public_key=public_key, power=_u64(power, "power"), moniker=moniker
        )
        return await self.propose(
            message,
            signer=signer,
            keys=keys,
            summary=summary,
            ttl=ttl,
            activation_height=activation_height,
            **options,
        )


__all__ = [
    "SendOptions",
    "SubmitResult",
    "TransactionKinds",
    "format_amount",
    "parse_amount",
]

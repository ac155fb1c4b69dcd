"""The rulebook: the regulator's rules as one versioned record in state (docs/rulebook.md).

What used to be constants of the code is data here: who may hold and pay each asset kind
in each zone, the nationwide ban, the two-tier rule, the purpose rules of holders outside
an asset's payment zones, the KYC-tier limits in KZT-equivalent, the central bank's
reference rates and the travel-rule threshold.

Rules this module keeps:

1. One version is active at every height. A change is stored as the pending version
   (``rulebook/pending``) with an activation height at least two blocks ahead; the first
   block at or after that height promotes it (``rulebook/active``) before its first
   transaction, so every node judges that block, and no earlier one, under it.
2. Every version ever active stays readable (``rulebook/v/`` + version) for examiners.
3. Each refusal made by a rule names the rule's stable id (`Refusal.rule`); the ids are
   listed in docs/rulebook.md and never renamed.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from proto import ledger_pb2 as pb

ACTIVE: Final = b"rulebook/active"
PENDING: Final = b"rulebook/pending"
VERSION: Final = b"rulebook/v/"
_U64 = struct.Struct(">Q")

#: How many accounts one person may hold across every bank (``max_accounts_per_person``).
DEFAULT_MAX_ACCOUNTS_PER_PERSON: Final = 4
#: The most the rulebook may set: it bounds what every payment of a person's account reads
#: (node/ledger/_persons.py).
MAX_ACCOUNTS_PER_PERSON: Final = 16

#: A rulebook change becomes active this many blocks after the block that makes it, or later.
MIN_ACTIVATION_DELAY: Final = 2

INSTITUTIONS: Final = (pb.CENTRAL_BANK, pb.COMMERCIAL_BANK, pb.TREASURY, pb.STATE_RESERVE)
KZT_CODE: Final = "KZT"

# Stable rule ids (docs/rulebook.md). A refusal by the rulebook carries one of these, or
# the id of a purpose rule.
RULE_KIND: Final = "hold.kind"
RULE_HOLD_ZONE: Final = "hold.zone"
RULE_OUTSIDE_RECEIVE: Final = "hold.outside-zone-receive"
RULE_OUTSIDE_PAY: Final = "hold.outside-zone-pay"
RULE_BAN: Final = "ban.zone"
RULE_TWO_TIER_ISSUE: Final = "two-tier.issue"
RULE_TWO_TIER_PAY: Final = "two-tier.pay"
RULE_TIER: Final = "limits.tier"
RULE_RATE: Final = "limits.rate"
RULE_PER_PAYMENT: Final = "limits.per-payment"
RULE_DAILY: Final = "limits.daily"
RULE_HOLDING: Final = "limits.holding"
RULE_GOVERNANCE: Final = "governance.dual-control"
RULE_QUORUM: Final = "governance.quorum"
RULE_PERSON_ACCOUNTS: Final = "persons.max-accounts"


def version_key(version: int) -> bytes:
    return VERSION + _U64.pack(version)


def default_rulebook(
    tier_limits: Iterable[pb.TierLimits] = (),
    rates: Iterable[pb.ReferenceRate] = (),
    travel_rule_threshold: int = 100_000_000,
) -> pb.Rulebook:
    """The CryptoCity rulebook as DESIGN.md §4 writes it, version 1 from height 0.

    KZT pays everywhere; stablecoins and crypto pay only in CRYPTOCITY, between accounts
    there; banks, TREASURY, STATE_RESERVE and the central bank hold any asset; a MERCHANT
    outside CRYPTOCITY with a licence from the regulator may hold stablecoins and pay them
    only to TREASURY as a government fee; a VASP holds KZT, and stablecoins and crypto only
    under a licence covering the asset (node/ledger/_licences.py); the central bank pays only
    banks, TREASURY and STATE_RESERVE. The ISSUANCE_RESERVE of a backed stablecoin holds
    KZT (its backing) and nothing else.

    State funds (node/ledger/_reserves.py): RESERVE_ONLY assets pay in no zone and are held
    by reserves and licensed VASPs (custodians), which pay them only into a reserve; a
    reserve pays the central bank, banks, TREASURY, reserves and VASPs, never a firm or a
    person; a payment into a reserve is a mined remittance (from a VASP), a purchase (from
    a bank, the central bank or a VASP) or a transfer between reserves (no purpose); a
    reserve signs 2-of-n or more.
    """
    everywhere = [pb.NATIONAL, pb.CRYPTOCITY]
    people = [pb.MERCHANT, pb.CUSTOMER]
    return pb.Rulebook(
        version=1,
        activation_height=0,
        kinds=[
            pb.KindRule(
                kind=pb.CBDC,
                payment_zones=everywhere,
                holder_roles=[*INSTITUTIONS, pb.ISSUANCE_RESERVE],
                zone_roles=[*people, pb.REGULATOR, pb.VASP],
            ),
            pb.KindRule(
                kind=pb.STABLECOIN,
                payment_zones=[pb.CRYPTOCITY],
                holder_roles=INSTITUTIONS,
                zone_roles=people,
                licensed_roles=[pb.MERCHANT, pb.VASP],
            ),
            pb.KindRule(
                kind=pb.CRYPTO,
                payment_zones=[pb.CRYPTOCITY],
                holder_roles=INSTITUTIONS,
                zone_roles=people,
                licensed_roles=[pb.VASP],
            ),
            pb.KindRule(
                kind=pb.RESERVE_ONLY,
                payment_zones=[],
                holder_roles=[pb.STATE_RESERVE],
                licensed_roles=[pb.VASP],
            ),
        ],
        central_bank_payees=[pb.COMMERCIAL_BANK, pb.TREASURY, pb.STATE_RESERVE],
        purpose_rules=[
            pb.PurposeRule(
                id="purpose.fee-to-treasury",
                kind=pb.STABLECOIN,
                payee_roles=[pb.TREASURY],
                purpose=pb.GOVERNMENT_FEE,
            ),
            pb.PurposeRule(
                id="purpose.reserve-remittance",
                kind=pb.RESERVE_ONLY,
                payee_roles=[pb.STATE_RESERVE],
                purpose=pb.MINED_REMITTANCE,
            ),
            pb.PurposeRule(
                id="purpose.reserve-purchase",
                kind=pb.RESERVE_ONLY,
                payee_roles=[pb.STATE_RESERVE],
                purpose=pb.RESERVE_PURCHASE,
            ),
        ],
        tier_limits=_by_tier(tier_limits),
        rates=_by_asset(rates),
        travel_rule_threshold=travel_rule_threshold,
        governance_quorum=[pb.CENTRAL_BANK, pb.REGULATOR],
        max_accounts_per_person=DEFAULT_MAX_ACCOUNTS_PER_PERSON,
        reserve_payees=[
            pb.CENTRAL_BANK,
            pb.COMMERCIAL_BANK,
            pb.TREASURY,
            pb.STATE_RESERVE,
            pb.VASP,
        ],
        inflow_rules=[
            pb.InflowRule(purpose=pb.MINED_REMITTANCE, payer_roles=[pb.VASP], kind=pb.MINED),
            pb.InflowRule(
                purpose=pb.RESERVE_PURCHASE,
                payer_roles=[pb.COMMERCIAL_BANK, pb.CENTRAL_BANK, pb.VASP],
                kind=pb.PURCHASED,
            ),
            pb.InflowRule(
                purpose=pb.PURPOSE_UNSPECIFIED, payer_roles=[pb.STATE_RESERVE], kind=pb.TRANSFERRED
            ),
        ],
        min_reserve_threshold=2,
    )


def _by_tier(limits: Iterable[pb.TierLimits]) -> list[pb.TierLimits]:
    return sorted(limits, key=lambda t: t.kyc_tier)


def _by_asset(rates: Iterable[pb.ReferenceRate]) -> list[pb.ReferenceRate]:
    return sorted(rates, key=lambda r: r.asset)


def rulebook_error(rb: pb.Rulebook) -> str | None:
    """Why a rulebook cannot be used, or None. Genesis and every change run this."""
    kinds = [rule.kind for rule in rb.kinds]
    if len(set(kinds)) != len(kinds):
        return "kinds: an asset kind has two rules"
    if pb.CBDC not in kinds:
        return "kinds: the CBDC kind needs a rule (KZT pays by it)"
    for rule in rb.kinds:
        if rule.kind not in pb.AssetKind.values() or rule.kind == pb.ASSET_KIND_UNSPECIFIED:
            return f"kinds: {rule.kind} is not an asset kind"
        roles = [*rule.holder_roles, *rule.zone_roles, *rule.licensed_roles]
        if any(r not in pb.Role.values() or r == pb.ROLE_UNSPECIFIED for r in roles):
            return f"kinds[{pb.AssetKind.Name(rule.kind)}]: an unknown role"
        if any(z not in pb.Zone.values() or z == pb.ZONE_UNSPECIFIED for z in rule.payment_zones):
            return f"kinds[{pb.AssetKind.Name(rule.kind)}]: an unknown zone"
    if any(r not in pb.Role.values() or r == pb.ROLE_UNSPECIFIED for r in rb.central_bank_payees):
        return "central_bank_payees: an unknown role"
    quorum = list(rb.governance_quorum)
    if pb.CENTRAL_BANK not in quorum or len(set(quorum)) != len(quorum):
        return "governance_quorum: distinct roles, the CENTRAL_BANK among them"
    if any(r not in pb.Role.values() or r == pb.ROLE_UNSPECIFIED for r in quorum):
        return "governance_quorum: an unknown role"
    ids = [rule.id for rule in rb.purpose_rules]
    if len(set(ids)) != len(ids) or not all(i.startswith("purpose.") for i in ids):
        return "purpose_rules: ids must be distinct and start with 'purpose.'"
    tiers = [t.kyc_tier for t in rb.tier_limits]
    if len(set(tiers)) != len(tiers):
        return "tier_limits: a KYC tier is listed twice"
    codes = [r.asset for r in rb.rates]
    if len(set(codes)) != len(codes):
        return "rates: an asset has two rates"
    if KZT_CODE in codes:
        return "rates: KZT is the unit of account and takes no rate"
    if any(r.tiyn_per_unit == 0 for r in rb.rates):
        return "rates: a rate of 0 would make the asset worth nothing against the limits"
    if rb.max_accounts_per_person > MAX_ACCOUNTS_PER_PERSON:
        return f"max_accounts_per_person: at most {MAX_ACCOUNTS_PER_PERSON} (0: that many)"
    from node.ledger._reserves import rulebook_reserve_error  # it imports this module

    return rulebook_reserve_error(rb)


@dataclass(frozen=True, slots=True)
class KindIndex:
    """One `KindRule` as sets, for the per-leg checks."""

    payment_zones: frozenset[int]
    holder_roles: frozenset[int]
    zone_roles: frozenset[int]
    licensed_roles: frozenset[int]

    @classmethod
    def of(cls, rule: pb.KindRule) -> KindIndex:
        return cls(
            frozenset(rule.payment_zones),
            frozenset(rule.holder_roles),
            frozenset(rule.zone_roles),
            frozenset(rule.licensed_roles),
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """A rulebook indexed for judging transactions (built once per rulebook version)."""

    book: pb.Rulebook
    kinds: dict[int, KindIndex]
    limits: dict[int, pb.TierLimits]
    rates: dict[str, int]
    central_bank_payees: frozenset[int]
    #: The KZT-equivalent from which a leg carries travel-rule data; None: not enforced.
    travel_from: int | None = None

    @classmethod
    def of(cls, book: pb.Rulebook) -> Rules:
        return cls(
            book=book,
            kinds={rule.kind: KindIndex.of(rule) for rule in book.kinds},
            limits={t.kyc_tier: t for t in book.tier_limits},
            rates={r.asset: r.tiyn_per_unit for r in book.rates},
            central_bank_payees=frozenset(book.central_bank_payees),
            travel_from=book.travel_rule_threshold if book.travel_rule_enforced else None,
        )

    @property
    def version(self) -> int:
        return self.book.version

    def holding(
        self, account: pb.Account, asset: pb.Asset, licence: pb.Licence | None = None
    ) -> str | None:
        """How an account may hold an asset: "institution", "zone", "outside", or None.

        "zone" needs the account's zone among the asset's payment zones and among those
        its kind may pay in (the nationwide ban). A role of the kind's ``licensed_roles``
        that its role and zone do not admit holds the asset only under `licence`, a licence
        in force whose ``assets`` list the asset's code (the caller looks it up only then,
        `needs_licence`): "zone" inside those zones, "outside" outside them, where it pays
        only as a purpose rule and its licence allow. ``Account.licensed`` is never read.
        """
        rule = self.kinds.get(asset.kind)
        if rule is None:
            return None
        role = account.role
        if role in rule.holder_roles:
            return "institution"
        zone = account.zone
        if role in rule.zone_roles and zone in rule.payment_zones and zone in asset.payment_zones:
            return "zone"
        if licence is not None and role in rule.licensed_roles and asset.code in licence.assets:
            if zone in rule.payment_zones and zone in asset.payment_zones:
                return "zone"
            return "outside"
        return None

    def needs_licence(self, account: pb.Account, asset: pb.Asset) -> bool:
        """Whether the account holds the asset only under a licence: its role is one of the
        kind's ``licensed_roles`` and neither an institution role nor its zone admit it."""
        rule = self.kinds.get(asset.kind)
        if rule is None or account.role not in rule.licensed_roles:
            return False
        return self.holding(account, asset) is None

    def purpose_rule(
        self, asset: pb.Asset, payee: pb.Account, purpose: int
    ) -> pb.PurposeRule | None:
        """The purpose rule that lets an outside-zone holder pay this payee, or None."""
        for rule in self.book.purpose_rules:
            if (
                rule.kind == asset.kind
                and payee.role in rule.payee_roles
                and rule.purpose == purpose
            ):
                return rule
        return None

    def kzt_value(self, asset: pb.Asset, amount: int) -> int | None:
        """The KZT-equivalent in tiyn (rounded up), or None when the asset has no rate."""
        if asset.code == KZT_CODE:
            return amount
        rate = self.rates.get(asset.code)
        if rate is None:
            return None
        scale: int = 10**asset.decimals
        value: int = -(-amount * rate // scale)
        return value


RawGetter = Callable[[bytes], bytes | None]

_DEFAULT_RAW: Final = default_rulebook().SerializeToString()


def rulebook_at(get_raw: RawGetter, height: int) -> tuple[bytes, bool]:
    """The serialized rulebook in force at height, and whether it must be promoted first.

    Args:
        get_raw: reads a state key (committed state or a block's overlay).
        height: the height being judged.

    Returns:
        (rulebook, promote): promote is True when the pending version activates at or
        before height, so the block at height makes it the active one.
    """
    pending = get_raw(PENDING)
    if pending is not None and _activation_height(pending) <= height:
        return pending, True
    active = get_raw(ACTIVE)
    return (_DEFAULT_RAW if active is None else active), False


@functools.lru_cache(maxsize=8)
def _activation_height(raw: bytes) -> int:
    """A serialized rulebook's activation height, parsed once per version: every mempool
    check asks while a change is pending."""
    return pb.Rulebook.FromString(raw).activation_height


def genesis_writes(book: pb.Rulebook) -> dict[bytes, bytes]:
    """The state keys genesis writes for its rulebook."""
    raw = book.SerializeToString()
    return {ACTIVE: raw, version_key(book.version): raw}


def pending_change(
    get_raw: RawGetter, rules: Rules, height: int, not_before: int = 0
) -> pb.Rulebook:
    """A new version to edit, built on the pending change if there is one.

    The result is version (active + 1) and holds every change still pending, so two
    changes in a row both take effect. It activates at the latest of height +
    MIN_ACTIVATION_DELAY, `not_before` (a proposal's activation height) and the pending
    change's own activation height.
    """
    raw = get_raw(PENDING)
    change = pb.Rulebook()
    change.CopyFrom(rules.book if raw is None else pb.Rulebook.FromString(raw))
    earliest = height + MIN_ACTIVATION_DELAY
    if raw is None:
        change.version = rules.version + 1
        change.activation_height = max(earliest, not_before)
    else:
        change.activation_height = max(earliest, not_before, change.activation_height)
    return change


def put_pending(put_raw: Callable[[bytes, bytes | None], None], change: pb.Rulebook) -> None:
    put_raw(PENDING, change.SerializeToString())


def promote(put_raw: Callable[[bytes, bytes | None], None], raw: bytes) -> None:
    """Make the pending version the active one (the first block at its activation height)."""
    book = pb.Rulebook.FromString(raw)
    put_raw(ACTIVE, raw)
    put_raw(version_key(book.version), raw)
    put_raw(PENDING, None)


def read_rulebooks(get_raw: RawGetter) -> tuple[pb.Rulebook, pb.Rulebook | None]:
    """The committed active rulebook and the pending change (None when there is none)."""
    active = get_raw(ACTIVE)
    pending = get_raw(PENDING)
    return (
        pb.Rulebook.FromString(_DEFAULT_RAW if active is None else active),
        None if pending is None else pb.Rulebook.FromString(pending),
    )


def read_version(get_raw: RawGetter, version: int) -> pb.Rulebook | None:
    """A rulebook version that was active once, or None."""
    raw = get_raw(version_key(version))
    return None if raw is None else pb.Rulebook.FromString(raw)

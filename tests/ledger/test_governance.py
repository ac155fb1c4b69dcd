"""Dual control: governed changes apply only when the quorum (central bank, regulator) approves."""

from __future__ import annotations

from ledger_world import World, code_name, genesis_doc, key, make_genesis

from node.ledger import get_asset, get_validators, read_rulebooks
from node.ledger._governance import get_proposal, list_proposals, status_at
from node.ledger.txbuild import GovernedChange, propose
from proto import ledger_pb2 as pb

NEW_VALIDATOR = key("val-9").public_key
ADD = pb.UpdateValidator(public_key=NEW_VALIDATOR, power=10, moniker="v9")
KZTE = pb.RegisterAsset(
    code="KZTE", decimals=2, issuer="halyk", kind=pb.STABLECOIN, payment_zones=[pb.CRYPTOCITY]
)


def _propose(w: World, change: GovernedChange, **kw: int) -> pb.Receipt:
    expires = kw.pop("expires", w.height + 10)
    return w.run("nbk", propose(change, expires_at_height=expires, summary="why", **kw))


def test_the_central_bank_alone_cannot_change_the_validators_or_register_assets() -> None:
    w = World()
    # Before dual control the central bank's key alone could make itself the only validator.
    assert code_name(w.run("nbk", ADD)) == "GOVERNANCE_REQUIRED"
    assert code_name(w.run("nbk", KZTE)) == "GOVERNANCE_REQUIRED"
    proposal = _propose(w, ADD)
    assert code_name(proposal) == "OK"
    assert NEW_VALIDATOR not in {v.public_key for v in get_validators(w.state)}
    stored = get_proposal(w.state.get, proposal.tx_id)
    assert stored is not None
    assert (stored.status, list(stored.approvals)) == (pb.OPEN, ["nbk"])
    # A second central-bank approval does not make a quorum.
    r = w.run("nbk", pb.Approve(proposal_id=proposal.tx_id))
    assert code_name(r) == "ALREADY_APPROVED"
    result = w.block(w.tx("afm", pb.Approve(proposal_id=proposal.tx_id)))
    assert code_name(result.receipts[0]) == "OK"
    assert [v.public_key for v in result.validator_updates] == [NEW_VALIDATOR]
    stored = get_proposal(w.state.get, proposal.tx_id)
    assert stored is not None
    assert (stored.status, stored.decided_height, stored.effective_height) == (
        pb.EXECUTED,
        w.height,
        w.height + 2,
    )
    assert code_name(w.run("afm", pb.Approve(proposal_id=proposal.tx_id))) == "PROPOSAL_CLOSED"


def test_only_quorum_roles_propose_and_approve() -> None:
    w = World()
    r = w.run("halyk", propose(KZTE, expires_at_height=w.height + 5, summary="mine"))
    assert code_name(r) == "UNAUTHORIZED"
    assert r.rule == "governance.quorum"
    proposal = _propose(w, KZTE)
    r = w.run("halyk", pb.Approve(proposal_id=proposal.tx_id))
    assert code_name(r) == "UNAUTHORIZED"
    assert get_asset(w.state, "KZTE") is None
    assert code_name(w.run("afm", pb.Approve(proposal_id=proposal.tx_id))) == "OK"
    assert get_asset(w.state, "KZTE") is not None


def test_expiry_withdrawal_and_unknown_proposals() -> None:
    w = World()
    late = _propose(w, KZTE, expires=w.height + 2)
    w.block()
    w.block()  # the next block is past the expiry
    stored = get_proposal(w.state.get, late.tx_id)
    assert stored is not None
    assert status_at(stored, w.height + 1) == "EXPIRED"
    assert code_name(w.run("afm", pb.Approve(proposal_id=late.tx_id))) == "PROPOSAL_CLOSED"
    assert get_asset(w.state, "KZTE") is None

    withdrawn = _propose(w, KZTE)
    assert code_name(w.run("afm", pb.Withdraw(proposal_id=withdrawn.tx_id))) == "UNAUTHORIZED"
    assert code_name(w.run("nbk", pb.Withdraw(proposal_id=withdrawn.tx_id))) == "OK"
    assert code_name(w.run("afm", pb.Approve(proposal_id=withdrawn.tx_id))) == "PROPOSAL_CLOSED"
    assert code_name(w.run("afm", pb.Approve(proposal_id=bytes(32)))) == "UNKNOWN_PROPOSAL"
    assert code_name(w.run("afm", pb.Approve(proposal_id=b"short"))) == "INVALID_FIELD"
    too_long = _propose(w, KZTE, expires=w.height + 10**9)
    assert code_name(too_long) == "INVALID_FIELD"
    assert [p.proposal_id for p in list_proposals(_Scan(w.state))] == [
        withdrawn.tx_id,
        late.tx_id,
    ]


def test_a_refused_change_keeps_the_proposal_open() -> None:
    w = World()
    first, second = _propose(w, KZTE), _propose(w, KZTE)
    assert code_name(w.run("afm", pb.Approve(proposal_id=first.tx_id))) == "OK"
    r = w.run("afm", pb.Approve(proposal_id=second.tx_id))
    assert code_name(r) == "ASSET_EXISTS"
    assert "the proposed register_asset" in r.message
    stored = get_proposal(w.state.get, second.tx_id)
    assert stored is not None
    assert (stored.status, list(stored.approvals)) == (pb.OPEN, ["nbk"])


def test_a_rulebook_change_applies_from_its_activation_height() -> None:
    w = World()
    limits = pb.SetLimits(kyc_tier=1, per_payment=7, daily_outflow=7, holding_cap=7)
    target = w.height + 6
    proposal = _propose(w, limits, activation_height=target)
    assert code_name(w.run("afm", pb.Approve(proposal_id=proposal.tx_id))) == "OK"
    active, pending = read_rulebooks(w.state.get)
    assert pending is not None
    assert (active.version, pending.version, pending.activation_height) == (1, 2, target)
    while w.height < target - 1:
        w.block()
    assert read_rulebooks(w.state.get)[0].version == 1
    receipt = w.run("nbk", pb.Issue(asset="KZT", to="halyk", amount=1))
    assert receipt.rulebook_version == 2  # the block at the activation height
    assert read_rulebooks(w.state.get)[0].tier_limits[0].per_payment == 7


def test_activation_heights_only_for_rulebook_changes() -> None:
    w = World()
    assert code_name(_propose(w, KZTE, activation_height=w.height + 9)) == "INVALID_FIELD"


def test_a_one_role_quorum_lets_the_proposer_decide() -> None:
    doc = genesis_doc()
    doc["rulebook"] = {"governance_quorum": ["CENTRAL_BANK"]}
    w = World(make_genesis(doc))
    assert code_name(_propose(w, KZTE)) == "OK"
    assert get_asset(w.state, "KZTE") is not None


class _Scan:
    """A dict state with the store's prefix scan."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def iter_state(self, prefix: bytes, start: bytes | None = None) -> list[tuple[bytes, bytes]]:
        return sorted((k, v) for k, v in self.state.items() if k.startswith(prefix))


def test_the_state_accounts_cannot_be_frozen() -> None:
    w = World()
    for account in ("treasury", "reserve", "nbk", "afm"):
        r = w.run("afm", pb.Freeze(account_id=account, legal_ref="order 1/2026"))
        assert code_name(r) == "UNAUTHORIZED", account
    assert code_name(w.run("afm", pb.Freeze(account_id="halyk", legal_ref="order 2/2026"))) == "OK"

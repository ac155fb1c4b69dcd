"""Dual control: changes to the rulebook, the assets and the validators as proposals.

A change of a governed kind (`GOVERNED`: limits, rates, asset registration, validator
updates) is never a transaction of its own. A quorum role (the rulebook's
``governance_quorum``, by default the central bank and the regulator) proposes it with an
expiry; it is applied by the transaction that completes the quorum, when one account of
every quorum role has approved (the proposer's approval counts). docs/governance.md.

Rules this module keeps:

1. A proposal is applied at most once, all or nothing: if its change is refused when the
   last approval arrives (say the asset now exists), that approval is refused with the
   change's code and the proposal stays open until it expires or is withdrawn.
2. A governed change runs the same handler a direct transaction of its kind ran, with the
   central bank's account as signer; rulebook changes apply from the proposal's
   activation height or two blocks after the approving block, whichever is later.
3. Nothing expires by itself in state: a proposal past ``expires_at_height`` refuses
   approvals (`PROPOSAL_CLOSED`) and reads as expired.
"""

from __future__ import annotations

from typing import Final

from node.ledger import _keys as k
from node.ledger import _rulebook as rb
from node.ledger._rules import (
    GOVERNED,
    Context,
    Outcome,
    Refusal,
    proposed_body,
    role_name,
)
from node.ledger._state import StateScanner
from proto import ledger_pb2 as pb

PROPOSAL: Final = b"gov/"
#: The longest a proposal may stay open, in blocks (about two weeks at one block a second).
MAX_PROPOSAL_TTL: Final = 1_209_600


def proposal_key(proposal_id: bytes) -> bytes:
    return PROPOSAL + proposal_id


def get_proposal(get_raw: rb.RawGetter, proposal_id: bytes) -> pb.GovernanceProposal | None:
    raw = get_raw(proposal_key(proposal_id))
    return None if raw is None else pb.GovernanceProposal.FromString(raw)


def list_proposals(state: StateScanner) -> list[pb.GovernanceProposal]:
    """Every proposal in state, newest first."""
    found = [pb.GovernanceProposal.FromString(v) for _, v in state.iter_state(PROPOSAL)]
    return sorted(found, key=lambda p: (p.proposed_height, p.proposal_id), reverse=True)


def status_at(proposal: pb.GovernanceProposal, height: int) -> str:
    """OPEN, EXPIRED, EXECUTED or WITHDRAWN, as seen at height."""
    if proposal.status == pb.OPEN and height > proposal.propose.expires_at_height:
        return "EXPIRED"
    return pb.ProposalStatus.Name(proposal.status)


def _quorum_refusal(ctx: Context, signer: pb.Account, what: str) -> Refusal | None:
    quorum = ctx.rules.book.governance_quorum
    if signer.role in quorum:
        return None
    return Refusal(
        pb.UNAUTHORIZED,
        f"{what}: {signer.account_id!r} is {role_name(signer.role)}, not a governance quorum "
        f"role ({', '.join(role_name(r) for r in quorum)})",
        rb.RULE_QUORUM,
    )


def _complete(ctx: Context, proposal: pb.GovernanceProposal) -> bool:
    """Whether every quorum role has an approving account."""
    roles: set[int] = set()
    for account_id in proposal.approvals:
        account = ctx.ov.account(account_id)
        if account is not None:
            roles.add(account.role)
    return all(role in roles for role in ctx.rules.book.governance_quorum)


def _apply(ctx: Context, body: pb.TxBody, proposal: pb.GovernanceProposal) -> Refusal | None:
    """Run the proposal's change as its kind's handler, with the central bank as signer."""
    inner = proposed_body(pb.TxBody(chain_id=body.chain_id, propose=proposal.propose))
    assert inner is not None  # a stored proposal carries a change (static check)
    kind = inner.WhichOneof("kind")
    assert kind is not None
    central = ctx.ov.get_raw(k.role_key("CENTRAL_BANK"))
    authority = None if central is None else ctx.ov.account(central.decode())
    if authority is None:
        return Refusal(pb.UNKNOWN_ACCOUNT, "governance: no CENTRAL_BANK account is registered")
    ctx.not_before = proposal.propose.activation_height
    result = GOVERNED[kind](ctx, inner, authority)
    ctx.not_before = 0
    if isinstance(result, Refusal):
        return Refusal(result.code, f"the proposed {kind}: {result.message}", result.rule)
    proposal.status = pb.EXECUTED
    proposal.decided_height = ctx.height
    proposal.effective_height = max(
        ctx.height + rb.MIN_ACTIVATION_DELAY, proposal.propose.activation_height
    )
    return None


def _propose(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    m = body.propose
    bad = _quorum_refusal(ctx, signer, "propose")
    if bad is not None:
        return bad
    if not ctx.height <= m.expires_at_height <= ctx.height + MAX_PROPOSAL_TTL:
        return Refusal(
            pb.INVALID_FIELD,
            f"propose.expires_at_height: {m.expires_at_height} is not between this height "
            f"{ctx.height} and {MAX_PROPOSAL_TTL} blocks later",
        )
    if m.activation_height and m.WhichOneof("action") not in ("set_limits", "set_rates"):
        return Refusal(
            pb.INVALID_FIELD,
            "propose.activation_height: only rulebook changes (limits, rates) take one; "
            "the others apply when approved",
        )
    proposal = pb.GovernanceProposal(
        proposal_id=ctx.tx_id,
        propose=m,
        proposer=signer.account_id,
        proposed_height=ctx.height,
        approvals=[signer.account_id],
        status=pb.OPEN,
    )
    if _complete(ctx, proposal):  # a one-role quorum: the proposer alone decides
        bad = _apply(ctx, body, proposal)
        if bad is not None:
            return bad
    ctx.ov.put_raw(proposal_key(ctx.tx_id), proposal.SerializeToString())
    return [signer.account_id]


def _open_proposal(ctx: Context, where: str, proposal_id: bytes) -> pb.GovernanceProposal | Refusal:
    proposal = get_proposal(ctx.ov.get_raw, proposal_id)
    if proposal is None:
        return Refusal(pb.UNKNOWN_PROPOSAL, f"{where}: no proposal {proposal_id.hex()}")
    status = status_at(proposal, ctx.height)
    if status != "OPEN":
        return Refusal(pb.PROPOSAL_CLOSED, f"{where}: proposal {proposal_id.hex()} is {status}")
    return proposal


def _approve(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    bad = _quorum_refusal(ctx, signer, "approve")
    if bad is not None:
        return bad
    proposal = _open_proposal(ctx, "approve", body.approve.proposal_id)
    if isinstance(proposal, Refusal):
        return proposal
    for account_id in proposal.approvals:
        account = ctx.ov.account(account_id)
        if account is not None and account.role == signer.role:
            return Refusal(
                pb.ALREADY_APPROVED,
                f"approve: {account_id!r} approved it for the {role_name(signer.role)} already",
            )
    proposal.approvals.append(signer.account_id)
    if _complete(ctx, proposal):
        bad = _apply(ctx, body, proposal)
        if bad is not None:
            return bad
    ctx.ov.put_raw(proposal_key(proposal.proposal_id), proposal.SerializeToString())
    return [signer.account_id, proposal.proposer]


def _withdraw(ctx: Context, body: pb.TxBody, signer: pb.Account) -> Outcome:
    proposal = _open_proposal(ctx, "withdraw", body.withdraw.proposal_id)
    if isinstance(proposal, Refusal):
        return proposal
    if proposal.proposer != signer.account_id:
        return Refusal(
            pb.UNAUTHORIZED, f"withdraw: only its proposer {proposal.proposer!r} withdraws it"
        )
    proposal.status = pb.WITHDRAWN
    proposal.decided_height = ctx.height
    ctx.ov.put_raw(proposal_key(proposal.proposal_id), proposal.SerializeToString())
    return [signer.account_id]


GOVERNANCE_HANDLERS: Final = {
    "propose": _propose,
    "approve": _approve,
    "withdraw": _withdraw,
}

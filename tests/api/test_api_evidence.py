"""GET /v1/evidence: committed evidence with the height that committed it, pending evidence
of this node marked as such, pagination, and sign bytes that verify with the key alone."""

from __future__ import annotations

import httpx
from api_support import CHAIN, VALIDATOR, LocalNode

import consensus as cs
from node.consensus_codec import encode_evidence
from node.keys import verify


def dup(height: int, round_: int = 0) -> cs.DuplicateVote:
    def vote(block_hash: bytes) -> cs.Vote:
        signed = cs.vote_sign_bytes(CHAIN, cs.VoteType.PREVOTE, height, round_, block_hash)
        return cs.Vote(
            cs.VoteType.PREVOTE,
            height,
            round_,
            block_hash,
            VALIDATOR.public_key,
            VALIDATOR.sign(signed),
        )

    return cs.DuplicateVote.of(vote(b"\x01" * 32), vote(b""))


def conflicting(height: int) -> cs.ConflictingProposal:
    def side(value_id: bytes, pol_round: int) -> tuple[cs.Proposal, bytes]:
        signed = cs.proposal_sign_bytes(CHAIN, height, 1, pol_round, value_id)
        sig = VALIDATOR.sign(signed)
        return cs.Proposal(height, 1, b"", pol_round, VALIDATOR.public_key, sig), value_id

    (a, ida), (b, idb) = side(b"\x0a" * 32, -1), side(b"\x0b" * 32, 0)
    return cs.ConflictingProposal.of(a, ida, b, idb)


async def test_committed_evidence_shows_its_committing_height(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/v1/evidence")).json() == {"evidence": [], "next": None}
    local_node.commit_block([])
    local_node.commit_block([], evidence=[dup(1), conflicting(2)])
    local_node.commit_block([])
    [dv, cp] = (await http.get("/v1/evidence")).json()["evidence"]  # block order
    assert (dv["kind"], dv["status"], dv["committed_height"]) == ("duplicate_vote", "committed", 2)
    assert (dv["validator"], dv["height"], dv["round"], dv["type"]) == (
        VALIDATOR.public_key.hex(),
        1,
        0,
        "PREVOTE",
    )
    assert dv["raw"] == encode_evidence(dup(1)).hex()
    assert (cp["kind"], cp["committed_height"], cp["height"], cp["round"]) == (
        "conflicting_proposal",
        2,
        2,
        1,
    )
    # The signed parts verify with the validator's public key alone.
    for side in (dv["vote_a"], dv["vote_b"], cp["proposal_a"], cp["proposal_b"]):
        signed, sig = bytes.fromhex(side["sign_bytes"]), bytes.fromhex(side["signature"])
        assert verify(VALIDATOR.public_key, signed, sig)


async def test_pending_evidence_is_marked_and_dropped_once_committed(
    local_node: LocalNode, http: httpx.AsyncClient
) -> None:
    local_node.commit_block([])
    local_node.evidence_list.append(dup(1))
    [item] = (await http.get("/v1/evidence")).json()["evidence"]
    assert (item["status"], item["committed_height"], item["cursor"]) == ("pending", None, None)
    local_node.commit_block([], evidence=[dup(1)])
    # Still in the facade's list (the pool not told yet): shown once, as committed.
    [item] = (await http.get("/v1/evidence")).json()["evidence"]
    assert (item["status"], item["committed_height"]) == ("committed", 2)


async def test_evidence_pages_newest_first(local_node: LocalNode, http: httpx.AsyncClient) -> None:
    local_node.commit_block([])
    for round_ in range(3):
        local_node.commit_block([], evidence=[dup(1, round_)])
    local_node.evidence_list.append(conflicting(1))
    page = (await http.get("/v1/evidence", params={"limit": 2})).json()
    assert [(e["status"], e["committed_height"]) for e in page["evidence"]] == [
        ("pending", None),
        ("committed", 4),
        ("committed", 3),
    ]
    assert page["next"] == "3-0"
    rest = (await http.get("/v1/evidence", params={"after": page["next"]})).json()
    assert [(e["committed_height"], e["round"]) for e in rest["evidence"]] == [(2, 0)]
    assert rest["next"] is None
    for params in ({"after": "nope"}, {"limit": "0"}, {"limit": "101"}, {"since": "1"}):
        r = await http.get("/v1/evidence", params=params)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT"

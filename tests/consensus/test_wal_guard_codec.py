"""node/wal.py, node/signguard.py and node/consensus_codec.py on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_fixtures import CHAIN, SIGNERS, VSET, block, make_engine, proposal, vote
from hypothesis import given
from hypothesis import strategies as st

from consensus import (
    HeightStarted,
    LastSigned,
    ProposalReceived,
    ProposalValueReady,
    SignedByMe,
    Started,
    Step,
    TimeoutFired,
    VoteReceived,
    VoteType,
    WalEntry,
    WriteWal,
)
from node.consensus_codec import (
    ConsensusCodecError,
    decode_certificate,
    decode_evidence,
    decode_wal_entry,
    encode_certificate,
    encode_evidence,
    encode_wal_entry,
)
from node.keys import KeyPair, verify
from node.signguard import SignGuard, SignGuardError, load_last_signed
from node.wal import Wal, WalCorrupted

PV = VoteType.PREVOTE

ENTRIES: list[WalEntry] = [
    HeightStarted(7),
    SignedByMe(vote(SIGNERS[0], PV, 7, 1, b"h" * 32)),
    SignedByMe(proposal(7, 0, block(7))),
    VoteReceived(vote(SIGNERS[1], VoteType.PRECOMMIT, 7, 2, b""), 1234, b"peer"),
    ProposalReceived(proposal(7, 3, block(7, b"z"), pol_round=1), 99),
    TimeoutFired(Step.PREVOTE, 7, 4, 5_000),
    ProposalValueReady(7, 0, block(7), 42),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: type(e).__name__)
def test_wal_entries_round_trip_through_protobuf(entry: WalEntry) -> None:
    assert decode_wal_entry(encode_wal_entry(entry)) == entry


@given(st.binary(max_size=200))
def test_garbage_never_escapes_the_codec_as_anything_but_its_error(data: bytes) -> None:
    for decode in (decode_wal_entry, decode_certificate, decode_evidence):
        try:
            decode(data)
        except ConsensusCodecError as e:
            code = e.code
        else:
            code = "decoded"
        assert code in {"decoded", "MALFORMED_WAL_RECORD", "MALFORMED_CONSENSUS_MESSAGE"}


def test_certificate_and_evidence_round_trip() -> None:
    engine = make_engine(SIGNERS[0])
    engine.handle(Started(0))
    from consensus import CommitCertificate, CommitSig, DuplicateVote, vote_sign_bytes

    h = b"q" * 32
    sigs = tuple(
        CommitSig(s.public_key, s.sign(vote_sign_bytes(CHAIN, VoteType.PRECOMMIT, 2, 0, h)))
        for s in SIGNERS[:3]
    )
    cert = CommitCertificate(2, 0, h, sigs)
    assert decode_certificate(encode_certificate(cert)) == cert
    evidence = DuplicateVote.of(vote(SIGNERS[2], PV, 2, 0, h), vote(SIGNERS[2], PV, 2, 0, b""))
    assert decode_evidence(encode_evidence(evidence)) == evidence
    assert VSET.quorum == 3


def test_wal_appends_replays_and_rotates_per_height(tmp_path: Path) -> None:
    path = tmp_path / "data" / "cs.wal"
    wal = Wal.open(path)
    assert wal.entries == ()
    wal.execute(WriteWal(HeightStarted(7), sync=False))
    for entry in ENTRIES[1:]:
        wal.execute(WriteWal(entry, sync=isinstance(entry, SignedByMe)))
    wal.close()
    wal.close()  # idempotent
    with Wal.open(path) as reopened:
        assert list(reopened.entries) == ENTRIES
        reopened.execute(WriteWal(HeightStarted(8), sync=False))
    with Wal.open(path) as rotated:
        assert rotated.entries == (HeightStarted(8),)


def test_wal_truncates_a_torn_tail_and_keeps_appending(tmp_path: Path) -> None:
    path = tmp_path / "cs.wal"
    wal = Wal.open(path)
    for entry in ENTRIES[:3]:
        wal.append(entry, sync=True)
    wal.close()
    intact = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\x00\x00\x01\x00partial")
    with Wal.open(path) as wal:
        assert list(wal.entries) == ENTRIES[:3]
        assert path.stat().st_size == intact
        wal.append(ENTRIES[3], sync=True)
    with Wal.open(path) as wal:
        assert list(wal.entries) == ENTRIES[:4]


def test_wal_corruption_before_the_tail_stops_the_node(tmp_path: Path) -> None:
    path = tmp_path / "cs.wal"
    wal = Wal.open(path)
    for entry in ENTRIES[:4]:
        wal.append(entry, sync=False)
    wal.close()
    pristine = path.read_bytes()
    first_record = 10  # HeightStarted(7): 8-byte header + 2-byte payload
    for position, offset in [(12, first_record), (9, 0), (40, first_record)]:
        data = bytearray(pristine)
        data[position] ^= 0x55  # a length field, a payload, a checksum: all before the tail
        path.write_bytes(bytes(data))
        with pytest.raises(WalCorrupted, match=f"corrupt at byte {offset}"):
            Wal.open(path)


def test_sign_guard_persists_and_refuses_conflicts_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "priv_validator_state.json"
    guard = SignGuard(path)
    assert guard.last is None
    first = LastSigned(3, 0, Step.PREVOTE, b"a" * 32)
    guard.persist(first)
    restarted = SignGuard(path)
    assert restarted.last == first
    assert restarted.check(3, 0, Step.PREVOTE, b"b" * 32) is not None
    assert restarted.check(3, 0, Step.PREVOTE, b"a" * 32) is None
    assert restarted.check(2, 5, Step.PRECOMMIT, b"c" * 32) is not None
    with pytest.raises(SignGuardError):
        restarted.persist(LastSigned(3, 0, Step.PREVOTE, b"b" * 32))
    restarted.persist(LastSigned(3, 0, Step.PRECOMMIT, b"c" * 32))
    assert json.loads(path.read_text())["step"] == "PRECOMMIT"
    assert not (tmp_path / "priv_validator_state.json.tmp").exists()


def test_sign_guard_rejects_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"height": "x"}')
    with pytest.raises(SignGuardError, match="malformed"):
        load_last_signed(path)


def test_engine_signs_with_real_ed25519_keys() -> None:
    key = KeyPair.from_seed(b"\x07" * 32)

    class Ed25519:
        def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
            return verify(public_key, message, signature)

    from consensus import Broadcast, ConsensusParams, Engine, ValidatorSet
    from consensus.testing import FakeCodec

    vset = ValidatorSet({key.public_key: 1})
    engine = Engine(
        chain_id=CHAIN,
        height=1,
        validator_set=vset,
        verifier=Ed25519(),
        codec=FakeCodec(),
        signer=key,
        params=ConsensusParams(),
    )
    engine.handle(Started(0))
    out = engine.handle(ProposalValueReady(1, 0, block(1), 1))
    sent = [o.message for o in out if isinstance(o, Broadcast)]
    assert len(sent) == 3  # a single validator proposes, prevotes and precommits at once
    commit = next(o for o in out if type(o).__name__ == "CommitBlock")
    commit.certificate.verify(vset, CHAIN, Ed25519())  # type: ignore[attr-defined]

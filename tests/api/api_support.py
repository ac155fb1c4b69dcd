"""An in-process node for API tests: a real LevelDB store, the real ledger and mempool.

`LocalNode` implements `node.api.NodeFacade`. It "commits" the way the driver does, minus
consensus: build a block from the mempool, execute it with the ledger, write it with its
certificate (signed by the one validator) in one store batch, update the mempool and
publish to the commit feed. The rules and the disk are real; only the vote is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

import consensus as cs
from node.admission import Admitter
from node.api import BlockSummary, CommitFeed
from node.blocks import ChainTip, block_id, build_block, decode_block
from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import Ledger, genesis_app_hash, genesis_state
from node.ledger.txbuild import GovernedChange, KindMessage, build_tx, propose, sign_envelope
from node.mempool import Admission, Mempool, api_source
from node.store import BlockCommit, Store, TxLocation
from proto import consensus_pb2, ledger_pb2

CHAIN = "tenge-api-test"
T0 = 1_767_225_600_000


def key(name: str) -> KeyPair:
    """A deterministic key per name."""
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


VALIDATOR = key("validator-0")


def _account(account_id: str, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "role": role,
        "zone": "NATIONAL",
        "public_keys": [key(account_id).public_key.hex()],
        **extra,
    }


def genesis_doc() -> dict[str, Any]:
    """Central bank, two banks, treasury, a 2-of-3 reserve, a regulator; KZT only."""
    return {
        "chain_id": CHAIN,
        "genesis_time_ms": T0,
        "params": {"max_tx_ttl": 50, "max_tx_bytes": 4096},
        "validators": [{"public_key": VALIDATOR.public_key.hex(), "power": 10, "moniker": "v0"}],
        "limits": [{"kyc_tier": 1, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"}],
        "accounts": [
            _account("nbk", "CENTRAL_BANK"),
            _account("halyk", "COMMERCIAL_BANK", balances={"KZT": "1000000"}),
            _account("kaspi", "COMMERCIAL_BANK"),
            _account("treasury", "TREASURY"),
            {
                **_account("reserve", "STATE_RESERVE"),
                "public_keys": [key(f"reserve-{i}").public_key.hex() for i in range(3)],
                "threshold": 2,
            },
            _account("afm", "REGULATOR"),
        ],
        "assets": [
            {
                "code": "KZT",
                "decimals": 2,
                "issuer": "nbk",
                "kind": "CBDC",
                "payment_zones": ["NATIONAL", "CRYPTOCITY"],
            }
        ],
    }


class LocalNode:
    """The NodeFacade of a single in-process validator without networking."""

    def __init__(self, path: Path) -> None:
        self.genesis = parse_genesis(genesis_doc())
        self.chain_id = CHAIN
        self.node_id = key("node-0").public_key.hex()
        self.moniker = "api-test"
        self.is_validator = True
        self.catching_up = False
        self.signer_status: dict[str, object] | None = None  # no remote signer
        self.peers: list[str] = []
        self.last_commit_time: float | None = None
        self.evidence_list: list[cs.Evidence] = []
        self.store = Store(path)
        valset = ledger_pb2.ValidatorSet(
            validators=[ledger_pb2.Validator(public_key=VALIDATOR.public_key, power=10)]
        ).SerializeToString()
        self.store.init_genesis(
            hashlib.sha256(self.genesis.SerializeToString()).digest(),
            genesis_state(self.genesis),
            genesis_app_hash(self.genesis),
            validator_sets=[(1, valset), (2, valset)],
        )
        self.ledger = Ledger(self.genesis, self.store)
        self.mempool = Mempool(self.ledger, max_txs=1000, max_bytes=1 << 20)
        self.feed = CommitFeed(self.store)
        self.time_ms = T0
        self._nonce = itertools.count(1)
        self.subscribed = trio.Event()  # set when an event stream subscribes
        self.waiting = trio.Event()  # set when a wait=commit request starts waiting
        self.wait_ended = trio.Event()  # ... and when it stops, for any reason
        self.admitted_send, self.admitted = trio.open_memory_channel[bytes](1000)

    def close(self) -> None:
        self.store.close()

    @property
    def mempool(self) -> Mempool:
        return self._mempool

    @mempool.setter
    def mempool(self, mempool: Mempool) -> None:
        """A test may swap the pool; admission (the node's real path) follows it."""
        self._mempool = mempool
        self.admitter = Admitter(self.ledger, mempool, next_height=lambda: self.store.height + 1)

    # ---- the facade ----

    def evidence(self) -> Sequence[cs.Evidence]:
        return self.evidence_list

    async def submit(self, raw: bytes, *, client: str | None = None) -> Admission:
        (admission,) = await self.submit_batch([raw], client=client)
        return admission

    async def submit_batch(
        self, raws: Sequence[bytes], *, client: str | None = None
    ) -> list[Admission]:
        admissions = await self.admitter.admit(raws, source=api_source(client))
        for admission in admissions:
            if admission.added:
                with contextlib.suppress(trio.WouldBlock):  # full: commits take all anyway
                    self.admitted_send.send_nowait(admission.tx_id)
        return admissions

    async def wait_committed(self, tx_id: bytes, timeout_s: float) -> TxLocation | None:
        self.waiting.set()
        try:
            return await self.feed.wait_committed(tx_id, timeout_s)
        finally:
            self.wait_ended.set()

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[trio.MemoryReceiveChannel[BlockSummary]]:
        async with self.feed.subscribe() as channel:
            self.subscribed.set()
            yield channel

    # ---- test helpers ----

    def tx(
        self,
        signer: str,
        kind: KindMessage,
        *,
        keys: Sequence[KeyPair] | None = None,
        expires: int | None = None,
        chain_id: str = CHAIN,
    ) -> bytes:
        """A signed envelope (by the signer's own key unless keys are given)."""
        body = build_tx(
            chain_id,
            signer,
            kind,
            nonce=next(self._nonce),
            expires_at_height=self.store.height + 20 if expires is None else expires,
        )
        return sign_envelope(body, chain_id, [key(signer)] if keys is None else keys)

    def commit_block(
        self, txs: Sequence[bytes] | None = None, evidence: Sequence[cs.Evidence] = ()
    ) -> BlockSummary:
        """Commit the next block (the mempool's transactions unless txs are given)."""
        store = self.store
        if txs is None:
            txs = self.mempool.reap(max_txs=10_000, max_bytes=8 << 20)
        height = store.height + 1
        last_commit = None
        if height > 1:
            last_commit = consensus_pb2.CommitCertificate.FromString(
                store.get_commit(height - 1) or b""
            )
        self.time_ms += 1000
        raw = build_block(
            chain_id=self.chain_id,
            tip=ChainTip(height - 1, store.block_hash, store.app_hash, self.time_ms - 1000, b""),
            txs=txs,
            proposer=VALIDATOR.public_key,
            now_ms=self.time_ms,
            last_commit=last_commit,
            evidence=evidence,
        )
        block = decode_block(raw)
        assert block is not None
        block_hash = block_id(raw)
        result = self.ledger.execute_block(
            height=height,
            time_ms=self.time_ms,
            txs=list(txs),
            prev_app_hash=store.app_hash,
            evidence=[e.SerializeToString() for e in block.evidence],
        )
        vote = cs.vote_sign_bytes(self.chain_id, cs.VoteType.PRECOMMIT, height, 0, block_hash)
        certificate = consensus_pb2.CommitCertificate(
            height=height,
            round=0,
            block_hash=block_hash,
            signatures=[
                consensus_pb2.CommitSig(
                    validator=VALIDATOR.public_key, signature=VALIDATOR.sign(vote)
                )
            ],
        )
        valset = store.get_validator_set(height + 1) or b""
        store.commit_block(
            BlockCommit(
                height=height,
                block=raw,
                block_hash=block_hash,
                commit=certificate.SerializeToString(),
                receipts=result.receipts,
                writes=result.writes,
                app_hash=result.app_hash,
                validator_sets=[(height + 2, valset)],
            )
        )
        included = (r.tx_id for r in result.receipts if r.speaks_for_tx)  # as node.core does
        self.mempool.update(included, next_height=height + 1)
        self.last_commit_time = trio.current_time()
        summary = BlockSummary.of(
            height=height, block_hash=block_hash, time_ms=self.time_ms, receipts=result.receipts
        )
        self.feed.publish(summary)
        return summary

    def run(self, signer: str, kind: KindMessage, **kw: Any) -> ledger_pb2.Receipt:
        """Commit one transaction in its own block; its receipt."""
        self.commit_block([self.tx(signer, kind, **kw)])
        receipts = self.store.get_receipts(self.store.height)
        return receipts[0]

    def govern(self, change: GovernedChange) -> ledger_pb2.Receipt:
        """Propose a governed change (central bank) and approve it (regulator), each in its
        own block; the approval's receipt (the proposal's, if that was refused)."""
        proposal = self.run(
            "nbk", propose(change, expires_at_height=self.store.height + 20, summary="test")
        )
        if proposal.code != ledger_pb2.OK:
            return proposal
        return self.run("afm", ledger_pb2.Approve(proposal_id=proposal.tx_id))

    async def auto_commit(self) -> None:
        """Commit a block each time a transaction is admitted (run it in a nursery)."""
        async for _ in self.admitted:
            if len(self.mempool):
                self.commit_block()

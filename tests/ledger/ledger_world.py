"""A small world for ledger tests: a genesis, a dict state and a chain of blocks."""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from collections.abc import Sequence
from typing import Any

from node.genesis import parse_genesis
from node.keys import KeyPair
from node.ledger import BlockResult, Ledger, genesis_app_hash, genesis_state
from node.ledger._amounts import decode_amount
from node.ledger._keys import BALANCE
from node.ledger.txbuild import (
    GovernedChange,
    KindMessage,
    PaymentIds,
    build_tx,
    propose,
    sign_envelope,
)
from proto import genesis_pb2, ledger_pb2

CHAIN = "tenge-test-1"
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC = 05:00 in Almaty
TIER1 = {"per_payment": 50_000_00, "daily_outflow": 100_000_00, "holding_cap": 500_000_00}


def key(name: str) -> KeyPair:
    """A deterministic key per name."""
    return KeyPair.from_seed(hashlib.sha256(name.encode()).digest())


def account_doc(account_id: str, role: str, zone: str = "NATIONAL", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "account_id": account_id,
        "role": role,
        "zone": zone,
        "public_keys": [key(account_id).public_key.hex()],
    }
    doc.update(extra)
    return doc


def genesis_doc() -> dict[str, Any]:
    """The central bank, two commercial banks, TREASURY, a 2-of-3 STATE_RESERVE, a regulator."""
    reserve_keys = [key(f"reserve-{i}").public_key.hex() for i in range(3)]
    return {
        "chain_id": CHAIN,
        "genesis_time_ms": T0,
        "params": {"max_tx_ttl": 20, "max_tx_bytes": 4096},
        "validators": [{"public_key": key("val-0").public_key.hex(), "power": 10, "moniker": "v0"}],
        "limits": [
            {"kyc_tier": 1, **{k: str(v) for k, v in TIER1.items()}},
            {"kyc_tier": 2, "per_payment": "0", "daily_outflow": "0", "holding_cap": "0"},
        ],
        "accounts": [
            account_doc("nbk", "CENTRAL_BANK"),
            account_doc("halyk", "COMMERCIAL_BANK"),
            account_doc("kaspi", "COMMERCIAL_BANK"),
            account_doc("treasury", "TREASURY"),
            {
                **account_doc("reserve", "STATE_RESERVE"),
                "public_keys": reserve_keys,
                "threshold": 2,
            },
            account_doc("afm", "REGULATOR"),
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


def random_payment_ids(rnd: random.Random) -> PaymentIds | None:
    """Payment ids for a generated leg: mostly none, often well-formed ones (which must
    change no verdict), now and then a malformed one (refused with its code)."""
    draw = rnd.random()
    if draw < 0.6:
        return None
    if draw < 0.93:
        return PaymentIds(
            end_to_end_id=rnd.choice(["", "E2E-1", "INV/2026-03 (A)"]),
            uetr=rnd.choice([b"", uuid.UUID(int=rnd.getrandbits(128), version=4).bytes]),
            purpose_code=rnd.choice(["", "SALA", "GDDS"]),
            creditor_reference=rnd.choice(["", "RF18539007547034"]),
            unstructured=rnd.choice(["", "rent, March"]),
        )
    return rnd.choice(
        [
            PaymentIds(end_to_end_id="x" * 36),
            PaymentIds(uetr=bytes(16)),
            PaymentIds(purpose_code="sala"),
            PaymentIds(creditor_reference_type="SCOR"),
        ]
    )


def make_genesis(doc: dict[str, Any] | None = None) -> genesis_pb2.Genesis:
    return parse_genesis(genesis_doc() if doc is None else doc)


class World:
    """A ledger over a dict state, committing each block's writes like the store does."""

    def __init__(self, genesis: genesis_pb2.Genesis | None = None) -> None:
        self.genesis = make_genesis() if genesis is None else genesis
        self.state: dict[bytes, bytes] = dict(genesis_state(self.genesis))
        self.ledger = Ledger(self.genesis, self.state)
        self.height = 0
        self.time_ms = T0
        self.app_hash = genesis_app_hash(self.genesis)
        self.history: list[list[bytes]] = []
        self._nonce = itertools.count(1)

    def tx(
        self,
        signer: str,
        kind: KindMessage,
        *,
        keys: Sequence[KeyPair] | None = None,
        nonce: int | None = None,
        expires: int | None = None,
        chain_id: str = CHAIN,
    ) -> bytes:
        body = build_tx(
            chain_id,
            signer,
            kind,
            nonce=next(self._nonce) if nonce is None else nonce,
            expires_at_height=self.height + 10 if expires is None else expires,
        )
        return sign_envelope(body, chain_id, [key(signer)] if keys is None else keys)

    def block(
        self, *txs: bytes, time_ms: int | None = None, evidence: Sequence[Any] = ()
    ) -> BlockResult:
        if time_ms is not None:
            self.time_ms = time_ms
        else:
            self.time_ms += 1000
        result = self.ledger.execute_block(
            height=self.height + 1,
            time_ms=self.time_ms,
            txs=list(txs),
            prev_app_hash=self.app_hash,
            evidence=evidence,
        )
        for k, v in result.writes:
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        self.height += 1
        self.app_hash = result.app_hash
        self.history.append(list(txs))
        return result

    def run(self, signer: str, kind: KindMessage, **kw: Any) -> ledger_pb2.Receipt:
        """One transaction in its own block; its receipt."""
        return self.block(self.tx(signer, kind, **kw)).receipts[0]

    def govern(
        self,
        change: GovernedChange,
        *,
        proposer: str = "nbk",
        approver: str = "afm",
        activation_height: int = 0,
    ) -> ledger_pb2.Receipt:
        """Propose a governed change and have the other quorum role approve it, each in its
        own block; the approval's receipt (or the proposal's, if that was refused)."""
        proposal = self.run(
            proposer,
            propose(
                change,
                expires_at_height=self.height + 100,
                summary="test change",
                activation_height=activation_height,
            ),
        )
        if proposal.code != ledger_pb2.OK:
            return proposal
        return self.run(approver, ledger_pb2.Approve(proposal_id=proposal.tx_id))

    def balances(self) -> dict[tuple[str, str], int]:
        out = {}
        for k, v in self.state.items():
            if k.startswith(BALANCE):
                account_id, _, asset = k[len(BALANCE) :].decode().rpartition("/")
                out[(account_id, asset)] = decode_amount(v)
        return out


def code_name(receipt: ledger_pb2.Receipt) -> str:
    return ledger_pb2.ResultCode.Name(receipt.code)

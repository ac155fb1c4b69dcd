"""The ledger state machine: mempool admission (`check_tx`) and block execution.

Rules this module keeps:

1. `execute_block` is deterministic: the same genesis, committed state and block give
   the same receipts, writes and app hash on every node. Block time comes in as an
   argument; nothing reads a clock, randomness or the signature cache's contents.
2. Bad transactions never raise: each gets a receipt with a stable ResultCode.
3. `execute_block` never mutates the StateReader; the caller persists `writes`.
4. The order of checks is fixed: size, decoding, chain id, kind and fields, expiry,
   duplicate, signer accounts, signatures, closed, frozen, then the kind's rules.
5. A transaction whose signatures were accepted is marked seen (even when its rules
   refuse it), so it cannot be replayed; one refused before that is not, so nobody can
   burn another's tx id by sending its body with bad signatures.
6. A receipt speaks for its tx id (``Receipt.speaks_for_tx``) only if the signatures
   were accepted (``Receipt.authorised``: the tx is settled, OK or refused by its rules)
   or the refusal depends on the body alone, so that every envelope with that body would
   be refused the same way at that height (malformed body, wrong chain, bad fields,
   expired, TTL too long, duplicate, unknown signer account). A refusal of the envelope
   (too large, undecodable, signatures missing, invalid or extra) speaks for nothing:
   anyone can wrap a victim's pending body in junk signatures. The store, the mempools
   and the API act only on receipts that speak (docs/api.md, "Whose receipt is it?").
   Receipts enter neither the app hash nor a header; both flags are deterministic anyway.
7. Every verdict comes from one place. A plain payment (one KZT leg that
   `plain_transfer` settles) is judged on a short path (`_settle_plain`, for admission
   and execution alike) that runs the same checks through the same helpers and only
   ever accepts; whatever is not plain, or is refused anywhere, goes to the general path
   (`_run`), so its CheckResult (code, message, reads, debits...) and its receipt and
   writes are the general path's (tests/ledger/test_check_fast_path.py,
   tests/ledger/test_plain_transfer.py).
8. Admission reads the rulebook in force once per (height, committed state version)
   when the state has versions (`VersionedState`: the Store); it changes only with a
   height (an activation) or with a committed block.
9. Each transaction is decoded and hashed once per node: admission keeps what it decoded
   (`DecodedTxs`, node/ledger/_decoded.py) for its re-checks and its block's execution.
   A decoded transaction depends on its bytes alone, so a hit judges exactly as a fresh
   decode (tests/ledger/test_decoded_carry.py).
10. Payment ids on a leg (node/ledger/_payment_ids.py) are checked with the body and change
    no verdict: a plain payment carrying them stays on the short path. The receipt of a
    settled transfer with a UETR or end-to-end id says so (``carries_payment_ids``), on
    either path, and the store indexes them from the body.
11. Travel-rule copies on a leg (node/ledger/_travel.py) are checked in form with the body
    and in recipients with state; a leg that carries them or needs them leaves the short
    path, so their verdict comes from the general path alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from google.protobuf.message import DecodeError

import consensus as cs
from node.ledger import _keys as k
from node.ledger import _payment_ids as payment_ids
from node.ledger import _rulebook as rb
from node.ledger import _transfer
from node.ledger._admission import CheckResult, Debit, ReadRecorder, uncapped_credits
from node.ledger._amounts import amount_of
from node.ledger._apphash import app_hash_step
from node.ledger._backing import issue_debits
from node.ledger._decoded import DEFAULT_DECODED_ENTRIES, DecodedTx, DecodedTxs
from node.ledger._evidence import record_evidence
from node.ledger._fifo import FifoMap
from node.ledger._governance import GOVERNANCE_HANDLERS
from node.ledger._licences import LICENCE_HANDLERS
from node.ledger._lifecycle import closed_refusal
from node.ledger._reserves import RESERVE_HANDLERS
from node.ledger._rules import (
    HANDLERS,
    Context,
    Refusal,
    debits_of,
    required_accounts,
    show,
    static_check,
)
from node.ledger._state import Overlay, StateReader, VersionedState, get_balance
from node.ledger._transfer import execute_transfer
from node.ledger._travel import HANDLERS as TRAVEL_HANDLERS
from node.ledger._verify import DEFAULT_CACHE_ENTRIES, SignatureCache, first_invalid_signature
from proto import genesis_pb2
from proto import ledger_pb2 as pb

DEFAULT_MAX_TX_BYTES: Final = 16_384
DEFAULT_MAX_TX_TTL: Final = 600
MAX_SIGNATURES: Final = 64
_TX_ID_SIZE: Final = 32
_HANDLERS: Final = {
    **HANDLERS,
    **GOVERNANCE_HANDLERS,
    **RESERVE_HANDLERS,
    **LICENCE_HANDLERS,
    **TRAVEL_HANDLERS,
}


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What executing one block produced.

    Attributes:
        receipts: one per transaction, in block order.
        writes: state writes sorted by key; None deletes the key.
        app_hash: the app hash after this block.
        validator_updates: from UpdateValidator txs, in order; effective at height + 2.
        evidence: the block's evidence that no earlier block committed, now recorded.
        kinds: each transaction's TxBody kind, in block order ("unknown" when it was
            refused before its body was read: too large, or not decodable).
    """

    receipts: list[pb.Receipt]
    writes: list[tuple[bytes, bytes | None]]
    app_hash: bytes
    validator_updates: list[pb.Validator] = field(default_factory=list)
    evidence: list[cs.Evidence] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Outcome:
    code: int
    message: str
    tx_id: bytes
    accounts: list[str]
    body: pb.TxBody | None = None
    authorised: list[str] | None = None  # set once signatures were accepted
    speaks: bool = True  # False: the envelope was refused, not the body (rule 6)
    rule: str = ""  # the rulebook rule that refused it


def _indexes_payment_ids(body: pb.TxBody | None) -> bool:
    """Whether body is a transfer with a leg the store indexes by its payment ids."""
    if body is None or body.WhichOneof("kind") != "transfer":
        return False
    return any(payment_ids.indexed(leg) for leg in body.transfer.legs)


def _envelope_refused(code: int, message: str, tx_id: bytes, body: pb.TxBody | None) -> _Outcome:
    """A refusal of the envelope: it says nothing about the tx id (rule 6)."""
    return _Outcome(code, message, tx_id, [], body, speaks=False)


class Ledger:
    """The settlement rules of one chain on top of committed state."""

    def __init__(
        self,
        genesis: genesis_pb2.Genesis,
        state: StateReader,
        *,
        verify_cache_entries: int = DEFAULT_CACHE_ENTRIES,
        decoded_entries: int = DEFAULT_DECODED_ENTRIES,
    ) -> None:
        """Create the ledger of genesis's chain reading committed state from state.

        Args:
            genesis: a validated genesis (node.genesis.load_genesis).
            state: committed state; the caller writes each block's `writes` to it.
            verify_cache_entries: how many verified envelopes to remember.
            decoded_entries: how many decoded transactions to keep from admission to
                execution (node/ledger/_decoded.py; 0: decode at every step).
        """
        self.chain_id: Final = genesis.chain_id
        params = genesis.params
        self.max_tx_bytes: Final = params.max_tx_bytes or DEFAULT_MAX_TX_BYTES
        self.max_tx_ttl: Final = params.max_tx_ttl or DEFAULT_MAX_TX_TTL
        self._state = state
        self._sigs = SignatureCache(self.chain_id, verify_cache_entries)
        self.decoded = DecodedTxs(decoded_entries)  # rule 9
        # Tx ids whose body passed the checks that need neither state nor height, so that
        # admission, a re-check and execution run them once (oldest evicted first).
        self._static_ok: FifoMap[bytes, None] = FifoMap(max(1, verify_cache_entries // 2))
        self._rules: dict[bytes, rb.Rules] = {}  # serialized rulebook -> its index
        self._versioned = state if isinstance(state, VersionedState) else None
        # (state version, height, rules, the keys read): `_rules_read`'s last answer.
        self._book_memo: tuple[int, int, rb.Rules, tuple[bytes, ...]] | None = None

    @property
    def state(self) -> StateReader:
        return self._state

    def check_tx(self, raw: bytes, *, next_height: int) -> CheckResult:
        """Mempool admission: would raw be accepted in the block at next_height?

        Runs every check of execute_block against committed state, except the daily
        outflow limit (which needs block time). Never raises on bad input. Pending
        transactions are the mempool's business: it judges `debits` against them.

        A plain payment that nothing refuses (`plain_transfer`) is judged on a short
        path; every other transaction, and every refusal, comes from the general path
        (`_check_general`), with the same answer field by field.
        """
        decoded = self.decoded.get(raw) if len(raw) <= self.max_tx_bytes else None
        checked = self._check_plain(raw, decoded, next_height)
        if checked is None:
            checked = self._check_general(raw, decoded, next_height)
        return checked

    def _check_general(
        self, raw: bytes, decoded: DecodedTx | None, next_height: int
    ) -> CheckResult:
        """check_tx of any transaction: `_run` in check-only mode on a read recorder."""
        rules, book_keys = self._rules_read(next_height)
        state = ReadRecorder(self._state, book_keys)
        ov = Overlay(state)
        out = self._run(
            ov,
            raw,
            decoded,
            height=next_height,
            time_ms=0,
            updates=[],
            rules=rules,
            check_only=True,
        )
        body = out.body
        debits: tuple[Debit, ...] = ()
        if out.code == pb.OK and body is not None:
            found = debits_of(body)
            for key, amount in issue_debits(state, body).items():
                found[key] = found.get(key, 0) + amount
            debits = tuple(
                Debit(
                    account,
                    asset,
                    amount,
                    get_balance(self._state, account, asset),
                    k.balance_key(account, asset),
                )
                for (account, asset), amount in sorted(found.items())
            )
        reads = state.keys.difference(d.key for d in debits)
        if out.code == pb.OK:
            reads.difference_update(uncapped_credits(ov, rules, body))
        return CheckResult(
            code=out.code,
            message=out.message,
            tx_id=out.tx_id,
            size=len(raw),
            expires_at_height=0 if body is None else body.expires_at_height,
            signer="" if body is None else body.signer,
            accounts=tuple(out.authorised or ()),
            debits=debits,
            rule=out.rule,
            rulebook_version=rules.version,
            reads=frozenset(reads),
        )

    def _check_plain(
        self, raw: bytes, decoded: DecodedTx | None, next_height: int
    ) -> CheckResult | None:
        """check_tx of a plain payment that nothing refuses, or None: not plain, or refused.

        `_settle_plain` in check-only mode on a read recorder, without the general path's
        bookkeeping over kinds, signers and debits.
        """
        rules, book_keys = self._rules_read(next_height)
        state = ReadRecorder(self._state, book_keys)
        ov = Overlay(state)
        settled = self._settle_plain(ov, raw, decoded, next_height, 0, rules, check_only=True)
        if settled is None:
            return None
        tx_id, body, leg = settled
        payer_id = leg.payer
        balance = ov.balance(payer_id, k.KZT)  # committed: a check writes nothing
        debit = Debit(payer_id, k.KZT, amount_of(leg), balance, k.balance_key(payer_id, k.KZT))
        reads = state.keys
        reads.discard(debit.key)
        reads.difference_update(uncapped_credits(ov, rules, body))
        return CheckResult(
            code=pb.OK,
            message="",
            tx_id=tx_id,
            size=len(raw),
            expires_at_height=body.expires_at_height,
            signer=body.signer,
            accounts=(payer_id,),
            debits=(debit,),
            rulebook_version=rules.version,
            reads=frozenset(reads),
        )

    def _settle_plain(
        self,
        ov: Overlay,
        raw: bytes,
        decoded: DecodedTx | None,
        height: int,
        time_ms: int,
        rules: rb.Rules,
        *,
        check_only: bool,
    ) -> tuple[bytes, pb.TxBody, pb.TransferLeg] | None:
        """`_run` for a plain payment that nothing refuses: (tx id, body, its leg), the
        payment settled on ov and its tx id marked seen (unless check_only); or None,
        having written nothing: not plain, or refused (rule 7).

        The general path's checks in its order (rule 4), for one payer, through the same
        helpers (`_stateless`, `_signature_count`, `_authorise`, `plain_transfer`) and
        reading the same keys; what it reads before giving up only fills ov's caches.
        """
        if decoded is None or len(raw) > self.max_tx_bytes:
            return None
        envelope, body, tx_id, _ = decoded
        if body is None or body.WhichOneof("kind") != "transfer":
            return None
        legs = body.transfer.legs
        if len(legs) != 1:
            return None
        if (
            self._stateless(tx_id, body, height) is not None
            or self._signature_count(envelope) is not None
        ):
            return None
        seen_key = k.seen_key(tx_id)
        if ov.get_raw(seen_key) is not None:
            return None
        leg = legs[0]
        payer_id = leg.payer
        payer = ov.account(payer_id)
        if payer is None:
            return None
        signers = {payer_id: payer}
        if self._authorise(decoded, signers) is not None or payer.closed or payer.frozen:
            return None
        ctx = Context(ov, height, time_ms, tx_id, [], rules, check_only)
        if _transfer.plain_transfer(ctx, leg, signers) is None:
            return None
        if not check_only:
            ov.put_raw(seen_key, k.encode_u64(height))
        return tx_id, body, leg

    def balance(self, account: str, asset: str) -> int:
        """The committed balance of account in asset (0 when it holds none)."""
        return get_balance(self._state, account, asset)

    def rulebook_version_at(self, height: int) -> int:
        """The version of the rulebook in force at height, as committed state stands now."""
        return self.rules_at(height).version

    def rules_at(self, height: int) -> rb.Rules:
        """The rulebook in force at height, as committed state stands now."""
        return self._rules_read(height)[0]

    def _rules_read(self, height: int) -> tuple[rb.Rules, tuple[bytes, ...]]:
        """The rulebook in force at height in committed state, and the keys it was read from.

        Remembered for one (height, committed state version) when the state has versions
        (`VersionedState`): the rulebook changes only with a height or a committed block
        (a governance change activating, a rate update), and admission asks for it on
        every check.
        """
        version = self._state_version()
        memo = self._book_memo
        if memo is not None and memo[0] == version and memo[1] == height:
            return memo[2], memo[3]
        recorder = ReadRecorder(self._state)
        raw, _ = rb.rulebook_at(recorder.get, height)
        rules = self._index(raw)
        keys = tuple(sorted(recorder.keys))
        if version is not None and self._state_version() == version:
            self._book_memo = (version, height, rules, keys)
        return rules, keys

    def _state_version(self) -> int | None:
        """The committed state's version now, or None (no versions, or a write under way)."""
        versioned = self._versioned
        return None if versioned is None else versioned.state_version

    def _index(self, raw: bytes) -> rb.Rules:
        rules = self._rules.get(raw)
        if rules is None:
            if len(self._rules) >= 4:
                self._rules.clear()
            rules = self._rules[raw] = rb.Rules.of(pb.Rulebook.FromString(raw))
        return rules

    def verify_signatures(self, txs: Sequence[bytes]) -> int:
        """Verify the signatures of envelopes ahead of execution, filling the cache.

        Event-loop thread only (it writes the cache); a worker thread runs
        `verify_detached` instead and the loop calls `remember_signatures`. Envelopes
        that do not decode or are too large are skipped; `execute_block` refuses them.

        Returns:
            How many envelopes had all their signatures valid.
        """
        self.remember_signatures(self.verify_detached(self.unverified(txs)))
        return sum(1 for raw in txs if self._sigs.lookup(hashlib.sha256(raw).digest()) == -1)

    def signatures_known(self, envelope_hash: bytes) -> bool:
        """Whether the cache holds the outcome for the envelope with this SHA-256."""
        return self._sigs.lookup(envelope_hash) is not None

    def unverified(
        self, txs: Sequence[bytes], *, skip_included: bool = False
    ) -> list[tuple[bytes, bytes]]:
        """(envelope SHA-256, envelope) of those txs whose signatures the cache lacks.

        Envelopes too large to judge are left out (check_tx and execution refuse them
        first); with skip_included, so are those a block already included
        (`already_included`: refused DUPLICATE before signatures count).
        """
        out = []
        for raw in txs:
            if len(raw) > self.max_tx_bytes:
                continue
            decoded = self.decoded.get(raw)
            if decoded is None:
                continue  # refused MALFORMED before signatures count
            envelope_hash = decoded.envelope_hash
            if self._sigs.lookup(envelope_hash) is None and not (
                skip_included and self._already_included(decoded)
            ):
                out.append((envelope_hash, raw))
        return out

    def _already_included(self, decoded: DecodedTx) -> bool:
        """Whether a block already included the transaction decoded carries (by its tx id).

        Cheap next to a signature check: admission asks it first, since check_tx refuses
        such a transaction DUPLICATE before it looks at signatures.
        """
        return self._state.get(k.seen_key(decoded.tx_id)) is not None

    def verify_detached(self, txs: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, int]]:
        """Signature outcomes of (envelope SHA-256, envelope) pairs, without the cache.

        Reads nothing mutable and writes nothing, so a worker thread may run it while the
        event loop uses the ledger. Skips what `check_tx` refuses before verifying (too
        large, undecodable, no or too many signatures).

        Returns:
            (envelope SHA-256, index of the first bad signature or -1) per verified one.
        """
        prefix = self._sigs.prefix
        out: list[tuple[bytes, int]] = []
        for envelope_hash, raw in txs:
            if len(raw) > self.max_tx_bytes:
                continue
            try:
                envelope = pb.TxEnvelope.FromString(raw)
            except DecodeError:
                continue
            sigs = envelope.signatures
            if 0 < len(sigs) <= MAX_SIGNATURES:
                out.append((envelope_hash, first_invalid_signature(prefix, envelope.body, sigs)))
        return out

    def remember_signatures(self, outcomes: Sequence[tuple[bytes, int]]) -> None:
        """Merge `verify_detached` outcomes into the cache (event-loop thread)."""
        for envelope_hash, result in outcomes:
            self._sigs.remember(envelope_hash, result)

    def execute_block(
        self,
        *,
        height: int,
        time_ms: int,
        txs: Sequence[bytes],
        prev_app_hash: bytes,
        evidence: Sequence[cs.Evidence | bytes] = (),
    ) -> BlockResult:
        """Execute the transactions of block height, deterministically.

        Args:
            height: the block's height (genesis is 0, so the first block is 1).
            time_ms: block time from its header (Unix ms); used for daily limits.
            txs: serialized TxEnvelopes in block order.
            prev_app_hash: the app hash after block height - 1.
            evidence: the block's evidence (decoded, or serialized ``tenge.v1.Evidence``),
                judged valid with the block (node/evidence.py). Each piece not committed
                before is recorded in state with height, so it enters the app hash; a
                repeat is ignored. No receipt.

        Returns:
            Receipts, sorted writes, the new app hash, the validator updates and the
            newly recorded evidence.

        Raises:
            ConsensusCodecError: an evidence item does not decode (block validity
                refuses; the caller's bug).
        """
        ov = Overlay(self._state)
        self._prune_seen(ov, height)
        book, promote = rb.rulebook_at(ov.get_raw, height)
        if promote:
            rb.promote(ov.put_raw, book)
        rules = self._index(book)
        updates: list[pb.Validator] = []
        receipts: list[pb.Receipt] = []
        seen: list[bytes] = []
        version = rules.version
        kinds: list[str] = []
        decoded_txs = self.decoded
        max_tx_bytes = self.max_tx_bytes
        for index, raw in enumerate(txs):
            decoded = decoded_txs.take(raw) if len(raw) <= max_tx_bytes else None
            settled = self._settle_plain(ov, raw, decoded, height, time_ms, rules, check_only=False)
            if settled is None:
                out = self._run(
                    ov, raw, decoded, height=height, time_ms=time_ms, updates=updates, rules=rules
                )
            else:
                tx_id, body, leg = settled
                out = _Outcome(pb.OK, "", tx_id, [leg.payer, leg.payee], body, [leg.payer])
            if out.authorised is not None:
                seen.append(out.tx_id)
            receipt = pb.Receipt(
                tx_id=out.tx_id,
                height=height,
                index=index,
                code=out.code,  # type: ignore[arg-type]
                accounts=out.accounts,
                authorised=out.authorised is not None,
                speaks_for_tx=out.speaks,
                rulebook_version=version,
            )
            if out.code:  # an OK receipt has neither (setting "" costs as much as a field)
                receipt.message = out.message
                receipt.rule = out.rule
            if settled is not None:
                if payment_ids.indexed(leg):
                    receipt.carries_payment_ids = True
            elif out.authorised is not None and _indexes_payment_ids(out.body):
                receipt.carries_payment_ids = True
            receipts.append(receipt)
            read = out.body
            kinds.append((read.WhichOneof("kind") if read is not None else None) or "unknown")
        if seen:
            ov.put_raw(k.included_key(height), b"".join(seen))
        recorded = record_evidence(ov, height, evidence)
        writes = ov.writes()
        return BlockResult(
            receipts=receipts,
            writes=writes,
            app_hash=app_hash_step(prev_app_hash, height, writes),
            validator_updates=updates,
            evidence=recorded,
            kinds=kinds,
        )

    # ---- internals ----

    def _prune_seen(self, ov: Overlay, height: int) -> None:
        """Forget the tx ids included max_tx_ttl + 1 blocks ago: they are expired now."""
        old = height - self.max_tx_ttl - 1
        if old < 1:
            return
        key = k.included_key(old)
        ids = ov.get_raw(key)
        if ids is None:
            return
        for start in range(0, len(ids), _TX_ID_SIZE):
            ov.put_raw(k.seen_key(ids[start : start + _TX_ID_SIZE]), None)
        ov.put_raw(key, None)

    def _run(
        self,
        ov: Overlay,
        raw: bytes,
        decoded: DecodedTx | None,
        *,
        height: int,
        time_ms: int,
        updates: list[pb.Validator],
        rules: rb.Rules,
        check_only: bool = False,
    ) -> _Outcome:
        """Judge raw on ov (rule 4's order); decoded is raw decoded, None if it is not."""
        if len(raw) > self.max_tx_bytes:
            return _envelope_refused(
                pb.TX_TOO_LARGE,
                f"the transaction is {len(raw)} bytes; the limit is {self.max_tx_bytes}",
                hashlib.sha256(raw).digest(),
                None,
            )
        if decoded is None:
            return _envelope_refused(
                pb.MALFORMED, "the envelope is not a TxEnvelope", hashlib.sha256(raw).digest(), None
            )
        envelope, body, tx_id, _ = decoded
        if body is None:
            return _Outcome(pb.MALFORMED, "the body is not a TxBody", tx_id, [])
        refusal = self._stateless(tx_id, body, height)
        if refusal is not None:
            return _Outcome(refusal.code, refusal.message, tx_id, [], body)
        refusal = self._signature_count(envelope)
        if refusal is not None:
            return _envelope_refused(refusal.code, refusal.message, tx_id, body)
        seen_key = k.seen_key(tx_id)
        if ov.get_raw(seen_key) is not None:
            return _Outcome(pb.DUPLICATE, "this transaction was already included", tx_id, [], body)

        signers: dict[str, pb.Account] = {}
        for account_id in required_accounts(body):
            acct = ov.account(account_id)
            if acct is None:
                kind = body.WhichOneof("kind")
                field_name = "payer" if kind == "transfer" else "signer"
                if kind == "recover_account" and account_id != body.signer:
                    field_name = "recover_account.regulator"
                return _Outcome(
                    pb.UNKNOWN_ACCOUNT, f"{field_name}: no account {account_id!r}", tx_id, [], body
                )
            signers[account_id] = acct
        refusal = self._authorise(decoded, signers)
        if refusal is not None:
            return _envelope_refused(refusal.code, refusal.message, tx_id, body)

        authorised = list(signers)
        ov.put_raw(seen_key, k.encode_u64(height))
        for acct in signers.values():
            refusal = closed_refusal("signer", acct)
            if refusal is not None:
                return _Outcome(refusal.code, refusal.message, tx_id, authorised, body, authorised)
        for acct in signers.values():
            if acct.frozen:
                message = f"{acct.account_id!r} is frozen ({acct.frozen_legal_ref})"
                return _Outcome(pb.FROZEN, message, tx_id, authorised, body, authorised)
        ctx = Context(ov, height, time_ms, tx_id, updates, rules, check_only)
        kind = body.WhichOneof("kind")
        assert kind is not None  # static_check refused kind-less bodies
        if kind == "transfer":
            result = execute_transfer(ctx, body, signers)
        else:
            result = _HANDLERS[kind](ctx, body, signers[body.signer])
        if isinstance(result, Refusal):
            return _Outcome(
                result.code, result.message, tx_id, authorised, body, authorised, rule=result.rule
            )
        return _Outcome(pb.OK, "", tx_id, result, body, authorised)

    def _first_invalid(self, decoded: DecodedTx) -> int:
        """The index of the envelope's first bad signature or -1, from the cache if it knows."""
        envelope_hash = decoded.envelope_hash
        bad = self._sigs.lookup(envelope_hash)
        if bad is None:  # only then the body and signatures are read out of the envelope
            envelope = decoded.envelope
            bad = self._sigs.first_invalid(envelope_hash, envelope.body, envelope.signatures)
        return bad

    def _stateless(self, tx_id: bytes, body: pb.TxBody, height: int) -> Refusal | None:
        """The checks of the body alone (rule 6: their refusals speak for the tx id).

        Those that need no height either run once per tx id: the verdict is remembered.
        """
        static_ok = self._static_ok
        if tx_id not in static_ok:
            if body.chain_id != self.chain_id:
                return Refusal(
                    pb.WRONG_CHAIN_ID,
                    f"chain_id is {show(body.chain_id)}, this chain is {self.chain_id!r}",
                )
            refusal = static_check(body)
            if refusal is not None:
                return refusal
            static_ok.put(tx_id, None)
        expires = body.expires_at_height
        if expires < height:
            return Refusal(pb.EXPIRED, f"expires_at_height {expires} is before height {height}")
        if expires - height > self.max_tx_ttl:
            return Refusal(
                pb.TTL_TOO_LONG,
                f"expires_at_height {expires} is more than "
                f"{self.max_tx_ttl} blocks after height {height}",
            )
        return None

    @staticmethod
    def _signature_count(envelope: pb.TxEnvelope) -> Refusal | None:
        """The envelope carries 1 to MAX_SIGNATURES signatures."""
        count = len(envelope.signatures)
        if not count:
            return Refusal(pb.MISSING_SIGNATURE, "the envelope carries no signature")
        if count > MAX_SIGNATURES:
            return Refusal(pb.EXTRA_SIGNATURE, f"more than {MAX_SIGNATURES} signatures")
        return None

    def _authorise(self, decoded: DecodedTx, signers: dict[str, pb.Account]) -> Refusal | None:
        """Every signer needs `threshold` signatures by its keys; no stray or repeated key."""
        sigs = decoded.envelope.signatures
        if len(signers) == 1 and len(sigs) == 1:
            # The common case: one account, one key, threshold 1.
            (acct,) = signers.values()
            if sigs[0].public_key not in acct.public_keys:
                return Refusal(
                    pb.EXTRA_SIGNATURE,
                    f"signatures[0]: key {sigs[0].public_key.hex()[:16]} belongs to no "
                    "required account",
                )
            if self._first_invalid(decoded) >= 0:
                return Refusal(pb.INVALID_SIGNATURE, "signatures[0] does not verify")
            if acct.threshold > 1:
                return Refusal(
                    pb.MISSING_SIGNATURE,
                    f"{acct.account_id!r} needs {acct.threshold} signature(s) of its keys, has 1",
                )
            return None
        holders: set[bytes] = set()
        for acct in signers.values():
            holders.update(acct.public_keys)
        signed: set[bytes] = set()
        for i, sig in enumerate(sigs):
            key = sig.public_key
            if key in signed:
                return Refusal(pb.EXTRA_SIGNATURE, f"signatures[{i}]: the key signed twice")
            if key not in holders:
                return Refusal(
                    pb.EXTRA_SIGNATURE,
                    f"signatures[{i}]: key {key.hex()[:16]} belongs to no required account",
                )
            signed.add(key)
        bad = self._first_invalid(decoded)
        if bad >= 0:
            return Refusal(pb.INVALID_SIGNATURE, f"signatures[{bad}] does not verify")
        for acct in signers.values():
            have = sum(1 for key in acct.public_keys if key in signed)
            need = max(1, acct.threshold)
            if have < need:
                return Refusal(
                    pb.MISSING_SIGNATURE,
                    f"{acct.account_id!r} needs {need} signature(s) of its keys, has {have}",
                )
        return None

"""The deliberate bugs of ``make mutants``: each one edit (or a few) of the shipped code.

An edit is (file, exact old text, new text); the old text must occur exactly once, or the
mutant is STALE and the run fails, so this list follows the code. Keep each bug a plausible
slip of the consensus rules; ``tests`` names unit tests to run as well (node-level code).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Mutant:
    """One deliberate bug."""

    name: str
    description: str
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...] = ()


ENGINE = "consensus/_engine.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "l23-lock",
        "Algorithm 1 l.23: prevote a fresh proposal even when locked on another value",
        (
            (
                ENGINE,
                "                    good = self._is_valid(entry) and (\n"
                "                        self._locked_round == -1 or self._locked_id == "
                "entry.value_id\n"
                "                    )\n",
                "                    good = self._is_valid(entry)\n",
            ),
        ),
    ),
    Mutant(
        "l22-valid",
        "Algorithm 1 l.22: prevote a fresh proposal without valid(v)",
        (
            (
                ENGINE,
                "                    good = self._is_valid(entry) and (\n"
                "                        self._locked_round == -1",
                "                    good = (\n                        self._locked_round == -1",
            ),
        ),
    ),
    Mutant(
        "l29-lock",
        "Algorithm 1 l.29: accept a re-proposal whose proof of lock is older than our lock",
        (
            (
                ENGINE,
                "                    good = self._is_valid(entry) and (\n"
                "                        self._locked_round <= pol_round or self._locked_id == "
                "entry.value_id\n"
                "                    )\n",
                "                    good = self._is_valid(entry)\n",
            ),
        ),
    ),
    Mutant(
        "l28-pol-round",
        "Algorithm 1 l.28: drop vr < round (in the engine and in Proposal.shape_error, which "
        "alone would make the engine's check unreachable)",
        (
            (
                ENGINE,
                "if pol_round < round_ and pol.power(entry.value_id) >= quorum:",
                "if pol.power(entry.value_id) >= quorum:",
            ),
            (
                "consensus/_types.py",
                "not -1 <= self.pol_round < self.round",
                "not -1 <= self.pol_round",
            ),
        ),
    ),
    Mutant(
        "l36-prevote-quorum",
        "Algorithm 1 l.36: precommit (and lock) a proposal without +2/3 prevotes for it",
        (
            (
                ENGINE,
                "if prevotes.power(entry.value_id) >= quorum and self._is_valid(entry):",
                "if self._is_valid(entry):",
            ),
        ),
    ),
    Mutant(
        "l42-valid-round",
        "Algorithm 1 l.42-43: never update validValue / validRound",
        (
            (
                ENGINE,
                "                        self._valid = entry\n"
                "                        self._valid_round = round_\n",
                "",
            ),
        ),
    ),
    Mutant(
        "second-vote-counted",
        "a validator's second, conflicting vote counts as a new voter (power counted twice)",
        (
            (
                "consensus/_votes.py",
                "existing = self.by_validator.get(key)",
                "existing = None",
            ),
        ),
    ),
    Mutant(
        "quorum-short",
        "ValidatorSet.quorum one unit of power short",
        (
            (
                "consensus/_validators.py",
                "return self._total * 2 // 3 + 1",
                "return self._total * 2 // 3",
            ),
        ),
    ),
    Mutant(
        "one-third-short",
        "ValidatorSet.one_third one unit of power short (round skip of l.55 on f messages)",
        (
            (
                "consensus/_validators.py",
                "return self._total // 3 + 1",
                "return self._total // 3",
            ),
        ),
    ),
    Mutant(
        "guard-second-signature",
        "the double-sign guard allows a second, different signature for a signed step",
        (
            (
                "consensus/_signguard.py",
                "if sign_bytes_hash == last.sign_bytes_hash:",
                "if True:",
            ),
        ),
    ),
    Mutant(
        "sync-unverified",
        "Engine._on_commit_received accepts a synced commit without verifying its certificate",
        (
            (
                ENGINE,
                "        try:\n"
                "            certificate.verify(self._vset, self._chain_id, self._verifier)\n"
                "        except InvalidCertificate as e:\n"
                "            self._misbehaviour(INVALID_CERTIFICATE, str(e), event.sender)\n"
                "            return\n",
                "",
            ),
        ),
    ),
    Mutant(
        "vote-signature-unchecked",
        "votes from the network are counted without checking their signature",
        (
            (
                ENGINE,
                "        if not verified and not self._verifier.verify(\n"
                "            vote.validator, vote.sign_bytes(self._chain_id), vote.signature\n"
                "        ):",
                "        if False:",
            ),
        ),
    ),
    Mutant(
        "proposer-unchecked",
        "a proposal from a validator that is not the round's proposer is accepted",
        (
            (
                ENGINE,
                "if proposal.proposer != self._vset.proposer(proposal.height, proposal.round):",
                "if False:",
            ),
        ),
    ),
    Mutant(
        "replay-own-only",
        "WAL replay skips received proposals and votes (the lock rebuilt from own messages)",
        (
            (
                ENGINE,
                "                    case ProposalReceived():\n"
                "                        self._now = entry.now_ms\n"
                "                        self._on_proposal(entry, verified=True)\n"
                "                    case VoteReceived():\n"
                "                        self._now = entry.now_ms\n"
                "                        self._on_vote(entry, verified=True)\n",
                "                    case ProposalReceived() | VoteReceived():\n"
                "                        pass\n",
            ),
        ),
    ),
)

MUTANTS += (
    Mutant(
        "early-unverified",
        "messages of the next height are buffered without verifying their signature",
        (
            (
                ENGINE,
                "        if not self._verifier.verify(signer, message, signature):\n"
                '            self._misbehaviour(BAD_SIGNATURE, "next-height message", '
                "event.sender)\n"
                "            return\n",
                "",
            ),
        ),
    ),
    Mutant(
        "block-id-header-only",
        "the block id is the hash of the header alone (node/blocks.py)",
        (
            (
                "node/blocks.py",
                "    return hashlib.sha256(value).digest()\n",
                "    block = decode_block(value)\n"
                "    if block is None:\n"
                "        return hashlib.sha256(value).digest()\n"
                "    return hashlib.sha256(block.header.SerializeToString()).digest()\n",
            ),
        ),
        tests=("tests/node/test_blocks.py",),
    ),
)

CORE = "node/core/_core.py"
SYNC = "node/core/_sync.py"
CORE_TESTS = ("tests/core/test_node_core.py",)

# The node core (node/core/): killed by its synchronous tests as well as the battery.
MUTANTS += (
    Mutant(
        "batch-no-window",
        "rule 6: a proposer with transactions builds at once, ignoring block_interval_ms",
        (
            (
                CORE,
                "        if round_ == 0 and now_ms < ready and self._pending_txs < "
                "self._params.max_block_txs:\n",
                "        if False:\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "batch-full-block-waits",
        "rule 6: a full block pending still waits for the collection window",
        (
            (
                CORE,
                "        if round_ == 0 and now_ms < ready and self._pending_txs < "
                "self._params.max_block_txs:\n",
                "        if round_ == 0 and now_ms < ready:\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "sync-unsolicited",
        "block sync accepts an answer from a peer it did not ask",
        (
            (
                SYNC,
                "        if request is None or request.peer != peer:\n",
                "        if request is None:\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "sync-cert-other-block",
        "block sync keeps an answer whose certificate names another block",
        (
            (
                SYNC,
                "        if certificate.block_hash != value_id(value):\n",
                "        if False:\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "sync-retry-same-peer",
        "a retried height may go to the peer that already failed it",
        (
            (
                SYNC,
                "        fresh = [p for p in candidates if p not in tried]\n",
                "        fresh = candidates\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "claims-never-expire",
        "a peer's height claim is believed for ever",
        (
            (
                SYNC,
                "if 0 <= now_ms - c.at_ms <= ttl}",
                "}",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "catching-up-one-peer",
        "one peer's word is enough to be catching up",
        ((SYNC, "        if len(ahead) >= f_plus_one:\n", "        if ahead:\n"),),
        tests=CORE_TESTS,
    ),
    Mutant(
        "valset-refusal-kept-old-set",
        "a validator update consensus refuses is dropped and the old set kept",
        (
            (
                CORE,
                "            except cs.InvalidValidatorSet as e:  # rule 5\n"
                "                raise NodeCoreError(\n"
                '                    f"block {height}: the ledger accepted a validator update '
                'that consensus "\n'
                '                    f"refuses ({e}); stopping rather than running the old set"\n'
                "                ) from e\n",
                "            except cs.InvalidValidatorSet:  # rule 5\n"
                "                following = self._sets[height + 1]\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "evidence-unverified",
        "gossiped evidence is kept without verifying it",
        (
            (
                CORE,
                "            if reason is not None:\n"
                "                self._out.append(PeerPenalised(",
                "            if False:\n                self._out.append(PeerPenalised(",
            ),
        ),
        tests=CORE_TESTS,
    ),
)

STORE = "node/store.py"

# Tx index integrity (issue 11 item 5): a copy refused for its envelope speaks for nothing.
MUTANTS += (
    Mutant(
        "junk-copy-leaves-mempool",
        "a junk-signature copy in a block takes the real pending transaction out of the mempool",
        (
            (
                CORE,
                "        included = tuple(r.tx_id for r in result.receipts if r.speaks_for_tx)\n",
                "        included = tuple(r.tx_id for r in result.receipts)\n",
            ),
        ),
        tests=CORE_TESTS,
    ),
    Mutant(
        "junk-copy-indexed",
        "a receipt refused for its envelope enters the tx index",
        (
            (
                STORE,
                "                if not receipt.speaks_for_tx:  # rule 1\n",
                "                if False:\n",
            ),
        ),
        tests=("tests/node/test_store_tx_index.py",),
    ),
    Mutant(
        "settled-entry-moved",
        "a later receipt with the same id moves a settled tx index entry",
        (
            (
                STORE,
                "                if not final:  # rules 2 and 3\n",
                "                if True:\n",
            ),
        ),
        tests=("tests/node/test_store_tx_index.py",),
    ),
)

LEDGER = "node/ledger/_ledger.py"
CHECK_TESTS = ("tests/ledger/test_check_fast_path.py", "tests/ledger/test_plain_transfer.py")
TRAVEL = "node/ledger/_travel.py"
TRAVEL_TESTS = ("tests/ledger/test_travel_rule.py",)

# Admission's short path for plain payments (issue 13): it answers only what the general
# path would answer, so a check it drops lets through what a block refuses.
MUTANTS += (
    Mutant(
        "check-fast-frozen",
        "the plain-payment short path (admission and execution) accepts a frozen payer",
        (
            (
                LEDGER,
                " or payer.closed or payer.frozen:",
                " or payer.closed:",
            ),
        ),
        tests=CHECK_TESTS,
    ),
    Mutant(
        "plain-no-holding-cap",
        "the plain-payment rule (admission and execution) forgets the payee's holding cap",
        (
            (
                "node/ledger/_transfer.py",
                '    if holding_cap_refusal(ov, rules, payee, after[payee_id], "transfer", after) '
                "is not None:\n        return None\n",
                "",
            ),
        ),
        tests=CHECK_TESTS,
    ),
    Mutant(
        "rulebook-memo-any-height",
        "admission keeps judging under the rulebook it remembered for another height",
        (
            (
                LEDGER,
                "memo[0] == version and memo[1] == height",
                "memo[0] == version",
            ),
        ),
        tests=CHECK_TESTS,
    ),
    Mutant(
        "decoded-hash-of-body",
        "the decoded transaction carries its body's hash as the envelope's: a junk-signed "
        "copy of a verified body finds the body's signature verdict",
        (
            (
                "node/ledger/_decoded.py",
                "hashlib.sha256(body_bytes).digest(), hashlib.sha256(raw).digest()",
                "hashlib.sha256(body_bytes).digest(), hashlib.sha256(body_bytes).digest()",
            ),
        ),
        tests=(
            "tests/ledger/test_decoded_carry.py",
            *CHECK_TESTS,
            "tests/ledger/test_tx_standing.py",
        ),
    ),
)

# Payment identification (issue 14 item 1): checked with the body, marked on the receipt
# of a settled transfer on either path, indexed with the block.
MUTANTS += (
    Mutant(
        "payment-ids-unchecked",
        "a transfer leg's payment ids are never checked",
        (
            (
                "node/ledger/_rules.py",
                "            if payment_ids.carries_ids(leg):\n",
                "            if False:\n",
            ),
        ),
        tests=("tests/ledger/test_payment_ids.py",),
    ),
    Mutant(
        "signer-unavailable-recorded",
        "a signature the signer could not make is recorded as signed (the guard then refuses "
        "the same position's retry, and the node's state claims a vote it never sent)",
        (
            (
                "consensus/_state.py",
                "        try:\n            signature = self._signer.sign(sign_bytes)\n",
                "        self._last_signed = LastSigned(self._height, round_, step, digest)\n"
                "        try:\n            signature = self._signer.sign(sign_bytes)\n",
            ),
        ),
        tests=("tests/consensus/test_signer_unavailable.py",),
    ),
    Mutant(
        "signer-unavailable-crash",
        "a signer that cannot sign stops the engine instead of leaving it silent in that step",
        (
            (
                "consensus/_state.py",
                "        except SignerUnavailable as e:\n",
                "        except SignerUnavailable as e:\n            raise\n",
            ),
        ),
        tests=(
            "tests/consensus/test_signer_unavailable.py",
            "tests/sim/test_sim_signer_down.py",
        ),
    ),
    Mutant(
        "payment-ids-short-path-unmarked",
        "a plain payment's receipt on the short path does not say it carries payment ids",
        (
            (
                LEDGER,
                "                if payment_ids.indexed(leg):\n",
                "                if False:\n",
            ),
        ),
        tests=CHECK_TESTS,
    ),
    Mutant(
        "payment-ids-unsettled-marked",
        "the receipt of a transfer refused before its signatures count is marked for the index",
        (
            (
                LEDGER,
                "elif out.authorised is not None and _indexes_payment_ids(out.body):",
                "elif _indexes_payment_ids(out.body):",
            ),
        ),
        tests=("tests/ledger/test_payment_ids.py", "tests/node/test_store_payments.py"),
    ),
    Mutant(
        "payment-index-not-written",
        "the store does not index a settled transfer's payment ids",
        (
            (
                STORE,
                "                    if receipt.carries_payment_ids:\n",
                "                    if False:\n",
            ),
        ),
        tests=("tests/node/test_store_payments.py",),
    ),
    Mutant(
        "travel-not-required",
        "a big KZT leg without travel copies settles: the threshold is never reached",
        (
            (
                TRAVEL,
                "    return kzt_value >= threshold\n",
                "    return False\n",
            ),
        ),
        tests=TRAVEL_TESTS,
    ),
    Mutant(
        "travel-no-regulator-copy",
        "a leg needing travel data settles without the regulators' copies",
        (
            (
                TRAVEL,
                "    for regulator in regulator_ids(ov):\n"
                '        recipients.setdefault(regulator, "the regulator")\n',
                "",
            ),
        ),
        tests=TRAVEL_TESTS,
    ),
    Mutant(
        "travel-plain-ignores-copies",
        "a small KZT payment with travel copies takes the short path, their recipients unchecked",
        (
            (
                TRAVEL,
                "    if leg.travel_copies:\n        return True\n",
                "",
            ),
        ),
        tests=TRAVEL_TESTS,
    ),
    Mutant(
        "travel-stray-recipient",
        "a copy to an account that is none of the leg's recipients is accepted",
        (
            (
                TRAVEL,
                "        if copy.recipient not in recipients:\n",
                "        if False:\n",
            ),
        ),
        tests=TRAVEL_TESTS,
    ),
)

# A few quick kills for the test suite (tests/mutants/test_mutants_fast.py).
FAST = ("l23-lock", "l29-lock", "quorum-short", "sync-unverified")

# Validator key rotation (issue 15): the ledger's proof and the core's switch of keys.
RULES = "node/ledger/_rules.py"
MUTANTS += (
    Mutant(
        "rotate-no-proof",
        "a RotateValidatorKey is accepted without the new key's proof",
        (
            (
                RULES,
                "    if not verify(m.new_public_key, message, m.proof):\n",
                "    if False:\n",
            ),
        ),
        tests=("tests/ledger/test_validator_rotation.py",),
    ),
    Mutant(
        "rotate-keeps-old-key",
        "a rotation adds the new key but leaves the old one in the set",
        (
            (
                RULES,
                "    old = current.pop(m.public_key, None)\n",
                "    old = current.get(m.public_key)\n",
            ),
        ),
        tests=("tests/ledger/test_validator_rotation.py",),
    ),
    Mutant(
        "rotate-no-key-switch",
        "the core never switches the key ring to the key of the next height's set",
        (
            (
                CORE,
                "        self._select_key(height + 1)\n",
                "",
            ),
        ),
        tests=("tests/core/test_key_rotation_core.py",),
    ),
)

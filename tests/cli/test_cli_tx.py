"""Every transaction kind through `tenge-node tx` against real node processes, refusals too."""

from __future__ import annotations

from pathlib import Path

import trio
from cli_support import CliResult, LiveNet

from node.cli import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE
from node.cli_ops import _api_failure
from node.client import ApiError, parse_amount
from node.keys import KeyPair, read_public_key, write_key_file

TEST_TIMEOUT_S = 150  # against hangs: each step is a CLI process, slow on a loaded machine
GOVERNED = frozenset({"register-asset", "set-limits", "set-rates", "update-validator"})


async def tx(
    net: LiveNet,
    kind: str,
    acting: str | None,
    keys: list[str],
    *flags: str,
    wait: bool = True,
    env: dict[str, str] | None = None,
    approve: bool = True,
) -> CliResult:
    """Run `tenge-node tx KIND`. A governed kind is sent as `tx propose KIND`; once the
    proposal commits, the regulator approves it (unless approve is False) and the approval's
    result is returned: it carries the change's own code."""
    args = ["tx", "propose", kind, "--summary", "cli test"] if kind in GOVERNED else ["tx", kind]
    if acting is not None:
        args += ["--as", acting]
    for key in keys:
        args += ["--key", key]
    args += flags
    if wait:
        args.append("--wait")
    result = await net.cli(*args, env=env)
    if kind not in GOVERNED or not approve or result.code != 0 or not wait:
        return result
    approval = ["tx", "approve", "--as", "regulator", "--key", net.key_file("regulator")]
    return await net.cli(*approval, "--proposal", result.doc["tx_id"], "--wait")


def committed_ok(result: CliResult) -> dict[str, object]:
    assert result.code == 0, str(result)
    doc: dict[str, object] = result.doc
    assert doc["status"] == "committed", doc
    assert doc["code"] == "OK", doc
    assert isinstance(doc["height"], int)
    assert len(str(doc["tx_id"])) == 64
    return doc


def refused(result: CliResult, code: str) -> None:
    """Refused by the ledger: exit 1 and the code, at admission or in the receipt."""
    assert result.code == EXIT_REFUSED, str(result)
    doc = result.doc
    assert doc["code"] == code, doc
    assert doc["status"] in ("refused", "committed"), doc
    assert len(doc["tx_id"]) == 64
    assert "Traceback" not in result.stderr


def usage_error(result: CliResult, *words: str) -> None:
    assert result.code == EXIT_USAGE, str(result)
    assert result.stdout == ""
    assert result.stderr.startswith("tenge-node: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


async def balance(net: LiveNet, account: str, asset: str) -> int:
    result = await net.cli("query", "account", account)
    assert result.code == 0, str(result)
    return int(result.doc["balances"].get(asset, "0"))


def new_key(path: Path) -> str:
    key = KeyPair.generate()
    write_key_file(path, key)
    return key.public_key.hex()


async def test_register_asset_issue_redeem(net: LiveNet) -> None:
    cb, bank_a, bank_b = (net.key_file(a) for a in ("central-bank", "bank-a", "bank-b"))
    with trio.fail_after(TEST_TIMEOUT_S):
        committed_ok(
            await tx(
                net,
                "register-asset",
                "central-bank",
                [cb],
                "--code",
                "CLIUSD",
                "--decimals",
                "6",
                "--issuer",
                "bank-a",
                "--kind",
                "STABLECOIN",
                "--payment-zones",
                "CRYPTOCITY",
            )
        )
        refused(
            await tx(
                net,
                "register-asset",
                "central-bank",
                [cb],
                "--code",
                "CLIUSD",
                "--decimals",
                "2",
                "--issuer",
                "bank-a",
                "--kind",
                "STABLECOIN",
                "--payment-zones",
                "NATIONAL,CRYPTOCITY",
            ),
            "ASSET_EXISTS",
        )
        refused(
            await tx(
                net,
                "register-asset",
                "bank-a",
                [bank_a],
                "--code",
                "CLIBAD",
                "--decimals",
                "2",
                "--issuer",
                "bank-a",
                "--kind",
                "CRYPTO",
                "--payment-zones",
                "CRYPTOCITY",
            ),
            "UNAUTHORIZED",
        )
        # Amounts use the asset's own decimals: 6 for CLIUSD, 2 for KZT.
        before = await balance(net, "bank-a", "CLIUSD")
        committed_ok(
            await tx(
                net,
                "issue",
                "bank-a",
                [bank_a],
                "--asset",
                "CLIUSD",
                "--to",
                "bank-a",
                "--amount",
                "2.5",
            )
        )
        assert await balance(net, "bank-a", "CLIUSD") == before + 2_500_000
        usage_error(
            await tx(
                net,
                "issue",
                "bank-a",
                [bank_a],
                "--asset",
                "CLIUSD",
                "--to",
                "bank-a",
                "--amount",
                "1.0000001",
            ),
            "6 decimals",
        )
        usage_error(
            await tx(
                net,
                "issue",
                "central-bank",
                [cb],
                "--asset",
                "KZT",
                "--to",
                "bank-a",
                "--amount",
                "3402823669209384634633746074317682114.56",  # 2^128 tiyn
            ),
            "2^128 - 1",
        )
        committed_ok(
            await tx(net, "redeem", "bank-a", [bank_a], "--asset", "CLIUSD", "--amount", "0.5")
        )
        asset = (await net.cli("query", "asset", "CLIUSD")).doc
        assert (asset["decimals"], asset["issued"], asset["redeemed"]) == (6, "2500000", "500000")
        refused(
            await tx(net, "redeem", "bank-b", [bank_b], "--asset", "CLIUSD", "--amount", "0.5"),
            "UNAUTHORIZED",
        )
        refused(
            await tx(
                net,
                "issue",
                "bank-b",
                [bank_b],
                "--asset",
                "CLIUSD",
                "--to",
                "bank-b",
                "--amount",
                "1",
            ),
            "UNAUTHORIZED",
        )
        refused(
            await tx(
                net,
                "issue",
                "central-bank",
                [cb],
                "--asset",
                "KZT",
                "--to",
                "bank-a",
                "--amount",
                "0",
            ),
            "INVALID_AMOUNT",
        )
        unknown = await tx(
            net, "issue", "bank-a", [bank_a], "--asset", "NOPE", "--to", "bank-a", "--amount", "1"
        )
        assert unknown.code == EXIT_REFUSED, str(unknown)
        assert "UNKNOWN_ASSET" in unknown.stderr
        assert unknown.stderr.count("\n") == 1
        before = await balance(net, "bank-a", "KZT")
        committed_ok(
            await tx(
                net,
                "issue",
                "central-bank",
                [cb],
                "--asset",
                "KZT",
                "--to",
                "bank-a",
                "--amount",
                "1250.50",
            )
        )
        assert await balance(net, "bank-a", "KZT") == before + 125050


async def test_set_limits_in_kzt(net: LiveNet) -> None:
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    with trio.fail_after(TEST_TIMEOUT_S):
        doc = committed_ok(
            await tx(
                net,
                "set-limits",
                "central-bank",
                [cb],
                "--kyc-tier",
                "9",
                "--per-payment",
                "1000.50",
                "--daily",
                "2000",
                "--holding-cap",
                "0",
                approve=False,
            )
        )
        shown = (await net.cli("query", "tx", str(doc["tx_id"]))).doc
        limits = shown["tx"]["propose"]["set_limits"]
        assert (limits["per_payment"], limits["daily_outflow"]) == ("100050", "200000")
        assert limits.get("holding_cap", "0") == "0"
        assert limits["kyc_tier"] == 9
        usage_error(
            await tx(
                net,
                "set-limits",
                "central-bank",
                [cb],
                "--kyc-tier",
                "9",
                "--per-payment",
                "1.001",
                "--daily",
                "1",
                "--holding-cap",
                "1",
            ),
            "--per-payment",
        )
        refused(
            await tx(
                net,
                "set-limits",
                "bank-a",
                [bank_a],
                "--kyc-tier",
                "9",
                "--per-payment",
                "1",
                "--daily",
                "1",
                "--holding-cap",
                "1",
            ),
            "UNAUTHORIZED",
        )


async def test_set_rates_and_query_the_rulebook(net: LiveNet) -> None:
    cb = net.key_file("central-bank")
    with trio.fail_after(TEST_TIMEOUT_S):
        refused(
            await tx(net, "set-rates", "central-bank", [cb], "--rate", "NOPE=1"), "UNKNOWN_ASSET"
        )
        usage_error(
            await tx(net, "set-rates", "central-bank", [cb], "--rate", "USDT"), "--rate", "CODE=KZT"
        )
        usage_error(
            await tx(net, "set-rates", "central-bank", [cb], "--rate", "KZT=1.001"), "--rate"
        )
        # KZT itself takes no rate: refused by the ledger's own check.
        refused(
            await tx(net, "set-rates", "central-bank", [cb], "--rate", "KZT=1"), "INVALID_FIELD"
        )
        doc = (await net.cli("query", "rulebook")).doc
        assert doc["active"]["version"] >= 1
        assert "kinds" in doc["active"]
        assert doc["active"]["tier_limits"], doc


async def test_accounts_transfers_freeze_seize_and_reserve(net: LiveNet, tmp_path: Path) -> None:
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    regulator = net.key_file("regulator")
    reserve = [net.key_file("state-reserve", k) for k in range(3)]
    env = {"ALICE_PASS": "s3cret"}
    alice_key, bob_key = str(tmp_path / "alice.json"), str(tmp_path / "bob.json")
    with trio.fail_after(TEST_TIMEOUT_S * 2):
        made = await net.cli(
            "keys", "new", "--out", alice_key, "--passphrase-env", "ALICE_PASS", env=env
        )
        alice_pub = made.doc["public_key"]
        bob_pub = new_key(Path(bob_key))
        committed_ok(
            await tx(
                net,
                "register-account",
                "bank-a",
                [bank_a],
                "--account-id",
                "alice.clitx",
                "--role",
                "CUSTOMER",
                "--zone",
                "NATIONAL",
                "--kyc-tier",
                "2",
                "--public-key",
                alice_pub,
                "--person-ref",
                "ab" * 32,
            )
        )
        alice = (await net.cli("query", "account", "alice.clitx")).doc
        assert alice["person_ref"] == "ab" * 32
        committed_ok(
            await tx(
                net,
                "register-account",
                "bank-a",
                [bank_a],
                "--account-id",
                "bob.clitx",
                "--role",
                "MERCHANT",
                "--zone",
                "CRYPTOCITY",
                "--kyc-tier",
                "2",
                "--public-key",
                bob_pub,
                "--threshold",
                "1",
            )
        )
        bob = (await net.cli("query", "account", "bob.clitx")).doc
        assert (bob["role"], bob["zone"], bob["licence"], bob["keys"]) == (
            "MERCHANT",
            "CRYPTOCITY",
            None,
            [bob_pub],
        )
        # Licences are the regulator's: a bank may not grant one; the regulator grants and
        # revokes (GET /v1/accounts/{id} shows the record).
        licence_flags = ("--account", "bob.clitx", "--asset", "KZT", "--purpose", "GOVERNMENT_FEE")
        licence_flags += ("--expires-at-height", "1000000", "--reference", "AFM-LIC-CLI")
        refused(await tx(net, "grant-licence", "bank-a", [bank_a], *licence_flags), "UNAUTHORIZED")
        refused(
            await tx(
                net,
                "revoke-licence",
                "regulator",
                [regulator],
                "--account",
                "bob.clitx",
                "--reference",
                "AFM-DEC-CLI",
            ),
            "NO_LICENCE",
        )
        refused(
            await tx(
                net,
                "register-account",
                "bank-a",
                [bank_a],
                "--account-id",
                "alice.clitx",
                "--role",
                "CUSTOMER",
                "--zone",
                "NATIONAL",
                "--kyc-tier",
                "2",
                "--public-key",
                alice_pub,
            ),
            "ACCOUNT_EXISTS",
        )
        refused(
            await tx(
                net,
                "register-account",
                "bank-a",
                [bank_a],
                "--account-id",
                "rogue.bank",
                "--role",
                "COMMERCIAL_BANK",
                "--zone",
                "NATIONAL",
                "--kyc-tier",
                "3",
                "--public-key",
                bob_pub,
            ),
            "UNAUTHORIZED",
        )
        committed_ok(
            await tx(
                net,
                "issue",
                "central-bank",
                [cb],
                "--asset",
                "KZT",
                "--to",
                "bank-a",
                "--amount",
                "10000",
            )
        )
        committed_ok(
            await tx(
                net,
                "transfer",
                None,
                [bank_a],
                "--from",
                "bank-a",
                "--to",
                "alice.clitx",
                "--asset",
                "KZT",
                "--amount",
                "1250.50",
                "--reference",
                "order 77",
            )
        )
        assert await balance(net, "alice.clitx", "KZT") == 125050
        # Two payers, two keys (one of them encrypted); --as defaults to the first payer.
        doc = committed_ok(
            await tx(
                net,
                "transfer",
                None,
                [alice_key, bank_a],
                "--leg",
                "alice.clitx:bob.clitx:KZT:10.25",
                "--leg",
                "bank-a:bob.clitx:KZT:0.01",
                "--passphrase-env",
                "ALICE_PASS",
                env=env,
            )
        )
        shown = (await net.cli("query", "tx", str(doc["tx_id"]))).doc["tx"]
        assert shown["signer"] == "alice.clitx"
        assert len(shown["signatures"]) == 2
        assert await balance(net, "bob.clitx", "KZT") == 1026
        alice_pay = [
            "--from",
            "alice.clitx",
            "--to",
            "bob.clitx",
            "--asset",
            "KZT",
            "--passphrase-env",
            "ALICE_PASS",
        ]
        refused(
            await tx(net, "transfer", None, [alice_key], *alice_pay, "--amount", "5000", env=env),
            "INSUFFICIENT_FUNDS",
        )
        refused(
            await tx(net, "transfer", None, [alice_key], *alice_pay, "--amount", "0", env=env),
            "INVALID_AMOUNT",
        )
        usage_error(
            await tx(net, "transfer", None, [alice_key], *alice_pay, "--amount", "1.234", env=env),
            "2 decimals",
        )
        usage_error(
            await tx(net, "transfer", None, [alice_key], *alice_pay, "--amount", "1"), "ALICE_PASS"
        )  # the passphrase variable is not set
        wrong = await tx(
            net,
            "transfer",
            None,
            [bob_key],
            "--from",
            "alice.clitx",
            "--to",
            "bob.clitx",
            "--asset",
            "KZT",
            "--amount",
            "1",
        )
        assert wrong.code == EXIT_REFUSED, str(wrong)
        assert wrong.doc["code"] in ("MISSING_SIGNATURE", "EXTRA_SIGNATURE"), wrong.doc

        # Freeze, refuse payments, seize to the state reserve, unfreeze.
        legal = ["--legal-ref", "court order 12/2025"]
        refused(
            await tx(net, "freeze", "bank-a", [bank_a], "--account", "alice.clitx", *legal),
            "UNAUTHORIZED",
        )
        committed_ok(
            await tx(net, "freeze", "regulator", [regulator], "--account", "alice.clitx", *legal)
        )
        assert (await net.cli("query", "account", "alice.clitx")).doc["frozen"] is True
        refused(
            await tx(net, "transfer", None, [alice_key], *alice_pay, "--amount", "1", env=env),
            "FROZEN",
        )
        refused(
            await tx(net, "freeze", "regulator", [regulator], "--account", "alice.clitx", *legal),
            "FROZEN",
        )
        refused(
            await tx(
                net,
                "seize",
                "regulator",
                [regulator],
                "--account",
                "bob.clitx",
                "--asset",
                "KZT",
                "--amount",
                "1",
                "--reserve",
                "state-reserve",
                "--court",
                "Astana city court",
                "--case-number",
                "2-77/2026",
                "--order-number",
                "1",
                "--order-date",
                "2026-01-15",
            ),
            "NOT_FROZEN",
        )
        reserve_before = await balance(net, "state-reserve", "KZT")
        committed_ok(
            await tx(
                net,
                "seize",
                "regulator",
                [regulator],
                "--account",
                "alice.clitx",
                "--asset",
                "KZT",
                "--amount",
                "100.00",
                "--reserve",
                "state-reserve",
                "--court",
                "Astana city court",
                "--case-number",
                "2-77/2026",
                "--order-number",
                "1",
                "--order-date",
                "2026-01-15",
            )
        )
        assert await balance(net, "state-reserve", "KZT") == reserve_before + 10000
        assert await balance(net, "alice.clitx", "KZT") == 125050 - 1025 - 10000
        committed_ok(
            await tx(net, "unfreeze", "regulator", [regulator], "--account", "alice.clitx", *legal)
        )
        refused(
            await tx(net, "unfreeze", "regulator", [regulator], "--account", "alice.clitx", *legal),
            "NOT_FROZEN",
        )

        # The state reserve needs two of its three keys.
        to_treasury = [
            "--from",
            "state-reserve",
            "--to",
            "treasury",
            "--asset",
            "KZT",
            "--amount",
            "10.00",
        ]
        refused(await tx(net, "transfer", None, reserve[:1], *to_treasury), "MISSING_SIGNATURE")
        treasury_before = await balance(net, "treasury", "KZT")
        committed_ok(await tx(net, "transfer", None, [reserve[0], reserve[2]], *to_treasury))
        assert await balance(net, "treasury", "KZT") == treasury_before + 1000

        # Alice's statement: all of it, then page by page.
        full = await net.cli("query", "history", "alice.clitx")
        assert full.code == 0, str(full)
        lines = full.doc["transactions"]
        kinds = [line["tx"]["kind"] for line in lines]
        assert kinds[:3] == ["register_account", "transfer", "transfer"], kinds
        assert {"freeze", "seize", "unfreeze"} <= set(kinds)
        assert full.doc["next"] is None
        paged: list[dict[str, object]] = []
        after: list[str] = []
        while True:
            page = await net.cli("query", "history", "alice.clitx", "--limit", "3", *after)
            assert page.code == 0, str(page)
            paged += page.doc["transactions"]
            if page.doc["next"] is None:
                break
            after = ["--after", page.doc["next"]]
        assert [p["tx_id"] for p in paged] == [line["tx_id"] for line in lines]

        # Life cycle: alice's bank recovers her keys with the regulator signing too, moves her
        # into CryptoCity, and the regulator closes her account, sweeping it to her bank.
        alice_new = str(tmp_path / "alice-new.json")
        new_key(Path(alice_new))
        recovery = ["--account", "alice.clitx", "--new-key", alice_new, "--reason", "lost phone"]
        refused(
            await tx(
                net,
                "recover-account",
                "bank-b",
                [net.key_file("bank-b")],
                *recovery,
                "--regulator",
                "regulator",
                "--regulator-key",
                regulator,
            ),
            "NOT_REGISTRAR",
        )
        committed_ok(
            await tx(
                net,
                "recover-account",
                "bank-a",
                [bank_a],
                *recovery,
                "--regulator",
                "regulator",
                "--regulator-key",
                regulator,
            )
        )
        committed_ok(
            await tx(
                net,
                "change-account",
                "bank-a",
                [bank_a],
                "--account",
                "alice.clitx",
                "--zone",
                "CRYPTOCITY",
            )
        )
        usage_error(
            await tx(net, "change-account", "bank-a", [bank_a], "--account", "alice.clitx"),
            "--kyc-tier",
        )
        missing = str(tmp_path / "missing.json")
        usage_error(await tx(net, "rotate-keys", "bank-a", [bank_a], "--new-key", missing), missing)
        closure = ["--account", "alice.clitx", "--sweep-to", "bank-a", "--legal-ref", "AFM 4"]
        committed_ok(await tx(net, "close-account", "regulator", [regulator], *closure))
        alice = (await net.cli("query", "account", "alice.clitx")).doc
        assert (alice["closed"], alice["zone"], alice["closed_ref"]) == (
            True,
            "CRYPTOCITY",
            "AFM 4",
        )
        assert alice["keys"] == [read_public_key(Path(alice_new)).hex()]


async def test_update_validator(net: LiveNet, tmp_path: Path) -> None:
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    new_validator = new_key(tmp_path / "validator.json")
    with trio.fail_after(TEST_TIMEOUT_S):
        refused(
            await tx(
                net,
                "update-validator",
                "bank-a",
                [bank_a],
                "--public-key",
                new_validator,
                "--power",
                "1",
            ),
            "UNAUTHORIZED",
        )
        refused(
            await tx(
                net,
                "update-validator",
                "central-bank",
                [cb],
                "--public-key",
                new_validator,
                "--power",
                "0",
            ),
            "INVALID_VALIDATOR",
        )
        # Power 1 against the running 40: the network keeps more than 2/3 without it.
        added = committed_ok(
            await tx(
                net,
                "update-validator",
                "central-bank",
                [cb],
                "--public-key",
                new_validator,
                "--power",
                "1",
            )
        )
        await net.wait_height(int(str(added["height"])) + 1)
        validators = (await net.cli("query", "validators")).doc
        assert new_validator in [v["public_key"] for v in validators["validators"]]
        assert validators["total_power"] == 41
        committed_ok(
            await tx(
                net,
                "update-validator",
                "central-bank",
                [cb],
                "--public-key",
                new_validator,
                "--power",
                "0",
            )
        )


async def test_submit_without_wait_timeouts_and_queries(net: LiveNet) -> None:
    cb = net.key_file("central-bank")
    issue = ["--asset", "KZT", "--to", "bank-b", "--amount", "7.00"]
    with trio.fail_after(TEST_TIMEOUT_S):
        pending = await tx(net, "issue", "central-bank", [cb], *issue, wait=False)
        assert pending.code == 0, str(pending)
        assert pending.doc["status"] == "pending"
        tx_id = pending.doc["tx_id"]
        while True:  # poll until final
            shown = await net.cli("query", "tx", tx_id.upper())
            assert shown.code == 0, str(shown)
            if shown.doc["status"] == "committed":
                break
        assert shown.doc["code"] == "OK"
        assert shown.doc["tx"]["issue"]["amount"] == str(parse_amount("7.00", 2))
        block = (await net.cli("query", "block", str(shown.doc["height"]))).doc
        mine = {"index": shown.doc["index"], "tx_id": tx_id, "code": "OK", "speaks_for_tx": True}
        assert mine in block["txs"]
        latest = (await net.cli("query", "block", "latest")).doc
        assert latest["height"] >= block["height"]
        status = (await net.cli("query", "status")).doc
        assert status["chain_id"] == net.chain_id
        assert (await net.cli("query", "asset", "KZT")).doc["decimals"] == 2

        # A wait that runs out: exit 3, the transaction stays pending and is printed.
        slow = await tx(net, "issue", "central-bank", [cb], *issue, "--timeout", "0.001")
        assert slow.code == EXIT_UNREACHABLE, str(slow)
        assert slow.doc["status"] == "pending"
        assert slow.doc["code"] == "TIMEOUT"
        assert "TIMEOUT" in slow.stderr

        # Unknown ids: refused (exit 1) with the API's code on stderr.
        for argv in (
            ("query", "account", "nobody.here"),
            ("query", "tx", "ab" * 32),
            ("query", "asset", "NOPE"),
            ("query", "block", str(2**40)),
            ("query", "history", "nobody.here"),
        ):
            result = await net.cli(*argv)
            assert result.code == EXIT_REFUSED, str(result)
            assert "NOT_FOUND" in result.stderr
            assert result.stderr.count("\n") == 1
        bad_page = await net.cli("query", "history", "bank-a", "--after", "x-y")
        usage = (bad_page.code, bad_page.stdout)
        assert usage == (EXIT_USAGE, ""), str(bad_page)


def test_mempool_fairness_refusals_map_to_exit_codes() -> None:
    """Too many pending for the account is "busy" (retry); a balance claimed is a refusal."""
    busy = _api_failure(ApiError(429, "PENDING_TXS_EXCEEDED", "cap"), "submitting")
    assert busy.exit_code == EXIT_UNREACHABLE
    refused = _api_failure(ApiError(409, "PENDING_FUNDS_EXCEEDED", "claimed"), "submitting")
    assert refused.exit_code == EXIT_REFUSED
    assert "PENDING_FUNDS_EXCEEDED: claimed" in refused.message


async def test_an_18_decimal_asset_above_2_64_on_live_nodes(net: LiveNet) -> None:
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    with trio.fail_after(TEST_TIMEOUT_S):
        committed_ok(
            await tx(
                net,
                "register-asset",
                "central-bank",
                [cb],
                "--code",
                "CLIETH",
                "--decimals",
                "18",
                "--issuer",
                "bank-a",
                "--kind",
                "CRYPTO",
                "--payment-zones",
                "CRYPTOCITY",
            )
        )
        # 1,000 units of an 18-decimal asset are 10^21 minor units, above 2^64.
        issue = ("--asset", "CLIETH", "--to", "bank-a", "--amount", "1000")
        committed_ok(await tx(net, "issue", "bank-a", [bank_a], *issue))
        pay = ("--from", "bank-a", "--to", "bank-b", "--asset", "CLIETH")
        doc = committed_ok(
            await tx(net, "transfer", None, [bank_a], *pay, "--amount", "250.000000000000000001")
        )
        shown = (await net.cli("query", "tx", str(doc["tx_id"]))).doc
        assert shown["tx"]["transfer"]["legs"][0]["amount"] == "250000000000000000001"
        assert await balance(net, "bank-a", "CLIETH") == 750 * 10**18 - 1
        assert await balance(net, "bank-b", "CLIETH") == 250 * 10**18 + 1
        asset = (await net.cli("query", "asset", "CLIETH")).doc
        assert (asset["issued"], asset["outstanding"]) == (str(10**21), str(10**21))

        # The largest amount there is, then one more minor unit: refused by the ledger.
        most = ("--amount", "340282366920938463463.374607431768211455")
        issue_most = ("--asset", "CLIETH", "--to", "bank-a", *most)
        refused(await tx(net, "issue", "bank-a", [bank_a], *issue_most), "AMOUNT_OVERFLOW")
        usage_error(
            await tx(
                net,
                "issue",
                "bank-a",
                [bank_a],
                "--asset",
                "CLIETH",
                "--to",
                "bank-a",
                "--amount",
                "340282366920938463463.374607431768211456",
            ),
            "--amount",
            "2^128 - 1",
        )
        # KYC-tier limits stay u64 tiyn.
        usage_error(
            await tx(
                net,
                "set-limits",
                "central-bank",
                [cb],
                "--kyc-tier",
                "9",
                "--per-payment",
                "184467440737095516.16",
                "--daily",
                "1",
                "--holding-cap",
                "1",
            ),
            "--per-payment",
            "2^64 - 1",
        )

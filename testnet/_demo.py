"""`tenge-testnet demo`: the settlement story, step by step, against a running network.

Every step submits real transactions through the HTTP API (node/client.py) and prints the
tx id, the height and the result code, with the result the story expects. The demo exits
non-zero when any step's result differs, so it doubles as an end-to-end check.
Account ids carry a per-run tag, so the demo can run again on the same network.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import trio

from node.client import ApiError, SubmitResult, TengeClient, person_ref
from node.keys import KeyPair, read_key_file
from node.ledger.txbuild import GovernedChange, build_tx, propose, sign_envelope, transfer
from proto import ledger_pb2 as pb

TENGE = 100  # tiyn


@dataclass
class Demo:
    """State of one demo run."""

    manifest: dict[str, Any]
    out: TextIO = sys.stdout
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    failures: list[str] = field(default_factory=list)
    steps: int = 0
    _keys: dict[str, list[KeyPair]] = field(default_factory=dict)

    def keys(self, account: str) -> list[KeyPair]:
        if account not in self._keys:
            entry = self.manifest["accounts"].get(account)
            if entry is not None:
                self._keys[account] = [read_key_file(Path(f)) for f in entry["key_files"]]
            else:
                seed = hashlib.sha256(f"{self.manifest['chain_id']}/{account}".encode()).digest()
                self._keys[account] = [KeyPair.from_seed(seed)]
        return self._keys[account]

    def name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def record(
        self, title: str, result: SubmitResult | ApiError, expect: str
    ) -> SubmitResult | None:
        """Print one step's outcome and remember a mismatch."""
        self.steps += 1
        if isinstance(result, ApiError):
            code, where, tx_id = result.code, "refused at admission", result.tx_id
        else:
            code, where, tx_id = (
                result.code or result.status,
                f"height {result.height}",
                result.tx_id,
            )
        mark = "ok" if code == expect else "UNEXPECTED"
        if code != expect:
            self.failures.append(f"{title}: expected {expect}, got {code}")
        self.say(f"  [{mark:>10}] {title:<58} {code:<20} {where:<22} tx {tx_id[:16]}")
        return result if isinstance(result, SubmitResult) else None


async def _step(
    demo: Demo,
    client: TengeClient,
    title: str,
    expect: str,
    signer: str,
    kind: Any,
    keys: Sequence[KeyPair] | None = None,
) -> SubmitResult | None:
    try:
        result = await client.send(
            kind, signer=signer, keys=keys or demo.keys(signer), wait=True, timeout_s=30
        )
    except ApiError as e:
        return demo.record(title, e, expect)
    return demo.record(title, result, expect)


async def _govern(
    demo: Demo,
    client: TengeClient,
    title: str,
    change: GovernedChange,
    summary: str,
    expect: str = "OK",
) -> None:
    """Dual control: the central bank proposes the change, the regulator approves it (the
    approval applies the change, so it carries the change's own code)."""
    height = int((await client.status())["height"])
    proposal = await _step(
        demo,
        client,
        f"central bank proposes: {title}",
        "OK",
        "central-bank",
        propose(change, expires_at_height=height + 600, summary=summary),
    )
    if proposal is not None:
        await _step(
            demo,
            client,
            f"regulator approves: {title}",
            expect,
            "regulator",
            pb.Approve(proposal_id=bytes.fromhex(proposal.tx_id)),
        )


async def _await_rulebook_change(client: TengeClient, timeout_s: float = 30) -> None:
    """Wait until a rulebook change made in the last block is active (two blocks later)."""
    target = int((await client.status())["height"]) + 2
    for _ in range(int(timeout_s / 0.2)):
        if int((await client.status())["height"]) >= target:
            return
        await trio.sleep(0.2)


async def run_demo(manifest: dict[str, Any], out: TextIO = sys.stdout) -> Demo:
    """Tell the story against the network of manifest; returns the demo with its failures."""
    demo = Demo(manifest, out=out)
    n = demo.name
    central, bank_a = "central-bank", "bank-a"
    bank_b = "bank-b" if "bank-b" in manifest["accounts"] else "bank-a"
    apis = [node["api"] for node in manifest["nodes"]]
    token = manifest.get("api_token")  # off loopback only (testnet._init.api_headers)
    async with (
        TengeClient(apis[0], token=token) as client,
        TengeClient(apis[-1], token=token) as other,
    ):
        status = await client.status()
        demo.say(
            f"tenge-node settlement demo on chain {status['chain_id']} "
            f"(height {status['height']}, run tag {demo.tag})\n"
        )

        demo.say("1. The National Bank issues digital tenge to two commercial banks")
        for bank in dict.fromkeys((bank_a, bank_b)):
            await _step(
                demo,
                client,
                f"issue 10,000,000 KZT to {bank}",
                "OK",
                central,
                pb.Issue(asset="KZT", to=bank, amount=10_000_000 * TENGE),
            )

        demo.say("\n2. Each bank onboards a CryptoCity merchant and a customer")
        customer, merchant = n("aidos"), n("cafe")
        national, firm = n("erlan"), n("mining")
        for bank, account, role, zone, tier in (
            (bank_a, customer, pb.CUSTOMER, pb.CRYPTOCITY, 1),
            (bank_b, merchant, pb.MERCHANT, pb.CRYPTOCITY, 2),
            (bank_b, national, pb.CUSTOMER, pb.NATIONAL, 1),
            (bank_a, firm, pb.MERCHANT, pb.NATIONAL, 2),
        ):
            register = pb.RegisterAccount(
                account_id=account,
                role=role,
                zone=zone,
                kyc_tier=tier,
                public_keys=[demo.keys(account)[0].public_key],
                threshold=1,
            )
            label = f"{bank} registers {account} ({pb.Zone.Name(zone)})"
            await _step(demo, client, label, "OK", bank, register)

        demo.say("\n3. The customer pays the merchant in KZT (submitted to another node)")
        await _step(
            demo,
            client,
            f"{bank_a} funds {customer} with 200,000 KZT",
            "OK",
            bank_a,
            transfer((bank_a, customer, "KZT", 200_000 * TENGE)),
        )
        await _step(
            demo,
            other,
            f"{customer} pays {merchant} 5,000 KZT",
            "OK",
            customer,
            transfer((customer, merchant, "KZT", 5_000 * TENGE), reference="coffee"),
        )

        demo.say(
            "\n4. Dual control: the National Bank proposes USDT and its reference rate, "
            "the regulator approves"
        )
        usdt = pb.RegisterAsset(
            code="USDT",
            decimals=6,
            issuer=bank_b,
            kind=pb.STABLECOIN,
            payment_zones=[pb.CRYPTOCITY],
        )
        await _step(
            demo,
            client,
            "central bank registers USDT alone",
            "GOVERNANCE_REQUIRED",
            central,
            usdt,
        )
        national_usdt = pb.RegisterAsset()
        national_usdt.CopyFrom(usdt)
        national_usdt.payment_zones.append(pb.NATIONAL)
        national_usdt.code = "USDTN"  # never registered, so the ban is what refuses it
        await _govern(
            demo,
            client,
            "USDT payable in NATIONAL (the nationwide ban)",
            national_usdt,
            "banned",
            expect="ZONE_BANNED",
        )
        assets = {a["code"] for a in await client.assets()}
        if "USDT" not in assets:
            await _govern(demo, client, f"register USDT (issuer {bank_b})", usdt, "USDT custody")
        rate = pb.SetRates(rates=[pb.ReferenceRate(asset="USDT", tiyn_per_unit=500 * TENGE)])
        await _govern(demo, client, "USDT reference rate 500 KZT", rate, "NBK rate of the day")
        await _await_rulebook_change(client)
        demo.say("\n5. USDT pays inside CryptoCity and is refused outside it")
        usdt_issuer = (await client.asset("USDT"))["issuer"]
        await _step(
            demo,
            client,
            f"{usdt_issuer} issues 1 USDT to NATIONAL {firm} (it has no licence)",
            "NO_LICENCE",
            usdt_issuer,
            pb.Issue(asset="USDT", to=firm, amount=1_000_000),
        )
        height = int((await client.status())["height"])
        await _step(
            demo,
            client,
            f"regulator grants {firm} a licence: hold USDT, pay government fees",
            "OK",
            "regulator",
            pb.GrantLicence(
                account_id=firm,
                assets=["USDT"],
                purposes=[pb.GOVERNMENT_FEE],
                expires_at_height=height + 100_000,
                reference=f"AFM-LIC-{demo.tag}",
            ),
        )
        for holder, amount in ((customer, 1_000_000_000), (firm, 500_000_000)):
            await _step(
                demo,
                client,
                f"{usdt_issuer} issues {amount // 10**6:,} USDT to {holder}",
                "OK",
                usdt_issuer,
                pb.Issue(asset="USDT", to=holder, amount=amount),
            )
        await _step(
            demo,
            client,
            f"{customer} pays {merchant} 150 USDT",
            "OK",
            customer,
            transfer((customer, merchant, "USDT", 150_000_000)),
        )
        await _step(
            demo,
            client,
            f"{customer} pays NATIONAL {national} 1 USDT",
            "ASSET_NOT_ALLOWED",
            customer,
            transfer((customer, national, "USDT", 1_000_000)),
        )

        demo.say("\n6. The licensed firm pays a government fee in USDT; its licence is revoked")
        await _step(
            demo,
            client,
            f"{firm} pays treasury 100 USDT (licence fee)",
            "OK",
            firm,
            transfer(
                (firm, "treasury", "USDT", 100_000_000),
                reference="licence fee",
                purpose=pb.GOVERNMENT_FEE,
            ),
        )
        await _step(
            demo,
            client,
            f"{firm} pays {merchant} 1 USDT (not a fee: outside CryptoCity it pays only fees)",
            "PURPOSE_NOT_ALLOWED",
            firm,
            transfer((firm, merchant, "USDT", 1_000_000)),
        )
        await _step(
            demo,
            client,
            f"regulator revokes {firm}'s licence",
            "OK",
            "regulator",
            pb.RevokeLicence(account_id=firm, reference=f"AFM-DEC-{demo.tag}"),
        )
        await _step(
            demo,
            client,
            f"{firm} pays treasury the next fee, 10 USDT (no licence in force)",
            "NO_LICENCE",
            firm,
            transfer(
                (firm, "treasury", "USDT", 10_000_000),
                reference="licence fee",
                purpose=pb.GOVERNMENT_FEE,
            ),
        )
        await _step(
            demo,
            client,
            f"central bank pays {customer} 1 KZT directly (two-tier: it pays only banks)",
            "TWO_TIER_RULE",
            central,
            transfer((central, customer, "KZT", 1 * TENGE)),
        )

        demo.say("\n7. KYC tier limits in KZT-equivalent")
        await _step(
            demo,
            client,
            f"{customer} (tier 1) pays 150,000 KZT in one payment",
            "LIMIT_PER_PAYMENT",
            customer,
            transfer((customer, merchant, "KZT", 150_000 * TENGE)),
        )
        await _step(
            demo,
            client,
            f"{customer} (tier 1) pays 250 USDT, 125,000 KZT at the reference rate",
            "LIMIT_PER_PAYMENT",
            customer,
            transfer((customer, merchant, "USDT", 250_000_000)),
        )

        demo.say("\n8. The regulator freezes an account; its funds are seized")
        await _step(
            demo,
            client,
            f"regulator freezes {customer}",
            "OK",
            "regulator",
            pb.Freeze(account_id=customer, legal_ref="AFM order 17/2026"),
        )
        await _step(
            demo,
            client,
            f"frozen {customer} tries to pay 1 KZT",
            "FROZEN",
            customer,
            transfer((customer, merchant, "KZT", 1 * TENGE)),
        )
        balance = int((await client.account(customer))["balances"].get("KZT", "0"))
        await _step(
            demo,
            client,
            f"regulator seizes {balance // TENGE:,} KZT on a one-space court reference",
            "INVALID_COURT_ORDER",
            "regulator",
            pb.Seize(
                account_id=customer,
                asset="KZT",
                amount=balance,
                reserve="state-reserve",
                legal_ref=" ",
            ),
        )
        court_order = pb.CourtOrder(
            court="Specialized Inter-District Economic Court of Astana",
            case_number="7194-26-00-2/215",
            order_number="3",
            order_date="2026-01-15",
        )
        await _step(
            demo,
            client,
            f"regulator seizes {balance // TENGE:,} KZT into the State Fund of Digital Assets "
            "under court order 7194-26-00-2/215 no. 3",
            "OK",
            "regulator",
            pb.Seize(
                account_id=customer,
                asset="KZT",
                amount=balance,
                reserve="state-reserve",
                court_order=court_order,
            ),
        )

        demo.say("\n9. A 2-of-3 multi-signature spend from the state reserve")
        reserve = demo.keys("state-reserve")
        spend = transfer(("state-reserve", "treasury", "KZT", 1_000 * TENGE))
        await _step(
            demo,
            client,
            "state reserve pays treasury with 1 of 3 signatures",
            "MISSING_SIGNATURE",
            "state-reserve",
            spend,
            keys=reserve[:1],
        )
        await _step(
            demo,
            client,
            "state reserve pays treasury with 2 of 3 signatures",
            "OK",
            "state-reserve",
            spend,
            keys=reserve[:2],
        )

        demo.say("\n10. Replay protection")
        height = (await client.status())["height"]
        body = build_tx(
            status["chain_id"],
            bank_a,
            transfer((bank_a, merchant, "KZT", 7)),
            nonce=secrets.randbits(63),
            expires_at_height=height + 50,
        )
        envelope = sign_envelope(body, status["chain_id"], demo.keys(bank_a))
        for title, expect in (("a payment", "OK"), ("the same payment again", "DUPLICATE")):
            try:
                result: SubmitResult | ApiError = await client.submit(
                    envelope, wait=True, timeout_s=30
                )
            except ApiError as e:
                result = e
            demo.record(f"{bank_a} submits {title}", result, expect)
        stale = build_tx(
            status["chain_id"],
            bank_a,
            transfer((bank_a, merchant, "KZT", 8)),
            nonce=secrets.randbits(63),
            expires_at_height=max(1, height - 1),
        )
        try:
            late: SubmitResult | ApiError = await client.submit(
                sign_envelope(stale, status["chain_id"], demo.keys(bank_a)), wait=True, timeout_s=30
            )
        except ApiError as e:
            late = e
        demo.record(
            f"{bank_a} submits a payment that expired at height {height - 1}", late, "EXPIRED"
        )

        await _persons_scene(demo, client, other, bank_a, bank_b, merchant)

        kzt = await client.asset("KZT")
        issued, redeemed = int(kzt["issued"]) // TENGE, int(kzt["redeemed"]) // TENGE
        outstanding = int(kzt["outstanding"]) // TENGE
        demo.say(
            f"\nKZT supply: issued {issued:,}, redeemed {redeemed:,}, "
            f"outstanding {outstanding:,} KZT"
        )
        verdict = (
            "every step as expected" if not demo.failures else f"{len(demo.failures)} unexpected"
        )
        demo.say(f"{demo.steps} steps: {verdict}")
    return demo


async def _persons_scene(
    demo: Demo,
    client: TengeClient,
    other: TengeClient,
    bank_a: str,
    bank_b: str,
    merchant: str,
) -> None:
    """One person, tier-1 accounts at two banks: one day's limit for the person."""
    demo.say("\n11. One person, accounts at two banks: the daily limit follows the person")
    shared_key = hashlib.sha256(f"{demo.manifest['chain_id']}/banks' person key".encode()).digest()
    ref = person_ref(f"IIN-{demo.tag}", shared_key)  # the IIN itself never leaves the banks
    accounts = [(bank_a, demo.name("dana-a")), (bank_b, demo.name("dana-b"))]
    for bank, account in accounts:
        register = pb.RegisterAccount(
            account_id=account,
            role=pb.CUSTOMER,
            zone=pb.CRYPTOCITY,
            kyc_tier=1,
            public_keys=[demo.keys(account)[0].public_key],
            person_ref=ref,
        )
        await _step(
            demo,
            client,
            f"{bank} registers {account} (person {ref[:4].hex()})",
            "OK",
            bank,
            register,
        )
        await _step(
            demo,
            client,
            f"{bank} funds {account} with 200,000 KZT",
            "OK",
            bank,
            transfer((bank, account, "KZT", 200_000 * TENGE)),
        )
    (_, first), (_, second) = accounts
    for payer, amount, expect, node in (
        (first, 100_000, "OK", client),
        (first, 60_000, "OK", client),
        (second, 50_000, "LIMIT_DAILY", other),  # 210,000 KZT today for the person
        (second, 40_000, "OK", other),  # exactly the tier-1 day of 200,000 KZT
    ):
        await _step(
            demo,
            node,
            f"{payer} pays {merchant} {amount:,} KZT",
            expect,
            payer,
            transfer((payer, merchant, "KZT", amount * TENGE)),
        )
    person = await client.person(ref)
    demo.say(
        f"  person {ref[:4].hex()}: accounts {', '.join(person['accounts'])}; "
        f"paid today {int(person['outflow_today']) // TENGE:,} KZT"
    )

"""`tenge-node iso submit` on a real node whose rulebook enforces the travel rule: a bank's
pacs.008 from its core system settles (ACSC) with the travel-rule data sealed from the
message's Dbtr and Cdtr; without the copies the ledger refuses it (RJCT RR05); a message
the client cannot read is refused before anything is sent (RJCT FF01)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import trio
from cli_support import LiveNet
from lxml import etree
from test_cli_travel import travel_net  # noqa: F401  (the fixture)
from test_cli_tx import TEST_TIMEOUT_S, committed_ok, new_key, tx

from node.cli import EXIT_REFUSED
from node.iso20022 import PACS_002, namespace, schema
from node.keys import read_key_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "iso20022"))
from iso_samples import Payment, pacs008

NS = {"s": namespace(PACS_002)}
ORIGINATOR = "Aigerim Nurlanovna Seitkali"
NATIONAL_ID = "IIN 900101400123"


def core_message(amount: str, message_id: str, *, end_to_end_id: str) -> str:
    """A pacs.008 as a bank's core system writes it: parties with name and id."""
    return (
        pacs008(
            Payment("bank-a", "dana.bank-b", amount, end_to_end_id=end_to_end_id),
            message_id=message_id,
        )
        .replace(
            "<Dbtr><Nm>Debtor</Nm></Dbtr>",
            f"<Dbtr><Nm>{ORIGINATOR}</Nm><Id><PrvtId><Othr><Id>{NATIONAL_ID}</Id></Othr>"
            "</PrvtId></Id></Dbtr>",
        )
        .replace(
            "<Cdtr><Nm>Creditor</Nm></Cdtr>",
            "<Cdtr><Nm>Dana Bekova</Nm></Cdtr>",
        )
    )


def status_of(pacs002: str) -> tuple[str, str]:
    """(TxSts, reason) of a schema-valid pacs.002."""
    schema(PACS_002).validate(pacs002)
    root = etree.fromstring(pacs002.encode())
    return (
        root.findtext(".//s:TxSts", namespaces=NS) or "",
        root.findtext(".//s:StsRsnInf/s:Rsn/s:Cd", namespaces=NS) or "",
    )


async def test_a_core_systems_pacs008_settles_with_its_travel_data_sealed(
    travel_net: LiveNet,  # noqa: F811
    tmp_path: Path,
) -> None:
    net = travel_net
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    bank_b, dana = tmp_path / "bank-b.json", tmp_path / "dana.json"
    travel = {name: tmp_path / f"{name}-travel.json" for name in ("bank-a", "bank-b", "regulator")}
    with trio.fail_after(TEST_TIMEOUT_S * 3):
        register = ("--account-id", "bank-b", "--role", "COMMERCIAL_BANK", "--zone", "NATIONAL")
        flags = (*register, "--kyc-tier", "3", "--public-key", new_key(bank_b))
        committed_ok(await tx(net, "register-account", "central-bank", [cb], *flags))
        customer = ("--account-id", "dana.bank-b", "--role", "CUSTOMER", "--zone", "NATIONAL")
        flags = (*customer, "--kyc-tier", "2", "--public-key", new_key(dana))
        committed_ok(await tx(net, "register-account", "bank-b", [str(bank_b)], *flags))
        issue = ("--asset", "KZT", "--to", "bank-a", "--amount", "5000000")
        committed_ok(await tx(net, "issue", "central-bank", [cb], *issue))
        signers = {"bank-a": bank_a, "bank-b": str(bank_b), "regulator": net.key_file("regulator")}
        for name, path in travel.items():
            assert (await net.cli("keys", "travel-init", "--out", str(path))).code == 0
            flags = ("--travel-key", str(path))
            committed_ok(await tx(net, "publish-travel-key", name, [signers[name]], *flags))

        big = tmp_path / "pacs008-big.xml"
        big.write_text(core_message("1500000.00", "CORE-1", end_to_end_id="INV-1"))
        api = ("--api", net.api())
        sent = await net.cli("iso", "submit", str(big), "--key", bank_a, "--wait", *api)
        assert sent.code == 0, str(sent)
        assert status_of(sent.stdout) == ("ACSC", "")
        summary = json.loads(sent.stderr.strip().splitlines()[-1])
        assert summary["status"] == "ACSC"
        opened = await net.cli(
            "travel", "open", summary["tx_id"], "--key", str(travel["bank-b"]), *api
        )
        assert opened.code == 0, str(opened)
        assert opened.doc["data"]["originator_name"] == ORIGINATOR
        assert opened.doc["data"]["originator_id"] == NATIONAL_ID
        assert opened.doc["data"]["beneficiary_name"] == "Dana Bekova"
        shown = await net.cli("query", "tx", summary["tx_id"], *api)
        assert ORIGINATOR not in shown.stdout

        # The same payment without its travel data: the ledger refuses it at admission.
        bare = tmp_path / "pacs008-bare.xml"
        bare.write_text(core_message("1500000.00", "CORE-2", end_to_end_id="INV-2"))
        refused = await net.cli(
            "iso", "submit", str(bare), "--key", bank_a, "--travel", "never", *api
        )
        assert refused.code == EXIT_REFUSED, str(refused)
        assert status_of(refused.stdout) == ("RJCT", "RR05")
        assert json.loads(refused.stderr.strip().splitlines()[-1])["code"] == (
            "TRAVEL_RULE_REQUIRED"
        )

        # The node builds the body for a core system without protobuf, sealing the
        # travel data itself; the core system only signs the sign bytes.
        third = core_message("1200000.00", "CORE-4", end_to_end_id="INV-4")
        async with httpx.AsyncClient(base_url=net.api(), timeout=30) as http:
            r = await http.post("/v1/iso20022/pacs.008/prepare", json={"message": third})
            assert r.status_code == 200, r.text
            doc = r.json()
            key = read_key_file(Path(bank_a))
            signed = {"public_key": key.public_key.hex()}
            signed["signature"] = key.sign(bytes.fromhex(doc["sign_bytes"])).hex()
            body = {"message": third, "body": doc["body"], "signatures": [signed]}
            r = await http.post("/v1/iso20022/pacs.008?wait=commit", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "ACSC", r.text
        opened = await net.cli("travel", "open", doc["tx_id"], "--key", str(travel["bank-b"]), *api)
        assert opened.code == 0, str(opened)
        assert opened.doc["data"]["originator_name"] == ORIGINATOR

        # A message that is not valid pacs.008 never leaves the client.
        broken = tmp_path / "broken.xml"
        broken.write_text(core_message("1.00", "CORE-3", end_to_end_id="INV-3").replace(
            "<ChrgBr>SLEV</ChrgBr>", ""
        ))  # fmt: skip
        bad = await net.cli("iso", "submit", str(broken), "--key", bank_a, *api)
        assert bad.code == EXIT_REFUSED, str(bad)
        assert status_of(bad.stdout) == ("RJCT", "FF01")
        assert json.loads(bad.stderr.strip().splitlines()[-1])["code"] == "XML_SCHEMA_INVALID"

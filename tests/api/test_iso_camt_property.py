"""camt.053 against a model of the ledger: for random blocks of payments, issues and
redemptions (some refused), a statement over any range has the model's balances at both
ends and exactly the model's movements between them."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Final

from api_support import LocalNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from node.api._statements import statement_document
from node.iso20022 import CAMT_053, namespace, schema
from node.ledger.txbuild import issue, redeem, transfer
from proto import ledger_pb2 as pb

ACCOUNTS: Final = ("halyk", "kaspi")
GENESIS: Final = {"halyk": 1_000_000, "kaspi": 0}
NS: Final = {"c": namespace(CAMT_053)}

# (kind, amount): a transfer either way, an issue to kaspi, a redemption by halyk.
op = st.tuples(
    st.sampled_from(["halyk->kaspi", "kaspi->halyk", "issue", "redeem"]),
    st.integers(min_value=1, max_value=600_000),
)
blocks = st.lists(st.lists(op, min_size=0, max_size=3), min_size=1, max_size=6)


def body(kind: str, amount: int) -> tuple[str, pb.Transfer | pb.Issue | pb.Redeem]:
    if kind == "issue":
        return "nbk", issue("KZT", "kaspi", amount)
    if kind == "redeem":
        return "halyk", redeem("KZT", amount)
    payer, payee = kind.split("->")
    return payer, transfer((payer, payee, "KZT", amount))


def moves(kind: str, amount: int) -> dict[str, int]:
    if kind == "issue":
        return {"kaspi": amount}
    if kind == "redeem":
        return {"halyk": -amount}
    payer, payee = kind.split("->")
    return {payer: -amount, payee: amount}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=blocks, data=st.data())
async def test_statements_match_a_model_of_the_ledger(
    chain: list[list[tuple[str, int]]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        node = LocalNode(Path(directory) / "store")
        try:
            balance = dict(GENESIS)
            at_end = [dict(balance)]  # balances at the end of each height
            booked: list[dict[str, list[int]]] = [{}]  # movements at each height
            for ops in chain:
                txs = [node.tx(*body(kind, amount)) for kind, amount in ops]
                node.commit_block(txs)
                receipts = node.store.get_receipts(node.store.height)
                here: dict[str, list[int]] = {}
                for (kind, amount), receipt in zip(ops, receipts, strict=True):
                    if receipt.code != pb.OK:
                        continue
                    for account, delta in moves(kind, amount).items():
                        balance[account] += delta
                        here.setdefault(account, []).append(delta)
                at_end.append(dict(balance))
                booked.append(here)
            tip = node.store.height
            first = data.draw(st.integers(1, tip), label="from")
            last = data.draw(st.integers(first, tip), label="to")
            for account in ACCOUNTS:
                document = statement_document(node.store, account, first, last, "KZT")
                root = etree.fromstring(document)
                assert schema(CAMT_053).is_valid(root)
                shown = [
                    int(Decimal(x) * 100) for x in root.xpath("//c:Bal/c:Amt/text()", namespaces=NS)
                ]
                assert shown == [at_end[first - 1][account], at_end[last][account]], account
                signs = root.xpath("//c:Ntry/c:CdtDbtInd/text()", namespaces=NS)
                amounts = root.xpath("//c:Ntry/c:Amt/text()", namespaces=NS)
                entries = [
                    int(Decimal(a) * 100) * (1 if s == "CRDT" else -1)
                    for a, s in zip(amounts, signs, strict=True)
                ]
                expected = [d for h in range(first, last + 1) for d in booked[h].get(account, [])]
                assert entries == expected, account
        finally:
            node.close()

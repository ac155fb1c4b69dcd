"""What the camt tests compare a statement with: the movements that
/v1/accounts/{id}/transactions shows."""

from __future__ import annotations

from typing import Any


def signed_amounts(history: dict[str, Any], account: str) -> list[tuple[int, str]]:
    """(signed minor units, end-to-end id) of every movement of account that
    /v1/accounts/{id}/transactions shows, in order."""
    out: list[tuple[int, str]] = []
    for line in history["transactions"]:
        if line["code"] != "OK":  # refused: listed, but it moved nothing
            continue
        tx = line["tx"]
        if tx["kind"] == "transfer":
            for leg in tx["transfer"]["legs"]:
                e2e = leg.get("end_to_end_id") or "NOTPROVIDED"
                if leg["payer"] == account:
                    out.append((-int(leg["amount"]), e2e))
                if leg["payee"] == account:
                    out.append((int(leg["amount"]), e2e))
        elif tx["kind"] == "issue" and tx["issue"]["to"] == account:
            out.append((int(tx["issue"]["amount"]), "NOTPROVIDED"))
        elif tx["kind"] == "redeem" and tx["signer"] == account:
            out.append((-int(tx["redeem"]["amount"]), "NOTPROVIDED"))
    return out

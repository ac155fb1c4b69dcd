"""ISO 20022 messages for tests: a pacs.008.001.08 or pacs.009.001.10 built from a few
fields, as a bank's core system would send it (valid against the vendored XSDs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape


@dataclass
class Payment:
    """One CdtTrfTxInf."""

    payer: str
    payee: str
    amount: str = "100.00"
    currency: str = "KZT"
    end_to_end_id: str = "NOTPROVIDED"
    tx_id: str = ""
    uetr: str = ""
    purpose: str = ""
    unstructured: list[str] = field(default_factory=list)
    creditor_reference: str = ""
    creditor_reference_type: str = ""
    extra: str = ""  # raw XML put at the end of the CdtTrfTxInf's RmtInf position


def pacs008(
    *payments: Payment,
    message_id: str = "MSG-1",
    number_of_txs: int | None = None,
    control_sum: str = "",
) -> str:
    """A pacs.008.001.08 with these transactions."""
    count = len(payments) if number_of_txs is None else number_of_txs
    txs = "".join(_credit_transfer(p) for p in payments)
    ctrl = f"<CtrlSum>{control_sum}</CtrlSum>" if control_sum else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>'
        f"<GrpHdr><MsgId>{escape(message_id)}</MsgId><CreDtTm>2026-12-04T10:00:00Z</CreDtTm>"
        f"<NbOfTxs>{count}</NbOfTxs>{ctrl}<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>"
        f"{txs}</FIToFICstmrCdtTrf></Document>"
    )


def _credit_transfer(p: Payment) -> str:
    ids = f"<EndToEndId>{escape(p.end_to_end_id)}</EndToEndId>"
    if p.tx_id:
        ids += f"<TxId>{escape(p.tx_id)}</TxId>"
    if p.uetr:
        ids += f"<UETR>{p.uetr}</UETR>"
    purpose = f"<Purp><Cd>{p.purpose}</Cd></Purp>" if p.purpose else ""
    remittance = "".join(f"<Ustrd>{escape(u)}</Ustrd>" for u in p.unstructured)
    if p.creditor_reference:
        kind = (
            f"<Tp><CdOrPrtry><Cd>{p.creditor_reference_type}</Cd></CdOrPrtry></Tp>"
            if p.creditor_reference_type
            else ""
        )
        remittance += (
            f"<Strd><CdtrRefInf>{kind}<Ref>{escape(p.creditor_reference)}</Ref></CdtrRefInf></Strd>"
        )
    rmt = f"<RmtInf>{remittance}</RmtInf>" if remittance else ""
    return (
        f"<CdtTrfTxInf><PmtId>{ids}</PmtId>"
        f'<IntrBkSttlmAmt Ccy="{p.currency}">{p.amount}</IntrBkSttlmAmt>'
        "<ChrgBr>SLEV</ChrgBr>"
        "<Dbtr><Nm>Debtor</Nm></Dbtr>"
        f"<DbtrAcct><Id><Othr><Id>{escape(p.payer)}</Id></Othr></Id></DbtrAcct>"
        "<DbtrAgt><FinInstnId><BICFI>HSBKKZKX</BICFI></FinInstnId></DbtrAgt>"
        "<CdtrAgt><FinInstnId><BICFI>CASPKZKA</BICFI></FinInstnId></CdtrAgt>"
        "<Cdtr><Nm>Creditor</Nm></Cdtr>"
        f"<CdtrAcct><Id><Othr><Id>{escape(p.payee)}</Id></Othr></Id></CdtrAcct>"
        f"{purpose}{p.extra}{rmt}</CdtTrfTxInf>"
    )


def pacs009(
    debtor_bic: str, creditor_bic: str, amount: str = "1000.00", *, message_id: str = "FI-1"
) -> str:
    """A pacs.009.001.10 of one bank-to-bank transfer."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.009.001.10"><FICdtTrf>'
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-12-04T10:00:00Z</CreDtTm>"
        "<NbOfTxs>1</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>"
        "<CdtTrfTxInf><PmtId><EndToEndId>FI-E2E-1</EndToEndId></PmtId>"
        f'<IntrBkSttlmAmt Ccy="KZT">{amount}</IntrBkSttlmAmt>'
        f"<DbtrAgt><FinInstnId><BICFI>{debtor_bic}</BICFI></FinInstnId></DbtrAgt>"
        f"<CdtrAgt><FinInstnId><BICFI>{creditor_bic}</BICFI></FinInstnId></CdtrAgt>"
        "</CdtTrfTxInf></FICdtTrf></Document>"
    )

"""The settlement ledger: the rules of DESIGN.md §4 as a deterministic state machine.

`Ledger.check_tx` admits transactions to the mempool; `Ledger.execute_block` executes a
block and returns receipts, sorted state writes and the app hash, without writing
anything itself. The state key layout is in `node.ledger._keys`; read helpers
(`get_account`, `get_balances`, `list_assets`, `list_evidence`, ...) serve the API;
`execute_block` also records a block's equivocation evidence (`node.ledger._evidence`).
`node.ledger.txbuild` builds and signs transactions.
"""

from node.ledger._admission import CheckResult, Debit
from node.ledger._amounts import AMOUNT_MAX, amount_of, parse_amount_text, set_amount
from node.ledger._apphash import (
    app_hash_step,
    genesis_app_hash,
    genesis_app_hash_of,
    genesis_state,
    genesis_writes,
)
from node.ledger._backing import BACKINGS, reserve_balance
from node.ledger._evidence import (
    MAX_EVIDENCE_PAGE,
    EvidenceReader,
    evidence_cursor,
    get_evidence,
    list_evidence,
)
from node.ledger._governance import get_proposal, list_proposals, status_at
from node.ledger._keys import (
    KZT,
    U64_MAX,
    almaty_day,
    valid_account_id,
    valid_asset_code,
)
from node.ledger._ledger import (
    DEFAULT_MAX_TX_BYTES,
    DEFAULT_MAX_TX_TTL,
    BlockResult,
    Ledger,
)
from node.ledger._licences import get_licence, licence_in_force
from node.ledger._payment_ids import MAX_ID_CHARS, identifier_error, parse_uetr, uetr_text
from node.ledger._reserves import MAX_INFLOW_PAGE, list_inflows
from node.ledger._rulebook import (
    Rules,
    default_rulebook,
    read_rulebooks,
    read_version,
    rulebook_error,
)
from node.ledger._state import (
    StateReader,
    StateScanner,
    get_account,
    get_asset,
    get_balance,
    get_balances,
    get_role_account,
    get_validators,
    list_assets,
)

__all__ = [
    "AMOUNT_MAX",
    "BACKINGS",
    "DEFAULT_MAX_TX_BYTES",
    "DEFAULT_MAX_TX_TTL",
    "KZT",
    "MAX_EVIDENCE_PAGE",
    "MAX_ID_CHARS",
    "MAX_INFLOW_PAGE",
    "U64_MAX",
    "BlockResult",
    "CheckResult",
    "Debit",
    "EvidenceReader",
    "Ledger",
    "Rules",
    "StateReader",
    "StateScanner",
    "almaty_day",
    "amount_of",
    "app_hash_step",
    "default_rulebook",
    "evidence_cursor",
    "genesis_app_hash",
    "genesis_app_hash_of",
    "genesis_state",
    "genesis_writes",
    "get_account",
    "get_asset",
    "get_balance",
    "get_balances",
    "get_evidence",
    "get_licence",
    "get_proposal",
    "get_role_account",
    "get_validators",
    "identifier_error",
    "licence_in_force",
    "list_assets",
    "list_evidence",
    "list_inflows",
    "list_proposals",
    "parse_amount_text",
    "parse_uetr",
    "read_rulebooks",
    "read_version",
    "reserve_balance",
    "rulebook_error",
    "set_amount",
    "status_at",
    "uetr_text",
    "valid_account_id",
    "valid_asset_code",
]

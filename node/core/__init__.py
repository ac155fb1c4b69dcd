"""The node core: the node's deciding logic as a pure state machine beside the engine.

``NodeCore.handle(input) -> list[effect]`` decides the commit pipeline, the chain tip and
validator sets, proposing, block sync, re-gossip and the catching-up judgement; the trio
driver (node/driver.py) executes the effects. No trio, disk, clock or randomness here (a ruff
banned-import rule in node/core/ruff.toml says so). See docs/consensus.md, "The node core".
"""

from node.core._core import UNDECODABLE_MESSAGE, CoreParams, NodeCore, NodeCoreError
from node.core._events import (
    BlockCommitted,
    BlockExecuted,
    BlockReceived,
    BlockRequested,
    BlockWritten,
    BuildProposal,
    ChainState,
    ConsensusReceived,
    DropPeer,
    Effect,
    ExecuteBlock,
    Input,
    MempoolUpdated,
    NodeStarted,
    PeerConnected,
    PeerGone,
    PeerId,
    PeerInputBroken,
    PeerPenalised,
    ProposalBuilt,
    Relay,
    RequestBlock,
    SendStatus,
    ServeBlock,
    StatusReceived,
    Tick,
    TxsAdmitted,
    UpdateMempool,
    WriteBlock,
)
from node.core._sync import BlockSync, SyncedBlock, SyncParams
from node.core._valsets import validator_set_from_bytes, validator_set_to_bytes, validators_hash

__all__ = [
    "UNDECODABLE_MESSAGE",
    "BlockCommitted",
    "BlockExecuted",
    "BlockReceived",
    "BlockRequested",
    "BlockSync",
    "BlockWritten",
    "BuildProposal",
    "ChainState",
    "ConsensusReceived",
    "CoreParams",
    "DropPeer",
    "Effect",
    "ExecuteBlock",
    "Input",
    "MempoolUpdated",
    "NodeCore",
    "NodeCoreError",
    "NodeStarted",
    "PeerConnected",
    "PeerGone",
    "PeerId",
    "PeerInputBroken",
    "PeerPenalised",
    "ProposalBuilt",
    "Relay",
    "RequestBlock",
    "SendStatus",
    "ServeBlock",
    "StatusReceived",
    "SyncParams",
    "SyncedBlock",
    "Tick",
    "TxsAdmitted",
    "UpdateMempool",
    "WriteBlock",
    "validator_set_from_bytes",
    "validator_set_to_bytes",
    "validators_hash",
]

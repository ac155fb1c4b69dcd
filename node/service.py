"""The validator (or observer) process: assembles store, ledger, mempool, P2P, the
consensus driver and the HTTP API, and runs them in one trio nursery until stopped.

Start-up order: config and genesis are validated, keys are read, the store is opened
(refused when another process holds it) and initialised from genesis once, the WAL is
replayed, then the P2P listener, the driver and the API start. Stop (SIGINT or SIGTERM):
the nursery is cancelled; a write batch in flight runs in a worker thread and completes
(LevelDB applies it atomically either way); the store is closed last.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Final

import trio

import consensus as cs
from node import consensus_codec as codec
from node.admission import AdmissionBusy, Admitter
from node.api import (
    ApiGate,
    ApiLimits,
    BlockSummary,
    CommitFeed,
    TokenHolder,
    create_app,
    load_tokens,
    reload_tokens,
    require_tokens_off_loopback,
    serve_api,
    token_file,
    watch_token_file,
)
from node.blocks import ChainTip, decode_block
from node.config import NodeConfig
from node.core import (
    BlockCommitted,
    ChainState,
    CoreParams,
    KeyRing,
    NodeCore,
    validator_set_from_bytes,
    validator_set_to_bytes,
    validators_hash,
)
from node.driver import ConsensusDriver
from node.errors import NodeError
from node.gc_pauses import PROCESS_PAUSES
from node.genesis import load_genesis, read_accounts_file
from node.keys import KeyPair, read_key_file, verify
from node.ledger import Ledger, genesis_app_hash_of, genesis_writes
from node.mempool import Admission, Mempool, api_source
from node.metrics import (
    NodeMetrics,
    P2PInboundView,
    ValidatorView,
    count_results,
    sample_loop_lag,
    serve_metrics,
)
from node.p2p import P2PConfig, PeerAddress, PeerManager
from node.remote_signer import RemoteSigner
from node.signer import ValidatorSigner, open_signer
from node.signguard import SignGuard
from node.store import Store, TxLocation
from node.wal import Wal
from proto import consensus_pb2, genesis_pb2, ledger_pb2, p2p_pb2

log = logging.getLogger("tenge.node")

MAX_EVIDENCE: Final = 1000
GOSSIP_BATCH_DELAY_S: Final = 0.005
GOSSIP_BATCH_TXS: Final = 512


class _Verifier:
    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return verify(public_key, message, signature)


def genesis_hash(genesis: genesis_pb2.Genesis) -> bytes:
    """Identifies the genesis a database was built from."""
    return hashlib.sha256(genesis.SerializeToString(deterministic=True)).digest()


def genesis_validator_set(genesis: genesis_pb2.Genesis) -> cs.ValidatorSet:
    """The consensus validator set of heights 1 and 2."""
    return cs.ValidatorSet({v.public_key: v.power for v in genesis.validators})


class Node:
    """One node process. Use ``await Node.open(config, passphrase).run()``."""

    def __init__(
        self,
        config: NodeConfig,
        genesis: genesis_pb2.Genesis,
        node_key: KeyPair,
        signer: ValidatorSigner | None,
    ) -> None:
        self.config = config
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.node_key = node_key
        # The validator key's signer (node/signer.py); None on an observer.
        self.signer = signer
        # The API's bearer tokens, before anything is opened (docs/api.md, "Access").
        tokens = load_tokens(token_file(config.home))
        require_tokens_off_loopback(str(config.api_listen), config.api_listen.host, tokens)
        self.api_tokens = TokenHolder(tokens)
        self.store = Store(
            config.data_dir / "store", state_cache_bytes=config.storage_state_cache_mb * 2**20
        )
        try:
            self._init_store()
            self.ledger = Ledger(genesis, self.store)
            self.mempool = Mempool(
                self.ledger,
                max_txs=config.mempool_max_txs,
                max_bytes=config.mempool_max_bytes,
                max_pending_per_account=config.mempool_max_pending_per_account,
                max_peer_share=config.mempool_max_peer_share,
                max_pending_s=config.mempool_max_pending_s or None,
                min_pending_txs=config.mempool_min_pending_txs,
                max_client_share=config.mempool_max_client_share,
            )
            self.admitter = Admitter(
                self.ledger,
                self.mempool,
                next_height=lambda: self.store.height + 1,
                threads=config.admission_verify_threads,
                max_pending_txs=config.admission_max_pending_txs,
                max_pending_bytes=config.admission_max_pending_bytes,
            )
            self.p2p = PeerManager(
                P2PConfig(
                    chain_id=self.chain_id,
                    listen_host=config.p2p_listen.host,
                    listen_port=config.p2p_listen.port,
                    peers=tuple(
                        PeerAddress(p.address.host, p.address.port, p.public_key)
                        for p in config.peers
                    ),
                    allow_list=frozenset(bytes.fromhex(n) for n in config.allowed_node_ids),
                    max_frame_size=config.max_frame_bytes,
                    send_queue_frames=config.peer_send_queue,
                    max_pending_handshakes=config.p2p_max_pending_handshakes,
                    max_pending_per_source=config.p2p_max_pending_per_source,
                    max_pending_per_key=config.p2p_max_pending_per_key,
                    **config.p2p_inbound_settings(),
                ),
                node_key,
                on_peer_connected=lambda peer_id: self.driver.peer_connected(peer_id),
                on_peer_disconnected=lambda peer_id: self.driver.peer_gone(peer_id),
            )
            self.wal = Wal.open(config.data_dir / "cs.wal")
            self.guard = SignGuard(config.data_dir / "last_signed.json")
        except BaseException:
            self.store.close()
            raise
        self.metrics = NodeMetrics(chain_id=self.chain_id, moniker=config.moniker)
        self.api_gate = ApiGate(api_limits(config), self.metrics)
        self.metrics.bind_api_connections(
            lambda: len(self.api_gate.connections), max_connections=config.api_max_connections
        )
        self.feed = CommitFeed(self.store)
        self._evidence: list[cs.Evidence] = []
        self._gossip_out: list[bytes] = []
        self._gossip_ready = trio.Event()
        self.api_port: int | None = None
        self.metrics_port: int | None = None
        self.driver = self._build_driver()
        self._bind_metrics()

    @classmethod
    def open(cls, config: NodeConfig, passphrase: str | None = None) -> Node:
        """Load genesis and keys from the home directory and open the store.

        Raises:
            NodeError: (ConfigError, KeyFileError, StoreLockedError...) with a one-line
                message naming the file and the problem.
        """
        genesis = load_genesis(config.genesis_path)
        node_key = read_key_file(config.node_key_path)
        signer = open_signer(config, passphrase, chain_id=genesis.chain_id, node_key=node_key)
        try:
            return cls(config, genesis, node_key, signer)
        except BaseException:
            if signer is not None:
                signer.close()
            raise

    def _init_store(self) -> None:
        """Write genesis's state at the first start (streaming its accounts file, if any)."""
        valset = validator_set_to_bytes(genesis_validator_set(self.genesis))
        file_accounts = read_accounts_file(self.genesis, self.config.genesis_path.parent)
        if not self.store.is_initialized and self.genesis.HasField("accounts_file"):
            log.info(
                "writing the genesis state with %d accounts from %s",
                self.genesis.accounts_file.accounts,
                self.genesis.accounts_file.path,
            )
        self.store.init_genesis(
            genesis_hash(self.genesis),
            genesis_writes(self.genesis, file_accounts),
            partial(genesis_app_hash_of, self.chain_id),
            validator_sets=[(1, valset), (2, valset)],
        )

    def validator_set(self, height: int) -> cs.ValidatorSet:
        """The consensus validator set that runs height."""
        raw = self.store.get_validator_set(height)
        if raw is None:
            raise NodeError(f"no validator set recorded for height {height}")
        return validator_set_from_bytes(raw)

    def _chain_state(self) -> ChainState:
        """The store's view at start: tip, last certificate, validator sets around the tip."""
        height = self.store.height
        time_ms = self.genesis.genesis_time_ms
        last_commit = None
        if height:
            block = decode_block(self.store.get_block(height) or b"")
            if block is not None:
                time_ms = block.header.time_ms
            raw_commit = self.store.get_commit(height)
            if raw_commit is not None:
                last_commit = codec.decode_certificate(raw_commit)
        sets = {h: self.validator_set(h) for h in (height, height + 1, height + 2) if h >= 1}
        oldest = max(1, height + 1 - self.genesis.params.evidence_max_age_blocks)
        history = tuple(
            (h, validator_set_from_bytes(raw)) for h, raw in self.store.iter_validator_sets(oldest)
        )
        tip = ChainTip(
            height=height,
            block_hash=self.store.block_hash,
            app_hash=self.store.app_hash,
            time_ms=time_ms,
            validators_hash=validators_hash(sets[height + 1]),
        )
        return ChainState(
            tip=tip, last_commit=last_commit, validator_sets=sets, set_history=history
        )

    def _build_driver(self) -> ConsensusDriver:
        params = self.genesis.params
        node_core = NodeCore(
            chain_id=self.chain_id,
            chain=self._chain_state(),
            verifier=_Verifier(),
            signer=self.signer,
            consensus_params=cs.ConsensusParams(
                timeout_propose_ms=params.timeout_propose_ms,
                timeout_prevote_ms=params.timeout_prevote_ms,
                timeout_precommit_ms=params.timeout_precommit_ms,
                timeout_delta_ms=params.timeout_delta_ms,
                timeout_max_ms=params.timeout_max_ms,
                empty_block_interval_ms=params.empty_block_interval_ms,
            ),
            params=CoreParams(
                empty_block_interval_ms=params.empty_block_interval_ms,
                block_interval_ms=params.block_interval_ms,
                max_block_bytes=params.max_block_bytes,
                max_block_txs=params.max_block_txs,
                evidence_max_age_blocks=params.evidence_max_age_blocks,
            ),
            last_signed=self.guard.last,
        )
        return ConsensusDriver(
            node_core=node_core,
            chain_id=self.chain_id,
            store=self.store,
            ledger=self.ledger,
            mempool=self.mempool,
            network=self.p2p,
            wal=self.wal,
            guard=self.guard,
            proposer_key=self.signer.public_key if self.signer else b"",
            on_commit=self._on_commit,
            on_timeout=self.metrics.on_timeout,
            on_evidence=self._on_evidence,
            on_evidence_committed=self.metrics.on_evidence_committed,
            on_write_batch=self.metrics.on_write_batch,
            max_block_txs=params.max_block_txs,
            max_block_bytes=params.max_block_bytes,
            commit_gate=self.admitter.checks,
        )

    # ---- the facade the HTTP API sees (node.api.NodeFacade) ----

    @property
    def node_id(self) -> str:
        return self.node_key.public_key.hex()

    @property
    def moniker(self) -> str:
        return self.config.moniker

    @property
    def is_validator(self) -> bool:
        signer = self.signer
        return signer is not None and signer.public_key in self.validator_set(self.store.height + 1)

    @property
    def catching_up(self) -> bool:
        return self.driver.catching_up

    @property
    def signer_status(self) -> dict[str, object] | None:
        remote = self._remote_signer()
        return None if remote is None else remote.status()

    def _remote_signer(self) -> RemoteSigner | None:
        """The remote signer signing now (during a rotation, the one the key ring selected)."""
        signer = self.signer.active if isinstance(self.signer, KeyRing) else self.signer
        return signer if isinstance(signer, RemoteSigner) else None

    @property
    def peers(self) -> list[str]:
        return [p.peer_id for p in self.p2p.peers()]

    @property
    def last_commit_time(self) -> float | None:
        return self._last_commit_time

    def evidence(self) -> list[cs.Evidence]:
        pool = self.driver.core.evidence_pool
        return pool.pending(len(pool))

    async def submit(self, raw: bytes, *, client: str | None = None) -> Admission:
        """Admit raw to the mempool; gossip it to peers when it is new.

        Raises:
            AdmissionBusy: too much is waiting for admission; nothing was done.
        """
        (admission,) = await self.submit_batch([raw], client=client)
        return admission

    async def submit_batch(
        self, raws: Sequence[bytes], *, client: str | None = None
    ) -> list[Admission]:
        """Admit each of raws (signatures verified off the loop); gossip the new ones.

        client: the API client's key (its address) for its share of the mempool; None
        for a client without a share.

        Raises:
            AdmissionBusy: too much is waiting for admission; nothing was done.
        """
        try:
            admissions = await self.admitter.admit(raws, source=api_source(client))
        except AdmissionBusy:
            self.metrics.on_admission_overload("api", len(raws))
            raise
        self._admitted(raws, admissions, from_api=True)
        return admissions

    def _admitted(
        self, raws: Sequence[bytes], admissions: Sequence[Admission], *, from_api: bool
    ) -> None:
        """Count the answers, wake the proposer for new transactions, gossip the API's."""
        added = False
        for raw, admission in zip(raws, admissions, strict=True):
            self.metrics.on_admission(admission.code, "api" if from_api else "gossip")
            self.metrics.on_evictions(admission.evicted)
            if admission.added:
                added = True
                if from_api:
                    self._gossip_out.append(raw)
        if added:
            if from_api:
                self._gossip_ready.set()
            self.driver.txs_available()

    async def wait_committed(self, tx_id: bytes, timeout_s: float) -> TxLocation | None:
        return await self.feed.wait_committed(tx_id, timeout_s)

    def subscribe(self) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[BlockSummary]]:
        return self.feed.subscribe()

    # ---- internals ----

    _last_commit_time: float | None = None

    def _on_commit(self, info: BlockCommitted) -> None:
        self._last_commit_time = trio.current_time()
        receipts = list(info.receipts)
        self.feed.publish(
            BlockSummary.of(
                height=info.height,
                block_hash=info.block_hash,
                time_ms=info.time_ms,
                receipts=receipts,
            )
        )
        kinds = info.kinds
        codes = count_results(
            (kinds[r.index] if r.index < len(kinds) else "unknown", r.code) for r in receipts
        )
        own = None
        if self.signer is not None:
            raw_cert = self.store.get_commit(info.height)
            if raw_cert is not None:
                cert = consensus_pb2.CommitCertificate.FromString(raw_cert)
                own = any(sig.validator == self.signer.public_key for sig in cert.signatures)
        self.metrics.on_commit(
            info.height,
            info.round,
            len(info.kinds),
            codes,
            None,
            info.latency_ms / 1000,
            own_precommit_included=own,
        )

    def _on_evidence(self, evidence: cs.Evidence) -> None:
        """Evidence new to this node (the engine's or a peer's): the byzantine gauge."""
        self._evidence.append(evidence)
        del self._evidence[:-MAX_EVIDENCE]
        self.metrics.on_evidence()

    def _bind_metrics(self) -> None:
        m = self.metrics
        m.bind_mempool(
            lambda: len(self.mempool),
            lambda: self.mempool.size_bytes,
            max_txs=self.config.mempool_max_txs,
            max_bytes=self.config.mempool_max_bytes,
        )
        m.bind_mempool_room(lambda: self.mempool.capacity.tps or 0.0, lambda: self.mempool.room_txs)
        m.bind_peers(lambda: len(self.p2p.peers()))
        stats = self.p2p.stats
        m.bind_p2p_stats(lambda: (stats.bytes_in, stats.bytes_out, stats.handshake_failures))
        m.bind_p2p_inbound(
            lambda: P2PInboundView(
                stats.frames_dropped,
                stats.peers_dropped,
                stats.gossip_throttled,
                self.p2p.inbound_queued_bytes(),
                stats.gossip_invalid_txs,
            )
        )
        m.bind_round_step(lambda: (self.driver.stats.round, cs.Step(self.driver.stats.step).name))
        driver = self.driver.stats
        m.bind_core_counters(
            lambda: (driver.penalties, driver.drops, driver.misbehaviour),
            lambda: self.driver.catching_up,
        )
        m.bind_store(self.config.data_dir)
        m.bind_state_cache(self.store.state_cache_stats)
        PROCESS_PAUSES.install()
        m.bind_gc_pauses(PROCESS_PAUSES.counts)
        m.bind_validators(self._validator_view)
        if self._remote_signer() is not None:
            m.bind_signer(
                lambda: (r := self._remote_signer()) is not None and r.up,
                lambda: {} if (r := self._remote_signer()) is None else r.refusals(),
            )

    def _validator_view(self) -> ValidatorView:
        valset = self.validator_set(self.store.height + 1)
        own = self.signer.public_key if self.signer else b""
        missing: list[bytes] = []
        raw_cert = self.store.get_commit(self.store.height) if self.store.height else None
        if raw_cert is not None:
            signed = {
                s.validator for s in consensus_pb2.CommitCertificate.FromString(raw_cert).signatures
            }
            missing = [k for k in valset if k not in signed]
        byzantine = {e.validator for e in self._evidence if e.validator in valset}
        return ValidatorView(
            validators=len(valset),
            total_power=valset.total_power,
            missing=len(missing),
            missing_power=sum(valset.power(k) for k in missing),
            byzantine=len(byzantine),
            byzantine_power=sum(valset.power(k) for k in byzantine),
            own_power=valset.power(own) if own else 0,
        )

    async def _gossip_loop(self) -> None:
        """Send newly admitted transactions to peers in batches (one frame per batch)."""
        while True:
            await self._gossip_ready.wait()
            await trio.sleep(GOSSIP_BATCH_DELAY_S)
            self._gossip_ready = trio.Event()
            batch, self._gossip_out = self._gossip_out, []
            for start in range(0, len(batch), GOSSIP_BATCH_TXS):
                env = p2p_pb2.Envelope()
                env.tx_gossip.txs.extend(batch[start : start + GOSSIP_BATCH_TXS])
                self.p2p.broadcast(env)

    async def _pump_network(self) -> None:
        """Hand consensus and block-sync messages to the driver (consensus first)."""
        async for peer_id, env in self.p2p.inbound:
            await self.driver.on_peer_message(peer_id, env)

    async def _pump_txs(self) -> None:
        """Admit gossiped transactions (within each peer's budget), one frame at a time."""
        async for peer_id, env in self.p2p.tx_inbound:
            await self._admit_gossip(peer_id, list(env.tx_gossip.txs))

    async def _admit_gossip(self, peer_id: str, txs: list[bytes]) -> None:
        """Admit a peer's gossiped transactions; over the admission bound they are dropped.

        Transactions from peers are not gossiped again: the submitting node sends them to
        every peer it is connected to (the validators form a full mesh).
        """
        try:
            admissions = await self.admitter.admit(txs, source=peer_id)
        except AdmissionBusy:
            self.metrics.on_admission_overload("gossip", len(txs))
            log.debug("dropped %d gossiped txs of %s: admission busy", len(txs), peer_id[:16])
            return
        # An honest peer gossips only what it verified: a forged copy costs its budget.
        forged = sum(a.code == ledger_pb2.INVALID_SIGNATURE for a in admissions)
        if forged:
            self.p2p.charge_invalid_gossip(peer_id, forged)
        self._admitted(txs, admissions, from_api=False)

    def reload_api_tokens(self) -> bool:
        """Read HOME/api_tokens.json again now (SIGHUP); False when it is invalid (logged;
        the tokens in force stay). A running node also reloads it within a second of a
        change (docs/api.md, "Access")."""
        return reload_tokens(self.api_tokens, token_file(self.config.home))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; close the store on the way out."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.p2p.run)
                self.metrics_port = await nursery.start(
                    serve_metrics,
                    self.metrics,
                    self.config.metrics_listen.host,
                    self.config.metrics_listen.port,
                )
                nursery.start_soon(sample_loop_lag, self.metrics)
                nursery.start_soon(self._pump_network)
                nursery.start_soon(self._pump_txs)
                nursery.start_soon(self._gossip_loop)
                await nursery.start(self.driver.run, self.wal.entries)
                nursery.start_soon(watch_token_file, self.api_tokens, token_file(self.config.home))
                self.api_port = await nursery.start(
                    partial(serve_api, gate=self.api_gate),
                    create_app(self, gate=self.api_gate, tokens=self.api_tokens),
                    self.config.api_listen.host,
                    self.config.api_listen.port,
                )
                log.info(
                    "node %s started at height %d (%s)",
                    self.config.moniker,
                    self.store.height,
                    f"validator, {self.signer.kind} signer" if self.signer else "observer",
                )
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                await self.p2p.aclose()
            self.wal.close()
            self.store.close()
            if self.signer is not None:
                self.signer.close()


def api_limits(config: NodeConfig) -> ApiLimits:
    """The API's connection and rate limits from config.toml's [api] section."""
    return ApiLimits(
        max_connections=config.api_max_connections,
        max_connections_per_client=config.api_max_connections_per_client,
        idle_timeout_s=config.api_idle_timeout_s,
        requests_per_s=config.api_requests_per_s,
        burst=config.api_burst,
        submit_txs_per_s=config.api_submit_txs_per_s,
        submit_burst=config.api_submit_burst,
        exempt=tuple(ipaddress.ip_network(n) for n in config.api_exempt),
    )


def node_id_of(home: Path) -> str:
    """The node id (hex of the node public key) of a home directory."""
    from node.config import NODE_KEY_FILE
    from node.keys import read_public_key

    return read_public_key(home / NODE_KEY_FILE).hex()

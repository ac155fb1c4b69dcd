"""`list_assets` over a real LevelDB store that committed the ledger's own writes."""

from __future__ import annotations

from pathlib import Path

from ledger_world import World

from node.ledger import BlockResult, get_asset, list_assets
from node.ledger._keys import ASSET
from node.ledger.txbuild import KindMessage, propose, tx_id_of
from node.store import BlockCommit, Store
from proto import ledger_pb2 as pb


def _commit(store: Store, height: int, result: BlockResult) -> None:
    """Commit one executed block's receipts and state writes, as the node does."""
    store.commit_block(
        BlockCommit(
            height=height,
            block=b"block-%d" % height,
            block_hash=b"%032d" % height,
            commit=b"cert-%d" % height,
            receipts=result.receipts,
            writes=result.writes,
            app_hash=result.app_hash,
        )
    )


def _run(w: World, store: Store, signer: str, kind: KindMessage) -> None:
    result = w.block(w.tx(signer, kind))
    assert [pb.ResultCode.Name(r.code) for r in result.receipts] == ["OK"]
    _commit(store, w.height, result)


def test_lists_every_committed_asset_in_code_order(tmp_path: Path) -> None:
    w = World()
    with Store(tmp_path / "db") as store:
        store.init_genesis(b"g" * 32, sorted(w.state.items()), w.app_hash)
        assert [a.code for a in list_assets(store)] == ["KZT"]

        _run(w, store, "nbk", pb.Issue(asset="KZT", to="halyk", amount=700))
        for code, kind in (("USDT", pb.STABLECOIN), ("BTC", pb.CRYPTO)):
            register = pb.RegisterAsset(
                code=code, decimals=6, issuer="halyk", kind=kind, payment_zones=[pb.CRYPTOCITY]
            )
            proposal = propose(register, expires_at_height=w.height + 10, summary=code)
            raw = w.tx("nbk", proposal)
            result = w.block(raw)
            assert [pb.ResultCode.Name(r.code) for r in result.receipts] == ["OK"]
            _commit(store, w.height, result)
            approval = pb.Approve(proposal_id=tx_id_of(raw))
            result = w.block(w.tx("afm", approval))
            assert [pb.ResultCode.Name(r.code) for r in result.receipts] == ["OK"]
            _commit(store, w.height, result)

        assets = list_assets(store)
        assert [a.code for a in assets] == ["BTC", "KZT", "USDT"]
        # the same records get_asset reads, totals included; balances and accounts are not listed
        assert assets == [get_asset(store, a.code) for a in assets]
        assert assets[1].issued == 700
        assert assets[2].kind == pb.STABLECOIN
        assert list(assets[2].payment_zones) == [pb.CRYPTOCITY]
        # and exactly what the ledger itself holds under its asset prefix
        expected = [
            pb.Asset.FromString(v) for k, v in sorted(w.state.items()) if k.startswith(ASSET)
        ]
        assert assets == expected

    with Store(tmp_path / "db") as store:  # committed, so a reopen sees the same list
        assert [a.code for a in list_assets(store)] == ["BTC", "KZT", "USDT"]


def test_empty_state_has_no_assets(tmp_path: Path) -> None:
    with Store(tmp_path / "db") as store:
        assert list_assets(store) == []
        store.init_genesis(b"g" * 32, [(b"acct/nbk", b""), (b"assets", b"x")], b"app-0")
        assert list_assets(store) == []  # "assets" is not under the "asset/" prefix

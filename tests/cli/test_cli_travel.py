"""Travel-rule data on a real node process, driven by `tenge-node` as banks would: bank A
pays a KZT amount above the threshold to bank B's customer with the copies the CLI seals;
the copies open with bank A's, bank B's and the regulator's travel keys and not with a
third bank's; no byte the node stores holds the names in clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest
import trio
from cli_support import CliResult, LiveNet, run_cli
from live_node import live_node
from test_cli_tx import TEST_TIMEOUT_S, committed_ok, new_key, refused, tx, usage_error

from node.cli import EXIT_REFUSED, EXIT_USAGE
from testnet._procs import stop_node

DATA = {
    "originator_name": "Aigerim Nurlanovna Seitkali",
    "originator_account": "bank-a",
    "originator_id": "IIN 900101400123",
    "beneficiary_name": "Dana Bekova",
    "beneficiary_account": "dana.bank-b",
}


@pytest.fixture
def travel_net(tmp_path: Path) -> Iterator[LiveNet]:
    """One validator whose rulebook enforces the travel rule."""
    with live_node(
        tmp_path / "net", "tenge-travel-1", rulebook={"travel_rule_enforced": True}
    ) as node:
        yield LiveNet(tmp_path / "net", node.manifest)


async def test_travel_data_opens_only_with_the_two_banks_and_the_regulators_keys(
    travel_net: LiveNet, tmp_path: Path
) -> None:
    net = travel_net
    cb, bank_a = net.key_file("central-bank"), net.key_file("bank-a")
    signing = {name: tmp_path / f"{name}.json" for name in ("bank-b", "bank-c", "dana")}
    travel = {name: tmp_path / f"{name}-travel.json" for name in ("bank-a", "bank-b", "bank-c")}
    travel["regulator"] = tmp_path / "regulator-travel.json"
    with trio.fail_after(TEST_TIMEOUT_S * 3):
        for bank in ("bank-b", "bank-c"):
            register = ("--account-id", bank, "--role", "COMMERCIAL_BANK", "--zone", "NATIONAL")
            flags = (*register, "--kyc-tier", "3", "--public-key", new_key(signing[bank]))
            committed_ok(await tx(net, "register-account", "central-bank", [cb], *flags))
        customer = ("--account-id", "dana.bank-b", "--role", "CUSTOMER", "--zone", "NATIONAL")
        flags = (*customer, "--kyc-tier", "2", "--public-key", new_key(signing["dana"]))
        committed_ok(await tx(net, "register-account", "bank-b", [str(signing["bank-b"])], *flags))
        issue = ("--asset", "KZT", "--to", "bank-a", "--amount", "5000000")
        committed_ok(await tx(net, "issue", "central-bank", [cb], *issue))

        for path in travel.values():
            made = await net.cli("keys", "travel-init", "--out", str(path))
            assert made.code == 0, str(made)
            assert len(made.doc["public_key"]) == 64
        data_file = tmp_path / "travel.json"
        data_file.write_text(json.dumps(DATA))
        pay = ("--from", "bank-a", "--to", "dana.bank-b", "--asset", "KZT")
        big = (*pay, "--amount", "1500000", "--travel-file", str(data_file))
        # No travel key is published yet: the CLI says so before sending anything.
        early = await tx(net, "transfer", None, [bank_a], *big)
        assert early.code == EXIT_REFUSED, str(early)
        assert "'bank-a' (the payer) has published no travel key" in early.stderr
        assert "NO_TRAVEL_KEY" in early.stderr

        signers = {"bank-a": bank_a, "regulator": net.key_file("regulator")}
        signers |= {bank: str(signing[bank]) for bank in ("bank-b", "bank-c")}
        for name, path in travel.items():
            flags = ("--travel-key", str(path))
            committed_ok(await tx(net, "publish-travel-key", name, [signers[name]], *flags))
        shown = await net.cli("query", "account", "bank-b")
        assert shown.doc["travel_key"] == json.loads(travel["bank-b"].read_text())["public_key"]

        refused(
            await tx(net, "transfer", None, [bank_a], *pay, "--amount", "1500000"),
            "TRAVEL_RULE_REQUIRED",
        )
        paid = committed_ok(await tx(net, "transfer", None, [bank_a], *big))
        tx_id = str(paid["tx_id"])

        shown = await net.cli("query", "tx", tx_id)
        (leg,) = shown.doc["tx"]["transfer"]["legs"]
        copies = sorted(leg["travel_copies"], key=lambda c: c["recipient"])
        assert [c["recipient"] for c in copies] == ["bank-a", "bank-b", "regulator"]
        assert all(isinstance(c["size"], int) and c["size"] > 48 for c in copies)
        assert DATA["originator_name"] not in shown.stdout

        for name in ("bank-a", "bank-b", "regulator"):
            opened = await _open(net, tx_id, travel[name])
            assert opened.code == 0, str(opened)
            assert opened.doc["recipient"] == name
            assert opened.doc["data"] == DATA
        stranger = await _open(net, tx_id, travel["bank-c"])
        assert stranger.code == EXIT_REFUSED, str(stranger)
        assert "opens with this key" in stranger.stderr
        assert stranger.stdout == ""
        usage_error(await _open(net, tx_id, Path(bank_a)), "x25519")
        beyond = await _open(net, tx_id, travel["bank-a"], "--leg", "1")
        assert beyond.code == EXIT_REFUSED, str(beyond)

    for node in net.nodes:  # stop it, then read every byte it stored
        stop_node(node, grace=10)
    names = [DATA[k].encode() for k in ("originator_name", "originator_id", "beneficiary_name")]
    (home,) = (Path(node["home"]) for node in net.nodes)
    db = plyvel.DB(str(home / "data" / "store"))
    try:
        entries = list(db.iterator())
    finally:
        db.close()
    assert any(tx_id in str(key) or bytes.fromhex(tx_id) in key for key, _ in entries)
    for key, value in entries:
        assert not any(n in key or n in value for n in names)
    for path in (home / "data").iterdir():  # the WAL and the signing record
        if path.is_file():
            assert not any(n in path.read_bytes() for n in names), path


async def _open(net: LiveNet, tx_id: str, key: Path, *flags: str) -> CliResult:
    """`tenge-node travel open TX_ID --key FILE` against the node."""
    return await net.cli("travel", "open", tx_id, "--key", str(key), "--api", net.api(), *flags)


async def test_a_bad_travel_file_is_a_usage_error_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """No node listens at --api: each refusal comes from the command's own checks."""
    files = {
        "missing": tmp_path / "absent.json",
        "not json": tmp_path / "garbage.json",
        "a list": tmp_path / "list.json",
        "a field short": tmp_path / "short.json",
        "a number": tmp_path / "number.json",
        "too big": tmp_path / "big.json",
        "an empty name": tmp_path / "empty.json",
        "a long id": tmp_path / "long.json",
    }
    files["not json"].write_bytes(b"\xff{")
    files["a list"].write_text("[]")
    files["a field short"].write_text(json.dumps({k: v for k, v in DATA.items() if k[0] == "o"}))
    files["a number"].write_text(json.dumps({**DATA, "originator_id": 7}))
    files["an empty name"].write_text(json.dumps({**DATA, "beneficiary_name": ""}))
    files["a long id"].write_text(json.dumps({**DATA, "originator_id": "9" * 141}))
    files["too big"].write_text(json.dumps({**DATA, "originator_name": "x" * 9000}))
    pay = ("tx", "transfer", "--key", str(tmp_path / "k.json"), "--api", "http://127.0.0.1:9")
    leg = ("--from", "bank-a", "--to", "bank-b", "--asset", "KZT", "--amount", "1")
    with trio.fail_after(TEST_TIMEOUT_S):
        for case, path in files.items():
            result = await run_cli(*pay, *leg, "--travel-file", str(path))
            assert result.code == EXIT_USAGE, (case, str(result))
            assert "--travel-file" in result.stderr, case
        two = ("--leg", "bank-a:bank-b:KZT:1", "--leg", "bank-a:bank-c:KZT:1")
        result = await run_cli(*pay, *two, "--travel-file", str(files["a list"]))
        usage_error(result, "one-leg")

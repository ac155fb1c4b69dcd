"""`tenge-node keys`, and the usage errors every command gives before reaching a node."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest
import trio
from cli_support import run_cli

from node.cli import EXIT_UNREACHABLE, EXIT_USAGE, main
from node.cli_ops import EXIT_OK as OPS_OK
from node.cli_ops import EXIT_REFUSED as OPS_REFUSED
from node.cli_ops import EXIT_UNREACHABLE as OPS_UNREACHABLE
from node.cli_ops import EXIT_USAGE as OPS_USAGE
from node.keys import read_key_file


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main(argv) in this process: (exit code, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str) -> None:
    assert err.startswith("tenge-node: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err


def test_exit_codes_agree_with_node_cli() -> None:
    from node import cli

    assert (OPS_OK, OPS_REFUSED, OPS_USAGE, OPS_UNREACHABLE) == (
        cli.EXIT_OK,
        cli.EXIT_REFUSED,
        cli.EXIT_USAGE,
        cli.EXIT_UNREACHABLE,
    )


def test_keys_new_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alice.json"
    code, out, err = run(capsys, "keys", "new", "--out", str(path))
    assert (code, err) == (0, "")
    public_key = json.loads(out)["public_key"]
    assert read_key_file(path).public_key.hex() == public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, _ = run(capsys, "keys", "show", str(path))
    assert code == 0
    assert json.loads(out) == {"public_key": public_key}


def test_encrypted_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vault.json"
    monkeypatch.setenv("VAULT_PASS", "correct horse")
    code, out, _ = run(capsys, "keys", "new", "--out", str(path), "--passphrase-env", "VAULT_PASS")
    assert code == 0
    public_key = json.loads(out)["public_key"]
    assert "private_key" not in path.read_text()
    assert read_key_file(path, "correct horse").public_key.hex() == public_key
    code, out, _ = run(capsys, "keys", "show", str(path))  # no passphrase needed
    assert (code, json.loads(out)) == (0, {"public_key": public_key})


def test_keys_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "k.json"
    assert run(capsys, "keys", "new", "--out", str(existing))[0] == 0
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    cases = [
        ("keys", "new", "--out", str(existing)),  # never overwrites a key
        ("keys", "new", "--out", str(tmp_path / "missing-dir" / "k.json")),
        ("keys", "new", "--out", str(tmp_path / "x.json"), "--passphrase-env", "NO_SUCH_VAR"),
        ("keys", "show", str(tmp_path / "absent.json")),
        ("keys", "show", str(garbage)),
        ("keys", "show", str(tmp_path)),  # a directory
    ]
    for argv in cases:
        code, out, err = run(capsys, *argv)
        assert code == EXIT_USAGE, (argv, code, err)
        assert out == ""
        assert_one_line_error(err)
    assert not (tmp_path / "x.json").exists()


def _tx(key: str, *extra: str) -> list[str]:
    return ["tx", *extra, "--key", key, "--api", "http://127.0.0.1:9"]


@pytest.mark.parametrize(
    "argv",
    [
        [
            "tx",
            "issue",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--asset",
            "KZT",
            "--to",
            "bank-a",
            "--amount",
            "-5",
        ],
        [
            "tx",
            "issue",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--asset",
            "KZT",
            "--to",
            "bank-a",
            "--amount",
            "1e5",
        ],
        [
            "tx",
            "issue",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--asset",
            "KZT",
            "--to",
            "bank-a",
            "--amount",
            "١٢",
        ],  # Arabic-Indic digits are digits to Python, not to us
        [
            "tx",
            "issue",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--asset",
            "kzt",
            "--to",
            "bank-a",
            "--amount",
            "1",
        ],
        ["tx", "issue", "--key", "KEY", "--asset", "KZT", "--to", "bank-a", "--amount", "1"],
        ["tx", "transfer", "--key", "KEY", "--from", "a.bank", "--to", "b.bank", "--asset", "KZT"],
        ["tx", "transfer", "--key", "KEY", "--leg", "a.bank:b.bank:KZT"],
        ["tx", "transfer", "--key", "KEY", "--leg", "a.bank::KZT:5"],
        ["tx", "transfer", "--key", "KEY", "--leg", "a.bank:b.bank:KZT:5", "--from", "a.bank"],
        [
            "tx",
            "register-account",
            "--as",
            "bank-a",
            "--key",
            "KEY",
            "--account-id",
            "x.bank",
            "--role",
            "CUSTOMER",
            "--zone",
            "NATIONAL",
            "--kyc-tier",
            "1",
            "--public-key",
            "zz",
        ],
        [
            "tx",
            "register-account",
            "--as",
            "bank-a",
            "--key",
            "KEY",
            "--account-id",
            "x.bank",
            "--role",
            "CUSTOMER",
            "--zone",
            "NATIONAL",
            "--kyc-tier",
            "1",
            "--public-key",
            "ab" * 31,
        ],
        [
            "tx",
            "propose",
            "register-asset",
            "--summary",
            "s",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--code",
            "KZTE",
            "--decimals",
            "6",
            "--issuer",
            "bank-a",
            "--kind",
            "STABLECOIN",
            "--payment-zones",
            "CRYPTOCITY,MARS",
        ],
        [
            "tx",
            "propose",
            "register-asset",
            "--summary",
            "s",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--code",
            "KZTE",
            "--decimals",
            "6",
            "--issuer",
            "bank-a",
            "--kind",
            "STABLECOIN",
            "--payment-zones",
            "CRYPTOCITY",
            "--backed-by",
            "KZT",
        ],
        [
            "tx",
            "propose",
            "register-asset",
            "--summary",
            "s",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--code",
            "KZTE",
            "--decimals",
            "6",
            "--issuer",
            "bank-a",
            "--kind",
            "STABLECOIN",
            "--payment-zones",
            "CRYPTOCITY",
            "--backed-by",
            "KZT",
            "--reserve-account",
            "Bad/Id",
        ],
        [
            "tx",
            "propose",
            "update-validator",
            "--summary",
            "s",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--public-key",
            "00" * 32 + "00",
            "--power",
            "1",
        ],
        [
            "tx",
            "propose",
            "set-limits",
            "--summary",
            "s",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--kyc-tier",
            "1",
            "--per-payment",
            "1,000",
            "--daily",
            "1",
            "--holding-cap",
            "0",
        ],
        [
            "tx",
            "freeze",
            "--as",
            "regulator",
            "--key",
            "KEY",
            "--account",
            "x.bank",
            "--legal-ref",
            "r",
            "--wait",
            "--timeout",
            "0",
        ],
        [
            "tx",
            "freeze",
            "--as",
            "regulator",
            "--key",
            "KEY",
            "--account",
            "x.bank",
            "--legal-ref",
            "r",
            "--wait",
            "--timeout",
            "nan",
        ],
        [
            "tx",
            "freeze",
            "--as",
            "regulator",
            "--key",
            "MISSING",
            "--account",
            "x.bank",
            "--legal-ref",
            "r",
        ],
        [
            "tx",
            "freeze",
            "--as",
            "regulator",
            "--key",
            "KEY",
            "--account",
            "x.bank",
            "--legal-ref",
            "r",
            "--api",
            "ftp://example",
        ],
        ["query", "account", "Not An Id", "--api", "http://127.0.0.1:9"],
        ["query", "tx", "abc", "--api", "http://127.0.0.1:9"],
        ["query", "block", "0", "--api", "http://127.0.0.1:9"],
        ["query", "block", "-1", "--api", "http://127.0.0.1:9"],
        ["query", "asset", "usd", "--api", "http://127.0.0.1:9"],
        ["query", "account", "--api", "http://127.0.0.1:9"],
        ["query", "status", "extra", "--api", "http://127.0.0.1:9"],
        ["query", "account", "bank-a", "--limit", "5", "--api", "http://127.0.0.1:9"],
    ],
)
def test_usage_errors_before_any_request(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before the node is contacted (port 9 is closed): exit 2, one line, no output."""
    key = tmp_path / "k.json"
    assert run(capsys, "keys", "new", "--out", str(key))[0] == 0
    argv = [
        str(key) if a == "KEY" else str(tmp_path / "no.json") if a == "MISSING" else a for a in argv
    ]
    if "--api" not in argv:
        argv += ["--api", "http://127.0.0.1:9"]
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE, (argv, code, err)
    assert out == ""
    assert_one_line_error(err)


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["tx"],
        ["tx", "mint", "--key", "k"],
        ["tx", "issue", "--as", "x"],  # no --key
        [
            "tx",
            "register-account",
            "--as",
            "b",
            "--key",
            "k",
            "--account-id",
            "x.b",
            "--role",
            "KING",
            "--zone",
            "NATIONAL",
            "--kyc-tier",
            "1",
            "--public-key",
            "00",
        ],
        [
            "tx",
            "propose",
            "update-validator",
            "--summary",
            "s",
            "--as",
            "b",
            "--key",
            "k",
            "--public-key",
            "00",
            "--power",
            "-1",
        ],
        [
            "tx",
            "propose",
            "update-validator",
            "--summary",
            "s",
            "--as",
            "b",
            "--key",
            "k",
            "--public-key",
            "00",
            "--power",
            str(2**64),
        ],
        ["query", "everything"],
        ["keys"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == EXIT_USAGE, argv
        assert "Traceback" not in err


async def test_unreachable_node_exits_3(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with trio.fail_after(30):
        key = tmp_path / "k.json"
        assert (await run_cli("keys", "new", "--out", str(key))).code == 0
        for argv in (
            ("query", "status", "--api", url),
            ("query", "account", "bank-a", "--api", url),
            (
                "tx",
                "freeze",
                "--as",
                "regulator",
                "--key",
                str(key),
                "--account",
                "x.bank",
                "--legal-ref",
                "r",
                "--api",
                url,
            ),
            (
                "tx",
                "issue",
                "--as",
                "central-bank",
                "--key",
                str(key),
                "--asset",
                "KZT",
                "--to",
                "bank-a",
                "--amount",
                "1.00",
                "--api",
                url,
            ),
        ):
            result = await run_cli(*argv)
            assert result.code == EXIT_UNREACHABLE, result
            assert result.stdout == ""
            assert "cannot reach the node" in result.stderr
            assert_one_line_error(result.stderr)


async def test_a_server_that_is_not_a_node_exits_3(tmp_path: Path) -> None:
    """Another HTTP server on the port: a clear error, no traceback."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some(65536)
            await stream.send_all(answer)

    with trio.fail_after(30):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        key = tmp_path / "k.json"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, handle, listeners)
            assert (await run_cli("keys", "new", "--out", str(key))).code == 0
            for argv in (
                ("query", "status", "--api", url),
                ("query", "history", "bank-a", "--api", url),
                (
                    "tx",
                    "freeze",
                    "--as",
                    "regulator",
                    "--key",
                    str(key),
                    "--account",
                    "x.bank",
                    "--legal-ref",
                    "r",
                    "--api",
                    url,
                ),
            ):
                result = await run_cli(*argv)
                assert result.code == EXIT_UNREACHABLE, result
                assert "is it a tenge node" in result.stderr, result.stderr
                assert_one_line_error(result.stderr)
            nursery.cancel_scope.cancel()


def test_init_with_an_empty_passphrase_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("EMPTY_PASS", "")
    code, _, err = run(
        capsys, "init", "--home", str(home), "--moniker", "m", "--passphrase-env", "EMPTY_PASS"
    )
    assert code == EXIT_USAGE
    assert_one_line_error(err)
    assert "empty" in err
    assert not home.exists() or not any(home.iterdir()), "a refused init leaves no half home"


def test_person_ref_prints_the_keyed_hash_of_a_national_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from node.client import person_ref

    secret = tmp_path / "person.key"
    secret.write_bytes(b"banks' shared person key, 32 bytes!\n")
    code, out, _ = run(
        capsys, "person-ref", "--key-file", str(secret), "--national-id", "880101300123"
    )
    assert code == 0
    expected = person_ref("880101300123", b"banks' shared person key, 32 bytes!").hex()
    assert json.loads(out) == {"person_ref": expected}
    assert "880101300123" not in out
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    for argv in (
        ("person-ref", "--key-file", str(tmp_path / "absent"), "--national-id", "1"),
        ("person-ref", "--key-file", str(short), "--national-id", "880101300123"),
        ("person-ref", "--key-file", str(secret), "--national-id", "  "),
    ):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_USAGE, (argv, err)
        assert out == ""
        assert_one_line_error(err)
    key_file = tmp_path / "k.json"
    assert run(capsys, "keys", "new", "--out", str(key_file))[0] == 0
    for bad in ("abcd", "zz" * 32, "00" * 33):
        code, out, err = run(
            capsys,
            *_tx(
                str(key_file),
                "register-account",
                "--as",
                "bank-a",
                "--account-id",
                "x.bank",
                "--role",
                "CUSTOMER",
                "--zone",
                "NATIONAL",
                "--kyc-tier",
                "1",
                "--public-key",
                "00" * 32,
                "--person-ref",
                bad,
            ),
        )
        assert code == EXIT_USAGE, (bad, err)
        assert "--person-ref" in err
        assert_one_line_error(err)


def test_propose_register_asset_carries_the_backing() -> None:
    """--backed-by and --reserve-account reach the proposed RegisterAsset."""
    from node.cli import build_parser
    from node.cli_ops import _message, _tx_plan

    args = build_parser().parse_args(
        [
            "tx",
            "propose",
            "register-asset",
            "--summary",
            "KZTE",
            "--as",
            "central-bank",
            "--key",
            "KEY",
            "--code",
            "KZTE",
            "--decimals",
            "6",
            "--issuer",
            "bank-a",
            "--kind",
            "STABLECOIN",
            "--payment-zones",
            "CRYPTOCITY",
            "--backed-by",
            "KZT",
            "--reserve-account",
            "kzte.reserve",
        ]
    )
    _tx_plan(args)
    args.expires_at_height = 10
    message = _message(args, [])
    change = message.register_asset  # type: ignore[union-attr]
    assert (change.backed_by, change.reserve_account) == ("KZT", "kzte.reserve")


def test_init_copies_the_genesis_accounts_file_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from testnet._init import ACCOUNTS_FILE, init_testnet
    from testnet._load import genesis_load_accounts

    init_testnet(
        tmp_path / "net", validators=1, file_accounts=genesis_load_accounts("tenge-cli", 4)
    )
    genesis = tmp_path / "net" / "genesis.json"
    home = tmp_path / "home"
    code, _, err = run(
        capsys,
        "init",
        "--home",
        str(home),
        "--moniker",
        "m",
        "--observer",
        "--genesis",
        str(genesis),
    )
    assert code == 0, err
    source = tmp_path / "net" / ACCOUNTS_FILE
    assert (home / ACCOUNTS_FILE).read_bytes() == source.read_bytes()

    source.write_bytes(source.read_bytes().replace(b'"MERCHANT"', b'"CUSTOMER"', 1))
    other = tmp_path / "other"
    code, _, err = run(
        capsys,
        "init",
        "--home",
        str(other),
        "--moniker",
        "m",
        "--observer",
        "--genesis",
        str(genesis),
    )
    assert code != 0
    assert_one_line_error(err)
    assert f"{ACCOUNTS_FILE}: its sha256 is" in err
    assert not other.exists(), "a refused init writes no home"

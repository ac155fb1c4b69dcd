"""The validator key in a PKCS#11 token: SoftHSM2 with a token each module makes itself.

What this shows: the key pair is generated inside the token (`tenge-node keys hsm-init`)
and found by its label; its signatures verify with node.keys.verify; a missing module,
token or key, or a wrong PIN, is one line at start; and a 4-validator testnet where one
validator signs through the token commits, its votes in the certificates, its double-sign
guard (data/last_signed.json) kept as for a file key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from network_support import running_network
from softhsm_support import PIN_ENV, SOFTHSM_MODULE, Token, needs_softhsm, softhsm_token

from consensus import LastSigned, Step, VoteType, vote_sign_bytes
from node.errors import ConfigError
from node.keys import verify
from node.signer import Pkcs11Signer, SignerError, hsm_generate, hsm_public_key
from node.signguard import load_last_signed, write_last_signed

pytestmark = needs_softhsm

GUARD_REFUSED = "double-sign guard refused to sign"


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    with softhsm_token(tmp_path_factory.mktemp("softhsm")) as made:
        yield made


def tenge_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `tenge-node: error:` line of a refused command (exit 1, no traceback)."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tenge-node: error: "), result.stderr
    return lines[0]


def token_flags(token: Token, key_label: str) -> list[str]:
    s = token.settings(key_label)
    return [
        "--module",
        s.module,
        "--token-label",
        s.token_label,
        "--key-label",
        key_label,
        "--pin-env",
        PIN_ENV,
    ]


def test_hsm_init_generates_in_the_token_and_hsm_show_prints_it(token: Token) -> None:
    made = tenge_node("keys", "hsm-init", *token_flags(token, "cli-key"))
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert doc["key_label"] == "cli-key"
    assert doc["token_label"] == "tenge-test"
    shown = tenge_node("keys", "hsm-show", *token_flags(token, "cli-key"))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == doc
    assert len(bytes.fromhex(doc["validator_public_key"])) == 32
    # A second key under one label would make "the validator key" ambiguous.
    again = tenge_node("keys", "hsm-init", *token_flags(token, "cli-key"))
    assert "already exists" in one_error_line(again)


def test_token_signatures_verify_with_node_keys(token: Token) -> None:
    settings = token.settings("unit-key")
    public_key = hsm_generate(settings)
    assert hsm_public_key(settings) == public_key
    signer = Pkcs11Signer.open(settings)
    try:
        assert signer.public_key == public_key
        message = vote_sign_bytes("tenge-test", VoteType.PRECOMMIT, 7, 1, b"\x11" * 32)
        signature = signer.sign(message)
        assert len(signature) == 64
        assert verify(public_key, message, signature)
        assert not verify(public_key, message + b"x", signature)
    finally:
        signer.close()
    signer.close()  # idempotent


def test_open_errors_are_one_line(token: Token, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = token.settings("unit-missing")
    cases = [
        (settings, "no such key pair"),
        (dataclasses.replace(settings, token_label="no-such-token"), "no such token"),
        (dataclasses.replace(settings, module="/nonexistent/libpkcs11.so"), "cannot load module"),
    ]
    for case, text in cases:
        with pytest.raises(SignerError, match=text) as raised:
            Pkcs11Signer.open(case)
        assert "\n" not in str(raised.value)
    monkeypatch.setenv(PIN_ENV, "wrong-pin")
    with pytest.raises(SignerError, match="wrong PIN"):
        Pkcs11Signer.open(settings)
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(ConfigError, match=f"environment variable {PIN_ENV} is not set"):
        Pkcs11Signer.open(settings)


async def test_a_validator_signing_through_the_token_commits_with_the_others(
    token: Token, tmp_path: Path
) -> None:
    settings = token.settings("net-validator")
    with trio.fail_after(90):
        async with running_network(tmp_path, hsm_signers={1: settings}) as net:
            home = Path(net.nodes[1]["home"])
            assert not (home / "validator_key.json").exists()
            hsm_key = net.nodes[1]["validator_public_key"]
            # Its votes are in the certificates: a commit this validator signed.
            height, seen = 1, False
            while not seen:
                await net.wait_height(height, nodes=[0, 1, 2, 3])
                block = await net.block(0, height)
                seen = hsm_key in block["commit"]["signers"]
                height += 1
            # The persisted double-sign guard wraps the token's signer as it does a file key.
            last = load_last_signed(home / "data" / "last_signed.json")
            assert last is not None
            assert last.height >= 1
            # Its start is refused in one line when the token will not log in.
            net.kill(1)
            refused = tenge_node("start", "--home", str(home), env={PIN_ENV: "wrong-pin"})
            assert "wrong PIN" in one_error_line(refused)
            assert SOFTHSM_MODULE in (home / "config.toml").read_text()
            # Restarted with a guard that recorded a far later height, it signs nothing:
            # the guard stands between the engine and the token.
            write_last_signed(
                home / "data" / "last_signed.json",
                LastSigned(height=10**9, round=0, step=Step.PRECOMMIT, sign_bytes_hash=bytes(32)),
            )
            log_file = home / "node.log"
            before = log_file.read_text().count(GUARD_REFUSED)
            net.start(1)
            while True:  # bounded by fail_after
                if log_file.read_text().count(GUARD_REFUSED) > before:
                    break
                await trio.sleep(0.2)


def test_the_pin_can_come_from_a_file(token: Token, tmp_path: Path) -> None:
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(os.environ[PIN_ENV] + "\n")  # a trailing newline is not the PIN's
    settings = dataclasses.replace(token.settings("file-pin"), pin_env="", pin_file=pin_file)
    public_key = hsm_generate(settings)
    signer = Pkcs11Signer.open(settings)
    try:
        assert signer.public_key == public_key
    finally:
        signer.close()
    for text, problem in (("\n", "is empty"), ("9" * 300, "longer than 256 bytes")):
        pin_file.write_text(text)
        with pytest.raises(ConfigError, match=problem):
            Pkcs11Signer.open(settings)
    pin_file.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        Pkcs11Signer.open(settings)


def test_a_token_gone_while_running_is_a_signer_error(token: Token) -> None:
    settings = token.settings("gone")
    hsm_generate(settings)
    signer = Pkcs11Signer.open(settings)
    signer.close()  # the session is gone, as when the HSM is unplugged or restarted
    with pytest.raises(SignerError, match="signing failed"):
        signer.sign(b"anything")

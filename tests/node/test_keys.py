from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.errors import KeyFileError
from node.keys import (
    TX_DOMAIN,
    KeyPair,
    TravelKey,
    read_key_file,
    read_public_key,
    read_travel_key_file,
    sign_bytes,
    verify,
    write_key_file,
    write_travel_key_file,
)


def test_sign_and_verify_round_trip() -> None:
    key = KeyPair.from_seed(bytes(range(32)))
    msg = sign_bytes(TX_DOMAIN, "tenge-test", b"body")
    sig = key.sign(msg)
    assert verify(key.public_key, msg, sig)
    assert not verify(key.public_key, msg + b"x", sig)
    assert not verify(key.public_key, sign_bytes(TX_DOMAIN, "other-chain", b"body"), sig)


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [(b"", b"\0" * 64), (b"\0" * 32, b""), (b"\xff" * 32, b"\xff" * 64), (b"\0" * 31, b"\0" * 64)],
)
def test_verify_never_raises_on_garbage(public_key: bytes, signature: bytes) -> None:
    assert verify(public_key, b"msg", signature) is False


def test_sign_bytes_separate_domain_and_chain() -> None:
    assert sign_bytes(b"a", "xy", b"z") != sign_bytes(b"a", "x", b"yz")
    assert sign_bytes(b"a", "x", b"z") != sign_bytes(b"b", "x", b"z")


def test_plain_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    key = KeyPair.generate()
    path = tmp_path / "k.json"
    write_key_file(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    assert read_public_key(path) == key.public_key


def test_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_key_file(path, KeyPair.generate())
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_file(path, KeyPair.generate())
    assert path.read_bytes() == before


def test_encrypted_key_file(tmp_path: Path) -> None:
    key = KeyPair.generate()
    path = tmp_path / "k.json"
    write_key_file(path, key, passphrase="correct horse")
    assert key.seed.hex() not in path.read_text()
    assert read_key_file(path, passphrase="correct horse") == key
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_key_file(path, passphrase="wrong")
    with pytest.raises(KeyFileError, match="passphrase is required"):
        read_key_file(path)


def test_edited_public_key_fails_to_open(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_key_file(path, KeyPair.generate(), passphrase="pw")
    doc = json.loads(path.read_text())
    doc["public_key"] = KeyPair.generate().public_key.hex()
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError):
        read_key_file(path, passphrase="pw")


@pytest.mark.parametrize(
    "content",
    ["", "not json", "[]", '{"type": "rsa"}', '{"type": "ed25519", "public_key": "zz"}'],
)
def test_malformed_key_files_give_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=str(path)):
        read_key_file(path)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no such key file"):
        read_key_file(tmp_path / "absent.json")


def _encrypted_doc(path: Path, **params: int) -> None:
    doc = json.loads(path.read_text())
    doc["encrypted"].update(params)
    path.chmod(0o600)
    path.write_text(json.dumps(doc))


def test_plaintext_key_file_refused_when_a_passphrase_is_configured(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    write_key_file(path, KeyPair.generate())
    with pytest.raises(KeyFileError, match="not encrypted"):
        read_key_file(path, passphrase="correct horse")


def test_empty_passphrase_refused_when_writing_and_reading(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    with pytest.raises(KeyFileError, match="empty passphrase"):
        write_key_file(path, KeyPair.generate(), passphrase="")
    assert not path.exists()
    write_key_file(path, KeyPair.generate(), passphrase="correct horse")
    with pytest.raises(KeyFileError, match="empty passphrase"):
        read_key_file(path, passphrase="")


@pytest.mark.parametrize(
    "params",
    [{"n": 2**20}, {"r": 32}, {"p": 16}, {"n": 2**17, "r": 16}, {"n": 3}, {"n": 1}, {"r": 0}],
)
def test_scrypt_parameters_from_a_file_are_bounded(tmp_path: Path, params: dict[str, int]) -> None:
    path = tmp_path / "key.json"
    write_key_file(path, KeyPair.generate(), passphrase="correct horse")
    _encrypted_doc(path, **params)
    with pytest.raises(KeyFileError, match="scrypt parameters") as info:
        read_key_file(path, passphrase="correct horse")
    assert "\n" not in str(info.value)


def test_scrypt_parameters_we_write_are_within_the_bounds(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key = KeyPair.generate()
    write_key_file(path, key, passphrase="pw")
    assert read_key_file(path, passphrase="pw") == key


def test_a_client_signing_with_several_keys_may_mix_plaintext_and_encrypted(
    tmp_path: Path,
) -> None:
    plain, sealed = tmp_path / "plain.json", tmp_path / "sealed.json"
    write_key_file(plain, KeyPair.generate())
    write_key_file(sealed, KeyPair.generate(), passphrase="pw")
    with pytest.raises(KeyFileError, match="not encrypted"):
        read_key_file(plain, "pw")
    assert read_key_file(plain, "pw", plaintext_ok=True).public_key == read_public_key(plain)
    assert read_key_file(sealed, "pw", plaintext_ok=True).public_key == read_public_key(sealed)


def test_travel_key_files_round_trip_and_never_pass_for_signing_keys(tmp_path: Path) -> None:
    """An X25519 travel key has a file of the same form (type x25519), plain or encrypted;
    neither kind of file opens as the other."""
    travel = TravelKey.generate()
    plain, sealed, signing = tmp_path / "t.json", tmp_path / "te.json", tmp_path / "k.json"
    write_travel_key_file(plain, travel)
    write_travel_key_file(sealed, travel, "pass phrase")
    write_key_file(signing, KeyPair.generate())
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert json.loads(plain.read_text())["type"] == "x25519"
    assert read_travel_key_file(plain) == travel
    assert read_travel_key_file(sealed, "pass phrase") == travel
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        read_travel_key_file(sealed, "other")
    with pytest.raises(KeyFileError, match="not an x25519 key file"):
        read_travel_key_file(signing)
    with pytest.raises(KeyFileError, match="not an ed25519 key file"):
        read_key_file(plain)
    with pytest.raises(KeyFileError, match="already exists"):
        write_travel_key_file(plain, travel)
    assert "private" not in repr(travel)
    assert travel.private_key.hex() not in repr(travel)

"""Ed25519 keys, key files and sign bytes.

Signatures always cover bytes, never objects: ``sign_bytes(domain, chain_id, payload)``
prefixes the exact payload with a domain tag and the chain id, so a signature made for
one purpose or one chain is useless for any other. Verification uses the payload bytes as
received; nothing is re-serialized.

Key files are JSON, written with mode 0600; an X25519 travel key (`TravelKey`) has a file
of the same form with type "x25519". With a passphrase the 32-byte seed is
encrypted: scrypt derives a key, ChaCha20-Poly1305 seals the seed, and the public key is
the associated data (so a file whose public key was edited fails to open).
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import nacl.bindings
import nacl.exceptions
import nacl.signing
from Crypto.Cipher import ChaCha20_Poly1305
from Crypto.Protocol.KDF import scrypt

from consensus import frame_sign_bytes
from node.errors import KeyFileError

log = logging.getLogger(__name__)

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SEED_SIZE: Final = 32

TX_DOMAIN: Final = b"tenge/tx/v1\x00"
#: What a new validator key signs to prove it is held (RotateValidatorKey.proof).
ROTATE_DOMAIN: Final = b"tenge/rotate-validator/v1\x00"

KEY_FILE_VERSION: Final = 1
SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1

# Bounds on scrypt parameters read from a key file: they admit what we write and refuse
# a file that would make start-up allocate gigabytes (scrypt needs 128 * N * r bytes).
SCRYPT_MAX_N: Final = 2**17
SCRYPT_MAX_R: Final = 16
SCRYPT_MAX_P: Final = 4
SCRYPT_MAX_MEMORY: Final = 128 * 2**20


def sign_bytes(domain: bytes, chain_id: str, payload: bytes) -> bytes:
    """Return the bytes a signature covers: domain tag, length-prefixed chain id, payload.

    The same framing as consensus votes and proposals (``consensus.frame_sign_bytes``).

    Raises:
        ValueError: the chain id is longer than 255 bytes.
    """
    return frame_sign_bytes(domain, chain_id, payload)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature; False for any malformed key or signature, never raises."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An Ed25519 signing key with its public key."""

    seed: bytes
    public_key: bytes

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh key from the operating system's randomness."""
        return cls.from_seed(os.urandom(SEED_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """The key pair for a 32-byte seed (deterministic; tests and simulations use it)."""
        if len(seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is 32 bytes")
        verify_key = nacl.signing.SigningKey(seed).verify_key
        return cls(seed=seed, public_key=bytes(verify_key))

    def sign(self, message: bytes) -> bytes:
        """Sign message, returning the 64-byte detached signature."""
        return _signing_key(self.seed).sign(message).signature

    def __repr__(self) -> str:  # never print the seed
        return f"KeyPair(public_key={self.public_key.hex()})"


_SIGNING_KEYS: dict[bytes, nacl.signing.SigningKey] = {}


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    key = _SIGNING_KEYS.get(seed)
    if key is None:
        key = _SIGNING_KEYS[seed] = nacl.signing.SigningKey(seed)
    return key


def write_key_file(path: Path, key: KeyPair, passphrase: str | None = None) -> None:
    """Write key to a new file with mode 0600; refuses to overwrite an existing file.

    Raises:
        KeyFileError: the file exists or cannot be created, or the passphrase is empty.
    """
    _write_secret(path, "ed25519", key.public_key, key.seed, passphrase)


def _write_secret(
    path: Path, kind: str, public_key: bytes, secret: bytes, passphrase: str | None
) -> None:
    """A key file of kind ("ed25519", "x25519") for a 32-byte secret and its public key."""
    if passphrase == "":
        raise KeyFileError(f"{path}: an empty passphrase is refused")
    doc: dict[str, Any] = {
        "version": KEY_FILE_VERSION,
        "type": kind,
        "public_key": public_key.hex(),
    }
    if passphrase is None:
        doc["private_key"] = secret.hex()
    else:
        salt = os.urandom(16)
        nonce = os.urandom(12)
        cipher = ChaCha20_Poly1305.new(key=_derive(passphrase, salt), nonce=nonce)
        cipher.update(public_key)
        sealed, tag = cipher.encrypt_and_digest(secret)
        doc["encrypted"] = {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": salt.hex(),
            "cipher": "chacha20-poly1305",
            "nonce": nonce.hex(),
            "ciphertext": (sealed + tag).hex(),
        }
    data = (json.dumps(doc, indent=2) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from e
    except OSError as e:
        raise KeyFileError(f"{path}: cannot create: {e.strerror}") from e
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_public_key(path: Path, kind: str = "ed25519") -> bytes:
    """The public key of a key file of kind ("ed25519", or "x25519" for a travel key),
    without needing its passphrase."""
    doc = _load_doc(path, kind)
    return _hex_field(path, doc, "public_key", PUBLIC_KEY_SIZE)


def read_key_file(
    path: Path, passphrase: str | None = None, *, plaintext_ok: bool = False
) -> KeyPair:
    """Load a key file, decrypting it with passphrase when it is encrypted.

    A plaintext file is refused when a passphrase is given (an operator who configured one
    expects the key encrypted), unless plaintext_ok: a client signing with several keys, of
    which only some are encrypted, gives one passphrase for those.

    Raises:
        KeyFileError: missing or malformed file, missing, empty or wrong passphrase, a
            plaintext file while a passphrase is given, scrypt parameters out of bounds,
            or a private key that does not match the public key in the file.
    """
    public_key, seed = _read_secret(path, "ed25519", passphrase, plaintext_ok)
    key = KeyPair.from_seed(seed)
    if key.public_key != public_key:
        raise KeyFileError(f"{path}: the private key does not match 'public_key'")
    return key


def _read_secret(
    path: Path, kind: str, passphrase: str | None, plaintext_ok: bool
) -> tuple[bytes, bytes]:
    """(public key, secret) of a key file of kind, decrypted with passphrase if needed."""
    if passphrase == "":
        raise KeyFileError(f"{path}: an empty passphrase is refused")
    doc = _load_doc(path, kind)
    public_key = _hex_field(path, doc, "public_key", PUBLIC_KEY_SIZE)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file %s is readable by other users (mode %o)", path, mode & 0o777)
    if "private_key" in doc:
        if passphrase is not None and not plaintext_ok:
            raise KeyFileError(
                f"{path}: the key is not encrypted but a passphrase is configured; refusing"
                " a plaintext key"
            )
        secret = _hex_field(path, doc, "private_key", SEED_SIZE)
    elif isinstance(doc.get("encrypted"), dict):
        if passphrase is None:
            raise KeyFileError(f"{path}: the key is encrypted; a passphrase is required")
        secret = _decrypt(path, doc["encrypted"], passphrase, public_key)
    else:
        raise KeyFileError(f"{path}: neither 'private_key' nor 'encrypted' is present")
    return public_key, secret


@dataclass(frozen=True, slots=True)
class TravelKey:
    """An X25519 key pair for travel-rule data (docs/rulebook.md, "Travel-rule data"): the
    account publishes public_key (tx publish-travel-key); private_key opens the copies
    sealed to it. A key of its own, in a file of its own: never an Ed25519 signing key."""

    private_key: bytes
    public_key: bytes

    @classmethod
    def generate(cls) -> TravelKey:
        """A fresh key from the operating system's randomness."""
        return cls.from_private(os.urandom(SEED_SIZE))

    @classmethod
    def from_private(cls, private_key: bytes) -> TravelKey:
        """The key pair of a 32-byte X25519 private key."""
        if len(private_key) != SEED_SIZE:
            raise ValueError("an X25519 private key is 32 bytes")
        return cls(private_key, nacl.bindings.crypto_scalarmult_base(private_key))

    def __repr__(self) -> str:  # never print the private key
        return f"TravelKey(public_key={self.public_key.hex()})"


def write_travel_key_file(path: Path, key: TravelKey, passphrase: str | None = None) -> None:
    """Write an X25519 travel key file (type "x25519", the format of `write_key_file`).

    Raises:
        KeyFileError: the file exists or cannot be created, or the passphrase is empty.
    """
    _write_secret(path, "x25519", key.public_key, key.private_key, passphrase)


def read_travel_key_file(path: Path, passphrase: str | None = None) -> TravelKey:
    """Load an X25519 travel key file, decrypting it with passphrase when it is encrypted.

    Raises:
        KeyFileError: as `read_key_file`; also a file of another type (an Ed25519 key).
    """
    public_key, secret = _read_secret(path, "x25519", passphrase, False)
    key = TravelKey.from_private(secret)
    if key.public_key != public_key:
        raise KeyFileError(f"{path}: the private key does not match 'public_key'")
    return key


def _derive(
    passphrase: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
) -> bytes:
    key = scrypt(passphrase.encode(), salt, 32, N=n, r=r, p=p)
    assert isinstance(key, bytes)
    return key


def _scrypt_params_ok(n: int, r: int, p: int) -> bool:
    return (
        2 <= n <= SCRYPT_MAX_N
        and n & (n - 1) == 0
        and 1 <= r <= SCRYPT_MAX_R
        and 1 <= p <= SCRYPT_MAX_P
        and 128 * n * r <= SCRYPT_MAX_MEMORY
    )


def _decrypt(path: Path, enc: dict[str, Any], passphrase: str, public_key: bytes) -> bytes:
    try:
        if enc.get("kdf") != "scrypt" or enc.get("cipher") != "chacha20-poly1305":
            raise KeyFileError(f"{path}: unsupported kdf or cipher")
        n, r, p = int(enc["n"]), int(enc["r"]), int(enc["p"])
        if not _scrypt_params_ok(n, r, p):
            raise KeyFileError(
                f"{path}: scrypt parameters out of bounds (n={n}, r={r}, p={p}; need n a"
                f" power of 2 <= {SCRYPT_MAX_N}, r <= {SCRYPT_MAX_R}, p <= {SCRYPT_MAX_P},"
                f" 128*n*r <= {SCRYPT_MAX_MEMORY} bytes)"
            )
        salt = bytes.fromhex(enc["salt"])
        nonce = bytes.fromhex(enc["nonce"])
        blob = bytes.fromhex(enc["ciphertext"])
    except (KeyError, ValueError, TypeError) as e:
        raise KeyFileError(f"{path}: malformed 'encrypted' section") from e
    if len(nonce) != 12 or len(blob) != SEED_SIZE + 16:
        raise KeyFileError(f"{path}: malformed 'encrypted' section")
    cipher = ChaCha20_Poly1305.new(key=_derive(passphrase, salt, n, r, p), nonce=nonce)
    cipher.update(public_key)
    try:
        return cipher.decrypt_and_verify(blob[:SEED_SIZE], blob[SEED_SIZE:])
    except ValueError as e:
        raise KeyFileError(f"{path}: wrong passphrase or damaged key file") from e


def _load_doc(path: Path, kind: str) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise KeyFileError(f"{path}: no such key file") from e
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read: {e.strerror}") from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise KeyFileError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from e
    if not isinstance(doc, dict) or doc.get("type") != kind:
        raise KeyFileError(f"{path}: not an {kind} key file")
    return doc


def _hex_field(path: Path, doc: dict[str, Any], name: str, size: int) -> bytes:
    value = doc.get(name)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise KeyFileError(f"{path}: '{name}' must be {size} bytes of hex")
    return raw

"""The validator's signer: where the consensus key lives, behind ``consensus.Signer``.

The engine sees only ``public_key`` and ``sign(message)`` (consensus/_types.py); which
kind of signer stands behind them is the [signer] section of config.toml:

- ``FileSigner``: the key of validator_key.json, in this process's memory (the default).
- ``Pkcs11Signer``: the key stays in a PKCS#11 token (an HSM; SoftHSM2 in the tests) and
  signs there with CKM_EDDSA. The key is found by its label; the user PIN comes from an
  environment variable or a file.
- ``RemoteSigner`` (node/remote_signer.py): a signer process (`tenge-node signer start`,
  node/signer_server.py) holds the key and keeps its own double-sign guard.

Every signer sits behind the same double-sign guard: the engine checks each signature
against the persisted last-signed record and the driver makes it durable before the
signed message leaves (node/signguard.py), whatever kind signed it.

Rules this module keeps:

1. Every failure to open a signer (missing module, no such token, wrong PIN, missing
   key, a key that signs wrongly) is a one-line ``SignerError`` at start, before the node
   opens its store.
2. A signer proves itself at open: it signs a probe and the signature must verify with
   ``node.keys.verify`` against the public key it reports.
3. The PIN is never logged, never printed, and kept only as long as the login needs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from node.config import NodeConfig, SignerSettings
from node.core import KeyRing
from node.errors import ConfigError, NodeError
from node.keys import PUBLIC_KEY_SIZE, KeyPair, read_key_file, verify

if TYPE_CHECKING:
    import pkcs11
    from pkcs11._pkcs11 import lib as Pkcs11Lib

#: The bytes a signer signs at open to prove that its key and public key agree.
PROBE_MESSAGE: Final = b"tenge/signer-probe/v1\x00"
#: The DER object identifier of Ed25519 (RFC 8410), the EC_PARAMS of the keys we make.
ED25519_OID: Final = "1.3.101.112"
#: Longest PIN read from a file (a PIN is a few characters; a large file is a mistake).
MAX_PIN_BYTES: Final = 256


class SignerError(NodeError):
    """The validator's signer cannot be opened or failed to sign; the node must not vote."""


class ValidatorSigner(Protocol):
    """A ``consensus.Signer`` the node can close when it stops."""

    @property
    def kind(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class FileSigner:
    """Signs with the key of validator_key.json, held in memory."""

    key: KeyPair

    @property
    def kind(self) -> str:
        return "file"

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of message."""
        return self.key.sign(message)

    def close(self) -> None:
        """Nothing to release."""


class Pkcs11Signer:
    """Signs inside a PKCS#11 token with CKM_EDDSA; the private key never leaves it."""

    def __init__(
        self,
        settings: SignerSettings,
        lib: Pkcs11Lib,
        session: pkcs11.Session,
        *,
        owns_session: bool = True,
    ) -> None:
        self.settings = settings
        self._lib = lib
        self._session = session
        self._closed = not owns_session  # a second key of a session closes nothing
        self._key, self._public_key = _find_key_pair(settings, session)

    @classmethod
    def open(cls, settings: SignerSettings) -> Pkcs11Signer:
        """Load the module, log in to the token and find the key by its label.

        Raises:
            SignerError: the module, the token or the key is missing, or the PIN is wrong.
            ConfigError: the PIN's environment variable or file is missing or empty.
        """
        pin = read_pin(settings)
        lib, session = open_session(settings, pin, read_write=False)
        try:
            signer = cls(settings, lib, session)
            signer.prove()
        except BaseException:
            _close(lib, session)
            raise
        return signer

    def next_key(self) -> Pkcs11Signer:
        """The signer of settings.next_key_label in this signer's session (a rotation).

        Raises:
            SignerError: the token has no such key pair, or its signature does not verify.
        """
        settings = dataclasses.replace(
            self.settings, key_label=self.settings.next_key_label, next_key_label=""
        )
        following = Pkcs11Signer(settings, self._lib, self._session, owns_session=False)
        following.prove()
        return following

    @property
    def kind(self) -> str:
        return "pkcs11"

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of message, made by the token.

        Raises:
            SignerError: the token refused or failed (removed, logged out, broken).
        """
        import pkcs11

        try:
            signature = bytes(self._key.sign(message, mechanism=pkcs11.Mechanism.EDDSA))
        except pkcs11.PKCS11Error as e:
            raise SignerError(f"{self._where()}: signing failed: {_reason(e)}") from e
        return signature

    def prove(self) -> None:
        """Sign the probe and check it with node.keys.verify.

        Raises:
            SignerError: the signature does not verify under the reported public key.
        """
        if not verify(self._public_key, PROBE_MESSAGE, self.sign(PROBE_MESSAGE)):
            raise SignerError(
                f"{self._where()}: the key's signature does not verify as Ed25519 "
                "under its public key"
            )

    def close(self) -> None:
        """Close the session and finalize the module (idempotent)."""
        if not self._closed:
            self._closed = True
            _close(self._lib, self._session)

    def _where(self) -> str:
        s = self.settings
        return f"signer (pkcs11) token {s.token_label!r} key {s.key_label!r}"


def open_signer(
    config: NodeConfig,
    passphrase: str | None,
    *,
    chain_id: str = "",
    node_key: KeyPair | None = None,
) -> ValidatorSigner | None:
    """The validator signer config.toml's [signer] names; None for an observer (kind
    "file" without validator_key.json). With validator_key.next.json beside it (a key
    rotation, docs/governance.md) a KeyRing of both keys. A remote signer
    (node/remote_signer.py) needs the chain id and the node key it authenticates with, and
    must answer at start.

    Raises:
        SignerError, KeyFileError, ConfigError: one line naming what is wrong.
    """
    settings = config.signer
    if settings.kind == "pkcs11":
        token_signer = Pkcs11Signer.open(settings)
        if not settings.next_key_label:
            return token_signer
        try:  # a rotation in progress: both keys of one session, as for key files
            return KeyRing([token_signer, token_signer.next_key()])
        except BaseException:
            token_signer.close()
            raise
    if settings.kind == "remote":
        from node.remote_signer import RemoteSigner

        if node_key is None or not chain_id:
            raise ConfigError("signer (remote): needs the node key and the chain id")
        remote = RemoteSigner.open(settings, chain_id, node_key)
        if settings.next_address is None:
            return remote
        next_signer = dataclasses.replace(
            settings,
            address=settings.next_address,
            signer_id=settings.next_signer_id,
            next_address=None,
            next_signer_id="",
        )
        try:  # a rotation in progress: the new key's signer beside the old one's
            return KeyRing([remote, RemoteSigner.open(next_signer, chain_id, node_key)])
        except BaseException:
            remote.close()
            raise
    if not config.validator_key_path.exists():
        return None
    current = FileSigner(read_key_file(config.validator_key_path, passphrase))
    if not config.next_validator_key_path.exists():
        return current
    # A rotation in progress: sign each height with the key its validator set holds.
    following = FileSigner(read_key_file(config.next_validator_key_path, passphrase))
    return KeyRing([current, following])


def read_pin(settings: SignerSettings) -> str:
    """The token's user PIN from the environment variable or the file settings name.

    Raises:
        ConfigError: the variable is unset or empty, or the file is missing, too large or empty.
    """
    if settings.pin_env:
        pin = os.environ.get(settings.pin_env)
        if pin is None:
            raise ConfigError(f"signer.pin_env: environment variable {settings.pin_env} is not set")
    else:
        path = settings.pin_file
        assert path is not None
        try:
            with path.open("rb") as file:
                raw = file.read(MAX_PIN_BYTES + 1)
        except OSError as e:
            raise ConfigError(f"signer.pin_file: cannot read {path}: {e.strerror}") from e
        if len(raw) > MAX_PIN_BYTES:
            raise ConfigError(f"signer.pin_file: {path} is longer than {MAX_PIN_BYTES} bytes")
        try:
            pin = raw.decode().strip("\r\n")
        except UnicodeDecodeError:
            raise ConfigError(f"signer.pin_file: {path} is not UTF-8 text") from None
    if not pin:
        source = settings.pin_env or str(settings.pin_file)
        raise ConfigError(f"signer: the PIN from {source} is empty")
    return pin


def open_session(
    settings: SignerSettings, pin: str, *, read_write: bool
) -> tuple[Pkcs11Lib, pkcs11.Session]:
    """Load settings.module, find the token by label and log in with pin.

    Raises:
        SignerError: no such module or token, or the PIN is refused.
    """
    import pkcs11

    where = f"signer (pkcs11) token {settings.token_label!r}"
    try:
        lib = pkcs11.lib(settings.module)
    except pkcs11.PKCS11Error as e:
        raise SignerError(f"signer (pkcs11): cannot load module {settings.module}: {e}") from e
    try:
        token = lib.get_token(token_label=settings.token_label)
    except pkcs11.NoSuchToken:
        lib.finalize()
        raise SignerError(f"{where}: no such token in {settings.module}") from None
    except pkcs11.PKCS11Error as e:
        lib.finalize()
        raise SignerError(f"{where}: {_reason(e)}") from e
    try:
        session = token.open(user_pin=pin, rw=read_write)
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
        lib.finalize()
        raise SignerError(f"{where}: wrong PIN") from None
    except pkcs11.PKCS11Error as e:
        lib.finalize()
        raise SignerError(f"{where}: cannot log in: {_reason(e)}") from e
    return lib, session


def hsm_generate(settings: SignerSettings) -> bytes:
    """Generate an Ed25519 key pair inside the token, labelled settings.key_label; its
    public key. The private key is sensitive and not extractable: it never leaves.

    Raises:
        SignerError: a key with that label exists already, or the token cannot make one.
        ConfigError: the PIN is missing.
    """
    import pkcs11
    from pkcs11.util.ec import encode_named_curve_parameters

    pin = read_pin(settings)
    lib, session = open_session(settings, pin, read_write=True)
    where = f"signer (pkcs11) token {settings.token_label!r} key {settings.key_label!r}"
    try:
        existing = list(
            session.get_objects(
                {pkcs11.Attribute.LABEL: settings.key_label, pkcs11.Attribute.TOKEN: True}
            )
        )
        if existing:
            raise SignerError(f"{where}: already exists; refusing to make a second key")
        try:
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC_EDWARDS,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)},
                local=True,
            )
            params.generate_keypair(
                store=True,
                label=settings.key_label,
                private_template={
                    pkcs11.Attribute.SENSITIVE: True,
                    pkcs11.Attribute.EXTRACTABLE: False,
                },
            )
        except pkcs11.PKCS11Error as e:
            raise SignerError(f"{where}: cannot generate an Ed25519 key: {_reason(e)}") from e
        _, public_key = _find_key_pair(settings, session)
    finally:
        _close(lib, session)
    return public_key


def hsm_public_key(settings: SignerSettings) -> bytes:
    """The public key of the token's key pair labelled settings.key_label.

    Raises:
        SignerError: no such module, token or key, or a wrong PIN.
        ConfigError: the PIN is missing.
    """
    lib, session = open_session(settings, read_pin(settings), read_write=False)
    try:
        _, public_key = _find_key_pair(settings, session)
    finally:
        _close(lib, session)
    return public_key


def _find_key_pair(settings: SignerSettings, session: pkcs11.Session) -> tuple[Any, bytes]:
    """The private key labelled key_label (a signing ``pkcs11`` key object) and the
    32-byte public key of its pair."""
    import pkcs11

    where = f"signer (pkcs11) token {settings.token_label!r} key {settings.key_label!r}"
    try:
        private = session.get_key(
            object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=settings.key_label
        )
        public = session.get_key(
            object_class=pkcs11.ObjectClass.PUBLIC_KEY, label=settings.key_label
        )
        point = bytes(public[pkcs11.Attribute.EC_POINT])
    except pkcs11.NoSuchKey:
        raise SignerError(
            f"{where}: no such key pair (make one with `tenge-node keys hsm-init`)"
        ) from None
    except pkcs11.MultipleObjectsReturned:
        raise SignerError(f"{where}: more than one key pair has this label") from None
    except pkcs11.PKCS11Error as e:
        raise SignerError(f"{where}: {_reason(e)}") from e
    if private.key_type != pkcs11.KeyType.EC_EDWARDS:
        raise SignerError(f"{where}: not an Ed25519 (EC_EDWARDS) key")
    return private, _ec_point_key(point, where)


def _ec_point_key(point: bytes, where: str) -> bytes:
    """The raw public key of a CKA_EC_POINT: a DER OCTET STRING (04 20 + 32 bytes), or
    the 32 bytes themselves, as some tokens give them."""
    if len(point) == PUBLIC_KEY_SIZE + 2 and point[:2] == bytes((0x04, PUBLIC_KEY_SIZE)):
        return point[2:]
    if len(point) == PUBLIC_KEY_SIZE:
        return point
    raise SignerError(f"{where}: the public key is not a 32-byte Ed25519 point")


def _close(lib: Pkcs11Lib, session: pkcs11.Session) -> None:
    """Close the session and finalize the module, ignoring a token already gone."""
    import pkcs11

    with contextlib.suppress(pkcs11.PKCS11Error):
        session.close()
    with contextlib.suppress(pkcs11.PKCS11Error):
        lib.finalize()


def _reason(error: BaseException) -> str:
    """A PKCS#11 error's name and text, on one line."""
    text = str(error).strip().replace("\n", " ")
    return f"{type(error).__name__}{': ' + text if text else ''}"

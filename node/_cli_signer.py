"""`tenge-node signer init | start | prove-rotation`: the remote signer's home and process.

init makes a signer home: signer.toml, the signer's own node key (the channel's
identity, its "signer_id"), and the validator key (validator_key.json; with --module and
the token flags, a key already in a PKCS#11 token, see `keys hsm-init`). start serves it
until SIGINT or SIGTERM. prove-rotation prints the RotateValidatorKey fields that move a
validator from its key today to this home's key, signed here (docs/governance.md).
docs/deployment.md, "Validator keys"; docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
from pathlib import Path

import trio

from node.config import (
    NODE_KEY_FILE,
    SIGNER_CONFIG_FILE,
    VALIDATOR_KEY_FILE,
    SignerHomeConfig,
    SignerSettings,
    load_signer_config,
    parse_host_port,
    render_signer_config,
)
from node.errors import ConfigError
from node.keys import PUBLIC_KEY_SIZE, KeyPair, read_key_file, read_public_key, write_key_file
from node.logs import setup_logging
from node.signer import FileSigner, Pkcs11Signer, ValidatorSigner, hsm_public_key, read_pin

EXIT_OK = 0
DEFAULT_SIGNER_LISTEN = "127.0.0.1:26670"


def add_signer_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `tenge-node signer init | start`."""
    signer = sub.add_parser("signer", help="the remote signer: a validator key behind TCP")
    signer_sub = signer.add_subparsers(dest="signer_command", required=True, metavar="COMMAND")

    p = signer_sub.add_parser("init", help="create a signer home: keys and signer.toml")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--chain-id", required=True)
    p.add_argument("--listen", default=DEFAULT_SIGNER_LISTEN, metavar="HOST:PORT")
    p.add_argument(
        "--allow", action="append", metavar="NODE_ID", help="a node allowed to ask (repeatable)"
    )
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt the validator key")
    p.add_argument(
        "--validator-key",
        type=Path,
        metavar="FILE",
        help="move in this existing validator_key.json instead of making a new key "
        "(it is copied; delete the original)",
    )
    p.add_argument("--module", metavar="PATH", help="use a PKCS#11 token's key instead")
    p.add_argument("--token-label", metavar="LABEL")
    p.add_argument("--key-label", metavar="LABEL")
    pin = p.add_mutually_exclusive_group()
    pin.add_argument("--pin-env", metavar="VAR", help="the token's user PIN is in $VAR")
    pin.add_argument("--pin-file", type=Path, metavar="FILE")
    p.set_defaults(func=cmd_init)

    p = signer_sub.add_parser("start", help="serve signatures until SIGINT or SIGTERM")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--passphrase-env", metavar="VAR", help="decrypt the validator key")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    p.set_defaults(func=cmd_start)

    p = signer_sub.add_parser(
        "prove-rotation", help="the rotation of a validator to this home's key, with its proof"
    )
    p.add_argument("--home", type=Path, required=True, help="the signer home of the new key")
    p.add_argument("--public-key", required=True, metavar="HEX", help="the validator's key today")
    p.add_argument("--passphrase-env", metavar="VAR", help="decrypt the validator key")
    p.set_defaults(func=cmd_prove_rotation)


def cmd_init(args: argparse.Namespace) -> int:
    from node.cli import _fail, _passphrase

    home: Path = args.home
    if (home / SIGNER_CONFIG_FILE).exists() or (home / NODE_KEY_FILE).exists():
        _fail(f"{home} is already initialised; refusing to overwrite its keys")
    if not 1 <= len(args.chain_id.encode()) <= 255:
        raise ConfigError("--chain-id: expected 1 to 255 bytes")
    try:
        parse_host_port(args.listen)
    except ValueError as e:
        raise ConfigError(f"--listen: {e}") from None
    allowed = []
    for text in args.allow or []:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ConfigError(f"--allow: {text[:80]!r} is not a node id (64 hex characters)")
        allowed.append(raw.hex())
    settings = _token_settings(args)
    imported = args.validator_key
    if settings is not None and imported is not None:
        raise ConfigError("--validator-key and a token key (--module ...) exclude each other")
    passphrase = None
    if settings is not None:
        read_pin(settings)
        validator_public_key = hsm_public_key(settings)  # the key must exist in the token
    elif imported is not None:
        validator_public_key = read_public_key(imported)  # a key file, before writing
    else:
        passphrase = _passphrase(args.passphrase_env)
    home.mkdir(parents=True, exist_ok=True)
    node_key = KeyPair.generate()
    write_key_file(home / NODE_KEY_FILE, node_key)
    if imported is not None:
        shutil.copyfile(imported, home / VALIDATOR_KEY_FILE)
        (home / VALIDATOR_KEY_FILE).chmod(0o600)
    elif settings is None:
        validator_key = KeyPair.generate()
        write_key_file(home / VALIDATOR_KEY_FILE, validator_key, passphrase=passphrase)
        validator_public_key = validator_key.public_key
    (home / SIGNER_CONFIG_FILE).write_text(
        render_signer_config(args.chain_id, args.listen, allowed, settings)
    )
    doc = {
        "home": str(home),
        "signer_id": node_key.public_key.hex(),
        "validator_public_key": validator_public_key.hex(),
        "listen": args.listen,
        "allowed": allowed,
    }
    print(json.dumps(doc, indent=2))
    return EXIT_OK


def _token_settings(args: argparse.Namespace) -> SignerSettings | None:
    """The pkcs11 [signer] of the flags, or None for a key file."""
    flags = (args.module, args.token_label, args.key_label)
    if not any(flags) and args.pin_env is None and args.pin_file is None:
        return None
    if not all(flags) or (args.pin_env is None and args.pin_file is None):
        raise ConfigError(
            "a token key needs --module, --token-label, --key-label and --pin-env or --pin-file"
        )
    return SignerSettings(
        kind="pkcs11",
        module=args.module,
        token_label=args.token_label,
        key_label=args.key_label,
        pin_env=args.pin_env or "",
        pin_file=args.pin_file.resolve() if args.pin_file else None,
    )


def open_validator_signer(config: SignerHomeConfig, passphrase: str | None) -> ValidatorSigner:
    """The signer home's validator key: its key file or its PKCS#11 token.

    Raises:
        SignerError, KeyFileError, ConfigError: one line naming what is wrong.
    """
    if config.signer.kind == "pkcs11":
        return Pkcs11Signer.open(config.signer)
    return FileSigner(read_key_file(config.validator_key_path, passphrase))


def cmd_prove_rotation(args: argparse.Namespace) -> int:
    from node.cli import _fail, _passphrase
    from node.ledger._rules import rotation_sign_bytes

    config = load_signer_config(args.home)
    try:
        old = bytes.fromhex(args.public_key)
    except ValueError:
        old = b""
    if len(old) != PUBLIC_KEY_SIZE:
        _fail(f"--public-key: {args.public_key[:80]!r} is not a public key (64 hex)", 2)
    signer = open_validator_signer(config, _passphrase(args.passphrase_env))
    try:
        new = signer.public_key
        if new == old:
            _fail("this signer home already holds that key")
        proof = signer.sign(rotation_sign_bytes(config.chain_id, old, new))
    finally:
        signer.close()
    doc = {
        "chain_id": config.chain_id,
        "public_key": old.hex(),
        "new_public_key": new.hex(),
        "proof": proof.hex(),
        "next_signer": str(config.listen),
        "next_signer_id": read_public_key(config.node_key_path).hex(),
    }
    print(json.dumps(doc, indent=2))
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    from node.cli import _fail, _first_leaf, _passphrase
    from node.signer_server import SignerService

    setup_logging(args.log_level, args.log_format)
    config = load_signer_config(args.home)
    node_key = read_key_file(config.node_key_path)
    signer = open_validator_signer(config, _passphrase(args.passphrase_env))
    try:
        service = SignerService(config, node_key, signer)
        trio.run(_run_until_signal, service)
    except* OSError as group:
        error = _first_leaf(group)
        _fail(f"cannot listen on {config.listen}: {getattr(error, 'strerror', None) or error}")
    finally:
        signer.close()
    return EXIT_OK


async def _run_until_signal(service: object) -> None:
    from node.signer_server import SignerService

    assert isinstance(service, SignerService)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break

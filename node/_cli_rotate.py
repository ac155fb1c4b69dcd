"""`tenge-node keys rotate-init | rotate-finish`: a validator's move to a new key.

rotate-init makes the next key beside the current one and prints the RotateValidatorKey
fields with the new key's proof, for the central bank to propose (docs/governance.md,
"Rotating a validator's key"). With a key file the next key is ``validator_key.next.json``
(encrypted like the current one); with a PKCS#11 token (``[signer] kind = "pkcs11"``) it
is a new key pair in the same token, labelled ``--next-key-label``, and rotate-init sets
``next_key_label`` in config.toml's [signer]. A node started with both keys signs each
height with the one its validator set holds, so it signs through the switch without a
gap. rotate-finish, once the new key is in the set, makes it the only key: the old file
is kept as ``validator_key.retired-<key>.json``; in a token, ``key_label`` becomes the
new label and the old pair stays in the token until the HSM team removes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from node.config import NEXT_VALIDATOR_KEY_FILE, VALIDATOR_KEY_FILE, SignerSettings, load_config
from node.errors import ConfigError, KeyFileError
from node.genesis import load_genesis
from node.keys import KeyPair, read_key_file, read_public_key, write_key_file
from node.ledger._rules import rotation_sign_bytes
from node.ledger.txbuild import rotate_validator_key
from node.signer import Pkcs11Signer, hsm_generate, hsm_public_key
from proto import ledger_pb2 as pb

EXIT_OK = 0


def add_rotate_parsers(keys_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``rotate-init`` and ``rotate-finish`` under `tenge-node keys`."""
    p = keys_sub.add_parser(
        "rotate-init", help="write the validator's next key and print the rotation to propose"
    )
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--passphrase-env", metavar="VAR", help="the validator key's passphrase")
    p.add_argument(
        "--next-key-label", metavar="LABEL", help='kind "pkcs11": the new key pair\'s label'
    )
    p.add_argument(
        "--next-signer", metavar="HOST:PORT", help='kind "remote": the new key\'s signer'
    )
    p.add_argument("--next-signer-id", metavar="ID", help="with --next-signer: its signer id")
    p.set_defaults(func=cmd_rotate_init)
    p = keys_sub.add_parser(
        "rotate-finish", help="after the rotation took effect: keep only the new key"
    )
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(func=cmd_rotate_finish)


def _print_rotation(chain_id: str, change: pb.RotateValidatorKey, where: str) -> None:
    doc = {
        "chain_id": chain_id,
        "public_key": change.public_key.hex(),
        "new_public_key": change.new_public_key.hex(),
        "proof": change.proof.hex(),
        "next_key": where,
    }
    print(json.dumps(doc, indent=2))


def _edit_signer_section(path: Path, edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite config.toml's [signer] lines with edit, keeping every other line; the
    result must load (else the file is left as it was)."""
    original = path.read_text()
    lines = original.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "[signer]"), None)
    if start is None:
        raise ConfigError(f"{path}: no [signer] section")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    path.write_text("".join(lines[: start + 1] + edit(lines[start + 1 : end]) + lines[end:]))
    try:
        load_config(path.parent)
    except ConfigError:
        path.write_text(original)
        raise


def _rotate_init_token(args: argparse.Namespace, settings: SignerSettings) -> int:
    label = args.next_key_label
    if not label:
        raise ConfigError('signer.kind is "pkcs11": give --next-key-label for the new key pair')
    if settings.next_key_label:
        raise ConfigError(
            f"config.toml: signer.next_key_label is {settings.next_key_label!r}: a rotation "
            "is already prepared (rotate-finish once it took effect)"
        )
    if label == settings.key_label:
        raise ConfigError("--next-key-label must differ from signer.key_label")
    chain_id = load_genesis(args.home / "genesis.json").chain_id
    current = hsm_public_key(settings)
    following = dataclasses.replace(settings, key_label=label)
    new_public_key = hsm_generate(following)
    signer = Pkcs11Signer.open(following)
    try:
        message = rotation_sign_bytes(chain_id, current, new_public_key)
        change = pb.RotateValidatorKey(
            public_key=current, new_public_key=new_public_key, proof=signer.sign(message)
        )
    finally:
        signer.close()

    def add_next(section: list[str]) -> list[str]:
        at = next(i for i, line in enumerate(section) if line.lstrip().startswith("key_label"))
        return [*section[: at + 1], f"next_key_label = {json.dumps(label)}\n", *section[at + 1 :]]

    _edit_signer_section(args.home / "config.toml", add_next)
    _print_rotation(chain_id, change, f"token {settings.token_label!r} key {label!r}")
    return EXIT_OK


def _rotate_init_remote(args: argparse.Namespace, settings: SignerSettings) -> int:
    if not args.next_signer or not args.next_signer_id:
        raise ConfigError(
            'signer.kind is "remote": give --next-signer HOST:PORT and --next-signer-id ID of '
            "the new key's signer (`tenge-node signer prove-rotation` on its host prints "
            "both, with the proof to propose)"
        )
    if settings.next_address is not None:
        raise ConfigError(
            f"config.toml: signer.next_address is {settings.next_address}: a rotation is "
            "already prepared (rotate-finish once it took effect)"
        )

    def add_next(section: list[str]) -> list[str]:
        return [
            *section,
            f"next_address = {json.dumps(args.next_signer)}\n",
            f"next_signer_id = {json.dumps(args.next_signer_id)}\n",
        ]

    _edit_signer_section(args.home / "config.toml", add_next)
    print(json.dumps({"next_signer": args.next_signer, "next_signer_id": args.next_signer_id}))
    return EXIT_OK


def _rotate_finish_remote(home: Path, settings: SignerSettings) -> int:
    if settings.next_address is None:
        raise ConfigError("config.toml: signer.next_address is not set: no rotation in progress")
    replaced = {
        "address": f"address = {json.dumps(str(settings.next_address))}\n",
        "signer_id": f"signer_id = {json.dumps(settings.next_signer_id)}\n",
    }

    def promote(section: list[str]) -> list[str]:
        out = []
        for line in section:
            name = line.split("=", 1)[0].strip()
            if name in ("next_address", "next_signer_id"):
                continue
            out.append(replaced.get(name, line))
        return out

    _edit_signer_section(home / "config.toml", promote)
    retired = {"address": str(settings.address), "signer_id": settings.signer_id}
    print(json.dumps({"signer": str(settings.next_address), "retired_signer": retired}))
    return EXIT_OK


def _rotate_finish_token(home: Path, settings: SignerSettings) -> int:
    if not settings.next_key_label:
        raise ConfigError("config.toml: signer.next_key_label is not set: no rotation in progress")

    def promote(section: list[str]) -> list[str]:
        kept = [line for line in section if not line.lstrip().startswith("next_key_label")]
        return [
            f"key_label = {json.dumps(settings.next_key_label)}\n"
            if line.lstrip().startswith("key_label")
            else line
            for line in kept
        ]

    _edit_signer_section(home / "config.toml", promote)
    print(
        json.dumps({"key_label": settings.next_key_label, "retired_key_label": settings.key_label})
    )
    return EXIT_OK


def cmd_rotate_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    settings = load_config(home).signer
    if settings.kind == "pkcs11":
        return _rotate_init_token(args, settings)
    if settings.kind == "remote":
        return _rotate_init_remote(args, settings)
    current_path, next_path = home / VALIDATOR_KEY_FILE, home / NEXT_VALIDATOR_KEY_FILE
    if not current_path.exists():
        raise KeyFileError(f"{current_path}: no validator key file to rotate from")
    if next_path.exists():
        raise KeyFileError(
            f"{next_path} exists: a rotation is already prepared (rotate-finish once it took "
            "effect, or remove the file if it was never proposed)"
        )
    from node.cli import _passphrase  # node.cli imports this module's parsers

    passphrase = _passphrase(args.passphrase_env)
    current = read_key_file(current_path, passphrase)
    chain_id = load_genesis(home / "genesis.json").chain_id
    new_key = KeyPair.generate()
    write_key_file(next_path, new_key, passphrase=passphrase)
    change = rotate_validator_key(chain_id, current.public_key, new_key)
    _print_rotation(chain_id, change, str(next_path))
    return EXIT_OK


def cmd_rotate_finish(args: argparse.Namespace) -> int:
    home: Path = args.home
    settings = load_config(home).signer
    if settings.kind == "pkcs11":
        return _rotate_finish_token(home, settings)
    if settings.kind == "remote":
        return _rotate_finish_remote(home, settings)
    current_path, next_path = home / VALIDATOR_KEY_FILE, home / NEXT_VALIDATOR_KEY_FILE
    if not next_path.exists():
        raise KeyFileError(f"{next_path}: no rotation in progress")
    old = read_public_key(current_path)
    retired = home / f"validator_key.retired-{old.hex()[:16]}.json"
    current_path.rename(retired)
    next_path.rename(current_path)
    print(json.dumps({"retired_key_file": str(retired), "validator_key_file": str(current_path)}))
    return EXIT_OK

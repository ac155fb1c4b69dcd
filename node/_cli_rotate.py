"""`tenge-node keys rotate-init | rotate-finish`: a validator's move to a new key file.

rotate-init writes the next key beside the current one (``validator_key.next.json``,
encrypted like it) and prints the RotateValidatorKey fields with the new key's proof, for
the central bank to propose (docs/governance.md, "Rotating a validator's key"). A node
started with both keys signs each height with the one its validator set holds, so it
signs through the switch without a gap. rotate-finish, once the new key is in the set,
makes it the only key: the old file is kept as ``validator_key.retired-<key>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from node.config import NEXT_VALIDATOR_KEY_FILE, VALIDATOR_KEY_FILE
from node.errors import ConfigError, KeyFileError
from node.genesis import load_genesis
from node.keys import KeyPair, read_key_file, read_public_key, write_key_file
from node.ledger.txbuild import rotate_validator_key

EXIT_OK = 0


def add_rotate_parsers(keys_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``rotate-init`` and ``rotate-finish`` under `tenge-node keys`."""
    p = keys_sub.add_parser(
        "rotate-init", help="write the validator's next key and print the rotation to propose"
    )
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--passphrase-env", metavar="VAR", help="the validator key's passphrase")
    p.set_defaults(func=cmd_rotate_init)
    p = keys_sub.add_parser(
        "rotate-finish", help="after the rotation took effect: keep only the new key"
    )
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(func=cmd_rotate_finish)


def _passphrase(env_var: str | None) -> str | None:
    if env_var is None:
        return None
    value = os.environ.get(env_var)
    if not value:
        raise ConfigError(f"environment variable {env_var} (the key passphrase) is not set")
    return value


def cmd_rotate_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    current_path, next_path = home / VALIDATOR_KEY_FILE, home / NEXT_VALIDATOR_KEY_FILE
    if not current_path.exists():
        raise KeyFileError(f"{current_path}: no validator key file to rotate from")
    if next_path.exists():
        raise KeyFileError(
            f"{next_path} exists: a rotation is already prepared (rotate-finish once it took "
            "effect, or remove the file if it was never proposed)"
        )
    passphrase = _passphrase(args.passphrase_env)
    current = read_key_file(current_path, passphrase)
    chain_id = load_genesis(home / "genesis.json").chain_id
    new_key = KeyPair.generate()
    write_key_file(next_path, new_key, passphrase=passphrase)
    change = rotate_validator_key(chain_id, current.public_key, new_key)
    doc = {
        "chain_id": chain_id,
        "public_key": change.public_key.hex(),
        "new_public_key": change.new_public_key.hex(),
        "proof": change.proof.hex(),
        "next_key_file": str(next_path),
    }
    print(json.dumps(doc, indent=2))
    return EXIT_OK


def cmd_rotate_finish(args: argparse.Namespace) -> int:
    home: Path = args.home
    current_path, next_path = home / VALIDATOR_KEY_FILE, home / NEXT_VALIDATOR_KEY_FILE
    if not next_path.exists():
        raise KeyFileError(f"{next_path}: no rotation in progress")
    old = read_public_key(current_path)
    retired = home / f"validator_key.retired-{old.hex()[:16]}.json"
    current_path.rename(retired)
    next_path.rename(current_path)
    print(json.dumps({"retired_key_file": str(retired), "validator_key_file": str(current_path)}))
    return EXIT_OK

"""`tenge-node keys hsm-init | hsm-show`: the validator key in a PKCS#11 token (an HSM).

The token is named by the home's [signer] section (``--home``) or by flags, and a flag
overrides the section. hsm-init generates the Ed25519 key pair inside the token, so the
private key never exists outside it; both print the label and the public key, which is
the validator's identity on the chain (genesis ``validators``, ``GET /v1/validators``).
Failures (missing module, token or key, wrong PIN) are one line, exit code 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from node.config import SignerSettings, load_config
from node.errors import ConfigError
from node.signer import hsm_generate, hsm_public_key

EXIT_OK = 0


def add_hsm_parsers(keys_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hsm-init`` and ``hsm-show`` under `tenge-node keys`."""
    for name, what, func in (
        ("hsm-init", "generate the validator's Ed25519 key pair inside a PKCS#11 token", cmd_init),
        ("hsm-show", "print the label and public key of the validator key in a token", cmd_show),
    ):
        p = keys_sub.add_parser(name, help=what)
        p.add_argument("--home", type=Path, help="take the token from this home's [signer]")
        p.add_argument("--module", metavar="PATH", help="the PKCS#11 shared library")
        p.add_argument("--token-label", metavar="LABEL")
        p.add_argument("--key-label", metavar="LABEL")
        pin = p.add_mutually_exclusive_group()
        pin.add_argument("--pin-env", metavar="VAR", help="the user PIN is in $VAR")
        pin.add_argument("--pin-file", type=Path, metavar="FILE", help="the user PIN is in FILE")
        p.set_defaults(func=func)


def token_settings(args: argparse.Namespace) -> SignerSettings:
    """The pkcs11 signer settings of the home's [signer] section with the flags applied.

    Raises:
        ConfigError: a setting is missing, or the home's signer is not kind "pkcs11".
    """
    settings = SignerSettings(kind="pkcs11")
    if args.home is not None:
        settings = load_config(args.home).signer
        if settings.kind != "pkcs11":
            raise ConfigError(f'{args.home}: config.toml: signer.kind is "{settings.kind}"')
    changes: dict[str, object] = {}
    for field in ("module", "token_label", "key_label", "pin_env", "pin_file"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = value
    if "pin_env" in changes:
        changes["pin_file"] = None
    if "pin_file" in changes and "pin_env" not in changes:
        changes["pin_env"] = ""
    settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
    for field in ("module", "token_label", "key_label"):
        if not getattr(settings, field):
            flag = "--" + field.replace("_", "-")
            raise ConfigError(f"{flag} is required (or --home with a pkcs11 [signer])")
    if not settings.pin_env and settings.pin_file is None:
        raise ConfigError("--pin-env or --pin-file is required (or --home with a pkcs11 [signer])")
    return settings


def cmd_init(args: argparse.Namespace) -> int:
    settings = token_settings(args)
    _print(settings, hsm_generate(settings))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    settings = token_settings(args)
    _print(settings, hsm_public_key(settings))
    return EXIT_OK


def _print(settings: SignerSettings, public_key: bytes) -> None:
    doc = {
        "token_label": settings.token_label,
        "key_label": settings.key_label,
        "validator_public_key": public_key.hex(),
    }
    print(json.dumps(doc, indent=2))

"""Travel-rule commands of `tenge-node` (docs/cli.md, "Travel-rule data"): ``keys
travel-init``, the travel data of ``tx transfer --travel-file`` and ``travel open``.

The node never sees a private travel key nor the data in clear: ``tx transfer`` seals the
file's data on this machine to the keys the node lists for the leg, and ``travel open``
fetches the sealed copies and opens them here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from node.cli_ops import (
    EXIT_OK,
    EXIT_REFUSED,
    CommandFailed,
    _api_failure,
    _check_common,
    _passphrase,
    _print_json,
    _usage,
    _with_api,
)
from node.client import ApiError, TengeClient
from node.errors import KeyFileError
from node.keys import TravelKey, read_public_key, read_travel_key_file, write_travel_key_file
from node.ledger.txbuild import (
    TRAVEL_TEXT_LIMITS,
    TravelDataError,
    open_travel_copy,
    travel_data_error,
)
from proto import ledger_pb2 as pb

#: The most a --travel-file may hold: five bounded strings.
MAX_TRAVEL_FILE_BYTES: Final = 8192


def cmd_keys_travel_init(args: argparse.Namespace) -> int:
    """Write a new X25519 travel key file and print its public key."""
    key = TravelKey.generate()
    try:
        write_travel_key_file(args.out, key, passphrase=_passphrase(args.passphrase_env))
    except KeyFileError as e:
        raise _usage(str(e)) from None
    _print_json({"public_key": key.public_key.hex()})
    return EXIT_OK


def travel_public_key(path: Path) -> bytes:
    """The public key of a travel key file (tx publish-travel-key); no passphrase needed."""
    try:
        return read_public_key(path, "x25519")
    except KeyFileError as e:
        raise _usage(f"--travel-key: {e}") from None


def load_travel_file(path: Path) -> pb.TravelRuleData:
    """The originator and beneficiary of a --travel-file: a JSON object of the five
    `TravelRuleData` fields (strings), nothing else."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TRAVEL_FILE_BYTES + 1)
    except OSError as e:
        raise _usage(f"--travel-file: cannot read {path}: {e.strerror}") from None
    if len(raw) > MAX_TRAVEL_FILE_BYTES:
        raise _usage(f"--travel-file: more than {MAX_TRAVEL_FILE_BYTES} bytes")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _usage(f"--travel-file: {path} is not JSON") from None
    fields = set(TRAVEL_TEXT_LIMITS)
    if not isinstance(doc, dict) or set(doc) != fields:
        raise _usage(f"--travel-file: a JSON object with exactly {', '.join(sorted(fields))}")
    if not all(isinstance(v, str) for v in doc.values()):
        raise _usage("--travel-file: every field is a string")
    data = pb.TravelRuleData(**doc)
    bad = travel_data_error(data)
    if bad is not None:
        raise _usage(f"--travel-file: {bad}")
    return data


async def seal_for_leg(api: TengeClient, payer: str, payee: str, path: Path) -> list[pb.TravelCopy]:
    """The --travel-file's data sealed to every recipient the node lists for the leg."""
    data = load_travel_file(path)
    try:
        return await api.seal_travel(payer, payee, data)
    except TravelDataError as e:
        raise CommandFailed(f"--travel-file: {e}", EXIT_REFUSED) from None
    except ApiError as e:
        raise _api_failure(e, "reading the leg's travel-rule recipients") from None


def cmd_travel_open(args: argparse.Namespace) -> int:
    """Print the travel-rule data of a committed transfer's leg that this key opens."""
    url = _check_common(args)
    tx_id = args.tx_id.lower()
    if len(tx_id) != 64 or any(c not in "0123456789abcdef" for c in tx_id):
        raise _usage(f"TX_ID: {args.tx_id[:80]!r} is not a tx id (64 hex)")
    try:
        key = read_travel_key_file(args.key, _passphrase(args.passphrase_env))
    except KeyFileError as e:
        raise _usage(f"--key: {e}") from None

    async def work(api: TengeClient) -> int:
        try:
            legs = await api.travel_copies(tx_id)
        except ApiError as e:
            raise _api_failure(e, f"travel open {tx_id}") from None
        if not 0 <= args.leg < len(legs):
            raise CommandFailed(
                f"--leg {args.leg}: the transaction has {len(legs)} transfer leg(s)", EXIT_REFUSED
            )
        for copy in legs[args.leg]:
            try:
                data = open_travel_copy(copy, key.private_key)
            except TravelDataError:
                continue
            _print_json({"tx_id": tx_id, "leg": args.leg, "recipient": copy.recipient} | _doc(data))
            return EXIT_OK
        raise CommandFailed(
            f"no travel copy of leg {args.leg} ({len(legs[args.leg])} copies) opens with this "
            "key: it is not one of the leg's recipients' keys",
            EXIT_REFUSED,
        )

    return _with_api(args, url, work)


def _doc(data: pb.TravelRuleData) -> dict[str, Any]:
    return {"data": {name: getattr(data, name) for name in TRAVEL_TEXT_LIMITS}}

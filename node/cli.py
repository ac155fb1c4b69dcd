"""The `tenge-node` command.

Exit codes: 0 success; 1 refused (a ledger refusal, or the node could not start: the
message says why); 2 usage error; 3 node unreachable or timed out.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Final, NoReturn

import trio

from node.config import (
    CONFIG_FILE,
    DATA_DIR,
    DEFAULT_API_PORT,
    DEFAULT_METRICS_PORT,
    DEFAULT_P2P_PORT,
    GENESIS_FILE,
    NODE_KEY_FILE,
    VALIDATOR_KEY_FILE,
    load_config,
    render_config,
)
from node.errors import NodeError
from node.keys import KeyPair, read_public_key, write_key_file
from node.logs import setup_logging

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3

log = logging.getLogger("tenge.cli")


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=2))


def _fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    print(f"tenge-node: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _passphrase(env_var: str | None) -> str | None:
    if env_var is None:
        return None
    value = os.environ.get(env_var)
    if value is None:
        _fail(f"environment variable {env_var} (the key passphrase) is not set", EXIT_USAGE)
    if value == "":
        _fail(f"environment variable {env_var} (the key passphrase) is empty", EXIT_USAGE)
    return value


# ---- init / show-node-id / start ----


def cmd_init(args: argparse.Namespace) -> int:
    home: Path = args.home
    if (home / CONFIG_FILE).exists() or (home / NODE_KEY_FILE).exists():
        _fail(f"{home} is already initialised; refusing to overwrite its keys")
    passphrase = None if args.observer else _passphrase(args.passphrase_env)  # before writing
    genesis_text = None
    accounts_file = None
    if args.genesis is not None:
        from node.genesis import accounts_file_path, load_genesis, read_accounts_file

        genesis = load_genesis(args.genesis)  # validate before writing anything
        genesis_text = args.genesis.read_text()
        accounts_file = accounts_file_path(genesis, args.genesis.parent)
        for _ in read_accounts_file(genesis, args.genesis.parent):
            pass  # every line, its count and its digest
    home.mkdir(parents=True, exist_ok=True)
    (home / DATA_DIR).mkdir(mode=0o700, exist_ok=True)
    node_key = KeyPair.generate()
    write_key_file(home / NODE_KEY_FILE, node_key)
    validator_public_key = None
    if not args.observer:
        validator_key = KeyPair.generate()
        write_key_file(home / VALIDATOR_KEY_FILE, validator_key, passphrase=passphrase)
        validator_public_key = validator_key.public_key.hex()
    (home / CONFIG_FILE).write_text(
        render_config(
            moniker=args.moniker,
            p2p_listen=args.p2p_listen,
            api_listen=args.api_listen,
            metrics_listen=args.metrics_listen,
            peers=args.peer or [],
        )
    )
    if genesis_text is not None:
        (home / GENESIS_FILE).write_text(genesis_text)
    if accounts_file is not None:
        shutil.copyfile(accounts_file, home / accounts_file.name)
    _print_json(
        {
            "home": str(home),
            "moniker": args.moniker,
            "node_id": node_key.public_key.hex(),
            "validator_public_key": validator_public_key,
            "genesis": str(home / GENESIS_FILE) if genesis_text is not None else None,
        }
    )
    return EXIT_OK


def cmd_show_node_id(args: argparse.Namespace) -> int:
    print(read_public_key(args.home / NODE_KEY_FILE).hex())
    return EXIT_OK


def _tune_gc() -> None:
    """Fewer cyclic collections in a node that makes and drops many small objects per tx.

    What start-up built (genesis, indexes, modules) is moved out of the collector's view
    (``gc.freeze``), and the youngest generation is collected after 50,000 allocations
    instead of 700: per-transaction objects are acyclic and freed by reference counting,
    so frequent collections only walk live ones again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def cmd_start(args: argparse.Namespace) -> int:
    config = load_config(args.home)
    setup_logging(args.log_level or config.log_level, args.log_format or config.log_format)
    from node.service import Node

    node = Node.open(config, passphrase=_passphrase(args.passphrase_env))
    _tune_gc()
    try:
        trio.run(_run_until_signal, node)
    except* NodeError as group:
        _fail(str(_first_leaf(group)))
    except* OSError as group:
        # Binding a listener failed (port in use, address not available).
        error = _first_leaf(group)
        _fail(f"cannot listen: {getattr(error, 'strerror', None) or error}")
    return EXIT_OK


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception of a (nested) exception group: the one to report."""
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _run_until_signal(node: object) -> None:
    from node.service import Node

    assert isinstance(node, Node)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)

            async def stop_on_signal() -> None:
                async for signum in signals:
                    if signum == signal.SIGHUP:  # reload the API tokens, keep running
                        log.info("received SIGHUP; reloading the API tokens")
                        node.reload_api_tokens()
                        continue
                    log.info("received %s; stopping", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(stop_on_signal)
    log.info("stopped cleanly at height %d", node.store.height)


# ---- parser ----


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenge-node", description="Validator node of the digital-tenge settlement network."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create a node home: keys, config.toml (and genesis.json)")
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--moniker", required=True)
    p.add_argument(
        "--genesis", type=Path, help="copy this genesis.json (and its accounts file) into the home"
    )
    p.add_argument("--observer", action="store_true", help="no validator key: follow only")
    p.add_argument("--p2p-listen", default=f"0.0.0.0:{DEFAULT_P2P_PORT}")
    p.add_argument("--api-listen", default=f"127.0.0.1:{DEFAULT_API_PORT}")
    p.add_argument("--metrics-listen", default=f"127.0.0.1:{DEFAULT_METRICS_PORT}")
    p.add_argument("--peer", action="append", metavar="NODE_ID@HOST:PORT")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt the validator key")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "start", help="run the node until SIGINT or SIGTERM (SIGHUP: reload the API tokens)"
    )
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--log-format", choices=("text", "json"))
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.add_argument("--passphrase-env", metavar="VAR", help="decrypt the validator key")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("show-node-id", help="print this node's id (for peers' config)")
    p.add_argument("--home", type=Path, required=True)
    p.set_defaults(func=cmd_show_node_id)

    from node._cli_iso import add_iso_commands
    from node._cli_signer import add_signer_parsers
    from node._cli_tokens import add_token_commands
    from node.cli_ops import add_operator_commands  # imports node.cli's neighbours only

    add_token_commands(sub)
    add_signer_parsers(sub)
    add_operator_commands(sub)
    add_iso_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tenge-node` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except NodeError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

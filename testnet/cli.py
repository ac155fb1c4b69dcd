"""The `tenge-testnet` command: a local network driven only through the node's CLI,
files, HTTP API and signals, exactly as an operator would."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx
import trio

from node.client import ClientError
from testnet._bench import median_report, run_bench
from testnet._demo import run_demo
from testnet._init import DEFAULT_BASE_PORT, MANIFEST, init_testnet, load_manifest
from testnet._load import Load
from testnet._netns import (
    NetnsError,
    NetnsPlan,
    destroy_network,
    ensure_network,
    heal,
    parse_group,
    partition,
    partition_state,
    plan_network,
    plan_of,
    record_plan,
    require_netns,
)
from testnet._procs import (
    RELAY_LOG_FILE,
    is_running,
    kill_node,
    kill_signer,
    read_pid,
    relay_pid,
    signer_running,
    start_node,
    start_relay,
    start_signer,
    stop_node,
    stop_relay,
    stop_signer,
)
from testnet._relay import MAX_RTT_MS
from testnet._relay import main as relay_main
from testnet._status import node_metrics, node_status, relay_listening, wait_all_height

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
UP_TIMEOUT_S: Final = 60.0
MAX_BENCH_ACCOUNTS: Final = 1_000_000
MAX_BENCH_RUNS: Final = 10
RELAY_UP_TIMEOUT_S: Final = 10.0
RTT_HELP: Final = "round-trip ms added between validators by a relay (default 0: none)"


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"tenge-testnet: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        return load_manifest(directory)
    except FileNotFoundError:
        _fail(f"no testnet in {directory} (no {MANIFEST}); run `tenge-testnet init` first")
    except json.JSONDecodeError as e:
        _fail(f"{directory / MANIFEST}: not valid JSON: {e}")


def _node(manifest: dict[str, Any], index: int) -> dict[str, Any]:
    nodes = manifest["nodes"]
    if not 0 <= index < len(nodes):
        _fail(f"no node {index}: this testnet has nodes 0 to {len(nodes) - 1}", EXIT_USAGE)
    node: dict[str, Any] = nodes[index]
    return node


def _netns_failed(e: NetnsError) -> NoReturn:
    _fail(f"network namespaces unavailable: {e}")


def _plan(manifest: dict[str, Any], *, required: bool = False) -> NetnsPlan | None:
    """The testnet's netns plan (None in 127.0.0.1 mode, an error when required)."""
    try:
        plan = plan_of(manifest)
    except NetnsError as e:
        _fail(str(e))
    if plan is None and required:
        _fail("this testnet was not initialised with --netns", EXIT_USAGE)
    return plan


def _start(manifest: dict[str, Any], node: dict[str, Any], *, detach: bool) -> int:
    """Start node, inside its namespace in netns mode (building the network if missing)."""
    plan = _plan(manifest)
    if plan is not None:
        try:
            ensure_network(plan)
        except NetnsError as e:
            _netns_failed(e)
    return start_node(node, detach=detach, netns=node.get("netns"))


def _check_rtt(rtt_ms: int) -> None:
    if not 0 <= rtt_ms <= MAX_RTT_MS:
        _fail(f"--rtt-ms must be 0 to {MAX_RTT_MS}", EXIT_USAGE)


def cmd_init(args: argparse.Namespace) -> int:
    _check_rtt(args.rtt_ms)
    if args.remote_signer and args.netns:
        _fail("--remote-signer cannot be combined with --netns", EXIT_USAGE)
    if args.rtt_ms and args.netns:
        _fail(
            "--rtt-ms cannot be combined with --netns: the relay would run in the root "
            "namespace and carry traffic around a partition's routes",
            EXIT_USAGE,
        )
    plan = None
    try:
        if args.netns:
            require_netns()
            plan = plan_network(args.validators)
        hosts = [n.address for n in plan.nodes] if plan else None
        manifest = init_testnet(
            args.dir,
            validators=args.validators,
            base_port=args.base_port,
            hosts=hosts,
            rtt_ms=args.rtt_ms,
            rulebook={"travel_rule_enforced": True} if args.travel_rule else None,
            remote_signers=args.remote_signer or (),
        )
        if plan is not None:
            manifest = record_plan(args.dir / MANIFEST, plan)
            try:
                ensure_network(plan)
            except NetnsError:
                with contextlib.suppress(NetnsError):
                    destroy_network(plan)  # leave no half-built network behind
                raise
    except NetnsError as e:
        _netns_failed(e)
    except ValueError as e:
        _fail(str(e), EXIT_USAGE)
    print(
        json.dumps(
            {
                "dir": str(args.dir),
                "chain_id": manifest["chain_id"],
                "nodes": len(manifest["nodes"]),
                "netns": manifest.get("netns"),
                "rtt_ms": manifest["rtt_ms"],
            }
        )
    )
    return EXIT_OK


def _start_relay(directory: Path, manifest: dict[str, Any], *, detach: bool) -> None:
    """With an rtt, start the relay (unless it runs) and wait until it listens."""
    if not manifest.get("rtt_ms") or relay_pid(directory) is not None:
        return
    pid = start_relay(directory, detach=detach)
    if not relay_listening(manifest, pid, RELAY_UP_TIMEOUT_S):
        stop_relay(directory)
        _fail(f"the relay did not start listening; see {directory / RELAY_LOG_FILE}")


def cmd_up(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    _plan(manifest, required=args.netns)  # netns mode comes from init; --netns insists on it
    _start_relay(args.dir, manifest, detach=args.detach)
    for node in manifest["nodes"]:
        start_signer(node, detach=args.detach)  # first: a node waits for its signer at start
    for node in manifest["nodes"]:
        pid = read_pid(Path(node["home"]))
        if pid is not None and is_running(pid):
            continue
        _start(manifest, node, detach=args.detach)
    if not wait_all_height(manifest, 1, args.timeout):
        statuses = [node_status(n) for n in manifest["nodes"]]
        if not args.detach:
            _down(args.dir, manifest)
        _fail(f"the network did not reach height 1 within {args.timeout:.0f} s: {statuses}")
    print(json.dumps({"up": len(manifest["nodes"]), "dir": str(args.dir)}))
    if args.demo:
        try:
            demo = trio.run(run_demo, manifest)
        except (ClientError, RuntimeError) as e:
            if not args.detach:
                _down(args.dir, manifest)
            _fail(f"demo failed: {e}")
        if demo.failures and not args.detach:
            _down(args.dir, manifest)
            _fail(f"demo: {len(demo.failures)} steps did not go as expected")
        if not args.detach:
            print("\nThe network keeps running; the live table follows in 5 s (Ctrl-C stops all).")
            time.sleep(5)
    if args.detach:
        return EXIT_OK
    return _watch(args.dir, manifest)


def _watch(directory: Path, manifest: dict[str, Any]) -> int:
    """Show a live status table until Ctrl-C or SIGTERM, then stop every node."""
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    last: dict[int, tuple[float, float]] = {}
    client = httpx.Client()
    try:
        while not stop:
            rows = []
            for node in manifest["nodes"]:
                s = node_status(node, timeout=1.0, client=client)
                m = node_metrics(node, client=client) if s.get("running") else {}
                now = time.monotonic()
                tps = ""
                prev = last.get(node["index"])
                if m and prev is not None and now > prev[1]:
                    tps = f"{(m['txs_total'] - prev[0]) / (now - prev[1]):.0f}"
                if m:
                    last[node["index"]] = (m["txs_total"], now)
                s["round"] = int(m["round"]) if m else ""
                s["mempool_size"] = (s.get("mempool") or {}).get("txs", "")
                rows.append(_row(node, s, tps))
            print("\033[2J\033[H", end="")
            print(_row({"index": "#", "moniker": "moniker"}, _HEADER, "tx/s"))
            print("\n".join(rows))
            print("\nCtrl-C stops the network.", flush=True)
            for _ in range(10):
                if stop:
                    break
                time.sleep(0.1)
    finally:
        client.close()
        print("stopping:", json.dumps(_down(directory, manifest)))
    return EXIT_OK


_HEADER: Final = {"height": "height", "round": "round", "peers": "peers", "mempool_size": "mempool"}


def _row(node: dict[str, Any], s: dict[str, Any], tps: str) -> str:
    peers = s.get("peers", "")
    peers = len(peers) if isinstance(peers, list) else peers
    return (
        f"{node['index']:>3} {node['moniker']:<14} {s.get('height', ''):>8} "
        f"{s.get('round', ''):>5} {peers:>5} {s.get('mempool_size', ''):>7} {tps:>6} "
        f"{s.get('error', '')}"
    )


def _down(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Stop every node, then the remote signers and the relay: {"down": {index: result},
    "signers": {index: result}, "relay": result} (the last two only for a testnet with them)."""
    report: dict[str, Any] = {"down": {str(n["index"]): stop_node(n) for n in manifest["nodes"]}}
    signers = {str(n["index"]): stop_signer(n) for n in manifest["nodes"] if n.get("signer")}
    if signers:
        report["signers"] = signers
    if manifest.get("rtt_ms"):
        report["relay"] = stop_relay(directory)
    return report


def cmd_status(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    statuses = [node_status(n) for n in manifest["nodes"]]
    for s, node in zip(statuses, manifest["nodes"], strict=True):
        if node.get("signer"):
            s["signer_running"] = signer_running(node)
    plan = _plan(manifest)
    if plan is not None:  # netns mode: whom each node is cut off from
        with contextlib.suppress(NetnsError):
            for s, cut_off in zip(statuses, partition_state(plan).values(), strict=True):
                s["cut_off_from"] = cut_off
    doc: dict[str, Any] = {"chain_id": manifest["chain_id"], "nodes": statuses}
    relay = None
    if manifest.get("rtt_ms"):
        pid = relay_pid(args.dir)
        relay = {"rtt_ms": manifest["rtt_ms"], "running": pid is not None, "pid": pid}
        doc["relay"] = relay
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for s in statuses:
            cut = s.get("cut_off_from")
            print(
                f"{s['index']:>3} {s['moniker']:<14} height={s.get('height', '-')} "
                f"{'running' if s['running'] else 'stopped'} {s.get('error', '')}"
                + (f" cut off from {','.join(map(str, cut))}" if cut else "")
                + (
                    f" signer {'running' if s['signer_running'] else 'stopped'}"
                    if "signer_running" in s
                    else ""
                )
            )
        if relay is not None:
            state = f"running (pid {relay['pid']})" if relay["running"] else "stopped"
            print(f"  relay +{relay['rtt_ms']} ms rtt  {state}")
    return EXIT_OK


def cmd_kill(args: argparse.Namespace) -> int:
    node = _node(_manifest(args.dir), args.index)
    print(json.dumps({"index": args.index, "killed": kill_node(node)}))
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    node = _node(_manifest(args.dir), args.index)
    print(json.dumps({"index": args.index, "result": stop_node(node)}))
    return EXIT_OK


def cmd_restart(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    node = _node(manifest, args.index)
    result = stop_node(node)
    pid = _start(manifest, node, detach=True)
    print(json.dumps({"index": args.index, "previous": result, "pid": pid}))
    return EXIT_OK


def cmd_kill_signer(args: argparse.Namespace) -> int:
    node = _signer_node(_manifest(args.dir), args.index)
    print(json.dumps({"index": args.index, "signer_killed": kill_signer(node)}))
    return EXIT_OK


def cmd_start_signer(args: argparse.Namespace) -> int:
    node = _signer_node(_manifest(args.dir), args.index)
    print(json.dumps({"index": args.index, "signer_pid": start_signer(node, detach=True)}))
    return EXIT_OK


def _signer_node(manifest: dict[str, Any], index: int) -> dict[str, Any]:
    node = _node(manifest, index)
    if not node.get("signer"):
        _fail(f"node {index} has no remote signer (init --remote-signer {index})", EXIT_USAGE)
    return node


def cmd_down(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    report = _down(args.dir, manifest)
    plan = _plan(manifest)
    if plan is not None:
        try:
            report["removed"] = destroy_network(plan)
        except NetnsError as e:
            print(json.dumps(report))
            _netns_failed(e)
    print(json.dumps(report))
    return EXIT_OK


def cmd_partition(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    plan = _plan(manifest, required=True)
    assert plan is not None
    try:
        group = parse_group(args.nodes, len(plan.nodes))
    except ValueError as e:
        _fail(str(e), EXIT_USAGE)
    try:
        sides = partition(plan, group)
    except NetnsError as e:
        _netns_failed(e)
    print(json.dumps({"partition": sides}))
    return EXIT_OK


def cmd_heal(args: argparse.Namespace) -> int:
    plan = _plan(_manifest(args.dir), required=True)
    assert plan is not None
    try:
        heal(plan)
        state = partition_state(plan)
    except NetnsError as e:
        _netns_failed(e)
    print(json.dumps({"healed": not any(state.values())}))
    return EXIT_OK


def cmd_load(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    if args.rate <= 0 or args.duration <= 0 or args.accounts < 2:
        _fail("--rate and --duration must be positive and --accounts at least 2", EXIT_USAGE)
    if not 1 <= args.batch <= 1000:
        _fail("--batch must be 1 to 1000", EXIT_USAGE)
    load = Load(manifest, accounts=args.accounts, workers=args.workers, batch=args.batch)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        report = trio.run(load.run, args.rate, args.duration, progress)
    except (httpx.HTTPError, RuntimeError, trio.TooSlowError) as e:
        _fail(f"load failed: {e}")
    print(json.dumps(report.to_json(), indent=2))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    manifest = _manifest(args.dir)
    try:
        demo = trio.run(run_demo, manifest)
    except (ClientError, RuntimeError) as e:
        _fail(f"demo failed: {e}")
    for failure in demo.failures:
        print(f"tenge-testnet: unexpected: {failure}", file=sys.stderr)
    return EXIT_OK if not demo.failures else EXIT_FAILED


def cmd_relay(args: argparse.Namespace) -> int:
    _manifest(args.dir)  # the usual error for a directory without a testnet
    return relay_main(["--dir", str(args.dir)])


def cmd_bench(args: argparse.Namespace) -> int:
    if not 1 <= args.validators <= 26 or args.step_s <= 0:
        _fail("--validators must be 1 to 26 and --step-s positive", EXIT_USAGE)
    _check_rtt(args.rtt_ms)
    if not 2 <= args.accounts <= MAX_BENCH_ACCOUNTS:
        _fail(f"--accounts must be 2 to {MAX_BENCH_ACCOUNTS}", EXIT_USAGE)

    def progress(line: str) -> None:
        if not args.json:
            print(line, file=sys.stderr, flush=True)

    if not 1 <= args.runs <= MAX_BENCH_RUNS:
        _fail(f"--runs must be 1 to {MAX_BENCH_RUNS}", EXIT_USAGE)
    reports = []
    for run in range(args.runs):
        if args.runs > 1:
            progress(f"run {run + 1} of {args.runs}")
        try:
            reports.append(
                run_bench(
                    validators=args.validators,
                    step_s=args.step_s,
                    accounts=args.accounts,
                    rtt_ms=args.rtt_ms,
                    progress=progress,
                )
            )
        except (httpx.HTTPError, RuntimeError, ValueError, trio.TooSlowError) as e:
            _fail(f"bench failed: {e}")
    report = reports[0] if args.runs == 1 else median_report(reports)
    text = json.dumps(report, indent=None if args.json else 2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenge-testnet", description="Local tenge network.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--dir", type=Path, required=True, help="the testnet directory")
        return p

    p = with_dir(sub.add_parser("init", help="keys, homes and genesis for N validators"))
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    p.add_argument("--netns", action="store_true", help="each node in its own network namespace")
    p.add_argument("--rtt-ms", type=int, default=0, help=RTT_HELP)
    p.add_argument(
        "--travel-rule",
        action="store_true",
        help="enforce the travel rule (docs/rulebook.md); the demo needs it off",
    )
    p.add_argument(
        "--remote-signer",
        type=int,
        action="append",
        metavar="I",
        help="validator I signs through a remote signer process (repeatable)",
    )
    p.set_defaults(func=cmd_init)

    p = with_dir(sub.add_parser("up", help="start every node and wait for height 1"))
    p.add_argument("--detach", action="store_true", help="leave the nodes running and return")
    p.add_argument("--timeout", type=float, default=UP_TIMEOUT_S)
    p.add_argument("--demo", action="store_true", help="run the settlement demo once it is up")
    p.add_argument("--netns", action="store_true", help="fail unless made by init --netns")
    p.set_defaults(func=cmd_up)

    p = with_dir(sub.add_parser("status", help="height and state of every node"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    for name, func, text in (
        ("kill", cmd_kill, "SIGKILL node I"),
        ("stop", cmd_stop, "SIGTERM node I"),
        ("restart", cmd_restart, "stop node I, then start it again (detached)"),
        ("kill-signer", cmd_kill_signer, "SIGKILL the remote signer of node I"),
        ("start-signer", cmd_start_signer, "start the remote signer of node I (detached)"),
    ):
        p = with_dir(sub.add_parser(name, help=text))
        p.add_argument("index", type=int, metavar="I")
        p.set_defaults(func=func)

    p = with_dir(sub.add_parser("load", help="offer payments at a fixed rate and measure"))
    p.add_argument("--rate", type=float, required=True, help="payments offered per second")
    p.add_argument("--duration", type=float, required=True, help="seconds of offered load")
    p.add_argument("--accounts", type=int, default=100, help="customers + merchants to onboard")
    p.add_argument("--workers", type=int, default=128, help="HTTP requests in flight, at most")
    p.add_argument("--batch", type=int, default=100, help="payments per HTTP request, at most")
    p.set_defaults(func=cmd_load)

    p = with_dir(sub.add_parser("demo", help="the settlement story, step by step"))
    p.set_defaults(func=cmd_demo)

    p = with_dir(sub.add_parser("partition", help="netns: cut nodes A,B off from the rest"))
    p.add_argument("nodes", metavar="A,B", help="comma-separated node indices of one side")
    p.set_defaults(func=cmd_partition)

    p = with_dir(sub.add_parser("heal", help="netns: undo the partition"))
    p.set_defaults(func=cmd_heal)

    p = sub.add_parser("bench", help="fresh network, ramp to saturation, overload, JSON report")
    p.add_argument("--validators", type=int, default=4)
    p.add_argument(
        "--step-s", "--duration", type=float, default=8.0, help="seconds of each load step"
    )
    p.add_argument("--accounts", type=int, default=100, help="funded load accounts in genesis")
    p.add_argument(
        "--runs", type=int, default=1, help="fresh networks in a row; the report gives medians"
    )
    p.add_argument("--json", action="store_true", help="only the JSON report, on one line")
    p.add_argument("--out", type=Path, help="also write the JSON report to this file")
    p.add_argument("--rtt-ms", type=int, default=0, help=RTT_HELP)
    p.set_defaults(func=cmd_bench)

    p = with_dir(sub.add_parser("relay", help="run the --rtt-ms relay in the foreground"))
    p.set_defaults(func=cmd_relay)

    p = with_dir(sub.add_parser("down", help="stop every node (netns: remove the network)"))
    p.set_defaults(func=cmd_down)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tenge-testnet` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

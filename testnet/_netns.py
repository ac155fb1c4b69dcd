"""Multi-host mode: every node of a testnet in its own Linux network namespace.

The harness builds a private network inside this machine, all through iproute2 (``ip``)::

    root namespace                          namespace tenge-<id>-n<i>
    bridge tnb-<id>  10.A.B.1/24  <-veth->  eth0  10.A.B.(2+i)/24   (node i listens here)
                     (port tnv-<id>-<i>)

Rules it keeps:

1. Only interfaces it creates carry the /24, which it picks from 10.0.0.0/8 so that it
   overlaps no route or address of the root namespace; nothing is routed off the machine
   (there is no default route in the namespaces, and the root namespace does not forward).
2. The root namespace holds the bridge's address, so the harness, tests and Prometheus
   reach every node's API and metrics directly, also during a partition.
3. A partition is a set of ``prohibit`` routes inside the namespaces: each node of one
   side refuses to send to the other side's addresses. The bridge address is never
   prohibited. The kernel is the single source of truth: ``heal`` removes every prohibit
   route, and the partition in force is read back from the routes.
4. Every step is idempotent: ``ensure_network`` creates only what is missing and
   ``destroy_network`` removes only what exists, so both can repair a half-built or
   half-removed network (a crashed harness).

Names and addresses are recorded in testnet.json under ``"netns"`` (see ``plan_to_json``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

NETNS_KEY: Final = "netns"
IP_TIMEOUT_S: Final = 10.0
#: The /24 is picked at random among 10.<64..254>.<0..255>.0/24.
_SECOND_OCTETS: Final = range(64, 255)
_PICK_ATTEMPTS: Final = 200
_KILL_WAIT_S: Final = 5.0


class NetnsError(Exception):
    """Network namespaces cannot be made or changed here; the message is one line."""


@dataclass(frozen=True, slots=True)
class NetnsNode:
    """One node's namespace, its address and the root-side end of its veth pair."""

    index: int
    namespace: str
    address: str
    veth: str


@dataclass(frozen=True, slots=True)
class NetnsPlan:
    """The private network of one testnet."""

    id: str
    bridge: str
    subnet: str
    gateway: str
    nodes: tuple[NetnsNode, ...]

    @property
    def prefix_len(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen


# ---- running ip ----


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS``.

    Raises:
        NetnsError: ip is missing, timed out, or (with check) failed.
    """
    try:
        result = subprocess.run(
            ["ip", *args],
            capture_output=True,
            text=True,
            timeout=IP_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as e:
        raise NetnsError("the `ip` command (iproute2) was not found") from e
    except subprocess.TimeoutExpired as e:
        raise NetnsError(f"`ip {' '.join(args)}` did not finish in {IP_TIMEOUT_S:.0f} s") from e
    if check and result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[0]
        raise NetnsError(f"`ip {' '.join(args)}` failed: {detail}")
    return result


def _ip_json(*args: str) -> list[dict[str, Any]]:
    result = _ip("-j", *args)
    try:
        doc = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as e:
        raise NetnsError(f"`ip -j {' '.join(args)}` printed no JSON") from e
    return [entry for entry in doc if isinstance(entry, dict)] if isinstance(doc, list) else []


def _namespaces() -> set[str]:
    # `ip netns list` prints "name" or "name (id: N)"; it is empty when /run/netns is absent.
    lines = _ip("netns", "list").stdout.splitlines()
    return {line.split()[0] for line in lines if line.strip()}


def _link_exists(name: str, namespace: str | None = None) -> bool:
    where = ["-n", namespace] if namespace else []
    return _ip(*where, "link", "show", "dev", name, check=False).returncode == 0


# ---- availability ----


def netns_unavailable_reason() -> str | None:
    """Why namespaces, veth pairs and bridges cannot be made here, or None when they can.

    Probes by creating (and removing) a namespace, a veth pair into it and a bridge.
    """
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) was not found"
    tag = f"{os.getpid() % 100000:05d}{secrets.token_hex(1)}"
    namespace, veth, bridge = f"tenge-probe-{tag}", f"tnv-p{tag}", f"tnb-p{tag}"
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "add", "name", bridge, "type", "bridge")
    except NetnsError as e:
        if os.geteuid() != 0:
            return f"not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN): {e}"
        return str(e)
    finally:
        with contextlib.suppress(NetnsError):
            _ip("link", "del", bridge, check=False)
            _ip("link", "del", veth, check=False)
            _ip("netns", "del", namespace, check=False)
    return None


def require_netns() -> None:
    """Raise NetnsError (with the reason) when namespaces cannot be made here."""
    reason = netns_unavailable_reason()
    if reason is not None:
        raise NetnsError(reason)


# ---- planning and the manifest ----


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.IPv4Network(dst, strict=False))
    for link in _ip_json("-4", "addr", "show"):
        for info in link.get("addr_info", []):
            with contextlib.suppress(ValueError, KeyError):
                used.append(
                    ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                )
    return used


def plan_network(nodes: int) -> NetnsPlan:
    """Pick free names and a free 10.x.y.0/24 for a testnet of this many nodes.

    Raises:
        NetnsError: no free names or subnet were found, or ip failed.
    """
    if not 1 <= nodes <= 200:
        raise NetnsError("netns mode supports 1 to 200 nodes")
    existing = _namespaces()
    used = _used_networks()
    for _ in range(_PICK_ATTEMPTS):
        plan_id = secrets.token_hex(3)
        if any(name.startswith(f"tenge-{plan_id}-") for name in existing):
            continue
        if _link_exists(f"tnb-{plan_id}"):
            continue
        second, third = secrets.choice(_SECOND_OCTETS), secrets.randbelow(256)
        subnet = ipaddress.IPv4Network(f"10.{second}.{third}.0/24")
        if any(subnet.overlaps(net) for net in used if net.prefixlen > 0):
            continue
        hosts = list(subnet.hosts())
        return NetnsPlan(
            id=plan_id,
            bridge=f"tnb-{plan_id}",
            subnet=str(subnet),
            gateway=str(hosts[0]),
            nodes=tuple(
                NetnsNode(i, f"tenge-{plan_id}-n{i}", str(hosts[1 + i]), f"tnv-{plan_id}-{i}")
                for i in range(nodes)
            ),
        )
    raise NetnsError("found no free 10.x.y.0/24 and names for the testnet's bridge")


def plan_to_json(plan: NetnsPlan) -> dict[str, Any]:
    """The ``"netns"`` section of testnet.json."""
    return {
        "id": plan.id,
        "bridge": plan.bridge,
        "subnet": plan.subnet,
        "gateway": plan.gateway,
        "nodes": [
            {"index": n.index, "namespace": n.namespace, "address": n.address, "veth": n.veth}
            for n in plan.nodes
        ],
    }


def plan_of(manifest: dict[str, Any]) -> NetnsPlan | None:
    """The netns plan recorded in a manifest, or None for a plain 127.0.0.1 testnet.

    Raises:
        NetnsError: the section is malformed.
    """
    section = manifest.get(NETNS_KEY)
    if section is None:
        return None
    try:
        return NetnsPlan(
            id=str(section["id"]),
            bridge=str(section["bridge"]),
            subnet=str(section["subnet"]),
            gateway=str(section["gateway"]),
            nodes=tuple(
                NetnsNode(int(n["index"]), str(n["namespace"]), str(n["address"]), str(n["veth"]))
                for n in section["nodes"]
            ),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise NetnsError(f"testnet.json: malformed {NETNS_KEY!r} section: {e!r}") from e


def record_plan(manifest_path: Path, plan: NetnsPlan) -> dict[str, Any]:
    """Add the plan to the manifest at manifest_path (and each node's namespace); return it."""
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    manifest[NETNS_KEY] = plan_to_json(plan)
    for node, entry in zip(manifest["nodes"], plan.nodes, strict=True):
        node["netns"] = entry.namespace
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(manifest_path)
    return manifest


# ---- building and removing ----


def ensure_network(plan: NetnsPlan) -> None:
    """Create whatever part of the plan's network is missing (idempotent).

    Raises:
        NetnsError: ip failed (typically: not permitted).
    """
    if not _link_exists(plan.bridge):
        # nf_call_* 0: host firewalls (br_netfilter with a DROP forward policy) never see
        # the bridge's traffic, which stays between the namespaces.
        _ip("link", "add", "name", plan.bridge, "type", "bridge", "nf_call_iptables", "0")
        _ip("link", "set", plan.bridge, "type", "bridge", "nf_call_ip6tables", "0")
        _ip("link", "set", plan.bridge, "type", "bridge", "nf_call_arptables", "0")
    _ip("addr", "replace", f"{plan.gateway}/{plan.prefix_len}", "dev", plan.bridge)
    _ip("link", "set", plan.bridge, "up")
    existing = _namespaces()
    for node in plan.nodes:
        if node.namespace not in existing:
            _ip("netns", "add", node.namespace)
        if not _link_exists("eth0", node.namespace):
            if _link_exists(node.veth):  # a root end whose peer is elsewhere: start over
                _ip("link", "del", node.veth)
            _ip(
                "link",
                "add",
                node.veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.namespace,
            )
        _ip("link", "set", node.veth, "master", plan.bridge, "up")
        ns = ["-n", node.namespace]
        _ip(*ns, "addr", "replace", f"{node.address}/{plan.prefix_len}", "dev", "eth0")
        _ip(*ns, "link", "set", "eth0", "up")
        _ip(*ns, "link", "set", "lo", "up")


def network_exists(plan: NetnsPlan) -> bool:
    """Whether the bridge and every namespace of the plan exist."""
    existing = _namespaces()
    return _link_exists(plan.bridge) and all(n.namespace in existing for n in plan.nodes)


def _kill_leftover_nodes(namespace: str) -> list[int]:
    """SIGKILL tenge node processes still inside namespace (a crashed harness); their pids."""
    result = _ip("netns", "pids", namespace, check=False)
    killed = []
    for word in result.stdout.split():
        if not word.isdigit():
            continue
        pid = int(word)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"node.cli" in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    deadline = time.monotonic() + _KILL_WAIT_S
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def _alive(pid: int) -> bool:
    """Whether pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def destroy_network(plan: NetnsPlan) -> dict[str, list[str]]:
    """Remove the plan's namespaces, veth pairs and bridge, whichever exist (idempotent).

    Node processes still inside a namespace are killed first (SIGKILL), since a
    namespace outlives its name while a process holds it.

    Returns:
        What was removed: {"namespaces": [...], "links": [...], "killed": [pids]}.

    Raises:
        NetnsError: ip failed on something that exists.
    """
    removed: dict[str, list[str]] = {"namespaces": [], "links": [], "killed": []}
    existing = _namespaces()
    for node in plan.nodes:
        if node.namespace in existing:
            removed["killed"] += [str(pid) for pid in _kill_leftover_nodes(node.namespace)]
        if _link_exists(node.veth):
            _ip("link", "del", node.veth)  # takes its peer eth0 with it
            removed["links"].append(node.veth)
        if node.namespace in existing:
            _ip("netns", "del", node.namespace)
            removed["namespaces"].append(node.namespace)
    if _link_exists(plan.bridge):
        _ip("link", "del", plan.bridge)
        removed["links"].append(plan.bridge)
    return removed


# ---- partitions ----


def parse_group(text: str, nodes: int) -> list[int]:
    """Parse "A,B" into sorted node indices forming one side of a partition.

    Raises:
        ValueError: not a comma-separated list of distinct indices of this testnet, or
            every node (which would cut nobody off).
    """
    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as e:
        raise ValueError(f"expected node indices like 0,1; got {text!r}") from e
    if not indices:
        raise ValueError("name at least one node index, like 0,1")
    if len(set(indices)) != len(indices):
        raise ValueError(f"a node index is repeated in {text!r}")
    bad = [i for i in indices if not 0 <= i < nodes]
    if bad:
        raise ValueError(f"no node {bad[0]}: this testnet has nodes 0 to {nodes - 1}")
    if len(indices) == nodes:
        raise ValueError("naming every node cuts nobody off; leave at least one out")
    return sorted(indices)


def _prohibited(node: NetnsNode) -> list[str]:
    routes = _ip_json("-n", node.namespace, "-4", "route", "show", "type", "prohibit")
    return [str(r["dst"]).split("/")[0] for r in routes if "dst" in r]


def heal(plan: NetnsPlan) -> None:
    """Remove every prohibit route in the plan's namespaces: all nodes reach each other.

    Raises:
        NetnsError: a namespace is missing or ip failed.
    """
    for node in plan.nodes:
        for dst in _prohibited(node):
            _ip("-n", node.namespace, "route", "del", "prohibit", f"{dst}/32")


def partition(plan: NetnsPlan, group: list[int]) -> list[list[int]]:
    """Cut the nodes of group off from the others (replacing any earlier partition).

    The bridge address stays reachable from every node, so the API path holds.

    Returns:
        The two sides, [group, rest].

    Raises:
        NetnsError: a namespace is missing or ip failed.
    """
    heal(plan)
    side = set(group)
    for node in plan.nodes:
        for other in plan.nodes:
            if (node.index in side) != (other.index in side):
                _ip("-n", node.namespace, "route", "add", "prohibit", f"{other.address}/32")
    return [sorted(side), [n.index for n in plan.nodes if n.index not in side]]


def partition_state(plan: NetnsPlan) -> dict[int, list[int]]:
    """For each node, the indices of the nodes it is cut off from (read from the routes)."""
    index_of = {n.address: n.index for n in plan.nodes}
    return {
        node.index: sorted(index_of[dst] for dst in _prohibited(node) if dst in index_of)
        for node in plan.nodes
    }

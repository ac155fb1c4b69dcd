"""Node processes of a local testnet: start, signal, wait, and never leave orphans.

Each node runs as ``tenge-node start --home HOME --log-format json`` with its output in
HOME/node.log and its pid in HOME/node.pid. In the foreground (``up`` without
``--detach``) every child gets PR_SET_PDEATHSIG=SIGKILL, so killing the harness, even with
SIGKILL, takes the nodes with it. Detached nodes outlive the harness by design; ``down``
stops them through their pid files (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

GRACE_S: Final = 10.0
PID_FILE: Final = "node.pid"
LOG_FILE: Final = "node.log"
_PR_SET_PDEATHSIG: Final = 1

# Children started by this process, kept so they can be reaped (and are not reported as
# leaked when a Popen object is collected while its node still runs).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def node_command(home: Path, *extra: str) -> list[str]:
    """The command that runs the node of home (the tenge-node of this Python)."""
    return [sys.executable, "-m", "node.cli", "start", "--home", str(home), *extra]


def start_node(node: dict[str, Any], *, detach: bool, netns: str | None = None) -> int:
    """Start node's process; return its pid.

    Raises:
        RuntimeError: it is already running.
    """
    home = Path(node["home"])
    pid = read_pid(home)
    if pid is not None and is_running(pid):
        raise RuntimeError(f"node {node['index']} is already running (pid {pid})")
    command = node_command(home, "--log-format", "json")
    if netns is not None:
        command = ["ip", "netns", "exec", netns, *command]
    with open(home / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if detach else _die_with_parent,
            start_new_session=detach,
        )
    (home / PID_FILE).write_text(f"{proc.pid}\n")
    _CHILDREN[proc.pid] = proc
    return proc.pid


def read_pid(home: Path) -> int | None:
    """The pid recorded for home's node, or None."""
    try:
        return int((home / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_running(pid: int) -> bool:
    """Whether pid is a live process (not a zombie) running a tenge node."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and b"node.cli" in cmdline


def signal_node(node: dict[str, Any], signum: int) -> bool:
    """Send signum to node's process; False when it is not running."""
    pid = read_pid(Path(node["home"]))
    if pid is None or not is_running(pid):
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def wait_exit(node: dict[str, Any], timeout: float) -> bool:
    """Wait until node's process is gone; True if it is."""
    pid = read_pid(Path(node["home"]))
    if pid is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return not is_running(pid)


def stop_node(node: dict[str, Any], *, grace: float = GRACE_S) -> str:
    """SIGTERM, then SIGKILL after grace seconds. Returns "stopped", "killed" or "not running"."""
    if not signal_node(node, signal.SIGTERM):
        return "not running"
    if wait_exit(node, grace):
        return "stopped"
    signal_node(node, signal.SIGKILL)
    wait_exit(node, 5.0)
    return "killed"


def kill_node(node: dict[str, Any]) -> bool:
    """SIGKILL node's process; False when it was not running."""
    if not signal_node(node, signal.SIGKILL):
        return False
    wait_exit(node, 5.0)
    return True


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)

"""Processes of a local testnet: start, signal, wait, and never leave orphans.

Each node runs as ``tenge-node start --home HOME --log-format json`` with its output in
HOME/node.log and its pid in HOME/node.pid. A testnet made with ``--rtt-ms`` also runs
one relay, ``python -m testnet._relay --dir DIR``, with DIR/relay.log and DIR/relay.pid.
A validator made with ``--remote-signer`` has a signer, ``tenge-node signer start --home
SIGNER_HOME``, with SIGNER_HOME/signer.log and SIGNER_HOME/signer.pid.
In the foreground (``up`` without ``--detach``) every child gets PR_SET_PDEATHSIG=SIGKILL,
so killing the harness, even with SIGKILL, takes the nodes and the relay with it.
Detached processes outlive the harness by design; ``down`` stops them through their pid
files (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

GRACE_S: Final = 10.0
PID_FILE: Final = "node.pid"
LOG_FILE: Final = "node.log"
RELAY_PID_FILE: Final = "relay.pid"
RELAY_LOG_FILE: Final = "relay.log"
SIGNER_PID_FILE: Final = "signer.pid"
SIGNER_LOG_FILE: Final = "signer.log"
#: What the command line of a live process must hold to count as ours (a pid file can
#: outlive its process, and the pid be reused by another program).
NODE_PROGRAM: Final = b"node.cli"
RELAY_PROGRAM: Final = b"testnet._relay"
SIGNER_PROGRAM: Final = b"signer\x00start"
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
    return _spawn(command, home / LOG_FILE, home / PID_FILE, detach=detach)


def start_relay(directory: Path, *, detach: bool) -> int:
    """Start the relay of the testnet in directory (``testnet._relay``); return its pid.

    Raises:
        RuntimeError: it is already running.
    """
    pid = read_pid(directory, RELAY_PID_FILE)
    if pid is not None and is_running(pid, program=RELAY_PROGRAM):
        raise RuntimeError(f"the relay is already running (pid {pid})")
    command = [sys.executable, "-m", "testnet._relay", "--dir", str(directory)]
    return _spawn(command, directory / RELAY_LOG_FILE, directory / RELAY_PID_FILE, detach=detach)


def start_signer(node: dict[str, Any], *, detach: bool) -> int | None:
    """Start the remote signer of node (made by ``init --remote-signer``) unless it runs;
    its pid, or None for a node without one."""
    proc = _signer_process(node)
    if proc is None:
        return None
    pid = proc.pid()
    if pid is not None and proc.running(pid):
        return pid
    command = [sys.executable, "-m", "node.cli", "signer", "start", "--home"]
    command += [str(proc.directory), "--log-format", "json"]
    return _spawn(
        command,
        proc.directory / SIGNER_LOG_FILE,
        proc.directory / SIGNER_PID_FILE,
        detach=detach,
    )


def stop_signer(node: dict[str, Any], *, grace: float = GRACE_S) -> str:
    """Stop node's remote signer as `stop_node` stops a node ("not running" without one)."""
    proc = _signer_process(node)
    return "not running" if proc is None else _stop(proc, grace)


def kill_signer(node: dict[str, Any]) -> bool:
    """SIGKILL node's remote signer; False when it was not running (or there is none)."""
    proc = _signer_process(node)
    if proc is None or not _signal(proc, signal.SIGKILL):
        return False
    _wait_exit(proc, 5.0)
    return True


def signer_running(node: dict[str, Any]) -> bool | None:
    """Whether node's remote signer runs; None for a node without one."""
    proc = _signer_process(node)
    if proc is None:
        return None
    pid = proc.pid()
    return pid is not None and proc.running(pid)


def _spawn(command: list[str], log_path: Path, pid_path: Path, *, detach: bool) -> int:
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if detach else _die_with_parent,
            start_new_session=detach,
        )
    pid_path.write_text(f"{proc.pid}\n")
    _CHILDREN[proc.pid] = proc
    return proc.pid


def read_pid(directory: Path, pid_file: str = PID_FILE) -> int | None:
    """The pid recorded in directory's pid_file (a node home's node.pid by default), or None."""
    try:
        return int((directory / pid_file).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_running(pid: int, program: bytes = NODE_PROGRAM) -> bool:
    """Whether pid is a live process (not a zombie) running program (a tenge node by default)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and program in cmdline


@dataclass(frozen=True, slots=True)
class _Recorded:
    """A process known by its pid file: a node's, or the relay's."""

    directory: Path
    pid_file: str
    program: bytes

    def pid(self) -> int | None:
        return read_pid(self.directory, self.pid_file)

    def running(self, pid: int) -> bool:
        return is_running(pid, program=self.program)


def _node_process(node: dict[str, Any]) -> _Recorded:
    return _Recorded(Path(node["home"]), PID_FILE, NODE_PROGRAM)


def _relay_process(directory: Path) -> _Recorded:
    return _Recorded(directory, RELAY_PID_FILE, RELAY_PROGRAM)


def _signer_process(node: dict[str, Any]) -> _Recorded | None:
    signer = node.get("signer")
    if not signer:
        return None
    return _Recorded(Path(signer["home"]), SIGNER_PID_FILE, SIGNER_PROGRAM)


def _signal(proc: _Recorded, signum: int) -> bool:
    pid = proc.pid()
    if pid is None:
        return False
    if not proc.running(pid):
        _reap(pid)  # a child that exited by itself: collect its status
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _wait_exit(proc: _Recorded, timeout: float) -> bool:
    pid = proc.pid()
    if pid is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not proc.running(pid):
            _reap(pid)  # it may have exited between the two looks: collect its status
            return True
        time.sleep(0.05)
    _reap(pid)
    return not proc.running(pid)


def _stop(proc: _Recorded, grace: float) -> str:
    if not _signal(proc, signal.SIGTERM):
        return "not running"
    if _wait_exit(proc, grace):
        return "stopped"
    _signal(proc, signal.SIGKILL)
    _wait_exit(proc, 5.0)
    return "killed"


def stop_node(node: dict[str, Any], *, grace: float = GRACE_S) -> str:
    """SIGTERM, then SIGKILL after grace seconds. Returns "stopped", "killed" or "not running"."""
    return _stop(_node_process(node), grace)


def stop_relay(directory: Path, *, grace: float = GRACE_S) -> str:
    """Stop the relay of the testnet in directory, as `stop_node` stops a node."""
    return _stop(_relay_process(directory), grace)


def relay_pid(directory: Path) -> int | None:
    """The pid of the running relay of the testnet in directory, or None."""
    proc = _relay_process(directory)
    pid = proc.pid()
    return pid if pid is not None and proc.running(pid) else None


def kill_node(node: dict[str, Any]) -> bool:
    """SIGKILL node's process; False when it was not running."""
    proc = _node_process(node)
    if not _signal(proc, signal.SIGKILL):
        return False
    _wait_exit(proc, 5.0)
    return True


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)

"""deploy/ runtime files: Dockerfile, compose network, systemd unit.

No Docker daemon is assumed; the files are checked for what operators rely on, and the
systemd unit with ``systemd-analyze verify`` where that tool exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from deploy_support import DEPLOY, ROOT

from node.config import DEFAULT_API_PORT, DEFAULT_METRICS_PORT, DEFAULT_P2P_PORT
from testnet._init import DEFAULT_BASE_PORT, ports_of

DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "tenge-node.service"
SERVICES = ["central-bank", "bank-a", "bank-b", "bank-c"]


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def runtime_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


# ---- Dockerfile ----


def test_image_is_python_311_slim_and_runs_as_a_non_root_user() -> None:
    stage = runtime_stage(DOCKERFILE)
    assert stage[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in stage if word == "USER"]
    assert users, "the runtime stage never drops root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "useradd --system --uid 10001" in DOCKERFILE.read_text()


def test_image_has_a_data_volume_the_ports_and_starts_the_node() -> None:
    stage = dict(runtime_stage(DOCKERFILE))
    assert stage["VOLUME"] == '["/data"]'
    exposed = {int(p) for p in stage["EXPOSE"].split()}
    assert exposed == {DEFAULT_P2P_PORT, DEFAULT_API_PORT, DEFAULT_METRICS_PORT}
    assert stage["ENTRYPOINT"] == '["tenge-node"]'
    assert stage["CMD"] == '["start", "--home", "/data"]'
    assert stage["STOPSIGNAL"] == "SIGTERM"


def test_image_copies_every_package_the_distribution_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = {
        args.split()[0].rstrip("/") for word, args in instructions(DOCKERFILE) if word == "COPY"
    }
    assert packages <= copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for name in packages | {"pyproject.toml", "README.md"}:
        assert any(line.strip("!/") == name for line in ignore if line.startswith("!")), name
        assert (ROOT / name).exists(), name


# ---- compose ----


def test_compose_runs_four_validators_on_the_testnet_homes_and_ports() -> None:
    text = COMPOSE.read_text()
    for i, name in enumerate(SERVICES):
        block = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\n)+)", text, re.M)
        assert block is not None, f"no service {name}"
        body = block.group(1)
        assert "<<: *validator" in body
        assert f"./testnet/nodes/node{i}:/data" in body
        api = ports_of(DEFAULT_BASE_PORT, i).api
        assert f'"127.0.0.1:{api}:{api}"' in body
    services = text.split("\nservices:\n", 1)[1].split("\nnetworks:\n", 1)[0]
    assert re.findall(r"^  ([a-z-]+):$", services, re.M) == [*SERVICES, "prometheus", "grafana"]
    init = (DEPLOY / "compose" / "init-homes.sh").read_text()
    assert f"hosts={SERVICES!r}".replace("'", '"') in init


def test_compose_mounts_files_that_exist() -> None:
    compose_dir = COMPOSE.parent
    mounts = re.findall(r'"(\.{1,2}/[^:"]+):[^"]+"', COMPOSE.read_text())
    files = [m for m in mounts if "/testnet/" not in m]
    assert len(files) == 4
    for mount in files:
        assert (compose_dir / mount).exists(), mount
    validator = COMPOSE.read_text().split("services:")[0]
    for hardening in ("read_only: true", 'cap_drop: ["ALL"]', "no-new-privileges:true"):
        assert hardening in validator


# ---- systemd ----


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_is_hardened() -> None:
    s = unit_settings()
    assert s["User"] == ["tenge"]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["PrivateTmp"] == ["yes"]
    assert s["ProtectHome"] == ["yes"]
    assert s["ReadWritePaths"] == ["/var/lib/tenge-node"]
    assert s["Restart"] == ["on-failure"]
    assert int(s["LimitNOFILE"][0]) >= 65536
    assert s["KillSignal"] == ["SIGTERM"]
    assert int(s["TimeoutStopSec"][0]) > 0
    assert s["CapabilityBoundingSet"] == [""]
    assert s["ExecStart"][0].split()[1:4] == ["start", "--home", "/var/lib/tenge-node"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # The node is not installed in /opt here; point ExecStart at a binary that exists.
    true = shutil.which("true")
    assert true is not None
    unit = tmp_path / "tenge-node.service"
    unit.write_text(UNIT.read_text().replace("/opt/tenge-node/bin/tenge-node", true))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr, result.stderr

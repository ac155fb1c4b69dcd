"""The committed generated protobuf code must match what `make proto` produces now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOS = sorted((ROOT / "proto").glob("*.proto"))


def test_there_are_proto_sources() -> None:
    assert PROTOS, "proto/ holds no .proto sources"


@pytest.mark.parametrize("source", PROTOS, ids=lambda p: p.name)
def test_generated_code_matches_sources(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    out.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"proto/{source.name}",
        ],
        check=True,
        cwd=ROOT,
    )
    stem = source.stem
    for suffix in ("_pb2.py", "_pb2.pyi"):
        fresh = (out / "proto" / f"{stem}{suffix}").read_bytes()
        committed_path = ROOT / "proto" / f"{stem}{suffix}"
        assert committed_path.exists(), f"{committed_path.name} is not committed; run make proto"
        assert committed_path.read_bytes() == fresh, (
            f"proto/{stem}{suffix} drifted from proto/{source.name}; run make proto"
        )

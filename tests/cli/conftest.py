"""Fixtures of the command-line and real-process API tests: one live network per session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "node"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))  # live_node

from cli_support import LiveNet, live_network


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNet]:
    """Four real validator processes, shared by every test of tests/cli.

    Tests use accounts of their own (named after the test) so that they do not depend on
    each other's order.
    """
    with live_network(tmp_path_factory.mktemp("cli")) as network:
        yield network

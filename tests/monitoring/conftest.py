"""The monitoring tests drive the real-network harness of tests/node (network_support)."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest puts a test directory on sys.path only once it collects a module from it, and
# tests/monitoring sorts before tests/node; add it here so `import network_support` works
# whether this directory runs alone or with the whole suite.
_NODE_TESTS = str(Path(__file__).resolve().parents[1] / "node")
if _NODE_TESTS not in sys.path:
    sys.path.append(_NODE_TESTS)

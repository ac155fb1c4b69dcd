"""Fixtures of the API tests: an in-process node and clients on its app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trio
from api_support import LocalNode
from live_node import LiveNode, live_node
from starlette.applications import Starlette

from node.api import create_app
from node.client import TengeClient


@pytest.fixture
def local_node(tmp_path: Path) -> Iterator[LocalNode]:
    node = LocalNode(tmp_path / "store")
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def app(local_node: LocalNode) -> Starlette:
    return create_app(local_node, default_wait_timeout_s=5.0)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP on the app in-process (ASGITransport)."""
    with trio.fail_after(30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            yield client


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[TengeClient]:
    """The Python client on the app in-process."""
    with trio.fail_after(30):
        async with TengeClient("http://node", transport=httpx.ASGITransport(app=app)) as client:
            yield client


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    """One real validator process for a module's tests (chain tenge-docs-1)."""
    with live_node(tmp_path_factory.mktemp("live") / "net") as node:
        yield node


@pytest.fixture(scope="module")
def guarded_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    """The same with an API token file: every route but the public ones wants its token."""
    with live_node(tmp_path_factory.mktemp("guarded") / "net", guarded=True) as node:
        yield node

"""Fixtures of the p2p tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from p2p_support import Harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            h = Harness(nursery)
            try:
                yield h
            finally:
                await h.aclose()

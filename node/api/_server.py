"""Serving the API with Hypercorn's trio worker inside the caller's nursery."""

from __future__ import annotations

import logging
from typing import Final

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.types import ASGIApp

log = logging.getLogger("tenge.api")

GRACEFUL_TIMEOUT_S: Final = 2.0
KEEP_ALIVE_S: Final = 30


def hypercorn_config(host: str, port: int) -> Config:
    """Hypercorn settings for the node's API: plain HTTP/1.1 on one address."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("tenge.api.server")
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    config.keep_alive_timeout = KEEP_ALIVE_S
    config.include_server_header = False
    return config


async def serve_api(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve app on host:port until cancelled; report the bound port when listening.

    Port 0 binds a free port; ``await nursery.start(serve_api, app, host, 0)`` returns it.

    Raises:
        OSError: the address cannot be bound.
    """
    config = hypercorn_config(host, port)
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(serve, app, config)
        bound = int(binds[0].rsplit(":", 1)[1])
        log.info("API listening on %s", binds[0])
        task_status.started(bound)

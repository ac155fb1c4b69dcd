"""Logging set-up: one line per event, as text or JSON (``--log-format json``).

Consensus lines carry ``height`` and ``round`` through ``extra={"height": h, "round": r}``;
both formats show them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Final

_EXTRA_FIELDS: Final = ("height", "round", "peer", "tx_id", "code")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            if hasattr(record, name):
                doc[name] = getattr(record, name)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message key=value ...`` on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{n}={getattr(record, n)}" for n in _EXTRA_FIELDS if hasattr(record, n)]
        if extras:
            head, sep, tail = line.partition("\n")
            line = head + " " + " ".join(extras) + sep + tail
        return line


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Send the root logger's records to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("hypercorn.access", "hpack", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Logging set-up: one line per event on stderr, as text or JSON, with run/node context.

The context (run id, node id, ...) lives in a contextvar so every line logged while a
node runs carries it without passing loggers around.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "log_context", default=None
)


def current_context() -> dict[str, str]:
    return _context.get() or {}


@contextlib.contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add fields (e.g. run="...", node="...") to every line logged inside the block."""
    token = _context.set({**current_context(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind_context(**fields: str) -> None:
    """Add fields for the rest of the current task (asyncio tasks copy the context)."""
    _context.set({**current_context(), **fields})


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = current_context()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx: dict[str, str] = getattr(record, "ctx", {})
        fields = "".join(f" {k}={v}" for k, v in ctx.items())
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        line = (
            f"{stamp}Z {record.levelname} [{record.processName}:{os.getpid()}] "
            f"{record.name}:{fields} {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": os.getpid(),
            "message": record.getMessage(),
            **getattr(record, "ctx", {}),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (SQL echo, migration banners) is noise at INFO in an operator's log.
    for noisy in ("alembic", "sqlalchemy", "httpx", "httpx2", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

"""Opaque list cursors: the (created_at, id) of the last row a page returned."""

from __future__ import annotations

import base64
import binascii
import json
import math

from backend.errors import InvalidInput


def encode_cursor(created_at: float, row_id: str) -> str:
    raw = json.dumps([created_at, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        if isinstance(created_at, bool) or not isinstance(created_at, int | float):
            raise ValueError("bad timestamp")
        if not math.isfinite(created_at):
            raise ValueError("bad timestamp")
        if not isinstance(row_id, str):
            raise ValueError("bad id")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page unchanged",
            details=[{"loc": ["query", "cursor"], "message": "invalid cursor"}],
        ) from None
    return float(created_at), row_id

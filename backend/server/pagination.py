"""Opaque list cursors: the (created_at, id) of the last row a page returned."""

from __future__ import annotations

import base64
import binascii
import json

from backend.errors import BackendError, InvalidInput
from backend.server.json_body import parse_json


def encode_cursor(created_at: float, row_id: str) -> str:
    raw = json.dumps([created_at, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # Held to the rules of a request body: finite numbers, text a query can carry.
        created_at, row_id = parse_json(raw)
        if isinstance(created_at, bool) or not isinstance(created_at, int | float):
            raise ValueError("bad timestamp")
        if not isinstance(row_id, str):
            raise ValueError("bad id")
        timestamp = float(created_at)
    except (BackendError, ValueError, TypeError, binascii.Error):
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page unchanged",
            details=[{"loc": ["query", "cursor"], "message": "invalid cursor"}],
        ) from None
    return timestamp, row_id

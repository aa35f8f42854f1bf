"""Run keys: the idempotency key a run is submitted under, and the rate limit counted by
the same rows.

A key is unique per user in the database. Submitting under a key that already started a
run (and has not expired) returns that run instead of starting another; the same key
with a different request (another ``fingerprint``) is a conflict. A schedule's slot, a
webhook delivery and an API client's Idempotency-Key are all run keys, told apart by
their ``scope``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# Longest key a client may choose (the scope prefix must still fit the column).
MAX_CLIENT_KEY_CHARS = 200


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` runs keyed in the scope within the last ``window_seconds``."""

    limit: int
    window_seconds: float


@dataclass(frozen=True)
class RunKey:
    user_id: str
    scope: str
    key: str
    fingerprint: str
    # None: the key never expires (a schedule's slot fires once, ever).
    expires_at: float | None = None
    rate: RateLimit | None = None

    @property
    def stored_key(self) -> str:
        return f"{self.scope}:{self.key}"


def fingerprint(value: Any) -> str:
    """The SHA-256 of ``value``'s canonical JSON: equal requests, equal fingerprints."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

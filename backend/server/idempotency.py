"""The Idempotency-Key header of POST /graphs/{id}/execute.

The same key from the same user within BACKEND_IDEMPOTENCY_TTL_SECONDS answers with the
run it first started (and ``Idempotent-Replayed: true``) instead of starting another; the
same key with a different request answers 409. The key is claimed in the run's own
transaction, so two requests racing with one key start one run.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Header

from backend.data.run_keys import MAX_CLIENT_KEY_CHARS, RunKey, fingerprint
from backend.settings import Settings

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_CLIENT_KEY_CHARS,
        description="Send the same key to retry safely: a repeat returns the first run.",
    ),
]


def execute_key(
    user: str, key: str | None, request: dict[str, Any], settings: Settings
) -> RunKey | None:
    """The run key of an execute request (``request`` is everything that was asked)."""
    if key is None:
        return None
    return RunKey(
        user_id=user,
        scope="execute",
        key=key,
        fingerprint=fingerprint(request),
        expires_at=time.time() + settings.idempotency_ttl_seconds,
    )

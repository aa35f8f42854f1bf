"""Waiting at start for a database server that does not answer yet.

A PostgreSQL restart, or a VM whose database comes up after the programs, must not end
every program FATAL under supervisord. So a starting process tries to connect with a
capped exponential backoff, one log line per try (the URL's password masked), for at most
BACKEND_DATABASE_WAIT_SECONDS, then fails with one line. The embedded SQLite database has
no server to wait for: its errors are the set-up's and fail at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from backend.data.store import Store
from backend.errors import StoreError

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0

# Sleeps up to the given seconds; returns True when the process was asked to stop.
Sleep = Callable[[float], bool]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def wait_for_database(
    store: Store,
    max_seconds: float,
    sleep: Sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Return True once ``store`` answers, False when ``sleep`` reports a stop request.

    Raises the StoreError of the last try, stretched to say how long it waited, once
    ``max_seconds`` have passed (at once when the store has no server to wait for).
    """
    if not store.waits_for_server:
        store.schema_is_current()
        return True
    deadline = clock() + max_seconds
    delay = FIRST_DELAY_SECONDS
    tries = 0
    while True:
        tries += 1
        try:
            store.schema_is_current()
        except StoreError as exc:
            reason = _one_line(exc.message)
            left = deadline - clock()
            if left <= 0:
                raise StoreError(
                    f"{reason} (gave up after {tries} tries in {max_seconds:g} s, "
                    "BACKEND_DATABASE_WAIT_SECONDS)"
                ) from None
            pause = min(delay, left)
            logger.warning(
                "waiting for the database (try %d, next in %.1f s, giving up in %.0f s): %s",
                tries,
                pause,
                left,
                reason,
            )
            if sleep(pause):
                logger.info("stop requested while waiting for the database")
                return False
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            continue
        if tries > 1:
            logger.info("database answered after %d tries", tries)
        return True

"""wait_for_database: capped backoff, one line per try, a bound, a stop request honoured."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from backend.data.sqlite import SQLiteStore
from backend.data.wait import MAX_DELAY_SECONDS, wait_for_database
from backend.errors import StoreError

URL = "postgresql://agent:***@db.internal:5432/agent"


class DownStore:
    """A database server that answers after ``failures`` tries (never, with None)."""

    waits_for_server = True

    def __init__(self, failures: int | None) -> None:
        self.failures = failures
        self.tries = 0

    def schema_is_current(self) -> bool:
        self.tries += 1
        if self.failures is None or self.tries <= self.failures:
            raise StoreError(
                f"cannot open database BACKEND_DATABASE_URL={URL!r}: connection\n  refused"
            )
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += seconds
        return False


def test_waits_with_a_capped_doubling_backoff_until_the_database_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = DownStore(failures=7), Clock()
    with caplog.at_level(logging.INFO, logger="backend.data.wait"):
        assert wait_for_database(store, 300, clock.sleep, clock)  # type: ignore[arg-type]
    assert clock.sleeps == [0.5, 1, 2, 4, 8, MAX_DELAY_SECONDS, MAX_DELAY_SECONDS]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 8
    assert lines[0].startswith("waiting for the database (try 1, next in 0.5 s, giving up in 300")
    assert lines[0].endswith(f"BACKEND_DATABASE_URL={URL!r}: connection refused")
    assert lines[-1] == "database answered after 8 tries"


def test_gives_up_after_the_bound_with_one_line() -> None:
    store, clock = DownStore(failures=None), Clock()
    with pytest.raises(StoreError) as caught:
        wait_for_database(store, 20, clock.sleep, clock)  # type: ignore[arg-type]
    assert sum(clock.sleeps) == 20
    assert "\n" not in caught.value.message
    assert caught.value.message.endswith(
        f"gave up after {store.tries} tries in 20 s, BACKEND_DATABASE_WAIT_SECONDS)"
    )
    with pytest.raises(StoreError, match="gave up after 1 tries in 0 s"):
        wait_for_database(DownStore(None), 0, clock.sleep, clock)  # type: ignore[arg-type]


def test_a_stop_request_ends_the_wait() -> None:
    store = DownStore(failures=None)
    assert not wait_for_database(store, 300, lambda seconds: True)  # type: ignore[arg-type]
    assert store.tries == 1


def test_sqlite_is_never_waited_for(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path / 'backend.db'}")
    try:
        assert wait_for_database(store, 300, lambda seconds: pytest.fail("waited"))
    finally:
        store.close()

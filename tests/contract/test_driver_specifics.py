"""What only some drivers do: push wake-ups (PostgreSQL LISTEN/NOTIFY), and fail fast on
an unusable PostgreSQL URL (or one no driver takes) without showing its password."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from backend.data.store import Store
from backend.errors import ConfigError, StoreError
from tests.contract.test_store_contract import new_run, open_url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_url(database_url)
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def test_listen_wakes_on_submit_and_cancel(database_url: str, store: Store) -> None:
    woken = threading.Semaphore(0)
    stop = store.listen(woken.release)
    if database_url.startswith("sqlite"):
        assert stop is None  # no push: executors poll
        return
    assert stop is not None
    try:
        run = new_run(store, time.time())
        assert woken.acquire(timeout=5)
        store.request_cancel(run.id, time.time())
        assert woken.acquire(timeout=5)
    finally:
        stop()


@pytest.mark.parametrize(
    "url",
    ["postgresql://agent:s3cret@127.0.0.1:1/agent", "postgres://agent:s3cret@127.0.0.1:bad/x"],
)
def test_unusable_postgres_url_fails_naming_the_setting_without_the_password(url: str) -> None:
    with pytest.raises(StoreError, match="BACKEND_DATABASE_URL") as caught:
        store = open_url(url)
        store.prepare(auto_migrate=True)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://agent:s3cret@db.example/agents",
        # Unparsable (bad port), and a password with an unescaped "@".
        "mysql://agent:s3cret@db.example:bad/agents",
        "mysql://agent:pa@s3cret@db.example/agents",
    ],
)
def test_unsupported_scheme_names_the_setting_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="unsupported scheme 'mysql'") as caught:
        open_url(url)
    message = str(caught.value)
    assert "BACKEND_DATABASE_URL" in message and "db.example" in message
    assert "s3cret" not in message and "agent:***@" in message

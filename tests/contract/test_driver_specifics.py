"""What only some drivers do: push wake-ups (PostgreSQL LISTEN/NOTIFY), and fail fast on
an unusable PostgreSQL URL (or one no driver takes) without showing its password."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.data.execution import Event, RunWrite
from backend.data.store import Store
from backend.errors import ConfigError, StoreError
from backend.executor.journal import WriteBatcher
from tests.contract.test_store_contract import LEASE, new_run, node_done, open_url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_url(database_url)
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def test_listen_wakes_on_submit_and_cancel(database_url: str, store: Store) -> None:
    woken = threading.Semaphore(0)
    # PostgreSQL pushes with NOTIFY; SQLite with a datagram to each listener (wake.py).
    stop = store.listen(woken.release)
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


def test_a_write_the_database_refuses_fails_alone_in_its_batch(
    database_url: str, store: Store
) -> None:
    """PostgreSQL refuses NUL characters in text; SQLite keeps them. Either way the other
    run's write in the same batch commits."""
    now = time.time()
    good, odd = new_run(store, now), new_run(store, now + 1)
    store.claim_runs("ex-1", 2, now + 2, LEASE)
    odd_node = node_done(odd, now, "x")
    odd_node.error = "bad\x00byte"

    async def db(fn: object, *args: object) -> object:
        assert callable(fn)
        return await asyncio.to_thread(fn, *args)

    async def both() -> list[BaseException | None]:
        batcher = WriteBatcher(store, "ex-1", LEASE, db)
        writes = [
            RunWrite(good.id, [node_done(good, now, "ok")], [Event(good.id, "node_status", {})]),
            RunWrite(odd.id, [odd_node], []),
        ]
        results = await asyncio.gather(*(batcher.save(w) for w in writes), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    good_result, odd_result = asyncio.run(both())
    assert good_result is None
    assert [n.output_data for n in store.node_executions(good.id)] == [[("output", "ok")]]
    if database_url.startswith("sqlite"):
        assert odd_result is None
    else:
        assert odd_result is not None
        assert [n.status.value for n in store.node_executions(odd.id)] == ["QUEUED"]


def test_claims_without_update_returning(tmp_path: Path) -> None:
    """SQLite before 3.35 has no UPDATE ... RETURNING: a claim then reads what it took,
    and claims the same runs, fairly, with their node executions."""
    store = open_url(f"sqlite:///{tmp_path / 'old.db'}")
    store.prepare(auto_migrate=True)
    try:
        store.__dict__["_returning"] = False  # what the dialect reports for an old SQLite
        now = time.time()
        alice = [new_run(store, now + i, "alice") for i in range(2)]
        bob = new_run(store, now + 5, "bob")
        claimed = store.claim_runs_with_state("ex-1", 2, now + 10, LEASE)
        assert [run.id for run, _ in claimed] == [alice[0].id, bob.id]
        assert all(run.owner == "ex-1" and run.stalled_claims == 1 for run, _ in claimed)
        assert [[ne.id for ne in nodes] for _, nodes in claimed] == [
            [f"{alice[0].id}-0"],
            [f"{bob.id}-0"],
        ]
        assert [run.id for run in store.claim_runs("ex-2", 5, now + 10, LEASE)] == [alice[1].id]
    finally:
        store.close()

"""Counters behind run views and /metrics, and paged node executions, on both drivers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunWrite
from backend.data.open import open_store
from backend.data.sqlstore import SQLStore, alembic_config
from backend.data.stats import DURATION_BOUNDS, ModelUsage
from backend.data.store import Store
from backend.settings import Settings
from tests import pg

LEASE = 30.0
LLM = {"model": "gpt-x", "provider": "openai", "input_tokens": 10, "output_tokens": 5}


def submit(store: Store, nodes: int, now: float) -> tuple[Run, list[NodeExecution]]:
    run = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=now)
    starting = [
        NodeExecution(
            f"{run.id}-{i}", run.id, i, f"n{i % 3}", "blk", NodeStatus.QUEUED, {}, created_at=now
        )
        for i in range(nodes)
    ]
    store.submit_run(run, starting, Event(run.id, "run_status", {"status": "QUEUED"}, None, now))
    return run, starting


def claim(store: Store, run: Run, now: float) -> None:
    assert [r.id for r in store.claim_runs("ex-1", 10, now, LEASE)] == [run.id]


def test_run_stats_follow_every_write(store: Store) -> None:
    now = time.time()
    run, nodes = submit(store, 4, now)
    assert store.run_stats(run.id).status_counts == {"QUEUED": 4}
    claim(store, run, now)
    running = [replace(n, status=NodeStatus.RUNNING, attempt=1, started_at=now) for n in nodes]
    assert store.save_writes("ex-1", [RunWrite(run.id, running, [])], now, LEASE) == set()
    assert store.run_stats(run.id).status_counts == {"RUNNING": 4}
    done = [
        replace(running[0], status=NodeStatus.COMPLETED, ended_at=now + 0.2, stats=LLM),
        replace(running[1], status=NodeStatus.FAILED, ended_at=now + 0.003, error="x"),
        # Written again unchanged: counts nothing twice.
        running[2],
    ]
    store.save_writes("ex-1", [RunWrite(run.id, done, [])], now, LEASE)
    stats = store.run_stats(run.id)
    assert stats.status_counts == {"RUNNING": 2, "COMPLETED": 1, "FAILED": 1}
    assert stats.node_executions == 4
    assert stats.attempts == 4
    assert stats.models == {"gpt-x": ModelUsage(10, 5, 0)}
    # A retry: the same execution again at attempt 2.
    retry = replace(running[3], status=NodeStatus.QUEUED, attempt=2)
    store.save_writes("ex-1", [RunWrite(run.id, [retry], [])], now, LEASE)
    assert store.run_stats(run.id).attempts == 5
    assert store.run_stats("no-such-run").node_executions == 0


def test_cancelling_an_unclaimed_run_counts_its_nodes_terminated(store: Store) -> None:
    now = time.time()
    run, _ = submit(store, 3, now)
    store.request_cancel(run.id, now)
    assert store.run_stats(run.id).status_counts == {"TERMINATED": 3}


def test_node_durations_are_counted_per_block_and_bucket(store: Store) -> None:
    now = time.time()
    run, nodes = submit(store, 3, now)
    claim(store, run, now)
    ended = [
        replace(nodes[0], status=NodeStatus.COMPLETED, started_at=now, ended_at=now + 0.004),
        replace(nodes[1], status=NodeStatus.COMPLETED, started_at=now, ended_at=now + 1000),
        # Not finished: not counted.
        replace(nodes[2], status=NodeStatus.RUNNING, started_at=now),
    ]
    store.save_writes("ex-1", [RunWrite(run.id, ended, [])], now, LEASE)
    (hist,) = store.node_duration_histograms()
    assert hist.block_id == "blk"
    assert hist.count == 2
    assert hist.bucket_counts[0] == 1  # <= 5 ms
    assert hist.bucket_counts[-1] == 1  # <= 300 s: the 1000 s one is only in +Inf
    assert len(hist.bucket_counts) == len(DURATION_BOUNDS)
    assert hist.total_seconds == pytest.approx(1000.004, abs=1e-3)


def test_node_executions_page_by_seq_with_filters(store: Store) -> None:
    now = time.time()
    run, nodes = submit(store, 7, now)
    seen: list[int] = []
    after = None
    while True:
        page = store.node_executions_page(run.id, 3, after_seq=after)
        seen += [n.seq for n in page]
        if len(page) < 3:
            break
        after = page[-1].seq
    assert seen == list(range(7))
    assert [n.seq for n in store.node_executions_page(run.id, 10, node_id="n1")] == [1, 4]
    claim(store, run, now)
    started = replace(nodes[5], status=NodeStatus.RUNNING, attempt=1)
    store.save_writes("ex-1", [RunWrite(run.id, [started], [])], now, LEASE)
    page = store.node_executions_page(run.id, 10, status=NodeStatus.RUNNING)
    assert [n.id for n in page] == [started.id]
    assert store.node_executions_page(run.id, 10, after_seq=2, node_id="n2") == [
        store.node_executions(run.id)[5]
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def url_at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database migrated to the revision before the counters."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        yield from _at_0007(url)
        return
    with pg.fresh_database("stats") as url:
        yield from _at_0007(url)


def _at_0007(url: str) -> Iterator[str]:
    store = open_store(Settings(database_url=url))
    assert isinstance(store, SQLStore)
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0007")
    store.close()
    yield url


def test_upgrade_counts_existing_rows(url_at_0007: str) -> None:
    old = sa.create_engine(url_at_0007)
    now = time.time()
    rows = [
        {
            "id": f"r-{i}",
            "run_id": "r",
            "seq": i,
            "node_id": "a",
            "block_id": "blk",
            "status": "COMPLETED" if i else "FAILED",
            "input_data": "{}",
            "output_data": "[]",
            "attempt": 1,
            "created_at": now,
            "started_at": now,
            "ended_at": now + 0.02,
            "stats": '{"model": "m", "input_tokens": 3, "output_tokens": 4, "llm_calls": 1}',
        }
        for i in range(3)
    ]
    cols = ", ".join(rows[0])
    values = ", ".join(f":{c}" for c in rows[0])
    with old.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO node_executions ({cols}) VALUES ({values})"), rows)
    old.dispose()
    store = open_store(Settings(database_url=url_at_0007))
    try:
        store.prepare(auto_migrate=True)
        stats = store.run_stats("r")
        assert stats.status_counts == {"COMPLETED": 2, "FAILED": 1}
        assert stats.attempts == 3
        assert stats.models == {"m": ModelUsage(9, 12, 3)}
        (hist,) = store.node_duration_histograms()
        assert (hist.count, hist.bucket_counts[2]) == (3, 3)  # 20 ms: <= 25 ms
    finally:
        store.close()

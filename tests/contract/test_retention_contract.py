"""Retention on both drivers: what is deleted, what never is, and the dry run."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from backend.cli import run_command
from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunStatus, RunWrite
from backend.data.files import FileRecord, chunks
from backend.data.open import open_store
from backend.data.retention import DAY_SECONDS, PruneCounts, retention_cutoff
from backend.data.sqlite import SQLiteStore
from backend.data.store import Store
from backend.errors import NotFound
from backend.schedules.process import Scheduler
from backend.schedules.retention import prune
from backend.settings import Settings

LEASE = 1e9  # claims in the past stay owned
NOW = time.time()
OLD = NOW - 40 * DAY_SECONDS


def submit(store: Store, at: float, parent: Run | None = None, nodes: int = 2) -> Run:
    run = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=at)
    if parent is not None:
        run = replace(run, parent_run_id=parent.id, parent_node_exec_id=f"{parent.id}-0", depth=1)
    starting = [
        NodeExecution(f"{run.id}-{i}", run.id, i, "a", "blk", NodeStatus.QUEUED, {}, created_at=at)
        for i in range(nodes)
    ]
    event = Event(run.id, "run_status", {"status": "QUEUED"}, created_at=at)
    if parent is not None:
        store.start_child_run(run, starting, event)
    else:
        store.submit_run(run, starting, event)
    return run


def start(store: Store, run: Run, at: float) -> Run:
    claimed = [r for r in store.claim_runs("ex", 50, at, LEASE) if r.id == run.id]
    assert claimed, "the run was not claimable"
    return claimed[0]


def end(store: Store, run: Run, at: float, status: RunStatus = RunStatus.COMPLETED) -> Run:
    return finish(store, start(store, run, at), at, status)


def finish(store: Store, run: Run, at: float, status: RunStatus = RunStatus.COMPLETED) -> Run:
    done = [
        replace(ne, status=NodeStatus.COMPLETED, started_at=at, ended_at=at, attempt=1)
        for ne in store.node_executions(run.id)
    ]
    store.save_writes("ex", [RunWrite(run.id, done, [])], at, LEASE)
    final = replace(run, status=status)
    store.finish_run("ex", final, [Event(run.id, "run_status", {"status": status.value})], at)
    return final


def add_file(store: Store, run: Run) -> None:
    rec = FileRecord(
        f"f-{run.id}", "alice", run.id, f"{run.id}-0", "a.png", "image/png", 3, "ab" * 32, OLD
    )
    assert store.create_file(rec, chunks(b"abc"), max_run_bytes=1 << 20)


def exists(store: Store, run: Run) -> bool:
    try:
        store.get_run(run.id)
    except NotFound:
        return False
    return True


def test_only_ended_runs_past_the_cutoff_go(store: Store) -> None:
    expired = end(store, submit(store, OLD), OLD, RunStatus.FAILED)
    add_file(store, expired)
    queued = submit(store, OLD)
    running = start(store, submit(store, OLD), OLD)
    recent = end(store, submit(store, NOW), NOW)
    # A sub-agent run that ended long ago under a parent that is still running.
    parent = start(store, submit(store, OLD), OLD)
    child = end(store, submit(store, OLD, parent=parent), OLD)
    # A parent that ended long ago while its sub-agent run is still queued.
    done_parent = end(store, submit(store, OLD), OLD)
    live_child = submit(store, OLD, parent=done_parent)
    cutoff = retention_cutoff(30, NOW)
    assert cutoff is not None

    assert store.count_prunable(cutoff) == PruneCounts(runs=1, node_executions=2, events=3, files=1)
    # A dry run deletes nothing.
    assert prune(store, cutoff, dry_run=True)[0].runs == 1
    assert exists(store, expired)

    counts, left = prune(store, cutoff)
    assert counts == PruneCounts(runs=1, node_executions=2, events=3, files=1)
    assert not left
    assert not exists(store, expired)
    assert store.node_executions(expired.id) == [] and store.events(expired.id) == []
    assert store.run_stats(expired.id).node_executions == 0
    with pytest.raises(NotFound):
        store.get_file("alice", f"f-{expired.id}")
    for kept in (queued, running, recent, parent, child, done_parent, live_child):
        assert exists(store, kept), kept
        assert store.node_executions(kept.id)
    assert store.count_prunable(cutoff) == PruneCounts()

    # Once the parent has ended, its sub-agent run goes with it.
    finish(store, parent, OLD)
    assert prune(store, cutoff)[0].runs == 2


def test_batches_stop_at_the_node_budget(store: Store) -> None:
    runs = [end(store, submit(store, OLD, nodes=3), OLD) for _ in range(4)]
    cutoff = NOW - DAY_SECONDS
    assert store.prune_runs(cutoff, max_runs=10, max_nodes=7).runs == 2
    # A run bigger than the budget still goes, alone.
    assert store.prune_runs(cutoff, max_runs=10, max_nodes=1).runs == 1
    counts, left = prune(store, cutoff, max_batches=1)
    assert (counts.runs, left) == (1, True)
    assert not any(exists(store, r) for r in runs)


def test_the_scheduler_prunes_when_retention_is_set(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, retention_days=30)
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    try:
        expired = end(store, submit(store, OLD), OLD)
        running = start(store, submit(store, OLD), OLD)
        Scheduler(settings, clock=lambda: NOW, store=store).serve(until_idle=True)
        assert not exists(store, expired)
        assert exists(store, running)
        # Off (0 days, the default): nothing is deleted.
        again = end(store, submit(store, OLD), OLD)
        off = Settings(database_url=database_url, data_dir=tmp_path)
        Scheduler(off, clock=lambda: NOW, store=store).serve(until_idle=True)
        assert exists(store, again)
    finally:
        store.close()


def test_prune_command_counts_then_deletes(
    database_url: str,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    expired = end(store, submit(store, OLD), OLD)
    queued = submit(store, OLD)
    assert run_command(["prune", "--older-than", "30", "--dry-run"]) == 0
    assert "would delete 1 runs, 2 node executions, 3 events, 0 files" in capsys.readouterr().out
    assert exists(store, expired)
    assert run_command(["prune", "--older-than", "30"]) == 0
    assert "deleted 1 runs, 2 node executions" in capsys.readouterr().out
    assert not exists(store, expired) and exists(store, queued)
    assert run_command(["prune", "--older-than", "0"]) == 2


def test_a_new_sqlite_file_hands_deleted_pages_back(tmp_path: Path) -> None:
    store = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}"))
    assert isinstance(store, SQLiteStore)
    store.prepare(auto_migrate=True)
    try:
        for _ in range(20):
            end(store, submit(store, OLD, nodes=50), OLD)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        prune(store, NOW - DAY_SECONDS)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA freelist_count").scalar() == 0
            assert conn.exec_driver_sql("PRAGMA page_count").scalar() < pages
    finally:
        store.close()

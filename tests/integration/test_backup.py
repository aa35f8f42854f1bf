"""`agent-server backup` while an executor runs graphs: the copy is a whole database."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.cli import run_command
from backend.data.execution import RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.open import open_store
from backend.data.sqlite import SQLiteStore
from backend.data.store import Store
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from tests.graphs import STORE_VALUE, fast_settings, shared_pool
from tests.process_fixtures import wait_until


@pytest.fixture
def store(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    clean_env.setenv("BACKEND_DATA_DIR", str(tmp_path / "data"))
    store = open_store(fast_settings(tmp_path / "data"))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def completed(store: Store) -> set[str]:
    runs = store.list_runs(status=RunStatus.COMPLETED, limit=10_000)
    return {run.id for run in runs}


def test_a_backup_taken_during_writes_holds_every_finished_run(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = [Node(id=f"n{i}", block_id=STORE_VALUE, input_default={"input": i}) for i in range(3)]
    links = [
        Link(source_id=a.id, source_name="output", sink_id=b.id, sink_name="input")
        for a, b in itertools.pairwise(nodes)
    ]
    graph = save_graph(store, "alice", Graph(name="chain", nodes=nodes, links=links))
    manager = ExecutionManager(fast_settings(tmp_path / "data"), shared_pool())
    executor = threading.Thread(target=lambda: asyncio.run(manager.serve()), daemon=True)
    executor.start()
    writing = threading.Event()
    writing.set()

    def submit_forever() -> None:
        while writing.is_set():
            submit_run(store, "alice", graph.id, {})

    writer = threading.Thread(target=submit_forever, daemon=True)
    writer.start()
    target = tmp_path / "backups" / "backend.db"
    target.parent.mkdir()
    try:
        assert wait_until(lambda: len(completed(store)) >= 20, 60)
        finished = completed(store)
        assert run_command(["backup", str(target)]) == 0
        # Still writing and running afterwards: the backup blocked nobody.
        assert wait_until(lambda: len(completed(store)) > len(finished) + 5, 60)
    finally:
        writing.clear()
        writer.join(30)
        manager.stop()
        executor.join(30)
    out = capsys.readouterr()
    assert f"to {target} (" in out.out
    assert "encryption.key" in out.err and "keep a copy apart" in out.err
    assert os.stat(target).st_mode & 0o777 == 0o600

    with sqlite3.connect(target) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy = SQLiteStore(f"sqlite:///{target}")
    try:
        copy.prepare(auto_migrate=False)  # a server starts on it as it is
        assert finished <= completed(copy)
        for run_id in finished:
            outputs = [n.output_data for n in copy.node_executions(run_id)]
            assert outputs == [[("output", 0)], [("output", 0)], [("output", 0)]]
    finally:
        copy.close()

    # A second backup to the same file is refused; the first is left alone.
    size = target.stat().st_size
    assert run_command(["backup", str(target)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert target.stat().st_size == size


def test_backup_refuses_a_missing_database_and_points_postgresql_at_pg_dump(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("BACKEND_DATA_DIR", str(tmp_path / "none"))
    assert run_command(["backup", str(tmp_path / "b.db")]) == 1
    err = capsys.readouterr().err
    assert f"no database at sqlite:///{tmp_path / 'none' / 'backend.db'}" in err
    assert "agent-server init" in err
    assert not (tmp_path / "none").exists()

    clean_env.setenv("BACKEND_DATABASE_URL", "postgresql://agent:pw-secret@db.internal:5433/a")
    assert run_command(["backup", str(tmp_path / "b.dump")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    target = tmp_path / "b.dump"
    assert f"pg_dump --format=custom --file {target} postgresql://agent@db.internal:5433/a" in line
    assert "pw-secret" not in line

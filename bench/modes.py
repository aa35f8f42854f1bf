"""Running one graph to the end in each mode, and reading how long its nodes took.

Durable modes time the run from its claim (started_at) to its end (ended_at) as the
store recorded them, so executor start-up is not counted.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backend.data.execution import RunStatus
from backend.data.graph import Graph
from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.local import run_local
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings


def memory_seconds(graph: Graph) -> float:
    """Wall time of an in-process run on the in-memory journal."""

    async def timed() -> float:
        start = time.perf_counter()
        result = await run_local(graph, {})
        elapsed = time.perf_counter() - start
        assert result.run.status == RunStatus.COMPLETED, result.run.error
        return elapsed

    return asyncio.run(timed())


@contextmanager
def durable_settings(database: str) -> Iterator[Settings]:
    """Settings for a fresh database: "sqlite" (a temp file) or a PostgreSQL URL."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        url = "" if database == "sqlite" else database
        yield Settings(data_dir=Path(tmp), database_url=url, poll_seconds=0.01)


def durable_seconds(settings: Settings, graph: Graph, runs: int = 1) -> list[float]:
    """Run `graph` `runs` times through one executor; per-run claim-to-end seconds."""
    store = open_store(settings)
    try:
        store.prepare(auto_migrate=True)
        saved = save_graph(store, "bench", graph)
        ids = [submit_run(store, "bench", saved.id, {}).id for _ in range(runs)]
        asyncio.run(ExecutionManager(settings).serve(burst=True))
        return [_elapsed(store, run_id) for run_id in ids]
    finally:
        store.close()


def _elapsed(store: Store, run_id: str) -> float:
    run = store.get_run(run_id)
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.started_at is not None and run.ended_at is not None
    return run.ended_at - run.started_at

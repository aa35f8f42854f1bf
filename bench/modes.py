"""Running one graph to the end in each mode, and reading how long its nodes took.

Durable modes time the run from its claim (started_at) to its end (ended_at) as the
store recorded them, so executor start-up is not counted.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from backend.data.execution import RunStatus
from backend.data.graph import Graph
from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.limits import Limits
from backend.executor.local import run_local
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings

T = TypeVar("T")

# The user every bench graph and run belongs to.
USER = "bench"
# Enough for the largest fan-out (50,000 items: 100,001 node executions).
MAX_NODE_EXECUTIONS = 200_000


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
        # The scaling runs go past the default cap of node executions per run.
        yield Settings(
            data_dir=Path(tmp),
            database_url=url,
            poll_seconds=0.01,
            max_node_executions_per_run=MAX_NODE_EXECUTIONS,
        )


@contextmanager
def database_settings(database: str) -> Iterator[Settings]:
    """Settings on a fresh database: "sqlite" or "postgres" (a new database, dropped after)."""
    if database == "sqlite":
        with durable_settings("sqlite") as settings:
            yield settings
        return
    from tests.pg import create_database, drop_database

    url = create_database("bench")
    try:
        with durable_settings(url) as settings:
            yield settings
    finally:
        drop_database(url)


def durable_seconds(settings: Settings, graph: Graph, runs: int = 1) -> list[float]:
    """Run `graph` `runs` times through one executor; per-run claim-to-end seconds."""
    store = open_store(settings)
    try:
        ids = durable_runs(settings, store, graph, runs)
        return [_elapsed(store, run_id) for run_id in ids]
    finally:
        store.close()


def durable_runs(settings: Settings, store: Store, graph: Graph, runs: int = 1) -> list[str]:
    """Run `graph` `runs` times (and whatever else is queued) through one executor, in
    burst mode: it returns once the queue is empty. The ids of `graph`'s runs."""
    store.prepare(auto_migrate=True)
    saved = save_graph(store, USER, graph)
    limits = Limits.from_settings(settings)
    ids = [submit_run(store, USER, saved.id, {}, limits=limits).id for _ in range(runs)]
    asyncio.run(ExecutionManager(settings).serve(burst=True))
    return ids


def durable_seconds_each(settings: Settings, graphs: list[Graph]) -> list[float]:
    """Claim-to-end seconds of one run of each graph, one after the other, all through
    one executor (started once: its start-up is paid once, and timed by none)."""
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    limits = Limits.from_settings(settings)

    async def each() -> list[float]:
        seconds = []
        for graph in graphs:
            saved = save_graph(store, USER, graph)
            run_id = submit_run(store, USER, saved.id, {}, limits=limits).id
            while not (await asyncio.to_thread(store.get_run, run_id)).status.is_final:
                await asyncio.sleep(0.05)
            seconds.append(_elapsed(store, run_id))
        return seconds

    return with_executor(settings, store, each)


def with_executor(settings: Settings, store: Store, body: Callable[[], Awaitable[T]]) -> T:
    """``body()`` awaited while one executor serves in this process; closes ``store``."""

    async def scenario() -> T:
        manager = ExecutionManager(settings)
        serving = asyncio.create_task(manager.serve())
        try:
            return await body()
        finally:
            manager.stop()
            await serving

    try:
        return asyncio.run(scenario())
    finally:
        store.close()


def _elapsed(store: Store, run_id: str) -> float:
    run = store.get_run(run_id)
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.started_at is not None and run.ended_at is not None
    return run.ended_at - run.started_at

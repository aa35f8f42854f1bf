"""Side by side: the durable executor against the plain database it writes to.

Each workload submits its runs to one in-process ExecutionManager and is timed from just
before the first submit to the end of the last run (the store's ``ended_at``, same clock).
The manager is started, its block workers warmed and one tiny run executed before the
timer starts, so start-up is not counted.

* chain: one run of 1,000 StoreValue steps;
* many: 100 runs of 10 steps each, submitted one after another.

The limit is what the same machine does with the database alone: one INSERT and one
COMMIT per step, in a fresh SQLite file in WAL mode with synchronous=NORMAL (the
executor's own settings).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings
from bench import workloads

WAIT_SECONDS = 600.0
_POLL = 0.01


@dataclass(frozen=True)
class Shape:
    chain_steps: int
    runs: int
    run_steps: int
    limit_steps: int


FULL_SHAPE = Shape(chain_steps=1000, runs=100, run_steps=10, limit_steps=5000)
SMOKE_SHAPE = Shape(chain_steps=20, runs=5, run_steps=3, limit_steps=100)


def sqlite_limit_sps(steps: int) -> float:
    """Steps per second of one INSERT + COMMIT each, WAL, synchronous=NORMAL, fresh file."""
    with tempfile.TemporaryDirectory(prefix="bench-limit-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "limit.db", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE step (id INTEGER PRIMARY KEY, run TEXT, data TEXT)")
            start = time.perf_counter()
            for i in range(steps):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO step (run, data) VALUES (?, ?)", ("r", f'{{"i": {i}}}'))
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - start
        finally:
            conn.close()
    return steps / elapsed


def executor_sps(settings: Settings, shape: Shape) -> dict[str, float]:
    """Steps per second of the chain and of the many-runs workload, one manager for both."""
    store = open_store(settings)
    try:
        store.prepare(auto_migrate=True)
        warm = save_graph(store, "bench", workloads.chain(1)).id
        chain = save_graph(store, "bench", workloads.chain(shape.chain_steps)).id
        small = save_graph(store, "bench", workloads.chain(shape.run_steps)).id
        return asyncio.run(_measure(settings, store, warm, chain, small, shape))
    finally:
        store.close()


async def _measure(
    settings: Settings, store: Store, warm: str, chain: str, small: str, shape: Shape
) -> dict[str, float]:
    manager = ExecutionManager(settings)
    serving = asyncio.create_task(manager.serve())
    try:
        # The manager warms its block workers before it claims; a first run proves it is
        # claiming, so the timers below start on a ready executor.
        await _timed(store, [warm])
        chain_s = await _timed(store, [chain])
        many_s = await _timed(store, [small] * shape.runs)
    finally:
        manager.stop()
        await asyncio.wait_for(serving, WAIT_SECONDS)
    return {
        "chain": shape.chain_steps / chain_s,
        "many": shape.runs * shape.run_steps / many_s,
    }


async def _timed(store: Store, graph_ids: list[str]) -> float:
    """Seconds from just before the first submit to the last run's end."""

    def submit_all() -> tuple[float, list[str]]:
        started = time.time()
        return started, [submit_run(store, "bench", g, {}).id for g in graph_ids]

    # On a thread, as a client would: the manager's loop stays free while we submit.
    started, ids = await asyncio.to_thread(submit_all)
    ended = await asyncio.to_thread(_wait_ended, store, ids)
    return ended - started


def _wait_ended(store: Store, ids: list[str]) -> float:
    deadline = time.monotonic() + WAIT_SECONDS
    pending, last = list(ids), 0.0
    while pending:
        run = store.get_run(pending[0])
        if run.status.is_final:
            if run.error:
                raise RuntimeError(f"bench run {run.id} ended {run.status.value}: {run.error}")
            last = max(last, run.ended_at or 0.0)
            pending.pop(0)
            continue
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} bench runs did not end in {WAIT_SECONDS:g} s")
        time.sleep(_POLL)
    return last


@contextmanager
def _settings(url: str) -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="bench-sbs-") as tmp:
        yield Settings(data_dir=Path(tmp), database_url=url)


def side_by_side(shape: Shape, with_postgres: bool) -> dict[str, float]:
    """Every figure of this module, measured in one go (limit first, on a quiet machine)."""
    out: dict[str, float] = {"sbs_sqlite_limit_sps": sqlite_limit_sps(shape.limit_steps)}
    with _settings("") as settings:
        rates = executor_sps(settings, shape)
    out["sbs_sqlite_chain_sps"] = rates["chain"]
    out["sbs_sqlite_100x10_sps"] = rates["many"]
    out["sbs_sqlite_chain_ratio"] = rates["chain"] / out["sbs_sqlite_limit_sps"]
    out["sbs_sqlite_100x10_ratio"] = rates["many"] / out["sbs_sqlite_limit_sps"]
    if with_postgres:
        from tests.pg import create_database, drop_database

        url = create_database("sbs")
        try:
            with _settings(url) as settings:
                rates = executor_sps(settings, shape)
        finally:
            drop_database(url)
        out["sbs_postgres_chain_sps"] = rates["chain"]
        out["sbs_postgres_100x10_sps"] = rates["many"]
        out["sbs_postgres_100x10_vs_chain"] = rates["many"] / rates["chain"]
    return out


# (label, figure, target): each figure must be at least its target.
TARGETS = [
    ("SQLite chain / plain-SQLite limit >= 0.15", "sbs_sqlite_chain_ratio", 0.15),
    ("SQLite 100x10 / plain-SQLite limit >= 0.10", "sbs_sqlite_100x10_ratio", 0.10),
    ("PostgreSQL 100x10 / PostgreSQL chain >= 0.5", "sbs_postgres_100x10_vs_chain", 0.5),
]


def main() -> None:
    """`python -m bench.side_by_side`: only these figures, without the rest of the bench."""
    import argparse

    from bench.run import postgres_available

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    shape = SMOKE_SHAPE if args.smoke else FULL_SHAPE
    results = side_by_side(shape, not args.no_postgres and postgres_available())
    for key, value in results.items():
        print(f"{key}: {value:,.2f}")
    for label, key, target in TARGETS:
        if key in results:
            met = "yes" if results[key] >= target else "NO"
            print(f"{label}: {results[key]:.3f} ({met})")


if __name__ == "__main__":
    main()

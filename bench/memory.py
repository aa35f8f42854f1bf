"""Executor memory growth: RSS after N1 and after N2 chain runs in one executor process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings
from bench import workloads
from bench.modes import with_executor


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def rss_growth_mb(settings: Settings, chain_length: int, runs: tuple[int, int]) -> float:
    """RSS growth between runs[0] * chain_length and runs[1] * chain_length node executions,
    all executed by one long-lived executor (the same event loop and store)."""
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    graph = save_graph(store, "bench", workloads.chain(chain_length))

    async def growth() -> float:
        await _execute(store, graph.id, runs[0])
        first = rss_mb()
        await _execute(store, graph.id, runs[1] - runs[0])
        return rss_mb() - first

    return with_executor(settings, store, growth)


async def _execute(store: Store, graph_id: str, count: int) -> None:
    ids = [submit_run(store, "bench", graph_id, {}).id for _ in range(count)]
    while not all(store.get_run(run_id).status.is_final for run_id in ids):
        await asyncio.sleep(0.05)

"""On SQLite an idle executor wakes on a datagram when a run is submitted; polling stays."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.data.graph import Graph, Node
from backend.data.open import open_store
from backend.data.sqlite import SQLiteStore
from backend.data.store import Store
from backend.data.wake import wake_all, wake_dir
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from tests.graphs import STORE_VALUE, fast_settings, shared_pool

# Far longer than the waits below: a run they see end was not found by polling.
SLOW_POLL = 60.0
WAIT = 20.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = open_store(fast_settings(tmp_path))
    assert isinstance(store, SQLiteStore)
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def one_node() -> Graph:
    return Graph(name="one", nodes=[Node(id="a", block_id=STORE_VALUE, input_default={"input": 1})])


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {WAIT:g} s")
        await asyncio.sleep(0.02)


def sockets(store: SQLiteStore) -> list[Path]:
    assert store.path is not None
    directory = wake_dir(store.path)
    return sorted(directory.glob("*.sock")) if directory.exists() else []


def ended(store: Store, run_id: str) -> bool:
    return store.get_run(run_id).status.is_final


def run_with_executor(tmp_path: Path, store: SQLiteStore, poll: float, body: Any) -> None:
    graph = save_graph(store, "alice", one_node())

    async def scenario() -> None:
        manager = ExecutionManager(fast_settings(tmp_path, poll_seconds=poll), shared_pool())
        serving = asyncio.create_task(manager.serve())
        try:
            await until(lambda: sockets(store), "the executor's wake socket")
            # A first run, claimed however: once it has ended the executor is idle.
            first = await asyncio.to_thread(submit_run, store, "alice", graph.id, {})
            await until(lambda: ended(store, first.id), "the first run's end")
            await body(graph.id)
        finally:
            manager.stop()
            await asyncio.wait_for(serving, 30)

    asyncio.run(scenario())


def test_an_idle_executor_starts_a_submitted_run_without_waiting_for_its_poll(
    tmp_path: Path, store: SQLiteStore
) -> None:
    async def body(graph_id: str) -> None:
        await asyncio.sleep(0.2)  # the claim loop is back in its (long) wait
        run = await asyncio.to_thread(submit_run, store, "alice", graph_id, {})
        await until(lambda: ended(store, run.id), "the second run's end")

    run_with_executor(tmp_path, store, SLOW_POLL, body)
    assert sockets(store) == [], "a stopped executor removes its socket"


def test_polling_still_finds_work_when_the_wake_directory_is_gone(
    tmp_path: Path, store: SQLiteStore
) -> None:
    async def body(graph_id: str) -> None:
        assert store.path is not None
        shutil.rmtree(wake_dir(store.path))
        run = await asyncio.to_thread(submit_run, store, "alice", graph_id, {})
        await until(lambda: ended(store, run.id), "the run's end")

    run_with_executor(tmp_path, store, 0.05, body)


def test_a_stale_socket_file_is_skipped(tmp_path: Path) -> None:
    directory = tmp_path / "wake"
    directory.mkdir()
    (directory / "gone.sock").write_bytes(b"")  # not a socket: nobody listens there
    wake_all(directory)  # no error
    wake_all(tmp_path / "missing")

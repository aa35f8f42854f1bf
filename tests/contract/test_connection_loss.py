"""Lost connections and lost replies. PostgreSQL drops every connection mid-run (a
restart, a failover, an operator's pg_terminate_backend): the executor reconnects and
every run still completes. A run the executor owns but does not know it runs (a claim
whose reply was lost, a run task that died) is handed back, never left RUNNING."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator

import pytest

from backend.data.execution import NodeStatus, RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.manager import ExecutionManager
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings
from tests import pg
from tests.graphs import WAIT


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        heartbeat_seconds=0.1,
        lease_seconds=2.0,
        poll_seconds=0.05,
        num_graph_workers=4,
    )


@pytest.fixture
def pg_url(pg_database: str) -> str:
    pg.truncate_all(pg_database)
    return pg_database


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    store = open_store(settings_for(pg_url))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def waits(count: int, seconds: float = 0.2) -> Graph:
    nodes = [
        Node(id=f"w{i}", block_id=WAIT, input_default={"seconds": seconds, "input": i})
        for i in range(count)
    ]
    links = [
        Link(source_id=a.id, source_name="output", sink_id=b.id, sink_name="input")
        for a, b in itertools.pairwise(nodes)
    ]
    return Graph(name="waits", nodes=nodes, links=links)


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_pooled_connections_the_server_dropped_are_replaced_unseen(
    pg_url: str, store: Store
) -> None:
    # Two connections in the pool, both idle (checked in) when the server drops them.
    with store.read(), store.read():
        pass
    assert store.node_executions("no-such-run") == []
    assert pg.terminate_sessions(pg_url) >= 1
    deadline = time.monotonic() + 10
    while pg.session_count(pg_url) > 0:
        assert time.monotonic() < deadline, "the server did not end its sessions"
        time.sleep(0.02)
    # No round trip checks a connection in steady use; the server's goodbye does.
    for _ in range(3):
        assert store.node_executions("no-such-run") == []
        with store.read(), store.read():
            pass


def test_runs_complete_when_every_connection_is_terminated(pg_url: str, store: Store) -> None:
    graph = save_graph(store, "alice", waits(4))
    runs = [submit_run(store, "alice", graph.id, {}) for _ in range(6)]

    def running_nodes() -> int:
        return sum(
            1
            for run in runs
            for n in store.node_executions(run.id)
            if n.status == NodeStatus.RUNNING
        )

    def all_ended() -> bool:
        return all(store.get_run(run.id).status.is_final for run in runs)

    async def scenario() -> None:
        manager = ExecutionManager(settings_for(pg_url))
        serving = asyncio.create_task(manager.serve())
        try:
            # Twice: once mid-node, once while the pool is still refilling from the first.
            for _ in range(2):
                await wait_until(lambda: running_nodes() > 0)
                assert await asyncio.to_thread(pg.terminate_sessions, pg_url) > 0
                await asyncio.sleep(0.15)
            await wait_until(all_ended)
            assert not serving.done(), "the executor must survive a dropped connection"
        finally:
            manager.stop()
            await asyncio.wait_for(serving, 10)

    asyncio.run(scenario())
    for run in runs:
        assert store.get_run(run.id).status == RunStatus.COMPLETED
        nodes = store.node_executions(run.id)
        assert all(n.status == NodeStatus.COMPLETED for n in nodes)
        # Each activation completed once (a node interrupted mid-write re-runs, same row).
        assert sorted(n.node_id for n in nodes) == ["w0", "w1", "w2", "w3"]
        assert store.get_run(run.id).error is None


def test_a_run_owned_but_not_running_is_handed_back(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        heartbeat_seconds=0.1,
        lease_seconds=30.0,
        poll_seconds=0.05,
        num_graph_workers=1,
    )
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    graph = save_graph(store, "alice", waits(1))
    slow = save_graph(store, "alice", waits(1, seconds=1.0))

    async def scenario() -> str:
        manager = ExecutionManager(settings)
        serving = asyncio.create_task(manager.serve())
        try:
            busy = submit_run(store, "alice", slow.id, {})
            await wait_until(lambda: store.get_run(busy.id).status == RunStatus.RUNNING)
            # Its one worker is busy: this claim in its name is one it never saw.
            lost = submit_run(store, "alice", graph.id, {})
            (claimed,) = store.claim_runs(manager.executor_id, 1, time.time(), 30.0)
            assert claimed.id == lost.id
            await wait_until(lambda: store.get_run(lost.id).status.is_final)
            return lost.id
        finally:
            manager.stop()
            await asyncio.wait_for(serving, 10)

    try:
        run_id = asyncio.run(scenario())
        assert store.get_run(run_id).status == RunStatus.COMPLETED
        kinds = [e.data["status"] for e in store.events(run_id) if e.type == "run_status"]
        assert kinds == ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "COMPLETED"]
    finally:
        store.close()

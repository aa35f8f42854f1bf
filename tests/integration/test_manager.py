"""The durable ExecutionManager on a real SQLite file and on PostgreSQL, driven in-process."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks import register_block, unregister_block
from backend.data.execution import Event, NodeStatus, Run, RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.open import open_store
from backend.data.store import Store
from backend.errors import Conflict
from backend.executor.manager import ExecutionManager
from backend.executor.metrics import REGISTRY
from backend.executor.submit import cancel_run, save_graph, submit_run
from tests.blocks_for_tests import FlakyBlock
from tests.graphs import STORE_VALUE, WAIT, fast_settings, shared_pool

make_settings = fast_settings


@pytest.fixture
def store(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    # Every make_settings() of the test, the executors' included, reads the database from
    # the environment, as a deployed process does.
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    store = open_store(make_settings(tmp_path))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


@pytest.fixture
def flaky() -> Iterator[None]:
    FlakyBlock.calls.clear()
    register_block(FlakyBlock)
    yield
    unregister_block(FlakyBlock.id)


def chain(*nodes: Node) -> Graph:
    links = [
        Link(source_id=a.id, source_name="output", sink_id=b.id, sink_name="input")
        for a, b in itertools.pairwise(nodes)
    ]
    return Graph(name="chain", nodes=list(nodes), links=links)


def drain(tmp_path: Path, **overrides: Any) -> None:
    """Run one executor until no work is left (the real claim loop, burst mode)."""
    asyncio.run(
        asyncio.wait_for(
            ExecutionManager(make_settings(tmp_path, **overrides), shared_pool()).serve(burst=True),
            60,
        )
    )


def counted(name: str, **labels: str) -> float:
    """An executor metric's current value in this process (0 before its first count)."""
    return REGISTRY.get_sample_value(f"agent_server_executor_{name}", labels) or 0.0


def test_runs_complete_with_outputs_and_events(tmp_path: Path, store: Store) -> None:
    graph = save_graph(
        store,
        "alice",
        chain(
            Node(id="a", block_id=STORE_VALUE, input_default={"input": "x"}),
            Node(id="b", block_id=STORE_VALUE),
        ),
    )
    runs = [submit_run(store, "alice", graph.id, {}) for _ in range(5)]
    drain(tmp_path)
    for run in runs:
        done = store.get_run(run.id)
        assert done.status == RunStatus.COMPLETED
        nodes = store.node_executions(run.id)
        assert [(n.node_id, n.status, n.output_data) for n in nodes] == [
            ("a", NodeStatus.COMPLETED, [("output", "x")]),
            ("b", NodeStatus.COMPLETED, [("output", "x")]),
        ]
        kinds = [(e.type, e.data["status"]) for e in store.events(run.id)]
        assert kinds[0] == ("run_status", "QUEUED")
        assert kinds[1] == ("run_status", "RUNNING")
        assert store.events(run.id)[1].data == {"status": "RUNNING"}  # no executor identity
        assert kinds[-1] == ("run_status", "COMPLETED")


def test_transient_failure_succeeds_on_third_attempt(
    tmp_path: Path, store: Store, flaky: None
) -> None:
    retry = {"max_attempts": 3, "retry_backoff_seconds": 0.01}
    graph = save_graph(
        store,
        "alice",
        Graph(
            nodes=[
                Node(id="f", block_id=FlakyBlock.id, input_default={"token": "t1"}, metadata=retry)
            ]
        ),
    )
    run = submit_run(store, "alice", graph.id, {})
    block = {"block": FlakyBlock().name}
    retries = counted("node_retries_total", **block)
    completed = counted("node_executions_total", **block, status="COMPLETED")
    durations = counted("node_duration_seconds_count", **block)
    drain(tmp_path)
    assert store.get_run(run.id).status == RunStatus.COMPLETED
    (node,) = store.node_executions(run.id)
    assert node.attempt == 3
    assert node.output_data == [("output", 3)]
    # Two attempts raised and were retried; the third completed; each attempt was timed.
    assert counted("node_retries_total", **block) == retries + 2
    assert counted("node_executions_total", **block, status="COMPLETED") == completed + 1
    assert counted("node_duration_seconds_count", **block) == durations + 3


def test_retries_exhausted_fail_the_run(tmp_path: Path, store: Store, flaky: None) -> None:
    retry = {"max_attempts": 2, "retry_backoff_seconds": 0.01}
    graph = save_graph(
        store,
        "alice",
        Graph(
            nodes=[
                Node(id="f", block_id=FlakyBlock.id, input_default={"token": "t2"}, metadata=retry)
            ]
        ),
    )
    run = submit_run(store, "alice", graph.id, {})
    block = {"block": FlakyBlock().name}
    failed_nodes = counted("node_executions_total", **block, status="FAILED")
    failed_runs = counted("runs_finished_total", status="FAILED")
    drain(tmp_path)
    done = store.get_run(run.id)
    assert done.status == RunStatus.FAILED
    assert "transient failure 2" in (done.error or "")
    assert counted("node_executions_total", **block, status="FAILED") == failed_nodes + 1
    assert counted("runs_finished_total", status="FAILED") == failed_runs + 1


def test_node_timeout_fails_with_clear_error(tmp_path: Path, store: Store) -> None:
    graph = save_graph(
        store,
        "alice",
        chain(
            Node(
                id="w",
                block_id=WAIT,
                input_default={"seconds": 30, "input": 1},
                metadata={"timeout_seconds": 0.2},
            ),
            Node(id="after", block_id=STORE_VALUE),
        ),
    )
    run = submit_run(store, "alice", graph.id, {})
    drain(tmp_path)
    done = store.get_run(run.id)
    assert done.status == RunStatus.FAILED
    assert "timed out after 0.2 s" in (done.error or "")
    assert [n.node_id for n in store.node_executions(run.id)] == ["w"]


def test_run_deadline_fails_the_run(tmp_path: Path, store: Store) -> None:
    graph = save_graph(
        store,
        "alice",
        chain(Node(id="w", block_id=WAIT, input_default={"seconds": 30, "input": 1})),
    )
    run = submit_run(store, "alice", graph.id, {}, deadline_seconds=0.3)
    drain(tmp_path)
    done = store.get_run(run.id)
    assert done.status == RunStatus.FAILED
    assert "deadline exceeded" in (done.error or "")
    assert [n.status for n in store.node_executions(run.id)] == [NodeStatus.TERMINATED]


def test_graph_workers_limit_is_never_exceeded(tmp_path: Path, store: Store) -> None:
    graph = save_graph(
        store,
        "alice",
        chain(Node(id="w", block_id=WAIT, input_default={"seconds": 0.05, "input": 1})),
    )
    runs = [submit_run(store, "alice", graph.id, {}) for _ in range(12)]
    drain(tmp_path, num_graph_workers=3)
    intervals = []
    for run in runs:
        done = store.get_run(run.id)
        assert done.status == RunStatus.COMPLETED
        assert done.started_at is not None and done.ended_at is not None
        intervals.append((done.started_at, done.ended_at))
    # At every run start, count the runs whose [start, end) interval covers it.
    peak = max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)
    assert peak <= 3


def test_cancel_reaches_the_running_executor(tmp_path: Path, store: Store) -> None:
    graph = save_graph(
        store,
        "alice",
        chain(
            Node(id="w", block_id=WAIT, input_default={"seconds": 60, "input": 1}),
            Node(id="after", block_id=STORE_VALUE),
        ),
    )
    run = submit_run(store, "alice", graph.id, {})
    settings = make_settings(tmp_path)

    async def scenario() -> float:
        manager = ExecutionManager(settings)
        serving = asyncio.create_task(manager.serve())
        try:
            await wait_until(lambda: _status_of(store, run.id, "w") == NodeStatus.RUNNING)
            asked = time.monotonic()
            await asyncio.to_thread(cancel_run, store, run.id)
            await wait_until(lambda: store.get_run(run.id).status.is_final)
            return time.monotonic() - asked
        finally:
            manager.stop()
            await asyncio.wait_for(serving, 10)

    elapsed = asyncio.run(scenario())
    assert store.get_run(run.id).status == RunStatus.TERMINATED
    assert elapsed < 2.0
    assert [(n.node_id, n.status) for n in store.node_executions(run.id)] == [
        ("w", NodeStatus.TERMINATED)
    ]
    with pytest.raises(Conflict):
        cancel_run(store, run.id)


def test_cancel_of_a_queued_run_terminates_it_at_once(store: Store) -> None:
    graph = save_graph(
        store, "alice", chain(Node(id="a", block_id=STORE_VALUE, input_default={"input": 1}))
    )
    run = submit_run(store, "alice", graph.id, {})
    assert cancel_run(store, run.id).status == RunStatus.TERMINATED
    assert [n.status for n in store.node_executions(run.id)] == [NodeStatus.TERMINATED]


def test_stop_hands_running_work_back(tmp_path: Path, store: Store) -> None:
    """A stopping executor whose grace runs out returns the run to the queue, and the
    next executor finishes it, re-running only the interrupted node."""
    graph = save_graph(
        store,
        "alice",
        chain(
            Node(id="first", block_id=STORE_VALUE, input_default={"input": 7}),
            Node(id="w", block_id=WAIT, input_default={"seconds": 0.5}),
            Node(id="last", block_id=STORE_VALUE),
        ),
    )
    run = submit_run(store, "alice", graph.id, {})
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.05)
    hand_backs = counted("run_hand_backs_total", reason="shutdown")
    claims = counted("runs_claimed_total")
    starts = counted("run_start_delay_seconds_count")

    async def stop_mid_run() -> None:
        manager = ExecutionManager(settings)
        serving = asyncio.create_task(manager.serve())
        await wait_until(lambda: _status_of(store, run.id, "w") == NodeStatus.RUNNING)
        manager.stop()
        await asyncio.wait_for(serving, 10)

    asyncio.run(stop_mid_run())
    handed = store.get_run(run.id)
    assert handed.status == RunStatus.QUEUED and handed.owner is None
    assert _status_of(store, run.id, "w") == NodeStatus.QUEUED
    drain(tmp_path)
    assert store.get_run(run.id).status == RunStatus.COMPLETED
    by_node = {n.node_id: n for n in store.node_executions(run.id)}
    assert by_node["first"].attempt == 1
    assert by_node["w"].attempt == 2
    assert by_node["last"].output_data == [("output", 7)]
    # Claimed twice, handed back once; only the first claim started it (submit-to-start).
    assert counted("run_hand_backs_total", reason="shutdown") == hand_backs + 1
    assert counted("runs_claimed_total") == claims + 2
    assert counted("run_start_delay_seconds_count") == starts + 1


def test_expired_lease_is_reclaimed_by_another_executor(tmp_path: Path, store: Store) -> None:
    """An owner that vanished without a word: its lease expires and its run completes."""
    graph = save_graph(
        store, "alice", chain(Node(id="a", block_id=STORE_VALUE, input_default={"input": 1}))
    )
    run = submit_run(store, "alice", graph.id, {})
    now = time.time()
    (claimed,) = store.claim_runs("ghost-executor", 1, now, lease_seconds=0.01)
    assert claimed.id == run.id
    time.sleep(0.02)
    claims, starts = counted("runs_claimed_total"), counted("run_start_delay_seconds_count")
    drain(tmp_path)
    assert store.get_run(run.id).status == RunStatus.COMPLETED
    # A reclaim is a resume: the run started (and left the queue) at the ghost's claim.
    assert counted("runs_claimed_total") == claims + 1
    assert counted("run_start_delay_seconds_count") == starts


def test_a_run_taken_over_counts_one_lease_loss(tmp_path: Path, store: Store) -> None:
    """Another executor takes the run (as if this one's lease had lapsed): this one drops
    it without writing, and counts the loss once, though both its heartbeat and the run's
    next write notice it."""
    graph = save_graph(
        store, "alice", chain(Node(id="w", block_id=WAIT, input_default={"seconds": 1.0}))
    )
    run = submit_run(store, "alice", graph.id, {})
    losses = counted("lease_losses_total")

    async def take_over() -> None:
        manager = ExecutionManager(make_settings(tmp_path))
        serving = asyncio.create_task(manager.serve())
        await wait_until(lambda: _status_of(store, run.id, "w") == NodeStatus.RUNNING)
        # Claimed "an hour from now", when this executor's lease has long expired.
        later = time.time() + 3600
        (taken,) = await asyncio.to_thread(store.claim_runs, "thief", 1, later, 3600)
        assert taken.id == run.id
        await wait_until(lambda: run.id not in manager.active)
        manager.stop()
        await asyncio.wait_for(serving, 10)

    asyncio.run(take_over())
    assert store.get_run(run.id).owner == "thief"
    assert counted("lease_losses_total") == losses + 1


def test_a_run_ending_while_a_heartbeat_is_answered_is_not_a_lease_loss(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's end clears its lease. A heartbeat asked after that commit, but answered
    while the run's task has not yet seen its end, finds the run not owned: the run
    was not taken over, so it is neither abandoned nor counted as a lease loss."""
    graph = save_graph(
        store, "alice", chain(Node(id="a", block_id=STORE_VALUE, input_default={"input": 1}))
    )
    run = submit_run(store, "alice", graph.id, {})
    losses = counted("lease_losses_total")
    kind = type(store)
    save_writes, heartbeat, oldest = kind.save_writes, kind.heartbeat, kind.oldest_queued_at
    ended = threading.Event()  # the run's end is committed
    beat_after_end = threading.Event()  # a beat asked after it has been handled
    asked_after_end = False

    def ending_save(self: Store, owner: str, writes: Any, *args: Any) -> set[str]:
        lost = save_writes(self, owner, writes, *args)
        if any(w.finish is not None for w in writes):
            ended.set()
            # The run's task hears of its end only once such a beat was handled.
            assert beat_after_end.wait(10), "no heartbeat after the run's end"
        return lost

    def watched_heartbeat(self: Store, *args: Any) -> Any:
        nonlocal asked_after_end
        asked_after_end = ended.is_set()
        return heartbeat(self, *args)

    def after_the_owned_check(self: Store) -> Any:
        if asked_after_end:
            beat_after_end.set()
        return oldest(self)

    monkeypatch.setattr(kind, "save_writes", ending_save)
    monkeypatch.setattr(kind, "heartbeat", watched_heartbeat)
    monkeypatch.setattr(kind, "oldest_queued_at", after_the_owned_check)
    drain(tmp_path, heartbeat_seconds=0.01)
    assert beat_after_end.is_set()
    assert store.get_run(run.id).status == RunStatus.COMPLETED
    assert counted("lease_losses_total") == losses


def _status_of(store: Store, run_id: str, node_id: str) -> NodeStatus | None:
    found = [n.status for n in store.node_executions(run_id) if n.node_id == node_id]
    return found[-1] if found else None


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def test_run_whose_graph_is_gone_fails_instead_of_crashing_the_executor(
    tmp_path: Path, store: Store
) -> None:
    run = Run(id="orphan", graph_id="no-such-graph", graph_version=1, user_id="alice")
    run.created_at = time.time()
    store.submit_run(run, [], Event(run.id, "run_status", {"status": "QUEUED"}))
    drain(tmp_path)
    done = store.get_run(run.id)
    assert done.status == RunStatus.FAILED
    assert "cannot start" in (done.error or "")

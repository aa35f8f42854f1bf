"""Isolation and limits, in-process: what one graph author's graph can no longer do.

Nodes run for real: isolated blocks in real worker processes (killed on timeout and
cancel), runs through the real executor on SQLite and PostgreSQL where the database is
part of the story.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks import register_block, unregister_block
from backend.blocks.basic import StoreValueBlock
from backend.blocks.data_structures import StepThroughItemsBlock
from backend.blocks.text import FillTextTemplateBlock, MatchTextPatternBlock, TextReplaceBlock
from backend.data.execution import NodeStatus, Run, RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.open import open_store
from backend.data.store import Store
from backend.errors import InvalidInput
from backend.executor.engine import RunState
from backend.executor.limits import Limits
from backend.executor.local import LocalResult, run_local
from backend.executor.manager import ExecutionManager
from backend.executor.runner import run_event
from backend.executor.submit import cancel_run, save_graph, submit_graph_run, submit_run
from tests.blocks_for_tests import (
    MISBEHAVING_BLOCKS,
    BurnBlock,
    CrashBlock,
    HogBlock,
    StallLoopBlock,
)
from tests.graphs import fast_settings, shared_pool
from tests.supervisor_helpers import wait_for

# Backtracks exponentially in the regex engine too (the "(a+)+$" it handles).
CATASTROPHIC = {"text": "a" * 29 + "b", "match": "(a|a)+$"}


@pytest.fixture(autouse=True)
def misbehaving() -> Iterator[None]:
    for cls in MISBEHAVING_BLOCKS:
        register_block(cls)
    yield
    for cls in MISBEHAVING_BLOCKS:
        unregister_block(cls.id)


def one_node(block_id: str, metadata: dict[str, Any] | None = None, **defaults: Any) -> Graph:
    return Graph(
        nodes=[Node(id="n", block_id=block_id, input_default=defaults, metadata=metadata or {})]
    )


def run(graph: Graph, **limits: Any) -> LocalResult:
    return asyncio.run(run_local(graph, {}, Limits(**limits), shared_pool()))


def failure(result: LocalResult) -> str:
    assert result.run.status == RunStatus.FAILED, result.run.outputs
    assert result.run.error is not None
    return result.run.error


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- a node's time limit kills its worker -------------------------------------------------


def test_the_reported_catastrophic_pattern_is_answered_at_once() -> None:
    graph = one_node(MatchTextPatternBlock.id, text="a" * 29 + "b", match="(a+)+$", data=1)
    result = run(graph)
    assert result.run.status == RunStatus.COMPLETED
    assert result.executions[0].output_data == [("negative", 1)]


def test_catastrophic_regex_is_stopped_by_the_node_timeout() -> None:
    graph = one_node(MatchTextPatternBlock.id, {"timeout_seconds": 1}, **CATASTROPHIC)
    assert "timed out after 1 s" in failure(run(graph))
    # The pool is still usable: a sane pattern right after.
    ok = run(one_node(MatchTextPatternBlock.id, text="abc", match="b"))
    assert ok.run.status == RunStatus.COMPLETED


def test_the_regex_engine_gives_up_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.blocks import text

    monkeypatch.setattr(text, "REGEX_TIMEOUT_SECONDS", 0.2)

    async def outputs() -> list[tuple[str, Any]]:
        block = MatchTextPatternBlock()
        return [pair async for pair in block.execute({**CATASTROPHIC, "text": "a" * 40 + "b"})]

    assert asyncio.run(outputs()) == [("error", "pattern matching took longer than 0.2 s")]


def test_a_timed_out_node_leaves_no_work_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    graph = one_node(BurnBlock.id, {"timeout_seconds": 1}, pid_file=str(pid_file))
    assert "timed out after 1 s" in failure(run(graph))
    pid = int(pid_file.read_text())
    wait_for(lambda: not pid_alive(pid) or None, 10, "the worker to be killed")


# -- a worker that dies fails its node, never the executor --------------------------------


def test_a_crashing_worker_fails_only_its_node() -> None:
    graph = Graph(
        nodes=[
            Node(id="crash", block_id=CrashBlock.id, input_default={"input": 1}),
            Node(id="fine", block_id=StoreValueBlock.id, input_default={"input": 2}),
        ]
    )
    result = run(graph)
    assert "worker process died: killed (SIGKILL" in failure(result)
    fine = [ne for ne in result.executions if ne.node_id == "fine"]
    assert [ne.status for ne in fine] == [NodeStatus.COMPLETED]


def test_a_node_over_the_memory_limit_fails_with_a_clear_error() -> None:
    assert "ran out of memory (worker limit 1024 MiB)" in failure(
        run(one_node(HogBlock.id, megabytes=2048))
    )
    assert run(one_node(HogBlock.id, megabytes=16)).run.status == RunStatus.COMPLETED


# -- size limits ------------------------------------------------------------------------


def test_a_template_stops_at_the_output_limit() -> None:
    graph = one_node(
        FillTextTemplateBlock.id, values={}, format="{{ 'a'.ljust(1500000000)|length }}"
    )
    error = failure(run(graph, max_output_value_bytes=100_000))
    assert "over the limit of 100000" in error


def test_text_replace_cannot_build_a_huge_text() -> None:
    graph = one_node(TextReplaceBlock.id, text="a" * 10_000, old="a", new="b" * 1000)
    assert "over the limit of 1000000 per output value" in failure(
        run(graph, max_output_value_bytes=1_000_000)
    )


def test_outputs_are_measured_before_they_are_stored() -> None:
    graph = one_node(StepThroughItemsBlock.id, items=list(range(5000)))
    error = failure(run(graph, max_node_output_bytes=10_000))
    assert "BACKEND_MAX_NODE_OUTPUT_BYTES" in error
    executions = run(graph, max_node_output_bytes=10_000)
    assert all(ne.output_data == [] for ne in executions.executions)


def test_one_value_over_the_limit_fails_the_node() -> None:
    graph = one_node(StoreValueBlock.id, input="x" * 5000)
    error = failure(run(graph, max_output_value_bytes=1024, max_node_output_bytes=1024))
    assert "BACKEND_MAX_OUTPUT_VALUE_BYTES" in error


def test_a_self_loop_ends_at_the_node_execution_limit() -> None:
    graph = Graph(
        nodes=[
            Node(id="s", block_id=StoreValueBlock.id, input_default={"input": 1}),
            Node(id="a", block_id=StoreValueBlock.id),
        ],
        links=[
            Link(source_id="s", source_name="output", sink_id="a", sink_name="input"),
            Link(source_id="a", source_name="output", sink_id="a", sink_name="input"),
        ],
    )
    result = run(graph, max_node_executions_per_run=50)
    assert "BACKEND_MAX_NODE_EXECUTIONS_PER_RUN" in failure(result)
    # A loop feeding itself adds one execution per step: it stops right at the limit.
    assert len(result.executions) <= 51
    assert not [ne for ne in result.executions if not ne.status.is_final]


def test_a_run_stops_at_its_stored_bytes_limit() -> None:
    nodes = [
        Node(id=f"t{i}", block_id=FillTextTemplateBlock.id, input_default={"values": {}})
        for i in range(5)
    ]
    nodes[0].input_default["format"] = "{{ 'x' * 30000 }}"
    links = [
        Link(source_id=f"t{i}", source_name="output", sink_id=f"t{i + 1}", sink_name="format")
        for i in range(4)
    ]
    result = run(Graph(nodes=nodes, links=links), max_run_stored_bytes=100_000)
    assert "BACKEND_MAX_RUN_STORED_BYTES" in failure(result)


def test_node_timeout_and_run_deadline_have_upper_bounds(tmp_path: Path) -> None:
    graph = one_node(StoreValueBlock.id, {"timeout_seconds": 7200}, input=1)
    with pytest.raises(InvalidInput, match="BACKEND_MAX_NODE_TIMEOUT_SECONDS"):
        run(graph)
    store = open_store(fast_settings(tmp_path))
    store.prepare(auto_migrate=True)
    try:
        saved = save_graph(store, "alice", one_node(StoreValueBlock.id, input=1))
        with pytest.raises(InvalidInput, match="BACKEND_MAX_RUN_DEADLINE_SECONDS"):
            submit_graph_run(store, "alice", saved, {}, 10**6, Limits())
    finally:
        store.close()


# -- the executor: cancel, poison runs, fairness, the watchdog -----------------------------


@pytest.fixture
def store(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    store = open_store(fast_settings(tmp_path))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


async def serve_until(manager: ExecutionManager, done: Any, timeout: float = 60) -> None:
    """Run ``manager`` until ``done()`` (polled, a blocking store read) is true."""
    task = asyncio.create_task(manager.serve())
    try:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "timed out"
            assert not task.done(), task
            await asyncio.sleep(0.02)
    finally:
        manager.stop()
        await asyncio.wait_for(task, 30)


def test_cancel_kills_a_node_that_never_returns(store: Store, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    saved = save_graph(store, "alice", one_node(BurnBlock.id, pid_file=str(pid_file)))
    run_id = submit_run(store, "alice", saved.id, {}).id
    manager = ExecutionManager(fast_settings(tmp_path), shared_pool())

    def cancelled_once_burning() -> bool:
        if pid_file.exists() and not store.get_run(run_id).cancel_requested:
            cancel_run(store, run_id)
        return store.get_run(run_id).status.is_final

    asyncio.run(serve_until(manager, cancelled_once_burning))
    assert store.get_run(run_id).status == RunStatus.TERMINATED
    pid = int(pid_file.read_text())
    wait_for(lambda: not pid_alive(pid) or None, 10, "the worker to be killed")


def test_a_run_claimed_again_and_again_without_progress_is_failed(
    store: Store, tmp_path: Path
) -> None:
    settings = fast_settings(tmp_path, max_stalled_claims=3)
    saved = save_graph(store, "alice", one_node(StoreValueBlock.id, input=1))
    run_id = submit_run(store, "alice", saved.id, {}).id
    for _ in range(3):  # three executors claimed it and died or handed it back
        [claimed] = store.claim_runs("dead", 1, time.time(), 30)
        store.release_run("dead", claimed.id, run_event(claimed))
    asyncio.run(ExecutionManager(settings, shared_pool()).serve(burst=True))
    run = store.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error.startswith("poison run: claimed 3 times")
    assert all(ne.status == NodeStatus.TERMINATED for ne in store.node_executions(run_id))


def test_progress_clears_the_poison_count(store: Store, tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, max_stalled_claims=2)
    saved = save_graph(store, "alice", one_node(StoreValueBlock.id, input=1))
    run_id = submit_run(store, "alice", saved.id, {}).id
    [claimed] = store.claim_runs("dead", 1, time.time(), 30)
    store.release_run("dead", claimed.id, run_event(claimed))
    asyncio.run(ExecutionManager(settings, shared_pool()).serve(burst=True))
    assert store.get_run(run_id).status == RunStatus.COMPLETED
    assert store.get_run(run_id).stalled_claims == 0


def test_a_node_whose_inputs_cannot_merge_fails_alone(store: Store, tmp_path: Path) -> None:
    # A graph stored before validation refused such pins: the run must fail, not crash-loop.
    graph = Graph(
        nodes=[
            Node(id="v", block_id=StoreValueBlock.id, input_default={"input": "x"}),
            Node(
                id="t",
                block_id=FillTextTemplateBlock.id,
                input_default={"format": "{{ a }}", "values_@___class__": 1},
            ),
        ],
        links=[Link(source_id="v", source_name="output", sink_id="t", sink_name="values_#_a")],
    )
    version = store.save_graph("alice", graph.to_json(), time.time())
    graph = graph.model_copy(update={"version": version})
    run = Run.new(graph.id, version, "alice", {})
    store.submit_run(run, RunState(run.id, graph).start({}, run.created_at), run_event(run))
    asyncio.run(ExecutionManager(fast_settings(tmp_path), shared_pool()).serve(burst=True))
    done = store.get_run(run.id)
    assert done.status == RunStatus.FAILED
    assert done.error is not None and "cannot merge its inputs" in done.error


def test_one_users_backlog_leaves_room_for_another(store: Store, tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, num_graph_workers=3, max_runs_per_user=2)
    slow = save_graph(store, "alice", one_node(BurnBlock.id, seconds=60))
    alice = [submit_run(store, "alice", slow.id, {}).id for _ in range(4)]
    quick = save_graph(store, "bob", one_node(StoreValueBlock.id, input=1))
    bob = submit_run(store, "bob", quick.id, {}).id
    manager = ExecutionManager(settings, shared_pool())

    def bob_done() -> bool:
        return store.get_run(bob).status.is_final

    asyncio.run(serve_until(manager, bob_done))
    assert store.get_run(bob).status == RunStatus.COMPLETED
    claimed = [r for r in alice if store.get_run(r).started_at is not None]
    assert len(claimed) <= 2  # never more than max_runs_per_user of alice's at once
    for run_id in alice:
        if not store.get_run(run_id).status.is_final:
            cancel_run(store, run_id)


def test_claims_take_every_users_oldest_run_first(store: Store) -> None:
    graph = save_graph(store, "alice", one_node(StoreValueBlock.id, input=1))
    other = save_graph(store, "bob", one_node(StoreValueBlock.id, input=1))
    alice = [submit_run(store, "alice", graph.id, {}).id for _ in range(3)]
    bob = submit_run(store, "bob", other.id, {}).id
    first = store.claim_runs("x", 2, time.time(), 30)
    assert {r.id for r in first} == {alice[0], bob}
    # At most one of alice's at once, and this claimer already runs one: none of hers.
    assert store.claim_runs("x", 2, time.time(), 30, per_user=1, active={"alice": 1}) == []
    assert not store.has_claimable(time.time(), exclude_users={"alice"})
    assert store.has_claimable(time.time())


def test_the_watchdog_names_the_node_that_held_the_loop(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = fast_settings(tmp_path, loop_lag_warn_seconds=0.3)
    saved = save_graph(store, "alice", one_node(StallLoopBlock.id, seconds=1.5))
    run_id = submit_run(store, "alice", saved.id, {}).id
    with caplog.at_level(logging.WARNING, logger="backend.executor.watchdog"):
        asyncio.run(ExecutionManager(settings, shared_pool()).serve(burst=True))
    assert store.get_run(run_id).status == RunStatus.COMPLETED
    warnings = [r.getMessage() for r in caplog.records if "event loop blocked" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"in run {run_id} node n at " in warnings[0]

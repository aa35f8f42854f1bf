"""Sub-agents through the real executor on SQLite and PostgreSQL: one durable child run per
node execution, outputs back on the node's pins, failures and cancels passed along."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks.agent import AgentExecutorBlock
from backend.blocks.storage import PersistInformationBlock, RetrieveInformationBlock
from backend.data.execution import Run, RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.open import open_store
from backend.data.store import Store
from backend.errors import InvalidInput
from backend.executor.engine import RunState
from backend.executor.limits import Limits
from backend.executor.manager import ExecutionManager
from backend.executor.runner import run_event
from backend.executor.subagents import child_run_id
from backend.executor.submit import cancel_run, save_graph, submit_run
from backend.util import traceparent
from backend.util.logs import log_context
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT, fast_settings, shared_pool, wait_chain

AGENT = AgentExecutorBlock.id


@pytest.fixture
def store(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    store = open_store(fast_settings(tmp_path))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def drain(tmp_path: Path, **overrides: Any) -> None:
    manager = ExecutionManager(fast_settings(tmp_path, **overrides), shared_pool())
    asyncio.run(asyncio.wait_for(manager.serve(burst=True), 60))


def caller(child: Graph, name: str = "caller") -> Graph:
    """AgentInput "x" -> an AgentExecutor node running ``child`` -> AgentOutput "out"."""
    schema = {"properties": {"x": {"type": "integer"}}}
    return Graph(
        name=name,
        nodes=[
            Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}),
            Node(
                id="sub",
                block_id=AGENT,
                input_default={
                    "graph_id": child.id,
                    "graph_version": child.version,
                    "input_schema": schema,
                    "output_schema": {"properties": {"out": {}}},
                },
            ),
            Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}),
        ],
        links=[
            Link(source_id="in", source_name="result", sink_id="sub", sink_name="x"),
            Link(source_id="sub", source_name="out", sink_id="out", sink_name="value"),
        ],
    )


def test_a_sub_agent_runs_as_one_child_and_its_outputs_come_back(
    store: Store, tmp_path: Path
) -> None:
    child = save_graph(store, "alice", wait_chain(2, 0, "child"))
    parent = save_graph(store, "alice", caller(child))
    run_id = submit_run(store, "alice", parent.id, {"x": 7}).id
    drain(tmp_path)
    run = store.get_run(run_id)
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.outputs == {"out": [7]}
    [sub] = [ne for ne in store.node_executions(run_id) if ne.node_id == "sub"]
    [kid] = store.list_runs(parent_run_id=run_id)
    assert kid.id == child_run_id(sub.id)
    assert (kid.parent_node_exec_id, kid.depth, kid.status) == (sub.id, 1, RunStatus.COMPLETED)
    assert kid.inputs == {"x": 7} and kid.outputs == {"out": [7]}
    assert sub.stats["sub_agent_run"] == kid.id


def test_a_child_carries_the_request_id_and_traceparent_of_the_tree(
    store: Store, tmp_path: Path
) -> None:
    child = save_graph(store, "alice", wait_chain(1, 0, "child"))
    parent = save_graph(store, "alice", caller(child))
    sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    # As the API submits it while serving a request that sent both headers.
    with log_context(request="req-tree-1"), traceparent.carried(sent):
        run_id = submit_run(store, "alice", parent.id, {"x": 1}).id
    drain(tmp_path)
    [kid] = store.list_runs(parent_run_id=run_id)
    assert kid.status == RunStatus.COMPLETED, kid.error
    assert (kid.request_id, kid.traceparent) == ("req-tree-1", sent)
    assert store.get_run(run_id).traceparent == sent


def test_a_failed_child_fails_its_node_with_the_childs_error(store: Store, tmp_path: Path) -> None:
    broken = Graph(
        name="broken",
        nodes=[
            Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}),
            Node(
                id="boom",
                block_id="db7d8f02-2f44-4c55-ab7a-eae0941f0c30",
                input_default={"format": "{{ 1 / 0 }}", "values": {}},
            ),
        ],
        links=[Link(source_id="in", source_name="result", sink_id="boom", sink_name="values_#_x")],
    )
    child = save_graph(store, "alice", broken)
    parent = save_graph(store, "alice", caller(child))
    run_id = submit_run(store, "alice", parent.id, {"x": 1}).id
    drain(tmp_path)
    run = store.get_run(run_id)
    [kid] = store.list_runs(parent_run_id=run_id)
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert f"sub-agent run {kid.id} failed" in run.error and "division by zero" in run.error


def test_cancel_reaches_grandchildren(store: Store, tmp_path: Path) -> None:
    grandchild = save_graph(store, "alice", wait_chain(1, 60, "slow"))
    child = save_graph(store, "alice", caller(grandchild, "middle"))
    parent = save_graph(store, "alice", caller(child, "top"))
    run_id = submit_run(store, "alice", parent.id, {"x": 1}).id
    manager = ExecutionManager(fast_settings(tmp_path), shared_pool())

    async def cancel_when_the_grandchild_runs() -> None:
        task = asyncio.create_task(manager.serve())
        deadline = time.monotonic() + 30
        while True:
            runs = await asyncio.to_thread(store.list_runs, "alice")
            if any(r.depth == 2 and r.status == RunStatus.RUNNING for r in runs):
                break
            assert time.monotonic() < deadline, "the grandchild never ran"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(cancel_run, store, run_id)
        while not all(r.status.is_final for r in await asyncio.to_thread(store.list_runs, "alice")):
            assert time.monotonic() < deadline + 30, "a run did not end"
            await asyncio.sleep(0.05)
        manager.stop()
        await asyncio.wait_for(task, 30)

    asyncio.run(cancel_when_the_grandchild_runs())
    runs = store.list_runs("alice")
    assert sorted(r.depth for r in runs) == [0, 1, 2]
    assert {r.status for r in runs} == {RunStatus.TERMINATED}


def test_sub_agents_nest_only_so_deep(store: Store, tmp_path: Path) -> None:
    inner = save_graph(store, "alice", wait_chain(1, 0, "inner"))
    middle = save_graph(store, "alice", caller(inner, "middle"))
    top = save_graph(store, "alice", caller(middle, "top"))
    with pytest.raises(InvalidInput, match="BACKEND_MAX_AGENT_DEPTH"):
        submit_run(store, "alice", top.id, {"x": 1}, limits=Limits(max_agent_depth=1))
    # Seen only at run time (a graph changed under it): the node fails, nothing loops.
    run_id = submit_run(store, "alice", top.id, {"x": 1}).id
    drain(tmp_path, max_agent_depth=1)
    run = store.get_run(run_id)
    assert run.status == RunStatus.FAILED
    assert run.error is not None and "nest at most 1 deep" in run.error


def test_a_graph_that_calls_itself_is_refused(store: Store) -> None:
    graph = save_graph(store, "alice", wait_chain(1, 0, "loop"))
    looping = caller(graph.model_copy(update={"version": 2}), "loop")
    looping = looping.model_copy(update={"id": graph.id})
    save_graph(store, "alice", looping)  # version 2, calling version 2
    with pytest.raises(InvalidInput, match="calls itself"):
        submit_run(store, "alice", graph.id, {"x": 1})


def test_persisted_values_are_per_user_and_scope(store: Store, tmp_path: Path) -> None:
    def keeper(value: str | None) -> Graph:
        nodes = [
            Node(
                id="get",
                block_id=RetrieveInformationBlock.id,
                input_default={"key": "k", "scope": "across_agents", "default_value": "none"},
            ),
            Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}),
        ]
        links = [Link(source_id="get", source_name="value", sink_id="out", sink_name="value")]
        if value is not None:
            nodes.append(
                Node(
                    id="put",
                    block_id=PersistInformationBlock.id,
                    input_default={"key": "k", "value": value, "scope": "across_agents"},
                )
            )
        return Graph(name=str(uuid.uuid4()), nodes=nodes, links=links)

    writer = save_graph(store, "alice", keeper("kept"))
    submit_run(store, "alice", writer.id, {})
    drain(tmp_path)
    reads = {
        user: submit_run(store, user, save_graph(store, user, keeper(None)).id, {}).id
        for user in ("alice", "bob")
    }
    drain(tmp_path)
    assert store.get_run(reads["alice"]).outputs == {"out": ["kept"]}
    assert store.get_run(reads["bob"]).outputs == {"out": ["none"]}


def test_one_child_per_node_execution_whatever_reruns_the_node(store: Store) -> None:
    # A re-run of the same node execution (its executor died) asks for the same child.
    graph = save_graph(store, "alice", wait_chain(1, 0, "child"))
    ne_id = str(uuid.uuid4())
    first = Run.new(graph.id, graph.version, "alice", {"x": 1})
    first.id = child_run_id(ne_id)
    again = Run.new(graph.id, graph.version, "alice", {"x": 2})
    again.id = child_run_id(ne_id)
    for run in (first, again):
        stored = store.start_child_run(
            run, RunState(run.id, graph).start({"x": 1}, 0), run_event(run)
        )
        assert stored.inputs == {"x": 1}
    assert len([r for r in store.list_runs("alice") if r.id == first.id]) == 1
    assert len(store.node_executions(first.id)) == 1


def test_waits_do_not_block_the_executors_slots(store: Store, tmp_path: Path) -> None:
    # Four parents on one graph worker: each waits on a child that needs a worker too.
    child = save_graph(store, "alice", wait_chain(1, 0.1, "child"))
    parent = save_graph(store, "alice", caller(child))
    runs = [submit_run(store, "alice", parent.id, {"x": i}).id for i in range(4)]
    drain(tmp_path, num_graph_workers=1, max_runs_per_user=1)
    assert [store.get_run(r).outputs for r in runs] == [{"out": [i]} for i in range(4)]
    assert {store.get_run(r).status for r in runs} == {RunStatus.COMPLETED}

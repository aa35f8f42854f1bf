"""Resume, in memory: the replay reuses exactly what an earlier run completed (static
links, waiting executions and fan-outs included) and the rest runs to a clean run's end."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any

from backend.blocks.basic import AgentOutputBlock
from backend.blocks.data_structures import StepThroughItemsBlock
from backend.blocks.maths import CalculatorBlock
from backend.data.execution import NodeExecution, NodeStatus, Run, RunStatus
from backend.data.graph import Graph
from backend.executor.engine import RunState
from backend.executor.limits import Limits
from backend.executor.local import MemoryJournal
from backend.executor.node import NodeExecutor
from backend.executor.resume import replay
from backend.executor.runner import RunRunner
from tests.graphs import shared_pool
from tests.unit.test_engine import link, load_fixture, node, run


def fail(executions: list[NodeExecution], failed: NodeExecution) -> list[NodeExecution]:
    """``executions`` as a run whose ``failed`` execution failed would have left them:
    it FAILED with no outputs, and nothing it fed ever ran."""
    downstream = _fed_by(executions, failed)
    return [
        replace(ne, status=NodeStatus.FAILED, output_data=[], error="boom")
        if ne.id == failed.id
        else ne
        for ne in executions
        if ne.id not in downstream
    ]


def _fed_by(executions: list[NodeExecution], failed: NodeExecution) -> set[str]:
    # In these graphs whatever comes after the failed node in creation order, and
    # takes its node's output, is its downstream.
    values = {value for _, value in failed.output_data}
    return {
        ne.id
        for ne in executions
        if ne.seq > failed.seq and any(v in values for v in ne.input_data.values())
    }


def resume(graph: Graph, inputs: dict[str, Any], earlier: list[NodeExecution]) -> Any:
    run_ = Run.new(graph.id, graph.version, "local", inputs)
    state = RunState(run_.id, graph)
    started = replay(state, inputs, earlier, run_.created_at)
    # The runner goes on changing these objects: keep them as the replay left them.
    snapshot = [replace(ne, input_data=dict(ne.input_data)) for ne in started]
    journal = MemoryJournal()
    limits = Limits()
    runner = RunRunner(run_, state, journal, limits, NodeExecutor(shared_pool(), limits))
    asyncio.run(journal.save(started, []))
    asyncio.run(runner.execute())
    return run_, snapshot, sorted(journal.executions.values(), key=lambda ne: ne.seq)


def outputs_by_node(executions: list[NodeExecution]) -> Counter[tuple[str, str]]:
    return Counter((ne.node_id, repr(ne.output_data)) for ne in executions)


def test_a_static_link_and_waiting_executions_replay_to_the_clean_result() -> None:
    graph = load_fixture("ref2_static_link.json")
    clean = run(graph)
    calculator = [ne for ne in clean.executions if ne.block_id == CalculatorBlock.id]
    assert len(calculator) == 3
    earlier = fail(clean.executions, calculator[-1])

    new_run, started, final = resume(graph, {}, earlier)

    reused = [ne for ne in started if ne.reused_from is not None]
    assert len(reused) == len(earlier) - 1
    assert [ne.block_id for ne in started if ne.status == NodeStatus.QUEUED] == [CalculatorBlock.id]
    assert new_run.status == RunStatus.COMPLETED
    assert outputs_by_node(final) == outputs_by_node(clean.executions)
    ran = [ne for ne in final if ne.reused_from is None]
    assert [(ne.block_id, ne.attempt) for ne in ran] == [(CalculatorBlock.id, 1)]


def test_a_fan_out_reuses_each_completed_item_and_runs_the_failed_one() -> None:
    graph = Graph(
        nodes=[
            node("items", StepThroughItemsBlock, items=[1, 2, 3, 4]),
            node("add", CalculatorBlock, operation="Add", b=10),
            node("out", AgentOutputBlock, name="sums"),
        ],
        links=[link("items", "item", "add", "a"), link("add", "result", "out", "value")],
    )
    clean = run(graph)
    second = next(ne for ne in clean.executions if ne.node_id == "add" and ne.input_data["a"] == 2)
    earlier = fail(clean.executions, second)

    new_run, started, final = resume(graph, {}, earlier)

    queued = [ne for ne in started if ne.status == NodeStatus.QUEUED]
    assert [(ne.node_id, ne.input_data["a"]) for ne in queued] == [("add", 2)]
    assert sorted(new_run.outputs["sums"]) == sorted(clean.run.outputs["sums"])
    assert outputs_by_node(final) == outputs_by_node(clean.executions)
    assert sum(ne.reused_from is None for ne in final) == 2  # the sum of 2, and its output


def test_nothing_completed_nothing_reused() -> None:
    graph = load_fixture("ref4_calculator.json")
    clean = run(graph, {"Input": 8})
    new_run, started, _ = resume(graph, {"Input": 8}, [])
    assert all(ne.reused_from is None for ne in started)
    assert new_run.outputs == clean.run.outputs == {"Output": [42.0]}


def test_other_inputs_reuse_nothing() -> None:
    graph = load_fixture("ref4_calculator.json")
    clean = run(graph, {"Input": 8})
    new_run, started, _ = resume(graph, {"Input": 9}, clean.executions)
    assert all(ne.reused_from is None for ne in started)
    assert new_run.outputs == {"Output": [43.0]}

"""The engine end to end, in memory: AutoGPT's reference graphs, fan-out, failures, limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from backend.blocks import register_block, unregister_block
from backend.blocks.base import Block, BlockContext, BlockSchema, Isolation
from backend.blocks.basic import AgentOutputBlock, NoteBlock, StoreValueBlock
from backend.blocks.data_structures import StepThroughItemsBlock
from backend.blocks.logic import ConditionBlock
from backend.blocks.maths import CalculatorBlock
from backend.blocks.timing import WaitBlock
from backend.data.execution import NodeExecution, NodeStatus, RunStatus
from backend.data.graph import Graph, Link, Node
from backend.executor.limits import Limits
from backend.executor.local import LocalResult, run_local
from tests.graphs import shared_pool

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load_fixture(name: str) -> Graph:
    return Graph.from_json(json.loads((FIXTURES / name).read_text()))


def run(graph: Graph, inputs: dict[str, Any] | None = None, **limits: Any) -> LocalResult:
    return asyncio.run(run_local(graph, inputs or {}, Limits(**limits), shared_pool()))


def of_node(result: LocalResult, node_id: str) -> list[NodeExecution]:
    return [ne for ne in result.executions if ne.node_id == node_id]


def node(
    node_id: str, block: type[Block], metadata: dict[str, Any] | None = None, **defaults: Any
) -> Node:
    return Node(id=node_id, block_id=block.id, input_default=defaults, metadata=metadata or {})


def link(source: str, source_pin: str, sink: str, sink_pin: str) -> Link:
    return Link(source_id=source, source_name=source_pin, sink_id=sink, sink_name=sink_pin)


# -- the reference graphs of BLOCKS.md ------------------------------------------------------

TEMPLATE_NODE = "e1f551f1-096a-54b3-9c90-3bf5dc857881"
TEMPLATE_STORE_NODE = "114ac75d-faec-5b7f-8d3b-d57bc7c9ab93"
CALCULATOR_NODE = "518b0c93-f065-5829-ba5c-f92302561451"
FINDER_NODE = "6c1a6cbd-87f6-5e59-bed0-ed8ba5965715"


def test_ref1_template_merges_dynamic_pins_with_defaults() -> None:
    result = run(load_fixture("ref1_template.json"), {"input_1": "Hello", "input_2": "World"})

    assert result.run.status == RunStatus.COMPLETED
    assert len(result.executions) == 4
    assert all(ne.status == NodeStatus.COMPLETED for ne in result.executions)
    [template] = of_node(result, TEMPLATE_NODE)
    assert template.input_data["values"] == {"a": "Hello", "b": "World", "c": "!!!"}
    assert template.output_data == [("output", "Hello, World!!!")]
    [store] = of_node(result, TEMPLATE_STORE_NODE)
    assert store.output_data == [("output", "Hello, World!!!")]


def test_ref2_static_link_completes_every_waiting_execution() -> None:
    result = run(load_fixture("ref2_static_link.json"))

    assert result.run.status == RunStatus.COMPLETED
    assert len(result.executions) == 8
    by_completion = sorted(result.executions, key=lambda ne: (ne.ended_at or 0.0, ne.seq))
    last_three = by_completion[-3:]
    assert [ne.node_id for ne in last_three] == [CALCULATOR_NODE] * 3
    for ne in last_three:
        assert ne.status == NodeStatus.COMPLETED
        assert (ne.input_data["a"], ne.input_data["b"]) == (4, 5)
        assert ne.output_data == [("result", 9.0)]


def test_ref3_linked_pins_wait_for_links_not_defaults() -> None:
    result = run(load_fixture("ref3_linked_pins_wait.json"))

    assert result.run.status == RunStatus.COMPLETED
    assert len(result.executions) == 3
    [finder] = of_node(result, FINDER_NODE)
    assert finder.output_data == [("output", "value2")]


def test_ref4_calculator_agent_outputs() -> None:
    result = run(load_fixture("ref4_calculator.json"), {"Input": 8})

    assert result.run.status == RunStatus.COMPLETED
    assert result.run.outputs == {"Output": [42.0]}
    assert result.to_json() == {
        "status": "COMPLETED",
        "outputs": {"Output": [42.0]},
        "node_executions": 3,
        "error": None,
    }


# -- fan-out, failures, NOTE, loops ------------------------------------------------------------


def test_step_through_items_fans_out_one_execution_per_item() -> None:
    graph = Graph(
        nodes=[
            node("items", StepThroughItemsBlock, items=list(range(100))),
            node("double", CalculatorBlock, operation="Multiply", b=2),
            node("out", AgentOutputBlock, name="doubled"),
        ],
        links=[link("items", "item", "double", "a"), link("double", "result", "out", "value")],
    )

    result = run(graph)

    assert result.run.status == RunStatus.COMPLETED
    doubled = of_node(result, "double")
    assert len(doubled) == 100
    assert all(ne.status == NodeStatus.COMPLETED for ne in doubled)
    assert sorted(ne.output_data[0][1] for ne in doubled) == [2.0 * i for i in range(100)]
    assert sorted(result.run.outputs["doubled"]) == [2.0 * i for i in range(100)]


def test_failed_node_stops_only_its_downstream() -> None:
    graph = Graph(
        nodes=[
            # Comparing text with a number makes the block yield `error`.
            node("bad", ConditionBlock, value1="abc", operator=">=", value2=1),
            node("after_bad", StoreValueBlock),
            node("good", StoreValueBlock, input="fine"),
            node("good_out", AgentOutputBlock, name="ok"),
            # Fed by both branches: it waits for the failed one, so it never runs.
            node("join", CalculatorBlock, operation="Add", b=1),
        ],
        links=[
            link("bad", "result", "after_bad", "input"),
            link("good", "output", "good_out", "value"),
            link("bad", "result", "join", "a"),
            link("good", "output", "join", "b"),
        ],
    )

    result = run(graph)

    assert result.run.status == RunStatus.FAILED
    assert result.run.error is not None
    assert "node bad (ConditionBlock) failed" in result.run.error
    assert "cannot compare" in result.run.error
    [bad] = of_node(result, "bad")
    assert bad.status == NodeStatus.FAILED
    assert of_node(result, "after_bad") == []
    assert [ne.status for ne in of_node(result, "join")] == [NodeStatus.TERMINATED]
    assert result.run.outputs == {"ok": ["fine"]}
    assert [ne.status for ne in of_node(result, "good_out")] == [NodeStatus.COMPLETED]


def test_note_nodes_never_run() -> None:
    graph = Graph(
        nodes=[
            node("note", NoteBlock, text="remember to water the plants"),
            node("value", StoreValueBlock, input=1),
            node("linked_note", NoteBlock, text="fed by a link"),
        ],
        links=[link("value", "output", "linked_note", "text")],
    )

    result = run(graph)

    assert result.run.status == RunStatus.COMPLETED
    assert [ne.node_id for ne in result.executions] == ["value"]


def test_loop_ends_when_the_data_stops() -> None:
    # counter = 0; while counter < 3: counter += 1
    graph = Graph(
        nodes=[
            node("start", WaitBlock, input=0),
            node("increment", CalculatorBlock, operation="Add", b=1),
            node("check", ConditionBlock, operator="<", value2=3),
            node("out", AgentOutputBlock, name="final"),
        ],
        links=[
            link("start", "output", "increment", "a"),
            link("increment", "result", "check", "value1"),
            link("check", "yes_output", "increment", "a"),
            link("check", "no_output", "out", "value"),
        ],
    )

    result = run(graph)

    assert result.run.status == RunStatus.COMPLETED
    assert result.run.outputs == {"final": [3]}
    assert len(of_node(result, "increment")) == 3
    assert len(of_node(result, "check")) == 3
    assert len(result.executions) == 8


# -- limits: node timeout and retries -----------------------------------------------------------


def test_node_timeout_from_metadata_fails_the_node() -> None:
    graph = Graph(
        nodes=[node("slow", WaitBlock, {"timeout_seconds": 0.2}, seconds=5, input="late")],
    )

    result = run(graph)

    [slow] = result.executions
    assert slow.status == NodeStatus.FAILED
    assert slow.error == "timed out after 0.2 s"
    assert result.run.status == RunStatus.FAILED
    assert result.run.error is not None
    assert "timed out after 0.2 s" in result.run.error


def test_default_node_timeout_comes_from_limits() -> None:
    graph = Graph(nodes=[node("slow", WaitBlock, seconds=5)])

    result = run(graph, node_timeout_seconds=0.1)

    [slow] = result.executions
    assert slow.error == "timed out after 0.1 s"


class FlakyBlock(Block):
    """Raises on its first two attempts per token, then succeeds."""

    id = "9a3c5e0e-5b7d-4a55-9d43-1f2f7f6c0e21"
    # Counts its calls in this process, so it must run here, not in a worker.
    isolation = Isolation.INLINE
    attempts: ClassVar[dict[str, int]] = {}

    class Input(BlockSchema):
        token: str = Field(description="Keys the attempt counter, one per test.")

    class Output(BlockSchema):
        output: int = Field(description="The attempt that succeeded.")

    async def run(self, input_data: Input, ctx: BlockContext) -> AsyncIterator[tuple[str, Any]]:
        count = FlakyBlock.attempts.get(input_data.token, 0) + 1
        FlakyBlock.attempts[input_data.token] = count
        if count < 3:
            raise RuntimeError(f"flaky failure {count}")
        yield "output", count


@pytest.fixture
def flaky() -> Iterator[type[FlakyBlock]]:
    register_block(FlakyBlock)
    try:
        yield FlakyBlock
    finally:
        unregister_block(FlakyBlock.id)


def flaky_graph(max_attempts: int) -> Graph:
    metadata = {"max_attempts": max_attempts, "retry_backoff_seconds": 0.01}
    return Graph(nodes=[node("flaky", FlakyBlock, metadata, token=str(uuid.uuid4()))])


def test_retry_until_an_attempt_succeeds(flaky: type[FlakyBlock]) -> None:
    result = run(flaky_graph(max_attempts=3))

    assert result.run.status == RunStatus.COMPLETED
    [ne] = result.executions
    assert ne.status == NodeStatus.COMPLETED
    assert ne.attempt == 3
    assert ne.output_data == [("output", 3)]


def test_retries_exhausted_fail_the_node(flaky: type[FlakyBlock]) -> None:
    result = run(flaky_graph(max_attempts=2))

    assert result.run.status == RunStatus.FAILED
    [ne] = result.executions
    assert ne.status == NodeStatus.FAILED
    assert ne.attempt == 2
    assert ne.error == "RuntimeError: flaky failure 2"


def test_a_raising_block_is_not_retried_by_default(flaky: type[FlakyBlock]) -> None:
    graph = Graph(nodes=[node("flaky", FlakyBlock, token=str(uuid.uuid4()))])

    result = run(graph)

    [ne] = result.executions
    assert (ne.status, ne.attempt) == (NodeStatus.FAILED, 1)


def test_one_node_runs_one_execution_at_a_time_in_arrival_order() -> None:
    # Items that take longer first: run side by side, the quick ones would overtake.
    delays = [0.3, 0.0, 0.1, 0.05]
    graph = Graph(
        name="ordered",
        nodes=[
            node("items", StepThroughItemsBlock, items=delays),
            node("wait", WaitBlock),
            node("out", AgentOutputBlock, name="out"),
        ],
        links=[
            link("items", "item", "wait", "seconds"),
            link("items", "item", "wait", "input"),
            link("wait", "output", "out", "value"),
        ],
    )
    result = run(graph, node_workers=4)

    assert result.run.status == RunStatus.COMPLETED, result.run.error
    assert result.run.outputs == {"out": delays}
    waits = sorted(of_node(result, "wait"), key=lambda ne: ne.started_at or 0)
    for earlier, later in itertools.pairwise(waits):
        assert earlier.ended_at is not None and later.started_at is not None
        assert later.started_at >= earlier.ended_at


def test_node_execution_ids_are_distinct_random_uuids_across_pool_reads() -> None:
    from backend.executor.engine import _IDS_PER_READ, _new_id

    ids = [_new_id() for _ in range(3 * _IDS_PER_READ + 7)]

    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)

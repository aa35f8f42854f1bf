"""The graphs the benchmarks run."""

from __future__ import annotations

import itertools

from backend.blocks.basic import StoreValueBlock
from backend.blocks.data_structures import AddToListBlock, StepThroughItemsBlock
from backend.data.graph import Graph, Link, Node
from tests.graphs import input_output_chain

STORE_VALUE = StoreValueBlock.id
STEP_THROUGH = StepThroughItemsBlock.id
ADD_TO_LIST = AddToListBlock.id


def chain(length: int) -> Graph:
    """`length` StoreValue nodes in a row: every step is pure orchestration."""
    nodes = [
        Node(id=f"n{i}", block_id=STORE_VALUE, input_default={"input": 1} if i == 0 else {})
        for i in range(length)
    ]
    links = [
        Link(source_id=a.id, source_name="output", sink_id=b.id, sink_name="input")
        for a, b in itertools.pairwise(nodes)
    ]
    return Graph(name=f"chain-{length}", nodes=nodes, links=links)


def fan(width: int) -> Graph:
    """One list stepped through into `width` StoreValue executions, then collected by
    AddToList (one execution per item): 2 * width + 1 node executions."""
    nodes = [
        Node(id="step", block_id=STEP_THROUGH, input_default={"items": list(range(width))}),
        Node(id="each", block_id=STORE_VALUE),
        Node(id="collect", block_id=ADD_TO_LIST, input_default={"list": []}),
    ]
    links = [
        Link(source_id="step", source_name="item", sink_id="each", sink_name="input"),
        Link(source_id="each", source_name="output", sink_id="collect", sink_name="entry"),
    ]
    return Graph(name=f"fan-{width}", nodes=nodes, links=links)


def fan_executions(width: int) -> int:
    return 2 * width + 1


def ten_nodes() -> Graph:
    """AgentInput -> 8 StoreValues -> AgentOutput: the load test's small agent."""
    middle = [Node(id=f"s{i}", block_id=STORE_VALUE) for i in range(8)]
    return input_output_chain(middle, "ten")

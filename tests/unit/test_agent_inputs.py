"""Typed agent inputs: their schemas against AutoGPT's real agents, and run inputs checked
against them at submit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from backend.blocks import all_blocks, get_block
from backend.blocks.base import BlockType
from backend.blocks.io import AGENT_INPUT_VARIANTS
from backend.data.execution import RunStatus
from backend.data.graph import Graph, Link, Node
from backend.data.validation import validate_graph, validate_run_inputs
from backend.errors import InvalidInput
from backend.executor.local import run_local
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data

AGENT_FILES = sorted(AGENTS_DIR.glob("*.json"))
SHORT_TEXT = "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"
NUMBER = "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"
DATE = "7e198b09-4994-47db-8b4d-952d98241817"
TOGGLE = "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"
TABLE = "5603b273-f41e-4020-af7d-fbc9c6a8d928"
DROPDOWN = "655d6fdf-a334-421c-b733-520549c07cd1"


def graphs_of(path: Path) -> list[Graph]:
    """The agent and every sub-graph it ships."""
    data = json.loads(path.read_text())
    return [Graph.from_json(g) for g in [data, *data.get("sub_graphs", [])]]


def input_nodes(graph: Graph) -> list[Node]:
    return [
        n
        for n in graph.nodes
        if (block := get_block(n.block_id)) is not None and block.block_type == BlockType.INPUT
    ]


def one_input(block_id: str, **defaults: Any) -> Graph:
    return Graph(nodes=[Node(id="in", block_id=block_id, input_default={"name": "x", **defaults})])


def test_every_variant_is_an_input_block_with_static_output() -> None:
    for variant in AGENT_INPUT_VARIANTS:
        block = all_blocks()[variant.id]
        assert block.block_type is BlockType.INPUT and block.static_output, block.name
        assert block.name == variant.__name__
        assert {"name", "value", "title", "description", "advanced", "secret"} <= (
            block.input_pins()
        )


@needs_autogpt_data
@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.stem[:14])
def test_autogpt_agent_inputs_fit_our_schemas(path: Path) -> None:
    for graph in graphs_of(path):
        for node in input_nodes(graph):
            block = get_block(node.block_id)
            assert block is not None
            block.validate_input(node.input_default)  # raises on a mismatch
        checked = {n.id for n in input_nodes(graph)}
        problems = [e for e in validate_graph(graph) if e.node_id in checked]
        assert problems == [], path.name


@needs_autogpt_data
def test_autogpt_agents_use_only_input_blocks_we_have() -> None:
    names = {"AgentInputBlock", "AgentShortTextInputBlock", "AgentLongTextInputBlock"}
    seen = set()
    for path in AGENT_FILES:
        for graph in graphs_of(path):
            for node in graph.nodes:
                block = get_block(node.block_id)
                if block is not None and block.block_type == BlockType.INPUT:
                    seen.add(block.name)
    assert names <= seen  # the scan does find them, so the schema test above is not empty


@needs_autogpt_data
def test_required_inputs_of_a_real_agent_are_those_without_defaults() -> None:
    [graph] = graphs_of(AGENTS_DIR / "agent_31d7abc3-e191-5cac-b3be-3e603fc49314.json")
    errors = validate_run_inputs(graph, {})
    assert sorted(e.pin or "" for e in errors) == [
        "Contact or Segment",
        "Sender Name",
        "The Offer",
        "What Happened",
    ]
    inputs = {e.pin: "some text" for e in errors if e.pin}
    assert validate_run_inputs(graph, inputs) == []


@pytest.mark.parametrize(
    ("block_id", "given", "problem"),
    [
        (NUMBER, "twelve", "Input should be a valid integer"),
        (NUMBER, 2.5, "Input should be a valid integer"),
        (DATE, "2025-13-40", "Input should be a valid date"),
        (TOGGLE, None, "Input should be a valid boolean"),
        (TABLE, ["row"], "Input should be a valid dictionary"),
        (SHORT_TEXT, {"a": 1}, "Input should be a valid string"),
    ],
)
def test_run_inputs_must_fit_the_input_type(block_id: str, given: Any, problem: str) -> None:
    [error] = validate_run_inputs(one_input(block_id), {"x": given})
    assert error.pin == "x"
    assert error.message.startswith("run input 'x' (")
    assert problem in error.message


@pytest.mark.parametrize(
    ("block_id", "given"),
    [
        (NUMBER, "12"),
        (DATE, "2025-03-19"),
        (TOGGLE, True),
        (TABLE, [{"Name": "Ann"}]),
        (DROPDOWN, "not among the options"),  # offered, not enforced, as in AutoGPT
    ],
)
def test_run_inputs_of_the_right_type_pass(block_id: str, given: Any) -> None:
    assert validate_run_inputs(one_input(block_id, options=["a"]), {"x": given}) == []


def test_a_toggle_is_never_required() -> None:
    assert validate_run_inputs(one_input(TOGGLE), {}) == []
    assert [e.pin for e in validate_run_inputs(one_input(NUMBER), {})] == ["x"]
    assert validate_run_inputs(one_input(NUMBER, value=0), {}) == []


def xml_agent() -> Graph:
    """A typed text input -> XMLParser -> FindInDictionary "post" -> output "post"."""
    nodes = [
        Node(id="in", block_id=SHORT_TEXT, input_default={"name": "doc"}),
        Node(id="xml", block_id="286380af-9529-4b55-8be0-1d7c854abdb5"),
        Node(
            id="find",
            block_id="0e50422c-6dee-4145-83d6-3a5a392f65de",
            input_default={"key": "post"},
        ),
        Node(
            id="out",
            block_id="363ae599-353e-4804-937e-b2ee3cef3da4",
            input_default={"name": "post"},
        ),
    ]
    pins = [
        ("in", "result", "xml", "input_xml"),
        ("xml", "parsed_xml", "find", "input"),
        ("find", "output", "out", "value"),
    ]
    links = [Link(source_id=a, source_name=p, sink_id=b, sink_name=q) for a, p, b, q in pins]
    return Graph(nodes=nodes, links=links)


def test_a_typed_input_feeds_a_run_and_a_missing_one_refuses_it() -> None:
    result = asyncio.run(run_local(xml_agent(), {"doc": "<post><title>Hi</title></post>"}))
    assert (result.run.status, result.run.outputs) == (
        RunStatus.COMPLETED,
        {"post": [{"title": "Hi"}]},
    )
    with pytest.raises(InvalidInput, match="required run input 'doc' is missing"):
        asyncio.run(run_local(xml_agent(), {}))

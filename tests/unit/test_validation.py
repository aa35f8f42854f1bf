"""Graph validation: one list of every problem, each naming the node and the pin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.data import schema as t
from backend.data.graph import Graph, Link, Node
from backend.data.validation import (
    MAX_GRAPH_NAME_LENGTH,
    MAX_NODE_ID_LENGTH,
    GraphError,
    validate_graph,
    validate_run_inputs,
)
from backend.server.json_body import parse_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
AGENT_INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
FIND = "0e50422c-6dee-4145-83d6-3a5a392f65de"
COMBINE = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
NOTE = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
DICT_CREATE = "b924ddf4-de4f-4b56-9a85-358930dcbc91"


def graph(*nodes: Node, links: tuple[Link, ...] = ()) -> Graph:
    return Graph(nodes=list(nodes), links=list(links))


def node(node_id: str, block_id: str, **defaults: Any) -> Node:
    return Node(id=node_id, block_id=block_id, input_default=defaults)


def link(source: str, source_pin: str, sink: str, sink_pin: str) -> Link:
    return Link(source_id=source, source_name=source_pin, sink_id=sink, sink_name=sink_pin)


def only(errors: list[GraphError]) -> GraphError:
    assert len(errors) == 1, errors
    return errors[0]


def assert_names(error: GraphError, node_id: str, pin: str | None) -> None:
    assert (error.node_id, error.pin) == (node_id, pin)
    text = str(error)
    assert f"node {node_id}" in text
    if pin is not None:
        assert f"pin {pin}" in text


@pytest.mark.parametrize(
    "name",
    ["ref1_template", "ref2_static_link", "ref3_linked_pins_wait", "ref4_calculator"],
)
def test_reference_graphs_are_valid_to_run(name: str) -> None:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    assert validate_graph(Graph.from_json(data), for_run=True) == []


def test_error_text_names_node_and_pin() -> None:
    assert str(GraphError("n1", "a", "broken")) == "node n1 pin a: broken"
    assert str(GraphError("n1", None, "broken")) == "node n1: broken"
    assert str(GraphError(None, "x", "broken")) == "pin x: broken"


def test_unknown_block_id() -> None:
    error = only(validate_graph(graph(node("n1", "not-a-block"))))
    assert_names(error, "n1", None)
    assert "unknown block id not-a-block" in error.message


def test_duplicate_node_id() -> None:
    error = only(validate_graph(graph(node("n1", STORE, input=1), node("n1", STORE, input=2))))
    assert_names(error, "n1", None)
    assert "duplicate" in error.message


def test_link_to_a_missing_node() -> None:
    g = graph(node("a", STORE, input=1), links=(link("a", "output", "ghost", "input"),))
    error = only(validate_graph(g))
    assert_names(error, "ghost", "input")
    assert "sink node does not exist" in error.message


def test_link_from_a_missing_node() -> None:
    g = graph(node("b", STORE), links=(link("ghost", "output", "b", "input"),))
    error = only(validate_graph(g))
    assert_names(error, "ghost", "output")
    assert "source node does not exist" in error.message


def test_link_from_a_pin_the_source_block_does_not_output() -> None:
    g = graph(
        node("a", STORE, input=1), node("b", STORE), links=(link("a", "result", "b", "input"),)
    )
    error = only(validate_graph(g))
    assert_names(error, "a", "result")
    assert "no output pin 'result'" in error.message
    assert "output" in error.message.split("outputs:")[1]  # says what would be valid


def test_dynamic_source_pins_are_checked_by_their_base() -> None:
    ok = graph(
        node("a", STORE, input={"k": 1}),
        node("b", STORE),
        links=(link("a", "output_#_k", "b", "input"), link("a", "error", "b", "data")),
    )
    assert validate_graph(ok) == []
    bad = graph(
        node("a", STORE, input={"k": 1}),
        node("b", STORE),
        links=(link("a", "nope_#_k", "b", "input"),),
    )
    assert_names(only(validate_graph(bad)), "a", "nope_#_k")


def test_link_into_a_pin_the_sink_block_does_not_have() -> None:
    g = graph(
        node("a", STORE, input=1),
        node("t", TEMPLATE, format="{{x}}"),
        links=(link("a", "output", "t", "valuez_#_x"),),
    )
    error = only(validate_graph(g))
    assert_names(error, "t", "valuez_#_x")
    assert "no input pin 'valuez'" in error.message


def test_link_into_a_list_pin_needs_an_integer_index() -> None:
    g = graph(
        node("a", STORE, input="x"),
        node("c", COMBINE),
        links=(link("a", "output", "c", "input_$_first"),),
    )
    error = only(validate_graph(g))
    assert_names(error, "c", "input_$_first")
    assert "non-negative integer" in error.message


def test_default_of_the_wrong_type() -> None:
    error = only(validate_graph(graph(node("c", CALCULATOR, operation="Add", a="ten", b=1))))
    assert_names(error, "c", "a")
    assert "'ten'" in error.message and "wrong type" in error.message


def test_enum_default_outside_its_choices() -> None:
    error = only(validate_graph(graph(node("c", CALCULATOR, operation="Modulo", a=1, b=2))))
    assert_names(error, "c", "operation")


def test_dynamic_default_is_checked_against_the_element_type() -> None:
    error = only(validate_graph(graph(node("c", COMBINE, **{"input_$_0": "ok", "input_$_1": [1]}))))
    assert_names(error, "c", "input_$_1")


def test_defaults_for_unknown_pins_are_ignored() -> None:
    g = graph(node("c", CALCULATOR, operation="Add", a=1, b=2, position={"x": 1}, legacy=None))
    assert validate_graph(g, for_run=True) == []


def test_required_input_neither_set_nor_linked_only_matters_for_a_run() -> None:
    g = graph(node("c", CALCULATOR, operation="Add", a=1))
    assert validate_graph(g) == []
    error = only(validate_graph(g, for_run=True))
    assert_names(error, "c", "b")
    assert "neither set nor linked" in error.message


def test_a_linked_dynamic_pin_provides_its_base_pin() -> None:
    g = graph(
        node("a", STORE, input="Alice"),
        node("t", TEMPLATE, format="Hi {{name}}"),
        links=(link("a", "output", "t", "values_#_name"),),
    )
    assert validate_graph(g, for_run=True) == []


def test_a_dynamic_default_provides_its_base_pin() -> None:
    g = graph(node("t", TEMPLATE, **{"format": "{{a}}", "values_#_a": 1}))
    assert validate_graph(g, for_run=True) == []


def test_agent_input_is_fed_by_the_run_but_needs_a_name() -> None:
    assert validate_graph(graph(node("in", AGENT_INPUT, name="topic")), for_run=True) == []
    error = only(validate_graph(graph(node("in", AGENT_INPUT, value="x")), for_run=True))
    assert_names(error, "in", "name")
    unnamed = only(validate_graph(graph(node("in", AGENT_INPUT, name=" ")), for_run=True))
    assert_names(unnamed, "in", "name")


def test_loops_are_allowed() -> None:
    g = graph(
        node("a", STORE, input=1),
        node("b", STORE),
        links=(link("a", "output", "b", "input"), link("b", "output", "a", "data")),
    )
    assert validate_graph(g, for_run=True) == []


def test_note_nodes_are_not_checked_beyond_their_block() -> None:
    g = graph(
        node("note", NOTE, text=123, colour="yellow"),
        node("a", STORE, input=1),
        links=(link("a", "output", "note", "anything"),),
    )
    assert validate_graph(g, for_run=True) == []


def test_every_problem_is_reported_at_once() -> None:
    g = graph(
        node("x", "not-a-block"),
        node("c", CALCULATOR, operation="Add", a="ten"),
        node("s", STORE),
        links=(link("s", "nope", "c", "b"), link("s", "output", "gone", "input")),
    )
    errors = validate_graph(g, for_run=True)
    assert {(e.node_id, e.pin) for e in errors} == {
        ("x", None),
        ("s", "nope"),
        ("gone", "input"),
        ("c", "a"),
        ("s", "input"),
    }


def test_run_inputs_must_name_an_agent_input() -> None:
    g = graph(
        node("i1", AGENT_INPUT, name="topic"),
        node("i2", AGENT_INPUT, name="tone", value="warm"),
    )
    assert validate_run_inputs(g, {"topic": "cats", "tone": "dry"}) == []
    assert validate_run_inputs(g, {"topic": "cats"}) == []
    error = only(validate_run_inputs(g, {"topic": "cats", "tonne": "dry"}))
    assert error.pin == "tonne"
    assert "tonne" in str(error)
    assert "known inputs: tone, topic" in error.message


@pytest.mark.parametrize("inputs", [{}, {"topic": None}])
def test_an_agent_input_without_default_is_required(inputs: dict[str, Any]) -> None:
    g = graph(
        node("i1", AGENT_INPUT, name="topic", value=None),
        node("i2", AGENT_INPUT, name="tone", value=""),  # empty text is a default
    )
    error = only(validate_run_inputs(g, inputs))
    assert error.pin == "topic"
    assert error.message == (
        "required run input 'topic' is missing (agent input node i1 has no default)"
    )


def test_an_agent_input_fed_by_a_link_is_not_required() -> None:
    g = graph(
        node("s", STORE, input="from upstream"),
        node("i1", AGENT_INPUT, name="topic"),
        links=(link("s", "output", "i1", "value"),),
    )
    assert validate_run_inputs(g, {}) == []


def test_a_required_input_is_reported_once_per_name() -> None:
    g = graph(node("a", AGENT_INPUT, name="topic"), node("b", AGENT_INPUT, name="topic"))
    assert only(validate_run_inputs(g, {})).pin == "topic"


def test_run_inputs_for_a_graph_without_inputs() -> None:
    error = only(validate_run_inputs(graph(node("a", STORE, input=1)), {"x": 1}))
    assert "takes no inputs" in error.message


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"max_attempts": "x"}, "max_attempts"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_backoff_seconds": "y"}, "retry_backoff_seconds"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
    ],
)
def test_bad_node_limits_in_metadata_are_reported(metadata: dict[str, Any], key: str) -> None:
    graph = Graph(
        nodes=[
            Node(
                id="n1",
                block_id="1ff065e9-88e8-4358-9d82-8dc91f622ba9",
                input_default={"input": 1},
                metadata={"position": {"x": 1}, **metadata},
            )
        ]
    )
    errors = validate_graph(graph)
    assert len(errors) == 1
    assert errors[0].node_id == "n1"
    assert f"metadata {key}" in str(errors[0])


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("values_@___class__", "starts with an underscore"),
        ("values_#_k_@___init__", "starts with an underscore"),
        ("values_@_not-a-name", "not an identifier"),
        # Merged before the block drops unknown pins, so checked there too.
        ("legacy_@___class__", "starts with an underscore"),
    ],
)
def test_unsafe_attribute_pins_in_defaults_are_refused(key: str, problem: str) -> None:
    error = only(validate_graph(graph(node("d", DICT_CREATE, **{key: 1, "values": {}}))))
    assert_names(error, "d", key)
    assert problem in error.message


def test_unsafe_attribute_pins_on_links_are_refused() -> None:
    g = graph(
        node("a", STORE, input=1),
        node("d", DICT_CREATE, values={}),
        links=(
            link("a", "output", "d", "values_@___class__"),
            link("a", "output_@___dict__", "d", "values_#_k"),
        ),
    )
    errors = validate_graph(g)
    assert {(e.node_id, e.pin) for e in errors} == {
        ("d", "values_@___class__"),
        ("a", "output_@___dict__"),
    }
    assert all("starts with an underscore" in e.message for e in errors)


def test_plain_attribute_and_dict_pins_are_fine() -> None:
    g = graph(node("d", DICT_CREATE, **{"values_@_name": 1, "values_#___class__": 2}))
    assert validate_graph(g) == []


def test_names_and_node_ids_must_fit_their_columns() -> None:
    assert t.graphs.c.name.type.length == MAX_GRAPH_NAME_LENGTH
    assert t.node_executions.c.node_id.type.length == MAX_NODE_ID_LENGTH
    long_id = "n" * (MAX_NODE_ID_LENGTH + 1)
    g = Graph(name="x" * (MAX_GRAPH_NAME_LENGTH + 1), nodes=[node(long_id, STORE)])
    errors = validate_graph(g)
    assert [(e.node_id, e.message) for e in errors] == [
        (None, f"name is over {MAX_GRAPH_NAME_LENGTH} characters"),
        (long_id, f"id is over {MAX_NODE_ID_LENGTH} characters"),
    ]
    fits = Graph(name="x" * MAX_GRAPH_NAME_LENGTH, nodes=[node("n" * MAX_NODE_ID_LENGTH, STORE)])
    assert validate_graph(fits) == []


AUTOGPT_AGENTS = Path(__file__).resolve().parents[2].parent / "shared" / "autogpt" / "agents"


@pytest.mark.skipif(not AUTOGPT_AGENTS.is_dir(), reason="the AutoGPT agents are not here")
def test_real_autogpt_agents_pass_the_edge_and_have_no_pin_problems() -> None:
    files = sorted(AUTOGPT_AGENTS.glob("*.json"))
    assert files
    for path in files:
        data = parse_json(path.read_bytes())
        problems = [
            e for e in validate_graph(Graph.from_json(data)) if "unknown block" not in e.message
        ]
        assert problems == [], path.name

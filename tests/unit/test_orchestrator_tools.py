"""The Orchestrator's tools: built from its tool links, named as AutoGPT names them, and
its yielded arguments reaching exactly the linked pins (the three real agents included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.blocks.base import ToolSink
from backend.blocks.basic import AgentOutputBlock, StoreValueBlock
from backend.blocks.maths import CalculatorBlock
from backend.blocks.orchestrator import OrchestratorBlock
from backend.blocks.orchestrator_tools import (
    ToolCallError,
    build_tools,
    check_calls,
    cleanup,
    resolve_refs,
)
from backend.blocks.pin_names import is_tool_link, link_tool_name, tool_pin, tool_target
from backend.data.graph import Graph, Link, Node
from backend.data.pins import select_output
from backend.data.validation import validate_graph
from backend.executor.tools import AGENT_EXECUTOR_BLOCK_ID, linked_tools
from backend.providers.base import ToolCall
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data

ORCHESTRATOR = OrchestratorBlock.id
# The three AutoGPT agents with an Orchestrator node, and the tools each one offers.
AGENT_TOOLS = {
    "agent_55d40473-0f31-4ada-9e40-d3a7139fcbd4.json": {
        "get_autocomplete_keyword_suggestions",
        "get_related_search_keywords",
    },
    "agent_6e16e65a-ad34-4108-b4fd-4a23fced5ea2.json": {"web_search"},
    "agent_b8ceb480-a7a2-4c90-8513-181a49f7071f.json": {
        "firecrawlextractblock",
        "firecrawlcrawlblock",
        "agentoutputblock",
    },
}


def link(source: str, source_pin: str, sink: str, sink_pin: str) -> Link:
    return Link(source_id=source, source_name=source_pin, sink_id=sink, sink_name=sink_pin)


def orchestrated(*tools: tuple[Node, list[tuple[str, str]]]) -> Graph:
    """An Orchestrator node "o" whose tool links reach each node with the pin pairs."""
    nodes = [Node(id="o", block_id=ORCHESTRATOR, input_default={"prompt": "go"})]
    links = []
    for sink, pairs in tools:
        nodes.append(sink)
        links += [link("o", source, sink.id, pin) for source, pin in pairs]
    return Graph(nodes=nodes, links=links)


def orchestrator_graphs(path: Path) -> list[tuple[Graph, Node]]:
    export = json.loads(path.read_text())
    found = []
    for data in [export, *export.get("sub_graphs", [])]:
        graph = Graph.from_json(data)
        found += [(graph, n) for n in graph.nodes if n.block_id == ORCHESTRATOR]
    return found


# -- the real agents ----------------------------------------------------------------------


@needs_autogpt_data
@pytest.mark.parametrize("name", sorted(AGENT_TOOLS), ids=lambda n: n[:14])
def test_real_agents_orchestrator_nodes_and_their_links_validate(name: str) -> None:
    [(graph, node)] = orchestrator_graphs(AGENTS_DIR / name)
    touching = {node.id} | {li.sink_id for li in graph.links_from(node.id)}
    problems = [
        str(e)
        for e in validate_graph(graph)
        if e.node_id in touching and "unknown block" not in e.message
    ]
    assert problems == []


@needs_autogpt_data
@pytest.mark.parametrize("name", sorted(AGENT_TOOLS), ids=lambda n: n[:14])
def test_real_agents_tools_are_named_as_their_links_record(name: str) -> None:
    [(graph, node)] = orchestrator_graphs(AGENTS_DIR / name)
    tools = build_tools(linked_tools(graph, node.id))

    assert {tool.name for tool in tools} == AGENT_TOOLS[name]
    by_sink = {tool.sink_node_id: tool for tool in tools}
    tool_links = [li for li in graph.links_from(node.id) if is_tool_link(li.source_name)]
    assert tool_links and {li.sink_id for li in tool_links} == set(by_sink)
    for li in tool_links:
        # AutoGPT wrote tools_^_{tool}_~_{argument}: our tool and argument names match.
        tool = by_sink[li.sink_id]
        recorded_argument = li.source_name.rsplit("_~_", 1)[1]
        assert link_tool_name(li.source_name) == tool.name
        assert tool.fields[recorded_argument] == li.sink_name
        assert recorded_argument in tool.parameters["properties"]


@needs_autogpt_data
@pytest.mark.parametrize("name", sorted(AGENT_TOOLS), ids=lambda n: n[:14])
def test_real_agents_tool_arguments_reach_exactly_their_linked_pins(name: str) -> None:
    [(graph, node)] = orchestrator_graphs(AGENTS_DIR / name)
    for tool in build_tools(linked_tools(graph, node.id)):
        for argument, pin in tool.fields.items():
            emitted = tool_pin(tool.sink_node_id, pin)
            reached = [
                (li.sink_id, li.sink_name)
                for li in graph.links_from(node.id)
                if select_output(
                    emitted, f"<{argument}>", li.source_name, (li.sink_id, li.sink_name)
                )
                == (True, f"<{argument}>")
            ]
            assert reached == [(tool.sink_node_id, pin)], (tool.name, argument)


@needs_autogpt_data
def test_real_sub_agent_tools_describe_the_sub_graphs_inputs() -> None:
    [(graph, node)] = orchestrator_graphs(
        AGENTS_DIR / "agent_55d40473-0f31-4ada-9e40-d3a7139fcbd4.json"
    )
    tools = {t.name: t for t in build_tools(linked_tools(graph, node.id))}
    autocomplete = tools["get_autocomplete_keyword_suggestions"].parameters

    assert autocomplete["properties"]["max_keyword_difficulty"] == {
        "type": "string",
        "description": "Positive whole number, range from 0 to 100",
        "default": "100",
    }
    assert autocomplete["properties"]["keyword"]["description"] == "The seed keyword to lookup"
    assert autocomplete["additionalProperties"] is False and "required" not in autocomplete


# -- block sinks -----------------------------------------------------------------------------


def test_block_tool_takes_its_parameters_from_the_sink_schema() -> None:
    calc = Node(id="c", block_id=CalculatorBlock.id, input_default={"round_result": True})
    graph = orchestrated((calc, [("tools", "a"), ("tools", "b"), ("tools", "operation")]))

    [tool] = build_tools(linked_tools(graph, "o"))

    assert tool.name == "calculatorblock"
    assert tool.description == CalculatorBlock.description
    assert dict(tool.fields) == {"a": "a", "b": "b", "operation": "operation"}
    parameters = tool.parameters
    assert parameters["required"] == ["a", "b", "operation"]
    assert parameters["additionalProperties"] is False
    # The enum the schema keeps under $defs travels inlined: a tool has no $defs.
    assert "$ref" not in json.dumps(parameters)
    assert set(parameters["properties"]["operation"]["enum"]) >= {"Add", "Multiply"}
    assert tool.preset == {"round_result": True}


def test_titles_dynamic_pins_and_names_that_need_cleaning() -> None:
    store = Node(
        id="s",
        block_id=StoreValueBlock.id,
        metadata={"customized_name": "Save Note (v2)"},
    )
    graph = orchestrated((store, [("tools", "input"), ("tools", "data_#_My Key")]))

    [tool] = build_tools(linked_tools(graph, "o"))

    assert tool.name == "save_note__v2_"
    assert dict(tool.fields) == {"input": "input", "data___my_key": "data_#_My Key"}
    assert tool.parameters["properties"]["data___my_key"] == {
        "type": "string",
        "description": "Dictionary field 'My Key' for base field 'data' (data['My Key'])",
    }
    assert tool.parameters["required"] == ["input"]


def test_tools_of_the_same_name_are_numbered_and_told_apart() -> None:
    first = Node(id="x", block_id=AgentOutputBlock.id, input_default={"name": "draft"})
    second = Node(
        id="y",
        block_id=AgentOutputBlock.id,
        input_default={"name": "final", "api_key": "k-123", "_hidden": 1},
    )
    graph = orchestrated((first, [("tools", "value")]), (second, [("tools", "value")]))

    tools = build_tools(linked_tools(graph, "o"))

    assert [t.name for t in tools] == ["agentoutputblock_1", "agentoutputblock_2"]
    assert tools[0].description.endswith('[Pre-configured: name="draft"]')
    assert tools[1].description.endswith('[Pre-configured: name="final"]')
    assert "k-123" not in json.dumps([t.definition() for t in tools])


def test_a_sub_agent_sink_is_described_by_its_input_schema() -> None:
    schema = {"properties": {"Topic": {"description": "What to write about", "default": "x"}}}
    agent = Node(
        id="a",
        block_id=AGENT_EXECUTOR_BLOCK_ID,
        input_default={"agent_name": "Blog Writer", "graph_id": "g", "input_schema": schema},
    )
    graph = orchestrated((agent, [("tools_^_old_name_~_topic", "Topic"), ("tools", "Tone")]))

    [sink] = linked_tools(graph, "o")
    [tool] = build_tools([sink])

    assert sink.graph_input_schema == schema and sink.graph_name == "Blog Writer"
    assert tool.name == "blog_writer"
    assert tool.parameters["properties"] == {
        "topic": {"type": "string", "description": "What to write about", "default": '"x"'},
        "tone": {"type": "string", "description": "The Tone of the tool", "default": "null"},
    }
    # Without a name in the export, the name AutoGPT recorded in the link is used.
    unnamed = ToolSink("a", AGENT_EXECUTOR_BLOCK_ID, "", "", {}, sink.links, graph_input_schema={})
    assert build_tools([unnamed])[0].name == "old_name"


def test_references_resolve_and_stop_at_a_depth() -> None:
    looping = {"$defs": {"N": {"properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"}
    resolved = resolve_refs(looping)
    assert "$ref" not in json.dumps(resolved)
    assert cleanup("Get Related: Keywords!") == "get_related__keywords_"


# -- checking the model's calls ---------------------------------------------------------------


def calc_tools() -> list[Any]:
    calc = Node(id="c", block_id=CalculatorBlock.id)
    store = Node(id="s", block_id=StoreValueBlock.id)
    graph = orchestrated(
        (calc, [("tools", "a"), ("tools", "b"), ("tools", "operation")]),
        (store, [("tools", "input")]),
    )
    return build_tools(linked_tools(graph, "o"))


def test_calls_that_fit_are_matched_to_their_tools() -> None:
    args = {"a": 1, "b": 2, "operation": "Add"}
    [chosen] = check_calls([ToolCall("c1", "calculatorblock", json.dumps(args))], calc_tools())
    assert chosen.tool.sink_node_id == "c" and chosen.arguments == args


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (ToolCall("1", "calculatorblock", "{not json"), "has invalid JSON arguments"),
        (ToolCall("1", "calculatorblock", "[1, 2]"), "are not a JSON object"),
        (ToolCall("1", "nosuchtool", "{}"), "Tool call for 'nosuchtool' does not match any known"),
        (
            ToolCall("1", "calculatorblock", '{"a": 1, "b": 2, "operation": "Add", "c": 3}'),
            "Unknown parameters: ['c']",
        ),
        (
            ToolCall("1", "calculatorblock", '{"a": 1}'),
            "Missing required parameters: ['b', 'operation']",
        ),
    ],
)
def test_calls_that_do_not_fit_are_refused(call: ToolCall, problem: str) -> None:
    with pytest.raises(ToolCallError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        check_calls([call], calc_tools())


def test_with_one_tool_a_misnamed_call_still_means_it() -> None:
    [store] = [t for t in calc_tools() if t.name == "storevalueblock"]
    [chosen] = check_calls([ToolCall("1", "store", '{"input": 5}')], [store])
    assert chosen.tool is store


# -- pin names ----------------------------------------------------------------------------------


def test_tool_pin_names() -> None:
    assert is_tool_link("tools") and is_tool_link("tools_^_web_search_~_question")
    for name in ("tools_^_", "tools_^_x", "tools_^__~_q", "tools_^_x_~_", "toolsx", "output"):
        assert not is_tool_link(name), name
    pin = tool_pin("node-1", "values_#_a_~_b")
    assert tool_target(pin) == ("node-1", "values_#_a_~_b")
    assert tool_target("tools") is None


def test_tool_pins_travel_only_to_their_sink_and_never_as_none() -> None:
    pin = tool_pin("n1", "x")
    assert select_output(pin, 5, "tools", ("n1", "x")) == (True, 5)
    assert select_output(pin, 5, "tools_^_any_~_y", ("n1", "x")) == (True, 5)
    assert select_output(pin, 5, "tools", ("n1", "y"))[0] is False
    assert select_output(pin, 5, "tools", ("n2", "x"))[0] is False
    assert select_output(pin, None, "tools", ("n1", "x"))[0] is False
    # A link that is not a tool link only takes its exact pin.
    assert select_output(pin, 5, "conversations", ("n1", "x"))[0] is False

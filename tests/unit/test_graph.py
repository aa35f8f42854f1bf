"""Graph model: AutoGPT export loading, round trips and the lookups the engine uses."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from backend.data.graph import Graph, Link, Node

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REFERENCE_GRAPHS = [
    "ref1_template",
    "ref2_static_link",
    "ref3_linked_pins_wait",
    "ref4_calculator",
]

STORE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
AGENT_INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
NOTE = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def node_by_block(graph: Graph, block_id: str) -> list[Node]:
    return [n for n in graph.nodes if n.block_id == block_id]


@pytest.mark.parametrize("name", REFERENCE_GRAPHS)
def test_reference_export_loads_with_every_node_and_link(name: str) -> None:
    data = load(name)
    graph = Graph.from_json(data)
    assert graph.id == data["id"]
    assert graph.version == data["version"]
    assert graph.name == data["name"]
    assert [n.id for n in graph.nodes] == [n["id"] for n in data["nodes"]]
    assert [link.key for link in graph.links] == [
        (lk["source_id"], lk["source_name"], lk["sink_id"], lk["sink_name"]) for lk in data["links"]
    ]
    first = data["nodes"][0]
    assert graph.nodes[0].metadata == first["metadata"]
    assert graph.nodes[0].input_default == first["input_default"]


@pytest.mark.parametrize("name", REFERENCE_GRAPHS)
def test_round_trip_through_json(name: str) -> None:
    graph = Graph.from_json(load(name))
    exported = graph.to_json()
    assert Graph.from_json(exported) == graph
    # The export is plain JSON and carries the nested links AutoGPT expects.
    reloaded = Graph.from_json(json.loads(json.dumps(exported)))
    assert reloaded == graph
    for node in exported["nodes"]:
        assert node["input_links"] == [
            lk for lk in exported["links"] if lk["sink_id"] == node["id"]
        ]
        assert node["output_links"] == [
            lk for lk in exported["links"] if lk["source_id"] == node["id"]
        ]


def test_links_are_gathered_from_nodes_when_there_is_no_top_level_list() -> None:
    data = load("ref2_static_link")
    expected = Graph.from_json(data)
    del data["links"]
    graph = Graph.from_json(data)
    # Every link sits in two nodes' lists but appears once.
    assert sorted(link.key for link in graph.links) == sorted(link.key for link in expected.links)
    static = [link for link in graph.links if link.is_static]
    assert [link.sink_name for link in static] == ["b"]


def test_top_level_links_win_over_nested_ones() -> None:
    data = load("ref3_linked_pins_wait")
    data["links"] = data["links"][:1]
    graph = Graph.from_json(data)
    assert [link.key for link in graph.links] == [
        (data["links"][0]["source_id"], "output", data["links"][0]["sink_id"], "input")
    ]


def test_autogpt_create_request_wrapper_is_accepted() -> None:
    data = load("ref4_calculator")
    assert Graph.from_json({"graph": data, "source": "upload"}) == Graph.from_json(data)


def test_unknown_fields_and_nulls_are_tolerated() -> None:
    graph = Graph.from_json(
        {
            "name": None,
            "description": None,
            "brand_new_field": [1, 2],
            "nodes": [
                {"id": "n1", "block_id": STORE, "input_default": None, "metadata": None, "x": 1}
            ],
            "links": [],
        }
    )
    assert graph.name == graph.description == ""
    assert graph.nodes == [Node(id="n1", block_id=STORE)]
    uuid.UUID(graph.id)  # a graph without an id gets a fresh one


def test_graphs_without_id_get_distinct_ids() -> None:
    assert Graph().id != Graph().id


def test_from_json_rejects_non_objects() -> None:
    with pytest.raises(ValueError):
        Graph.from_json([])  # type: ignore[arg-type]


def test_lookups_for_the_engine() -> None:
    graph = Graph.from_json(load("ref1_template"))
    inputs = node_by_block(graph, AGENT_INPUT)
    template = next(n for n in graph.nodes if "format" in n.input_default)

    assert graph.node(template.id) is template
    assert {link.source_id for link in graph.links_to(template.id)} == {n.id for n in inputs}
    assert graph.linked_input_pins(template.id) == {"values_#_a", "values_#_b"}
    assert graph.static_input_pins(template.id) == {"values_#_a", "values_#_b"}
    assert [link.sink_id for link in graph.links_from(inputs[0].id)] == [template.id]
    assert graph.links_to(inputs[0].id) == []
    assert graph.linked_input_pins("no-such-node") == set()
    with pytest.raises(KeyError, match="no-such-node"):
        graph.node("no-such-node")


def test_lookups_follow_a_copy_with_new_links() -> None:
    graph = Graph.from_json(load("ref3_linked_pins_wait"))
    finder = graph.nodes[2]
    assert graph.linked_input_pins(finder.id) == {"input", "key"}
    trimmed = graph.model_copy(update={"links": graph.links[:1]})
    assert trimmed.linked_input_pins(finder.id) == {"input"}
    assert graph.linked_input_pins(finder.id) == {"input", "key"}


@pytest.mark.parametrize(
    ("name", "starting"),
    [
        ("ref1_template", [0, 1]),
        ("ref2_static_link", [0, 1, 2, 3]),
        ("ref3_linked_pins_wait", [0, 1]),
        ("ref4_calculator", [0]),
    ],
)
def test_starting_nodes_of_the_reference_graphs(name: str, starting: list[int]) -> None:
    graph = Graph.from_json(load(name))
    assert graph.starting_nodes() == [graph.nodes[i] for i in starting]


def test_input_nodes_always_start_and_notes_never_do() -> None:
    graph = Graph(
        nodes=[
            Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}),
            Node(id="store", block_id=STORE),
            Node(id="note", block_id=NOTE, input_default={"text": "remember"}),
        ],
        links=[
            # A loop back into the input node does not stop it from starting.
            Link(source_id="store", source_name="output", sink_id="in", sink_name="value"),
            Link(source_id="in", source_name="result", sink_id="store", sink_name="input"),
        ],
    )
    assert [n.id for n in graph.starting_nodes()] == ["in"]


def test_static_output_blocks_make_their_links_static() -> None:
    graph = Graph.from_json(load("ref2_static_link"))
    assert sum(link.is_static for link in graph.links) == 1
    marked = graph.with_static_output_links()
    assert all(link.is_static for link in marked.links)  # every source is a StoreValue
    assert sum(link.is_static for link in graph.links) == 1  # the original is untouched


def test_equality_ignores_cached_lookups() -> None:
    data = load("ref4_calculator")
    used = Graph.from_json(copy.deepcopy(data))
    used.starting_nodes()
    used.links_from(used.nodes[0].id)
    assert used == Graph.from_json(data)

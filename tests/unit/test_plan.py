"""A run's graph plan: derived once per graph object, never by changing the graph."""

from __future__ import annotations

import copy
import gc
import json
from pathlib import Path

import pytest

from backend.data.graph import Graph
from backend.executor import plan as plan_module
from backend.executor.engine import RunState
from backend.executor.plan import plan_of

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REFERENCE = ["ref1_template", "ref2_static_link", "ref3_linked_pins_wait", "ref4_calculator"]


def load(name: str) -> Graph:
    return Graph.from_json(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", REFERENCE)
def test_the_plan_answers_as_the_marked_graph_does(name: str) -> None:
    graph = load(name)
    marked = graph.with_static_output_links()
    plan = plan_of(graph)

    assert plan.starting == graph.starting_nodes()
    for node in graph.nodes:
        assert plan.static_pins.get(node.id, frozenset()) == marked.static_input_pins(node.id)
        assert plan.links_from.get(node.id, []) == graph.links_from(node.id)
        assert plan.node(node.id) is graph.node(node.id)
    assert [plan.is_static(link) for link in graph.links] == [
        link.is_static for link in marked.links
    ]


def test_runs_of_one_graph_share_its_plan_and_leave_the_graph_untouched() -> None:
    graph = load("ref2_static_link")
    before = copy.deepcopy(graph.model_dump())
    links = graph.links

    first = RunState("run-1", graph)
    first.start({}, 0.0)
    second = RunState("run-2", graph)

    assert plan_of(graph) is first._plan is second._plan
    assert second.graph is graph and graph.links is links
    assert graph.model_dump() == before  # no link became static on the shared graph


def test_a_replaced_link_list_gets_a_new_plan() -> None:
    graph = load("ref2_static_link")
    old = plan_of(graph)
    graph.links = [*graph.links[:-1]]

    new = plan_of(graph)

    assert new is not old
    assert sum(len(links) for links in new.links_from.values()) == len(graph.links)


def test_a_dropped_graph_drops_its_plan() -> None:
    graph = load("ref1_template")
    plan_of(graph)
    key = id(graph)
    assert key in plan_module._plans

    del graph
    gc.collect()

    assert key not in plan_module._plans


def test_an_unknown_node_is_a_key_error() -> None:
    graph = Graph(name="g", nodes=[], links=[])
    with pytest.raises(KeyError, match="no node nope"):
        plan_of(graph).node("nope")

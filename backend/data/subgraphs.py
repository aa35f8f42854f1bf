"""The sub-graphs of an AutoGPT export, and the AgentExecutorBlock nodes that call them.

An export carries the graphs its sub-agent nodes run in ``sub_graphs``, but the nodes
often name them by ids that are not the sub-graphs' own (AutoGPT re-ids graphs when it
publishes them). A node's reference is resolved by id when a sub-graph has it; otherwise
by the one rule these exports need: the only sub-graph with the same version and the same
input and output names. Anything else is an error naming the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from backend.blocks import get_block
from backend.blocks.agent import AgentExecutorBlock, schema_names
from backend.blocks.base import BlockType
from backend.data.graph import Graph, Node
from backend.data.validation import GraphError

AGENT_EXECUTOR = AgentExecutorBlock.id
Reference = tuple[str, int]  # (graph id, version)


def agent_nodes(graph: Graph) -> list[Node]:
    return [node for node in graph.nodes if node.block_id == AGENT_EXECUTOR]


def reference(node: Node) -> Reference | None:
    graph_id, version = node.input_default.get("graph_id"), node.input_default.get("graph_version")
    if not isinstance(graph_id, str) or not isinstance(version, int) or isinstance(version, bool):
        return None
    return graph_id, version


def io_names(graph: Graph) -> tuple[frozenset[str], frozenset[str]]:
    """The names of the graph's agent inputs and outputs."""
    inputs, outputs = set(), set()
    for node in graph.nodes:
        block = get_block(node.block_id)
        name = node.input_default.get("name")
        if block is None or not isinstance(name, str):
            continue
        if block.block_type == BlockType.INPUT:
            inputs.add(name)
        elif block.block_type == BlockType.OUTPUT:
            outputs.add(name)
    return frozenset(inputs), frozenset(outputs)


def resolve(graph: Graph, sub_graphs: Sequence[Graph]) -> tuple[dict[str, Graph], list[GraphError]]:
    """{agent node id: the sub-graph it runs} for the nodes whose graph is among
    ``sub_graphs``, and an error for each node whose reference is ambiguous. A node whose
    reference matches none is left out: it may name a graph the user already has."""
    by_id = {sub.id: sub for sub in sub_graphs}
    names = {sub.id: io_names(sub) for sub in sub_graphs}
    found: dict[str, Graph] = {}
    errors: list[GraphError] = []
    for node in agent_nodes(graph):
        ref = reference(node)
        if ref is None:
            errors.append(
                GraphError(node.id, "graph_id", "a sub-agent node needs graph_id and graph_version")
            )
            continue
        if ref[0] in by_id:
            found[node.id] = by_id[ref[0]]
            continue
        wanted = (
            frozenset(schema_names(node.input_default.get("input_schema"))),
            frozenset(schema_names(node.input_default.get("output_schema"))),
        )
        matches = [s for s in sub_graphs if s.version == ref[1] and names[s.id] == wanted]
        if len(matches) == 1:
            found[node.id] = matches[0]
        elif len(matches) > 1:
            errors.append(
                GraphError(
                    node.id,
                    "graph_id",
                    f"sub-agent reference {ref[0]} v{ref[1]} matches {len(matches)} sub-graphs "
                    f"({', '.join(repr(m.name) for m in matches)}): give it the id of one",
                )
            )
    return found, errors


def save_order(sub_graphs: Sequence[Graph], calls: Mapping[str, Iterable[str]]) -> list[Graph]:
    """Sub-graphs, each after the ones it calls (``calls``: id -> ids it calls); a cycle
    among them raises ValueError naming it."""
    by_id = {sub.id: sub for sub in sub_graphs}
    ordered: list[Graph] = []
    state: dict[str, str] = {}

    def visit(graph_id: str, path: list[str]) -> None:
        if state.get(graph_id) == "done":
            return
        if state.get(graph_id) == "visiting":
            cycle = " -> ".join(repr(by_id[g].name) for g in [*path, graph_id])
            raise ValueError(f"sub-graphs call each other in a cycle: {cycle}")
        state[graph_id] = "visiting"
        for callee in calls.get(graph_id, ()):
            visit(callee, [*path, graph_id])
        state[graph_id] = "done"
        ordered.append(by_id[graph_id])

    for sub in sub_graphs:
        visit(sub.id, [])
    return ordered


def with_references(graph: Graph, targets: Mapping[str, Reference]) -> Graph:
    """``graph`` with the agent nodes in ``targets`` pointing at those graph versions."""
    nodes = []
    for node in graph.nodes:
        if node.id in targets:
            graph_id, version = targets[node.id]
            defaults: dict[str, Any] = {
                **node.input_default,
                "graph_id": graph_id,
                "graph_version": version,
            }
            node = node.model_copy(update={"input_default": defaults})
        nodes.append(node)
    return graph.model_copy(update={"nodes": nodes})

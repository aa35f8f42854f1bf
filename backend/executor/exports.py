"""AutoGPT exports with sub-graphs: importing, exporting, and the sub-agent checks at submit.

Importing stores every sub-graph of an export as a graph of the importing user and points
each sub-agent node at the graph it now runs. A sub-graph the user already has, unchanged
(same content hash), is reused rather than stored again, and the answer says which were
reused and which were new; the top-level graph is always a new graph, as AutoGPT imports
are. Exporting gathers the sub-graphs a graph calls, transitively, back into
``sub_graphs``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from backend.data.graph import Graph, content_hash
from backend.data.graph_cache import load_graph
from backend.data.store import Store
from backend.data.subgraphs import (
    Reference,
    agent_nodes,
    reference,
    resolve,
    save_order,
    with_references,
)
from backend.data.validation import GraphError, raise_if_invalid, validate_graph
from backend.errors import InvalidInput, NotFound


def parse_sub_graphs(data: dict[str, Any]) -> list[Graph]:
    """The ``sub_graphs`` of an export (or of ``{"graph": {...}}``), parsed."""
    body = data.get("graph", data) if "nodes" not in data else data
    raw = body.get("sub_graphs") or [] if isinstance(body, dict) else []
    if not isinstance(raw, list):
        raise InvalidInput("sub_graphs must be a list of graphs")
    graphs = []
    for i, item in enumerate(raw):
        try:
            graphs.append(Graph.from_json(item))
        except ValueError as exc:
            raise InvalidInput(f"sub_graphs[{i}] is not a valid graph: {exc}") from None
    return graphs


def import_graph(
    store: Store, user_id: str, graph: Graph, sub_graphs: list[Graph]
) -> tuple[Graph, list[dict[str, Any]]]:
    """Store ``graph`` (a fresh id) and its sub-graphs; returns it as stored and a report
    per sub-graph: ``{source_id, id, version, name, reused}``."""
    resolved: dict[str, dict[str, Graph]] = {}
    errors: list[GraphError] = []
    for g in [graph, *sub_graphs]:
        resolved[g.id], problems = resolve(g, sub_graphs)
        errors += problems + _unknown_references(store, user_id, g, resolved[g.id])
    raise_if_invalid("the export's sub-agent references cannot be resolved", errors)
    calls = {g.id: [sub.id for sub in resolved[g.id].values()] for g in sub_graphs}
    try:
        ordered = save_order(sub_graphs, calls)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    stored: dict[str, Reference] = {}
    report = []
    for sub in ordered:
        final = _pointed(sub, resolved[sub.id], stored)
        existing = store.find_graph(user_id, content_hash(final.to_json()))
        if existing is not None:
            stored[sub.id] = (existing["id"], existing["version"])
        else:
            final = final.model_copy(update={"id": str(uuid.uuid4())})
            raise_if_invalid(f"sub-graph {sub.name!r} is invalid", validate_graph(final))
            version = store.save_graph(user_id, final.to_json(), time.time())
            stored[sub.id] = (final.id, version)
        new_id, version = stored[sub.id]
        report.append(
            {
                "source_id": sub.id,
                "id": new_id,
                "version": version,
                "name": sub.name,
                "reused": existing is not None,
            }
        )
    return _pointed(graph, resolved[graph.id], stored), report


def _unknown_references(
    store: Store, user_id: str, graph: Graph, resolved: dict[str, Graph]
) -> list[GraphError]:
    errors = []
    for node in agent_nodes(graph):
        ref = reference(node)
        if node.id in resolved or ref is None:
            continue
        try:
            store.get_graph(user_id, *ref)
        except NotFound:
            errors.append(
                GraphError(
                    node.id,
                    "graph_id",
                    f"sub-agent reference {ref[0]} v{ref[1]} matches no sub-graph of the "
                    "export (same version, same input and output names) and no graph of yours",
                )
            )
    return errors


def _pointed(graph: Graph, calls: dict[str, Graph], stored: dict[str, Reference]) -> Graph:
    return with_references(graph, {node_id: stored[sub.id] for node_id, sub in calls.items()})


def export_graph(store: Store, user_id: str, graph: Graph) -> dict[str, Any]:
    """``graph`` as an AutoGPT export with every graph it calls in ``sub_graphs``."""
    found: dict[Reference, Graph] = {}
    pending = [graph]
    while pending:
        for node in agent_nodes(pending.pop()):
            ref = reference(node)
            if ref is None or ref in found:
                continue
            try:
                found[ref] = Graph.from_json(store.get_graph(user_id, *ref))
            except NotFound:
                continue  # the export stays readable; a run would say what is missing
            pending.append(found[ref])
    return {**graph.to_json(), "sub_graphs": [g.to_json() for g in found.values()]}


def check_sub_agents(store: Store, user_id: str, graph: Graph, max_depth: int) -> None:
    """Refuse (422) a graph whose sub-agents are missing, call themselves, or nest deeper
    than ``max_depth``, as far as the stored graphs show it."""
    errors: list[GraphError] = []

    def visit(g: Graph, path: list[str], depth: int) -> None:
        for node in agent_nodes(g):
            ref = reference(node)
            if ref is None:
                continue
            if ref[0] in path:
                errors.append(
                    GraphError(node.id, "graph_id", f"graph {ref[0]} calls itself (a cycle)")
                )
                continue
            if depth + 1 > max_depth:
                errors.append(
                    GraphError(
                        node.id,
                        "graph_id",
                        f"sub-agents nest deeper than {max_depth} (BACKEND_MAX_AGENT_DEPTH)",
                    )
                )
                continue
            try:
                callee = load_graph(store, user_id, *ref)
            except NotFound:
                errors.append(
                    GraphError(node.id, "graph_id", f"graph {ref[0]} version {ref[1]} not found")
                )
                continue
            visit(callee, [*path, ref[0]], depth + 1)

    visit(graph, [graph.id], 0)
    raise_if_invalid("graph cannot run", errors)

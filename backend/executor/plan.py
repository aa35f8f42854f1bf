"""What a run's loop asks of its graph, answered once per graph object, not per run.

Graphs from the store's graph cache are shared by every run of that version and must
not be mutated, so these answers live beside the graph (keyed by its identity, dropped
when it is) instead of on it. A plan is rebuilt should the graph's node or link list be
replaced.
"""

from __future__ import annotations

import weakref
from collections import defaultdict

from backend.blocks import get_block
from backend.blocks.base import BlockType
from backend.blocks.pin_names import base_pin
from backend.data.graph import Graph, Link, Node


class GraphPlan:
    def __init__(self, graph: Graph) -> None:
        self.nodes_ref = graph.nodes
        self.links_ref = graph.links
        self.nodes: dict[str, Node] = {}
        for node in graph.nodes:
            self.nodes.setdefault(node.id, node)  # duplicates are a validation error
        # A link leaving a static-output block is static whatever the JSON says (as
        # AutoGPT marks them when a graph is saved); decided here, without copying links.
        self._static_sources = {
            node.id
            for node in graph.nodes
            if (block := get_block(node.block_id)) is not None and block.static_output
        }
        self.links_from: dict[str, list[Link]] = defaultdict(list)
        links_to: dict[str, list[Link]] = defaultdict(list)
        for link in graph.links:
            self.links_from[link.source_id].append(link)
            links_to[link.sink_id].append(link)
        self.static_pins: dict[str, frozenset[str]] = {}
        self.needed_pins: dict[str, frozenset[str]] = {}
        for node_id, links in links_to.items():
            self.static_pins[node_id] = frozenset(
                link.sink_name for link in links if self.is_static(link)
            )
            sink = self.nodes.get(node_id)
            block = get_block(sink.block_id) if sink is not None else None
            optional = block.optional_links if block is not None else frozenset()
            self.needed_pins[node_id] = frozenset(
                link.sink_name for link in links if base_pin(link.sink_name) not in optional
            )
        self.starting: list[Node] = []
        for node in graph.nodes:
            block = get_block(node.block_id)
            block_type = BlockType.STANDARD if block is None else block.block_type
            if block_type == BlockType.NOTE:
                continue
            if node.id not in links_to or block_type == BlockType.INPUT:
                self.starting.append(node)

    def is_static(self, link: Link) -> bool:
        return link.is_static or link.source_id in self._static_sources

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(f"graph has no node {node_id}") from None


_plans: dict[int, tuple[weakref.ref[Graph], GraphPlan]] = {}


def plan_of(graph: Graph) -> GraphPlan:
    key = id(graph)
    entry = _plans.get(key)
    if entry is not None and entry[0]() is graph:
        plan = entry[1]
        if plan.nodes_ref is graph.nodes and plan.links_ref is graph.links:
            return plan
    plan = GraphPlan(graph)
    # The callback runs before the id can be reused, so it only ever drops this entry.
    _plans[key] = (weakref.ref(graph, lambda _: _plans.pop(key, None)), plan)
    return plan

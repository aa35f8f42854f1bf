"""What a tool-calling node is told about the nodes linked to its tool pins."""

from __future__ import annotations

from dataclasses import replace

from backend.blocks import get_block
from backend.blocks.base import ToolSink
from backend.blocks.pin_names import is_tool_link
from backend.data.graph import Graph

# A sub-agent sink: AutoGPT's AgentExecutorBlock, whose export carries the sub-graph's
# input schema (and, in newer exports, its name) in the node's input_default.
AGENT_EXECUTOR_BLOCK_ID = "e189baac-8c20-45a1-94a7-55177ea42565"


def linked_tools(graph: Graph, node_id: str) -> tuple[ToolSink, ...]:
    """One ``ToolSink`` per node the tool links of ``node_id`` reach, in link order."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for link in graph.links_from(node_id):
        if is_tool_link(link.source_name) and graph.has_node(link.sink_id):
            pairs.setdefault(link.sink_id, []).append((link.source_name, link.sink_name))
    return tuple(_sink(graph, sink_id, links) for sink_id, links in pairs.items())


def _sink(graph: Graph, sink_id: str, links: list[tuple[str, str]]) -> ToolSink:
    node = graph.node(sink_id)
    block = get_block(node.block_id)
    title = node.metadata.get("customized_name")
    defaults = node.input_default
    sink = ToolSink(
        node_id=node.id,
        block_id=node.block_id,
        block_name=block.name if block else "",
        description=block.description if block else "",
        input_schema=block.Input.json_schema() if block else {},
        links=tuple(links),
        customized_name=title if isinstance(title, str) else "",
        defaults=defaults,
    )
    if node.block_id != AGENT_EXECUTOR_BLOCK_ID:
        return sink
    name, schema = defaults.get("agent_name"), defaults.get("input_schema")
    return replace(
        sink,
        graph_name=name if isinstance(name, str) else "",
        graph_input_schema=schema if isinstance(schema, dict) else {},
    )

"""AutoGPT's own agents: their LLM nodes validate, and the three LLM-only agents' nodes run.

Reads ../shared/autogpt (skipped when absent). Each LLM node gets its linked pins filled
with sample values, runs through its block against the scripted server, and the server
checks the prompt it received: every placeholder filled, the agent's model asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backend.blocks import get_block
from backend.blocks.llm import (
    AIConversationBlock,
    AIListGeneratorBlock,
    AIStructuredResponseGeneratorBlock,
    AITextGeneratorBlock,
    AITextSummarizerBlock,
)
from backend.data.graph import Graph
from backend.data.pins import merge_dynamic_pins
from backend.data.validation import validate_graph
from backend.providers.llm import LLMClient
from tests.autogpt_data import AGENTS_DIR
from tests.llm.conftest import node_context, run_block
from tests.llm_server import LLMServer

AGENTS = AGENTS_DIR
LLM_BLOCK_IDS = {
    block.id
    for block in (
        AITextGeneratorBlock,
        AIStructuredResponseGeneratorBlock,
        AIListGeneratorBlock,
        AITextSummarizerBlock,
        AIConversationBlock,
    )
}
LLM_ONLY_AGENTS = [
    "agent_31d7abc3-e191-5cac-b3be-3e603fc49314.json",  # Win-back Email Writer
    "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json",  # AI Function
    "agent_a1af1733-b566-5e2f-ae20-068e2163c4cc.json",  # Lifecycle Email Sequence Builder
]

pytestmark = pytest.mark.skipif(not AGENTS.is_dir(), reason="../shared/autogpt is absent")


def graphs(export: dict[str, Any]) -> list[Graph]:
    return [Graph.from_json(g) for g in [export, *export.get("sub_graphs", [])]]


def llm_nodes(graph: Graph) -> list[Any]:
    return [node for node in graph.nodes if node.block_id in LLM_BLOCK_IDS]


def sample_input(graph: Graph, node: Any) -> dict[str, Any]:
    """The node's defaults plus a recognisable value on every linked pin."""
    data = dict(node.input_default)
    for link in graph.links_to(node.id):
        data[link.sink_name] = f"<{link.sink_name.rsplit('_', 1)[-1]} value>"
    return merge_dynamic_pins(data)


def all_exports() -> list[Path]:
    return sorted(AGENTS.glob("*.json")) if AGENTS.is_dir() else []


@pytest.mark.parametrize("path", all_exports(), ids=lambda p: p.name[:14])
def test_every_agents_llm_nodes_validate(path: Path) -> None:
    for graph in graphs(json.loads(path.read_text())):
        ours = {node.id for node in llm_nodes(graph)}
        problems = [e for e in validate_graph(graph) if e.node_id in ours]
        assert problems == []
        for node in llm_nodes(graph):
            block = get_block(node.block_id)
            assert block is not None
            block.validate_input(sample_input(graph, node))


@pytest.mark.parametrize("name", LLM_ONLY_AGENTS, ids=lambda n: n[:14])
def test_llm_only_agents_nodes_run(name: str, llm: LLMClient, llm_server: LLMServer) -> None:
    [graph] = graphs(json.loads((AGENTS / name).read_text()))
    nodes = llm_nodes(graph)
    assert nodes
    for node in nodes:
        block = get_block(node.block_id)
        assert block is not None
        data = sample_input(graph, node)
        [provider] = block.required_credentials(data).values()

        outputs = run_block(block, data, node_context(llm, provider))

        assert outputs[0] == ("response", "scripted default answer")
        sent = llm_server.requests[-1]
        assert sent.body["model"] == node.input_default["model"]
        assert "{{" not in sent.text
        for value in data["prompt_values"].values():
            assert value in sent.text

"""AutoGPT's own agents: every node of a media or code block validates, and runs against
the fake service with the agent's own settings (skipped without ../shared/autogpt)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from backend.blocks import get_block
from backend.blocks.base import Block
from backend.data.graph import Graph
from backend.data.pins import merge_dynamic_pins
from backend.data.validation import validate_graph
from tests import e2b_server, ideogram_server, replicate_server, revid_server
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data
from tests.services.conftest import Waits, context, run_block, service_clients, stored_file

pytestmark = needs_autogpt_data

# block id -> (output pin of the stored result or None, provider)
BLOCKS = {
    "6ab085e2-20b3-4055-bc3e-08036e01eca6": ("result", "ideogram"),
    "90f8c45e-e983-4644-aa0b-b4ebe2f531bc": ("result", "replicate"),
    "ed1ae7a0-b770-4089-b520-1f0005fad19a": ("image_url", "replicate"),
    "361697fb-0c4f-4feb-aed3-8320c88c771b": ("video_url", "revid"),
    "0b02b072-abe7-11ef-8372-fb5d162dd712": (None, "e2b"),
}


def nodes() -> Iterator[tuple[str, Graph, Any]]:
    for path in sorted(AGENTS_DIR.glob("*.json")) if AGENTS_DIR.is_dir() else []:
        export = json.loads(path.read_text())
        for data in [export, *export.get("sub_graphs", [])]:
            graph = Graph.from_json(data)
            for node in graph.nodes:
                if node.block_id in BLOCKS:
                    yield path.name[:14], graph, node


NODES = list(nodes())


def sample_input(graph: Graph, node: Any) -> dict[str, Any]:
    """The node's defaults plus a recognisable text on every linked pin."""
    data = dict(node.input_default)
    for link in graph.links_to(node.id):
        data[link.sink_name] = f"<{link.sink_name} from the agent>"
    return merge_dynamic_pins(data)


def test_the_agents_use_every_block() -> None:
    assert {node.block_id for _, _, node in NODES} == set(BLOCKS)


@pytest.mark.parametrize(("agent", "graph", "node"), NODES, ids=[n[0] for n in NODES])
def test_each_node_validates_and_runs(
    agent: str, graph: Graph, node: Any, waits: Waits, tmp_path: Path
) -> None:
    assert [e for e in validate_graph(graph) if e.node_id == node.id] == []
    block = get_block(node.block_id)
    assert block is not None
    data = sample_input(graph, node)
    block.validate_input(data)
    pin, provider = BLOCKS[node.block_id]
    assert block.required_credentials(data) == {"credentials": provider}

    outputs = run_against_fake(block, provider, data, waits, tmp_path)

    if pin is None:
        assert ("stdout_logs", "Hello World\n") in outputs
    else:
        assert stored_file(outputs, pin)


def run_against_fake(
    block: Block, provider: str, data: dict[str, Any], waits: Waits, files: Path
) -> list[tuple[str, Any]]:
    with ExitStack() as stack:
        if provider == "ideogram":
            server: Any = stack.enter_context(ideogram_server.ideogram_server())
            key, settings = ideogram_server.KEY, {"ideogram_base_url": server.url}
        elif provider == "replicate":
            server = stack.enter_context(replicate_server.ReplicateServer())
            key = replicate_server.KEY
            settings = {"replicate_base_url": server.url, "replicate_poll_seconds": 0.01}
        elif provider == "revid":
            server = stack.enter_context(revid_server.RevidServer())
            key = revid_server.KEY
            settings = {"revid_base_url": server.url, "revid_poll_seconds": 0.01}
        else:
            server = stack.enter_context(e2b_server.E2BServer())
            key, settings = (
                e2b_server.KEY,
                {"e2b_api_url": server.url, "e2b_sandbox_url": server.url},
            )
        clients = service_clients(waits, **settings)
        return run_block(block, data, context(clients, provider, key, files))

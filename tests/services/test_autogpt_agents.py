"""AutoGPT's own agents: every node of a third-party service block validates, and runs
against the fake service with the agent's own settings (skipped without ../shared/autogpt).
Whole agents run through the REST API in tests/api/test_autogpt_agents_rest.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks import get_block
from backend.blocks.base import Block
from backend.data.graph import Graph
from backend.data.pins import merge_dynamic_pins
from backend.data.validation import validate_graph
from backend.providers.credentials import Credentials, CredentialsType
from tests import (
    airtable_server,
    calendar_server,
    dataforseo_server,
    e2b_server,
    firecrawl_server,
    gmail_server,
    google_maps_server,
    ideogram_server,
    jina_server,
    replicate_server,
    revid_server,
    wordpress_server,
    youtube_server,
)
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
# block id -> (an output pin the node must yield, provider): blocks answering values.
VALUE_BLOCKS = {
    "87840993-2053-44b7-8da4-187ad4ee518c": ("results", "jina"),
    "436c3984-57fd-4b85-8e9a-459b356883bd": ("content", "jina"),
    "f47ac10b-58cc-4372-a567-0e02b2c3d479": ("place", "google_maps"),
    "f0f43e2b-c943-48a0-a7f1-40136ca4d3b9": ("links", "firecrawl"),
    "bdbbaba0-03b7-4971-970e-699e2de6015e": ("markdown", "firecrawl"),
    "d1774756-4d9e-40e6-bab1-47ec0ccd81b2": ("data", "firecrawl"),
    "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c": ("transcript", "webshare_proxy"),
    "73c3e7c4-2b3f-4e9f-9e3e-8f7a5c3e2d45": ("suggestions", "dataforseo"),
    "8f2e4d6a-1b3c-4a5e-9d7f-2c8e6a4b3f1d": ("related_keywords", "dataforseo"),
    "f59b88a8-54ce-4676-a508-fd614b4e8dce": ("base_id", "airtable"),
    "42527e98-47b6-44ce-ac0e-86b4883721d3": ("records", "airtable"),
    "25310c70-b89b-43ba-b25c-4dfa7e2a481c": ("emails", "google"),
    "6c27abc2-e51d-499e-a85f-5a0041ba94f0": ("result", "google"),
    "80bc3ed1-e9a4-449e-8163-a8fc86f74f6a": ("events", "google"),
    "f884b2fb-04f4-4265-9658-14f433926ac9": ("result", "google"),
    "12bf5a24-9b90-4f40-9090-4e86e6995e60": ("messageId", "google"),
    "64d2301c-b3f5-4174-8ac0-111ca1e1a7c0": ("status", "google"),
    "ee4fe08c-18f9-442f-a985-235379b932e1": ("post_url", "wordpress"),
}
# Linked pins that need a value of a certain form (any text would be refused).
SAMPLE_PINS = {
    "youtube_url": f"https://youtu.be/{youtube_server.VIDEO}",
    "start_time": "2026-12-03T00:00:00Z",
    "message_id": "m1",  # the message the fake Gmail holds
    "parentMessageId": "m1",
    "messageId": "m1",
}
# A sample value for a linked pin of a type other than text.
SAMPLES: dict[Any, Any] = {
    int: 3,
    bool: True,
    list[str]: ["https://example.com"],
    list[dict[str, Any]]: [{"Email ID": "<a record from the agent>"}],
}


def nodes() -> Iterator[tuple[str, Graph, Any]]:
    for path in sorted(AGENTS_DIR.glob("*.json")) if AGENTS_DIR.is_dir() else []:
        export = json.loads(path.read_text())
        for data in [export, *export.get("sub_graphs", [])]:
            graph = Graph.from_json(data)
            for node in graph.nodes:
                if node.block_id in BLOCKS or node.block_id in VALUE_BLOCKS:
                    yield path.name[:14], graph, node


NODES = list(nodes())


def sample_input(graph: Graph, node: Any) -> dict[str, Any]:
    """The node's defaults plus a recognisable value on every linked pin (of the pin's
    type where that is not text)."""
    block = get_block(node.block_id)
    assert block is not None
    fields = block.Input.model_fields
    data = dict(node.input_default)
    for link in graph.links_to(node.id):
        kind = fields[link.sink_name].annotation if link.sink_name in fields else str
        sample = SAMPLE_PINS.get(link.sink_name) or SAMPLES.get(kind)
        data[link.sink_name] = sample or f"<{link.sink_name} from the agent>"
    return merge_dynamic_pins(data)


def test_the_agents_use_every_block() -> None:
    assert {node.block_id for _, _, node in NODES} == set(BLOCKS) | set(VALUE_BLOCKS)


@pytest.mark.parametrize(("agent", "graph", "node"), NODES, ids=[n[0] for n in NODES])
def test_each_node_validates_and_runs(
    agent: str, graph: Graph, node: Any, waits: Waits, tmp_path: Path
) -> None:
    assert [e for e in validate_graph(graph) if e.node_id == node.id] == []
    block = get_block(node.block_id)
    assert block is not None
    data = sample_input(graph, node)
    block.validate_input(data)
    pin, provider = BLOCKS.get(node.block_id) or VALUE_BLOCKS[node.block_id]
    assert block.required_credentials(data) == {"credentials": provider}

    outputs = run_against_fake(block, provider, data, waits, tmp_path)

    if node.block_id in VALUE_BLOCKS:
        assert pin in {name for name, _ in outputs}, outputs
    elif pin is None:
        assert ("stdout_logs", "Hello World\n") in outputs
    else:
        assert stored_file(outputs, pin)


def fake_service(stack: ExitStack, provider: str) -> tuple[str, dict[str, Any]]:
    """Start the fake of a web service: its key and the settings pointing at it."""
    if provider == "jina":
        server: Any = stack.enter_context(jina_server.jina_server())
        return jina_server.KEY, {
            "jina_search_base_url": f"{server.url}/search",
            "jina_reader_base_url": f"{server.url}/reader",
        }
    if provider == "webshare_proxy":
        server = stack.enter_context(youtube_server.YouTubeServer())
        return youtube_server.PASSWORD, {
            "youtube_base_url": "http://www.youtube.test",
            "webshare_proxy_url": server.url,
        }
    if provider == "airtable":
        server = stack.enter_context(airtable_server.AirtableServer())
        return airtable_server.KEY, {"airtable_base_url": server.url}
    if provider == "dataforseo":
        server = stack.enter_context(dataforseo_server.DataForSeoServer())
        return dataforseo_server.PASSWORD, {"dataforseo_base_url": server.url}
    if provider == "google":
        server = stack.enter_context(gmail_server.GmailServer())
        server.messages["m1"] = gmail_server.message(
            "m1", "Hello", [{"mimeType": "text/plain", "body": {"data": gmail_server.b64("Hi")}}]
        )
        calendar = stack.enter_context(calendar_server.CalendarServer(gmail_server.TOKEN))
        calendar.events["primary"] = [{"id": "e1", "start": {"date": "2026-12-03"}}]
        return gmail_server.TOKEN, {
            "gmail_base_url": server.url,
            "google_calendar_base_url": calendar.url,
        }
    if provider == "wordpress":
        server = stack.enter_context(wordpress_server.WordPressServer())
        return wordpress_server.TOKEN, {"wordpress_base_url": server.url}
    if provider == "firecrawl":
        server = stack.enter_context(firecrawl_server.FirecrawlServer())
        return firecrawl_server.KEY, {
            "firecrawl_base_url": server.url,
            "firecrawl_poll_seconds": 0.01,
        }
    server = stack.enter_context(google_maps_server.GoogleMapsServer())
    return google_maps_server.KEY, {"google_maps_base_url": server.url}


OAUTH_PROVIDERS = {"google", "wordpress"}
WEB_PROVIDERS = {
    "jina",
    "google_maps",
    "firecrawl",
    "webshare_proxy",
    "dataforseo",
    "airtable",
    "google",
    "wordpress",
}


def run_against_fake(
    block: Block, provider: str, data: dict[str, Any], waits: Waits, files: Path
) -> list[tuple[str, Any]]:
    with ExitStack() as stack:
        if provider in WEB_PROVIDERS:
            key, settings = fake_service(stack, provider)
        elif provider == "ideogram":
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
        ctx = context(clients, provider, key, files)
        if provider == "webshare_proxy":
            ctx.credentials = {"credentials": login(provider, youtube_server.USERNAME, key)}
        if provider == "dataforseo":
            ctx.credentials = {"credentials": login(provider, dataforseo_server.USERNAME, key)}
        if provider in OAUTH_PROVIDERS:
            ctx.credentials = {
                "credentials": Credentials(
                    provider, CredentialsType.OAUTH2, id="cred-1", access_token=SecretStr(key)
                )
            }
        return run_block(block, data, ctx)


def login(provider: str, username: str, password: str) -> Credentials:
    return Credentials(
        provider,
        CredentialsType.USER_PASSWORD,
        id="cred-1",
        username=username,
        password=SecretStr(password),
    )

"""The Firecrawl blocks against a fake Firecrawl v1 API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.blocks.base import Block
from backend.blocks.firecrawl import (
    FirecrawlCrawlBlock,
    FirecrawlExtractBlock,
    FirecrawlMapWebsiteBlock,
)
from tests.firecrawl_server import KEY, FirecrawlServer
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients

MAP = FirecrawlMapWebsiteBlock()
CRAWL = FirecrawlCrawlBlock()
EXTRACT = FirecrawlExtractBlock()


@pytest.fixture
def firecrawl() -> Iterator[FirecrawlServer]:
    with FirecrawlServer() as server:
        yield server


def run(block: Block, server: FirecrawlServer, waits: Waits, data: dict[str, Any], **kw: Any):
    poll = kw.pop("poll", 0.01)
    clients = service_clients(waits, firecrawl_base_url=server.url, firecrawl_poll_seconds=poll)
    return run_block(block, data, context(clients, "firecrawl", kw.pop("key", KEY), None, **kw))


def test_map_outputs_the_links_and_their_details(firecrawl: FirecrawlServer, waits: Waits) -> None:
    outputs = run(MAP, firecrawl, waits, {"url": "https://example.com"})

    links = ["https://example.com", "https://example.com/pricing", "https://example.com/docs"]
    assert outputs == [
        ("links", links),
        ("results", [{"url": u, "title": None, "description": None} for u in links]),
    ]
    [sent] = firecrawl.requests
    assert (sent.method, sent.path, sent.json) == (
        "POST",
        "/v1/map",
        {"url": "https://example.com"},
    )
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_map_keeps_titles_of_link_objects(firecrawl: FirecrawlServer, waits: Waits) -> None:
    link = {"url": "https://example.com/a", "title": "A", "description": "About A"}
    firecrawl.script("/v1/map", Json({"success": True, "links": [link]}))
    outputs = run(MAP, firecrawl, waits, {"url": "https://example.com"})
    assert outputs == [("links", ["https://example.com/a"]), ("results", [link])]


def test_a_crawl_is_started_polled_and_paged(firecrawl: FirecrawlServer, waits: Waits) -> None:
    data = {"url": "https://example.com", "formats": ["markdown", "rawHtml", "links"]}
    outputs = run(CRAWL, firecrawl, waits, data)

    [sent] = [r for r in firecrawl.requests if r.method == "POST"]
    assert sent.path == "/v1/crawl"
    assert sent.json == {
        "url": "https://example.com",
        "limit": 10,
        "scrapeOptions": {
            "formats": ["markdown", "rawHtml", "links"],
            "onlyMainContent": True,
            "maxAge": 3600000,
            "waitFor": 0,
        },
    }
    gets = [(r.path, r.query) for r in firecrawl.requests if r.method == "GET"]
    assert gets == [
        ("/v1/crawl/crawl-1", {}),
        ("/v1/crawl/crawl-1", {}),
        ("/v1/crawl/crawl-1", {"skip": "2"}),
    ]
    (pin, pages), *rest = outputs
    assert pin == "data" and len(pages) == 3
    assert pages[0]["raw_html"] == "<html><h1>Page 0</h1></html>" and "rawHtml" not in pages[0]
    assert rest[:3] == [
        ("markdown", "# Page 0"),
        ("raw_html", "<html><h1>Page 0</h1></html>"),
        ("links", ["https://example.com/0/a"]),
    ]
    assert [value for name, value in rest if name == "markdown"] == [
        "# Page 0",
        "# Page 1",
        "# Page 2",
    ]


def test_a_failed_crawl_gives_firecrawls_reason(firecrawl: FirecrawlServer, waits: Waits) -> None:
    firecrawl.final = {"status": "failed", "error": "robots.txt disallows crawling"}
    outputs = run(CRAWL, firecrawl, waits, {"url": "https://example.com"})
    assert outputs == [
        ("error", "firecrawl crawl crawl-1 did not complete: robots.txt disallows crawling")
    ]


def test_a_crawl_past_the_node_time_fails_clearly(firecrawl: FirecrawlServer, waits: Waits) -> None:
    firecrawl.polls_before_done = 10**6
    outputs = run(CRAWL, firecrawl, waits, {"url": "https://example.com"}, poll=0.2, seconds=1)
    assert outputs == [
        (
            "error",
            "firecrawl: crawl crawl-1 was not done within the node's time limit; give the node "
            "a longer timeout",
        )
    ]
    assert firecrawl.cancelled == ["crawl-1"]  # it stops costing credits


def test_a_completed_crawl_is_not_cancelled(firecrawl: FirecrawlServer, waits: Waits) -> None:
    run(CRAWL, firecrawl, waits, {"url": "https://example.com"})
    assert firecrawl.cancelled == []


def test_extract_sends_prompt_and_schema_and_outputs_the_data(
    firecrawl: FirecrawlServer, waits: Waits
) -> None:
    schema = {"type": "object", "properties": {"company": {"type": "string"}}}
    data = {"urls": ["https://example.com/*"], "prompt": "Who runs it?", "output_schema": schema}
    outputs = run(EXTRACT, firecrawl, waits, data)

    assert outputs == [("data", {"company": "Example Ltd", "plans": ["free", "pro"]})]
    [sent] = [r for r in firecrawl.requests if r.method == "POST"]
    assert sent.path == "/v1/extract"
    assert sent.json == {
        "urls": ["https://example.com/*"],
        "enableWebSearch": False,
        "prompt": "Who runs it?",
        "schema": schema,
    }
    assert firecrawl.paths("GET") == ["/v1/extract/extract-1", "/v1/extract/extract-1"]


def test_extract_without_prompt_or_schema_sends_neither(
    firecrawl: FirecrawlServer, waits: Waits
) -> None:
    run(EXTRACT, firecrawl, waits, {"urls": ["https://example.com"]})
    [sent] = [r for r in firecrawl.requests if r.method == "POST"]
    assert sent.json == {"urls": ["https://example.com"], "enableWebSearch": False}


def test_a_wrong_key_is_a_clear_error(firecrawl: FirecrawlServer, waits: Waits) -> None:
    outputs = run(MAP, firecrawl, waits, {"url": "https://example.com"}, key="fc-wrong-00000")
    assert outputs == [
        (
            "error",
            "firecrawl answered HTTP 401 (unauthorized: check the API key): "
            "Unauthorized: Invalid token",
        )
    ]


def test_a_rate_limited_status_check_is_retried(firecrawl: FirecrawlServer, waits: Waits) -> None:
    limited = Json({"success": False, "error": "Rate limit"}, 429, {"Retry-After": "4"})
    firecrawl.script(r"/v1/extract/.*", limited)
    outputs = run(EXTRACT, firecrawl, waits, {"urls": ["https://example.com"]})
    assert outputs[0][0] == "data"
    assert waits == [4.0]


def test_payment_required_is_reported(firecrawl: FirecrawlServer, waits: Waits) -> None:
    firecrawl.script("/v1/crawl", Json({"success": False, "error": "Insufficient credits"}, 402))
    outputs = run(CRAWL, firecrawl, waits, {"url": "https://example.com"})
    assert outputs == [
        (
            "error",
            "firecrawl answered HTTP 402 (payment required: the account is out of credit or "
            "quota): Insufficient credits",
        )
    ]


@pytest.mark.parametrize(
    ("block", "path", "reply", "problem"),
    [
        (MAP, "/v1/map", Json({"success": True}), "no links in the map answer"),
        (MAP, "/v1/map", Json({"links": [5]}), "a link is neither a URL nor an object with one"),
        (CRAWL, "/v1/crawl", Json({"success": True}), "no job id in the answer"),
        (CRAWL, "/v1/crawl", Raw(b"<html>", content_type="text/html"), "not JSON"),
        (
            EXTRACT,
            r"/v1/extract/.*",
            Json({"status": "completed"}),
            "extraction extract-1 is completed but has no data",
        ),
    ],
)
def test_a_malformed_answer_is_named(
    firecrawl: FirecrawlServer, waits: Waits, block: Block, path: str, reply: Any, problem: str
) -> None:
    firecrawl.script(path, reply)
    data = {"urls": ["https://example.com"]} if block is EXTRACT else {"url": "https://x.io"}
    assert run(block, firecrawl, waits, data) == [
        ("error", f"firecrawl sent a malformed answer: {problem}")
    ]


def test_a_key_echoed_in_an_error_is_masked(firecrawl: FirecrawlServer, waits: Waits) -> None:
    firecrawl.script("/v1/map", Json({"success": False, "error": f"token {KEY} revoked"}, 403))
    outputs = run(MAP, firecrawl, waits, {"url": "https://example.com"})
    assert outputs == [("error", "firecrawl answered HTTP 403 (forbidden): token *** revoked")]


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "firecrawl", KEY, None)
    ctx.credentials = {}
    for block in (MAP, CRAWL, EXTRACT):
        vector = block.test_vectors[0]
        assert run_block(block, vector.input, ctx) == list(vector.output)
        assert block.required_credentials({}) == {"credentials": "firecrawl"}


def test_a_service_that_stays_down_is_retried_then_reported(
    firecrawl: FirecrawlServer, waits: Waits
) -> None:
    down = Json({"success": False, "error": "upstream unavailable"}, 503)
    firecrawl.script("/v1/map", down, down, down)
    outputs = run(MAP, firecrawl, waits, {"url": "https://example.com"})
    assert outputs == [
        (
            "error",
            "firecrawl answered HTTP 503 (server error; gave up after 3 attempts): "
            "upstream unavailable",
        )
    ]
    assert len(waits) == 2

"""SearchTheWebBlock and ExtractWebsiteContentBlock against a fake Jina over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.blocks.jina import ExtractWebsiteContentBlock, SearchTheWebBlock
from tests.jina_server import KEY, PAGE, jina_server
from tests.service_server import Json, Raw, ServiceServer
from tests.services.conftest import Waits, context, run_block, service_clients

SEARCH = SearchTheWebBlock()
EXTRACT = ExtractWebsiteContentBlock()


@pytest.fixture
def jina() -> Iterator[ServiceServer]:
    with jina_server() as server:
        yield server


def run(block: Any, server: ServiceServer, waits: Waits, data: dict[str, Any], **kw: Any):
    clients = service_clients(
        waits,
        jina_search_base_url=f"{server.url}/search",
        jina_reader_base_url=f"{server.url}/reader",
    )
    return run_block(block, data, context(clients, "jina", kw.pop("key", KEY), None, **kw))


def test_search_sends_the_encoded_query_with_the_key(jina: ServiceServer, waits: Waits) -> None:
    outputs = run(SEARCH, jina, waits, {"query": "cats & dogs/birds"})

    assert outputs == [
        (
            "results",
            "[1] Title: About cats & dogs/birds\n[1] URL Source: https://example.com/1\n",
        )
    ]
    [sent] = jina.requests
    assert (sent.method, sent.path) == ("GET", "/search/cats%20%26%20dogs/birds")
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_the_reader_gets_the_page_url_as_its_path(jina: ServiceServer, waits: Waits) -> None:
    outputs = run(EXTRACT, jina, waits, {"url": "https://example.com/a/b"})

    assert outputs == [
        (
            "content",
            "Title: a page\n\nURL Source: https://example.com/a/b\n\nMarkdown Content:\n# Hello",
        )
    ]
    [sent] = jina.requests
    assert sent.path == "/reader/https://example.com/a/b"
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_raw_content_fetches_the_page_itself_without_a_key(
    jina: ServiceServer, waits: Waits
) -> None:
    data = {"url": jina.file_url("page.html"), "raw_content": True}
    assert EXTRACT.required_credentials(data) == {}
    outputs = run(EXTRACT, jina, waits, data)

    assert outputs == [("content", PAGE)]  # decoded with the page's own charset
    [sent] = jina.requests
    assert "authorization" not in sent.headers


def test_raw_content_follows_the_network_policy(jina: ServiceServer, waits: Waits) -> None:
    data = {"url": jina.file_url("page.html"), "raw_content": True}
    outputs = run(EXTRACT, jina, waits, data, allow_private_network=False)
    assert outputs == [
        (
            "error",
            "cannot download the page: refusing to connect to 127.0.0.1: 127.0.0.1 is a "
            "loopback address (private network access is disabled)",
        )
    ]
    assert jina.requests == []


def test_a_raw_page_over_the_output_limit_is_refused(jina: ServiceServer, waits: Waits) -> None:
    jina.served_files["big.html"] = (b"x" * 5000, "text/html")
    data = {"url": jina.file_url("big.html"), "raw_content": True}
    outputs = run(EXTRACT, jina, waits, data, max_output_bytes=4096)
    assert outputs == [("error", "the page is larger than the node's output limit of 4096 bytes")]


def test_a_wrong_key_is_a_clear_error_without_the_key(jina: ServiceServer, waits: Waits) -> None:
    wrong = "jina_wrong_key_000000000"
    outputs = run(SEARCH, jina, waits, {"query": "x"}, key=wrong)
    assert outputs == [
        ("error", "jina answered HTTP 401 (unauthorized: check the API key): Invalid API key")
    ]


def test_a_rate_limit_is_waited_out(jina: ServiceServer, waits: Waits) -> None:
    jina.script(r"/search/.*", Json({"message": "slow down"}, 429, {"Retry-After": "3"}))
    [(pin, _)] = run(SEARCH, jina, waits, {"query": "x"})
    assert pin == "results"
    assert waits == [3.0]


def test_a_long_rate_limit_fails_at_once(jina: ServiceServer, waits: Waits) -> None:
    jina.script(r"/reader/.*", Json({"message": "quota"}, 429, {"Retry-After": "600"}))
    outputs = run(EXTRACT, jina, waits, {"url": "https://example.com"})
    assert outputs == [
        ("error", "jina answered HTTP 429 (rate limited; the server asks to wait 600 s): quota")
    ]


def test_a_key_echoed_by_a_failing_server_is_masked(jina: ServiceServer, waits: Waits) -> None:
    down = Raw(f"upstream failed for {KEY}".encode(), 502, "text/plain")
    jina.script(r"/search/.*", down, down, down)
    outputs = run(SEARCH, jina, waits, {"query": "x"})
    assert outputs == [
        (
            "error",
            "jina answered HTTP 502 (server error; gave up after 3 attempts): "
            "upstream failed for ***",
        )
    ]
    assert KEY not in str(outputs)


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "jina", KEY, None)
    ctx.credentials = {}
    assert run_block(SEARCH, {"query": "x"}, ctx) == list(SEARCH.test_vectors[0].output)
    assert SEARCH.required_credentials({}) == {"credentials": "jina"}


def test_a_page_url_that_makes_no_request_url_is_refused(jina: ServiceServer, waits: Waits) -> None:
    [(pin, message)] = run(EXTRACT, jina, waits, {"url": "https://example.com/a\x00b"})
    assert pin == "error"
    assert message.startswith("cannot call jina: Invalid non-printable ASCII character in URL")
    assert jina.requests == []

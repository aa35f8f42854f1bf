"""The WordPress block against a fake WordPress.com REST API over real HTTP, with an OAuth2
credential's bearer token."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.base import BlockContext
from backend.blocks.wordpress import WordPressCreatePostBlock
from backend.providers.credentials import Credentials, CredentialsType
from tests.service_server import Hold, Json, Raw
from tests.services.conftest import Waits, run_block, service_clients
from tests.wordpress_server import TOKEN, WordPressServer

POST = WordPressCreatePostBlock()
NEW = r"/rest/v1\.1/sites/.*/posts/new"
DATA = {"site": "myblog.wordpress.com", "title": "Hello World", "content": "<p>Hi</p>"}


@pytest.fixture
def wordpress() -> Iterator[WordPressServer]:
    with WordPressServer() as server:
        yield server


def run(
    server: WordPressServer,
    waits: Waits,
    data: dict[str, Any],
    token: str = TOKEN,
    seconds: float = 30.0,
) -> list[tuple[str, Any]]:
    clients = service_clients(waits, wordpress_base_url=server.url)
    credential = Credentials(
        "wordpress",
        CredentialsType.OAUTH2,
        id="cred-wp",
        title="WordPress account",
        access_token=SecretStr(token),
        scopes=("posts",),
    )
    ctx = BlockContext(
        credentials={"credentials": credential},
        services=clients,
        deadline=time.monotonic() + seconds,
        allow_private_network=True,
    )
    return run_block(POST, {**DATA, **data}, ctx)


def sent_form(server: WordPressServer) -> dict[str, list[str]]:
    [sent] = server.requests
    return urllib.parse.parse_qs(sent.body.decode())


def test_a_post_is_published_with_autogpts_fields(wordpress: WordPressServer, waits: Waits) -> None:
    outputs = run(wordpress, waits, {})

    [post] = wordpress.posts
    assert outputs == [
        ("site", "myblog.wordpress.com"),
        ("post_id", 100),
        ("post_url", "https://myblog.wordpress.com/2026/12/03/hello-world/"),
        ("short_url", "https://wp.me/p4242-100"),
        ("post_data", post),
    ]
    [sent] = wordpress.requests
    assert (sent.method, sent.path) == ("POST", "/rest/v1.1/sites/myblog.wordpress.com/posts/new")
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent_form(wordpress) == {
        "title": ["Hello World"],
        "content": ["<p>Hi</p>"],
        "status": ["publish"],
        "type": ["post"],
        "sticky": ["false"],
        "publicize": ["true"],
        "sharing_enabled": ["true"],
    }


def test_every_optional_field_is_sent(wordpress: WordPressServer, waits: Waits) -> None:
    data = {
        "excerpt": "Short",
        "slug": "hello",
        "author": "alice",
        "categories": ["News", "12"],
        "tags": ["a", "b"],
        "featured_image": "55",
        "media_urls": ["https://img.example/1.png", "https://img.example/2.png"],
        "publish_as_draft": True,
    }
    outputs = run(wordpress, waits, data)

    form = sent_form(wordpress)
    assert form["status"] == ["draft"]
    assert form["categories"] == ["News,12"] and form["tags"] == ["a,b"]
    assert form["media_urls[]"] == data["media_urls"]
    assert (form["excerpt"], form["slug"], form["author"]) == (["Short"], ["hello"], ["alice"])
    assert form["featured_image"] == ["55"]
    post = dict(outputs)["post_data"]
    assert post["status"] == "draft" and list(post["categories"]) == ["News", "12"]
    assert dict(outputs)["post_url"].endswith("/hello/")


def test_a_site_id_or_odd_domain_is_one_path_segment(
    wordpress: WordPressServer, waits: Waits
) -> None:
    run(wordpress, waits, {"site": "a/b c"})
    assert wordpress.requests[0].path == "/rest/v1.1/sites/a%2Fb%20c/posts/new"


def test_a_wrong_token_is_a_clear_error_without_the_token(
    wordpress: WordPressServer, waits: Waits
) -> None:
    wrong = "wpcom-wrong-token-123456"
    outputs = run(wordpress, waits, {}, token=wrong)
    assert outputs == [
        (
            "error",
            "wordpress answered HTTP 401 (unauthorized: check the API key): "
            "An active access token must be used",
        )
    ]
    assert wrong not in str(outputs) and wordpress.posts == []


def test_a_rate_limit_is_waited_out(wordpress: WordPressServer, waits: Waits) -> None:
    wordpress.script(NEW, Json({"error": "rate_limited"}, 429, {"Retry-After": "4"}))
    outputs = run(wordpress, waits, {})
    assert dict(outputs)["post_id"] == 100
    assert waits == [4.0] and len(wordpress.posts) == 1


def test_a_server_error_is_named_without_repeating_the_post(
    wordpress: WordPressServer, waits: Waits
) -> None:
    down = Json({"error": "internal_error", "message": f"backend saw {TOKEN}"}, 503)
    wordpress.script(NEW, down)
    outputs = run(wordpress, waits, {})
    assert outputs == [
        (
            "error",
            "wordpress answered HTTP 503 (server error; a POST is not repeated): backend saw ***",
        )
    ]
    assert len(wordpress.requests) == 1


def test_a_server_that_never_answers_times_out(wordpress: WordPressServer, waits: Waits) -> None:
    wordpress.script(NEW, Hold(), Hold(), Hold())
    outputs = run(wordpress, waits, {}, seconds=1.0)
    assert outputs == [("error", "wordpress did not answer in time")]
    assert wordpress.disconnected.wait(5)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Raw(b"<html>", content_type="text/html"), "not JSON"),
        (Json(["a"]), "the answer is not an object"),
        (Json({"ID": "100", "URL": "u", "short_URL": "s"}), "the post's ID is not a number"),
        (Json({"ID": 100, "short_URL": "s"}), "the post's URL is not text"),
    ],
)
def test_a_malformed_answer_is_named(
    wordpress: WordPressServer, waits: Waits, reply: Any, reason: str
) -> None:
    wordpress.script(NEW, reply)
    assert run(wordpress, waits, {}) == [("error", f"wordpress sent a malformed answer: {reason}")]


def test_without_an_account_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = BlockContext(credentials={}, services=service_clients(waits))
    [vector] = POST.test_vectors
    assert run_block(POST, vector.input, ctx) == list(vector.output)
    assert POST.required_credentials({}) == {"credentials": "wordpress"}

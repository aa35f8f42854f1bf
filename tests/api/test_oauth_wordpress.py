"""Connecting a WordPress.com account from the monitor against a local WordPress.com
(authorize page, token endpoint, REST API), then posting with it through the executor:
its tokens carry no expiry and no refresh token and stay good."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.data.credentials_manager import CredentialsManager
from backend.data.store import Store
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.server.app import create_app
from backend.settings import Settings
from tests.api.conftest import create_key, drain, make_settings
from tests.wordpress_server import BLOG_URL, CLIENT_ID, CLIENT_SECRET, WordPressServer

API = "/api/v1"
WORDPRESS_POST = "ee4fe08c-18f9-442f-a985-235379b932e1"


@pytest.fixture
def wordpress() -> Iterator[WordPressServer]:
    with WordPressServer() as server:
        yield server


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, wordpress: WordPressServer
) -> Settings:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    return make_settings(
        tmp_path,
        database_url=database_url,
        wordpress_client_id=CLIENT_ID,
        wordpress_client_secret=CLIENT_SECRET,
        wordpress_auth_url=wordpress.auth_url,
        wordpress_token_url=wordpress.token_url,
        wordpress_base_url=wordpress.url,
    )


@pytest.fixture
def alice_key(store: Store) -> str:
    return create_key(store, "alice")


def connect(client: TestClient, wordpress: WordPressServer, alice_key: str) -> str:
    """Sign in, click "Connect WordPress", grant at WordPress.com: the page shown after."""
    assert client.post("/ui/login", json={"key": alice_key}).status_code == 204
    page = client.get("/ui/credentials")
    assert page.status_code == 200 and "Connect WordPress" in page.text
    started = client.get("/ui/oauth/wordpress/start", follow_redirects=False)
    assert started.status_code == 303, started.text
    location = urllib.parse.urlsplit(started.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == wordpress.auth_url
    query = dict(urllib.parse.parse_qsl(location.query))
    # As AutoGPT asks: the posts scope, no PKCE and none of Google's parameters.
    assert query["scope"] == "posts" and query["client_id"] == CLIENT_ID
    assert not {"code_challenge", "access_type", "prompt"} & set(query)
    granted = httpx.get(wordpress.auth_url, params=query, follow_redirects=False)
    assert granted.status_code == 302
    back = urllib.parse.urlsplit(granted.headers["location"])
    assert back.path == "/ui/oauth/callback"
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200, done.text
    return done.text


def manager_of(client: TestClient) -> CredentialsManager:
    app = client.app
    assert isinstance(app, FastAPI)
    manager: CredentialsManager = app.state.credentials
    return manager


def test_connect_wordpress_stores_a_long_lived_token(
    client: TestClient, store: Store, alice_key: str, wordpress: WordPressServer
) -> None:
    done = connect(client, wordpress, alice_key)

    assert "Account connected" in done and BLOG_URL in done
    [record] = store.list_credentials("alice")
    assert (record.provider, record.type) == ("wordpress", CredentialsType.OAUTH2)
    assert record.title == f"WordPress account {BLOG_URL}"
    assert record.scopes == ("posts",)  # the answer names none: what was asked
    [token] = wordpress.issued
    [exchange] = [r for r in wordpress.requests if r.path == "/oauth2/token"]
    assert b"code_verifier" not in exchange.body
    for shown in (done, client.get("/ui/credentials").text):
        assert token not in shown and CLIENT_SECRET not in shown

    # No expiry and no refresh token: the token is used as it is, even much later.
    later = manager_of(client)
    later.clock = lambda: time.time() + 10 * 365 * 86400
    ref = CredentialsMetaInput(id=record.id, provider="wordpress", type=CredentialsType.OAUTH2)
    got = later.resolve("alice", ref, "wordpress")
    assert got.access_token is not None and got.access_token.get_secret_value() == token
    assert got.expires_at is None
    assert [r.path for r in wordpress.requests].count("/oauth2/token") == 1


def test_a_connected_account_posts_through_the_executor_and_deletes_cleanly(
    client: TestClient,
    store: Store,
    settings: Settings,
    alice_key: str,
    wordpress: WordPressServer,
) -> None:
    connect(client, wordpress, alice_key)
    [record] = store.list_credentials("alice")
    alice = {"Authorization": f"Bearer {alice_key}"}
    ref = {"id": record.id, "provider": "wordpress", "type": "oauth2", "title": record.title}
    pins = {"credentials": ref, "site": "myblog.wordpress.com", "title": "Hi", "content": "x"}
    graph = {
        "name": "post",
        "nodes": [{"id": "post", "block_id": WORDPRESS_POST, "input_default": pins}],
        "links": [],
    }
    made = client.post(f"{API}/graphs", json=graph, headers=alice)
    assert made.status_code == 201, made.text
    run_id = client.post(
        f"{API}/graphs/{made.json()['id']}/execute", json={"inputs": {}}, headers=alice
    ).json()["id"]
    drain(settings)

    run = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    nodes = client.get(f"{API}/executions/{run_id}/nodes", headers=alice).text
    assert run["status"] == "COMPLETED", (run, nodes)
    assert "https://wp.me/p4242-100" in nodes
    [token] = wordpress.issued
    [posted] = [r for r in wordpress.requests if r.path.endswith("/posts/new")]
    assert posted.headers["authorization"] == f"Bearer {token}"
    assert token not in nodes and token not in str(run)

    # WordPress.com has no revocation endpoint: deleting only forgets the credential.
    assert client.delete(f"{API}/credentials/{record.id}", headers=alice).status_code == 204
    assert store.list_credentials("alice") == []
    assert [r.path for r in wordpress.requests if r.method == "POST"] == [
        "/oauth2/token",
        "/rest/v1.1/sites/myblog.wordpress.com/posts/new",
    ]


def test_without_a_registered_client_wordpress_cannot_be_connected(
    tmp_path: Path, database_url: str, store: Store, alice_key: str
) -> None:
    bare = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(bare, store)) as client:
        assert client.post("/ui/login", json={"key": alice_key}).status_code == 204
        page = client.get("/ui/credentials")
        assert "BACKEND_WORDPRESS_CLIENT_ID" in page.text
        started = client.get("/ui/oauth/wordpress/start", follow_redirects=False)
        assert started.status_code == 404

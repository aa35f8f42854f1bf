"""The run monitor at /ui over the real app and store: sessions, CSRF, scoping, masking,
escaping; and /docs and /redoc served from the package."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from pydantic import SecretStr

from backend.data.api_keys import hash_key, shown_prefix
from backend.data.credentials_manager import CredentialsManager
from backend.data.store import Store
from backend.providers.oauth import TokenSet
from backend.server.app import create_app
from backend.server.sessions import SESSION_COOKIE, SESSION_MAX_AGE_SECONDS, seal
from backend.settings import Settings
from tests.api.conftest import assert_error, calculator_graph, create_key, drain, wait_graph
from tests.api.test_secrets import SECRET, secret_graph
from tests.api.test_subgraphs import export_with_sub_graph
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data

API = "/api/v1"
EVIL = "<script>alert('x')</script>"


def manager_of(client: TestClient) -> CredentialsManager:
    app = client.app
    assert isinstance(app, FastAPI)
    manager: CredentialsManager = app.state.credentials
    return manager


def sign_in(client: TestClient, key: str, **headers: str) -> httpx.Response:
    return client.post("/ui/login", json={"key": key}, headers=headers)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found, page.text[:500]
    return found.group(1)


@pytest.fixture
def alice_key(store: Store) -> str:
    return create_key(store, "alice")


@pytest.fixture
def signed_in(client: TestClient, alice_key: str) -> dict[str, str]:
    """Alice's session in ``client``'s cookie jar; returns the CSRF header for changes."""
    assert sign_in(client, alice_key).status_code == 204
    return {"X-CSRF-Token": csrf_of(client.get("/ui/runs"))}


def test_sign_in_sets_a_strict_http_only_cookie(client: TestClient, alice_key: str) -> None:
    response = sign_in(client, alice_key)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    page = client.get("/ui/runs")
    assert page.status_code == 200
    assert "Signed in as <strong>alice</strong>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_the_cookie_holds_a_sealed_token_not_the_key(
    app: FastAPI, client: TestClient, alice_key: str
) -> None:
    cookie = sign_in(client, alice_key).headers["set-cookie"]
    assert alice_key not in cookie and hash_key(alice_key) not in cookie
    vault = app.state.credentials.vault
    late = time.time() - SESSION_MAX_AGE_SECONDS - 1
    tokens = {
        "expired": seal(vault, "alice", hash_key(alice_key), now=late),
        "another user's claim, unsealed": f"alice|{hash_key(alice_key)}",
        "the key itself": alice_key,
        "not a token": "gAAAAABnot-a-fernet-token",
    }
    client.cookies.clear()  # from here on, the one cookie each request sends
    for what, token in tokens.items():
        client.cookies.set(SESSION_COOKIE, token)
        page = client.get("/ui/runs", follow_redirects=False)
        assert page.status_code == 303, what
        assert_error(client.get(f"{API}/executions"), 401, "unauthorized")
    client.cookies.set(SESSION_COOKIE, seal(vault, "alice", hash_key(alice_key)))
    assert client.get("/ui/runs").status_code == 200
    # A token names the user and the key: it cannot be turned into someone else's.
    client.cookies.set(SESSION_COOKIE, seal(vault, "bob", hash_key(alice_key)))
    assert client.get("/ui/runs", follow_redirects=False).status_code == 303


def test_sign_in_over_https_marks_the_cookie_secure(client: TestClient, alice_key: str) -> None:
    response = sign_in(client, alice_key, **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 204
    assert "Secure" in response.headers["set-cookie"]


def test_bad_key_is_refused_and_pages_need_a_session(client: TestClient) -> None:
    response = sign_in(client, "not-a-key")
    assert_error(response, 401, "unauthorized")
    assert "set-cookie" not in response.headers
    page = client.get("/ui/runs?status=FAILED", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Fruns%3Fstatus%3DFAILED"
    login = client.get("/ui/login")
    assert login.status_code == 200 and 'id="sign-in"' in login.text
    assert_error(client.get("/ui/runs.json"), 401, "unauthorized")
    assert client.get("/ui/session").json() == {"signed_in": False}


def test_changes_without_the_csrf_token_are_refused(
    client: TestClient, signed_in: dict[str, str]
) -> None:
    gid = client.post("/ui/graphs", json=calculator_graph(), headers=signed_in).json()["id"]
    rid = client.post(
        f"/ui/graphs/{gid}/runs", json={"inputs": {"Input": 1}}, headers=signed_in
    ).json()["id"]
    wrong = {"X-CSRF-Token": "0" * 64}
    for headers in ({}, wrong):
        assert_error(client.post("/ui/logout", headers=headers), 403, "csrf_refused")
        assert_error(client.post(f"/ui/runs/{rid}/cancel", headers=headers), 403, "csrf_refused")
        refused = client.post("/ui/graphs", json=calculator_graph(), headers=headers)
        assert_error(refused, 403, "csrf_refused")
        started = client.post(f"/ui/graphs/{gid}/runs", json={}, headers=headers)
        assert_error(started, 403, "csrf_refused")
    # The API itself never takes the cookie for a change, token or not.
    api_cancel = client.post(f"{API}/executions/{rid}/cancel", headers=signed_in)
    assert_error(api_cancel, 401, "unauthorized")
    cancelled = client.post(f"/ui/runs/{rid}/cancel", headers=signed_in)
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
    out = client.post("/ui/logout", headers=signed_in)
    assert out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert client.get("/ui/runs", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_the_session(
    client: TestClient, store: Store, alice_key: str, signed_in: dict[str, str]
) -> None:
    assert client.get("/ui/runs").status_code == 200
    assert client.get(f"{API}/executions").status_code == 200  # the cookie, on a GET
    store.revoke_api_key(shown_prefix(alice_key), time.time())
    page = client.get("/ui/runs", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    assert_error(client.get(f"{API}/executions"), 401, "unauthorized")
    assert_error(client.get("/ui/runs.json"), 401, "unauthorized")
    assert_error(sign_in(client, alice_key), 401, "unauthorized")


def test_another_users_run_and_graph_are_not_found(
    client: TestClient, bob: dict[str, str], signed_in: dict[str, str]
) -> None:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=bob).json()["id"]
    rid = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=bob).json()["id"]
    assert client.get(f"/ui/runs/{rid}").status_code == 404
    assert client.get(f"/ui/graphs/{gid}").status_code == 404
    assert client.get("/ui/runs.json").json()["items"] == []
    assert rid not in client.get("/ui/runs").text
    assert_error(client.get(f"{API}/executions/{rid}/nodes"), 404, "not_found")
    assert_error(client.post(f"/ui/runs/{rid}/cancel", headers=signed_in), 404, "not_found")
    started = client.post(f"/ui/graphs/{gid}/runs", json={}, headers=signed_in)
    assert_error(started, 404, "not_found")


def test_a_finished_run_shows_its_nodes_outputs_and_counts(
    client: TestClient, settings: Settings, signed_in: dict[str, str]
) -> None:
    created = client.post("/ui/graphs", json=calculator_graph(), headers=signed_in)
    assert created.status_code == 201
    gid = created.json()["id"]
    graph_page = client.get(f"/ui/graphs/{gid}")
    assert graph_page.status_code == 200
    assert 'data-input="Input"' in graph_page.text  # the form, from the agent input
    started = client.post(
        f"/ui/graphs/{gid}/runs", json={"inputs": {"Input": 8}}, headers=signed_in
    )
    assert started.status_code == 202
    rid = started.json()["id"]
    drain(settings)
    page = client.get(f"/ui/runs/{rid}")
    assert page.status_code == 200
    assert page.text.count('class="node s-COMPLETED"') == 3
    assert "42.0" in page.text
    row = client.get("/ui/runs.json").json()["items"][0]
    assert row["id"] == rid and row["status"] == "COMPLETED"
    assert row["nodes"] == 3 and row["node_counts"] == "3 completed"
    assert row["graph_name"] == calculator_graph()["name"]
    assert client.get(f"/ui/runs.json?status=FAILED&graph_id={gid}").json()["items"] == []
    # The run page's live sources answer to the cookie.
    assert client.get(f"{API}/executions/{rid}").json()["status"] == "COMPLETED"
    with client.stream("GET", f"{API}/executions/{rid}/events") as stream:
        assert stream.status_code == 200
        assert "run_status" in "".join(stream.iter_text())


def test_runs_page_pages_with_the_stores_cursor(
    client: TestClient, signed_in: dict[str, str]
) -> None:
    gid = client.post("/ui/graphs", json=wait_graph(0), headers=signed_in).json()["id"]
    ids = [
        client.post(f"/ui/graphs/{gid}/runs", json={"inputs": {"x": 1}}, headers=signed_in).json()[
            "id"
        ]
        for _ in range(27)
    ]
    first = client.get("/ui/runs.json").json()
    assert [r["id"] for r in first["items"]] == ids[::-1][:25]
    second = client.get("/ui/runs.json", params={"cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in second["items"]] == ids[::-1][25:]
    assert second["next_cursor"] is None
    page = client.get("/ui/runs")
    assert 'id="next-page"' in page.text
    queued = client.get("/ui/runs?status=QUEUED")
    assert queued.text.count('class="status s-QUEUED"') == 25


def test_secrets_are_masked_in_the_run_page_and_node_detail(
    client: TestClient, settings: Settings, signed_in: dict[str, str]
) -> None:
    graph = secret_graph()
    graph["nodes"][1]["metadata"] = {"customized_name": f"says {SECRET}"}  # even a label
    gid = client.post("/ui/graphs", json=graph, headers=signed_in).json()["id"]
    rid = client.post(
        f"/ui/graphs/{gid}/runs", json={"inputs": {"token": SECRET}}, headers=signed_in
    ).json()["id"]
    drain(settings)
    page = client.get(f"/ui/runs/{rid}")
    assert page.status_code == 200 and "COMPLETED" in page.text
    assert SECRET[:10] not in page.text and "********" in page.text  # not even cut short
    nodes = client.get(f"{API}/executions/{rid}/nodes")  # what node detail shows
    assert nodes.status_code == 200 and len(nodes.json()["items"]) == 4
    assert SECRET not in nodes.text
    with client.stream("GET", f"{API}/executions/{rid}/events") as stream:
        assert SECRET not in "".join(stream.iter_text())


def _evil_graph() -> dict[str, Any]:
    graph = calculator_graph()
    graph["name"] = EVIL
    graph["description"] = f"<img src=x onerror=alert(1)> {EVIL}"
    for node in graph["nodes"]:
        if node["input_default"].get("name") == "Input":
            node["input_default"]["description"] = EVIL
            node["input_default"]["title"] = EVIL
    return graph


def test_graph_and_node_names_are_escaped(
    client: TestClient, settings: Settings, signed_in: dict[str, str]
) -> None:
    gid = client.post("/ui/graphs", json=_evil_graph(), headers=signed_in).json()["id"]
    rid = client.post(f"/ui/graphs/{gid}/runs", json={"inputs": {"Input": 1}}, headers=signed_in)
    drain(settings)
    pages = [
        client.get("/ui/graphs"),
        client.get(f"/ui/graphs/{gid}"),
        client.get("/ui/runs"),
        client.get(f"/ui/runs/{rid.json()['id']}"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert client.get("/ui/runs.json").json()["items"][0]["graph_name"] == EVIL  # JSON, as is


def test_sign_in_keeps_a_local_next_only(client: TestClient) -> None:
    assert 'data-next="/ui/graphs"' in client.get("/ui/login?next=/ui/graphs").text
    for target in ("https://evil.example/", "//evil.example/ui", "/api/v1/graphs"):
        page = client.get("/ui/login", params={"next": target})
        assert 'data-next="/ui/runs"' in page.text


def test_static_assets_are_served(client: TestClient) -> None:
    for name in (
        "monitor.js",
        "run.js",
        "runs.js",
        "graphs.js",
        "graph.js",
        "credentials.js",
        "monitor.css",
    ):
        assert client.get(f"/ui/static/{name}").status_code == 200
    assert "innerHTML" not in client.get("/ui/static/run.js").text


def test_docs_and_redoc_load_their_assets_locally(client: TestClient) -> None:
    for path, asset in (
        ("/docs", "/docs-assets/swagger-ui/swagger-ui-bundle.js"),
        ("/docs", "/docs-assets/swagger-ui/swagger-ui.css"),
        ("/redoc", "/docs-assets/redoc/redoc.standalone.js"),
    ):
        page = client.get(path)
        assert page.status_code == 200
        assert asset in page.text
        assert "cdn.jsdelivr" not in page.text and "fonts.googleapis" not in page.text
        assert "img-src 'self' data:" in page.headers["content-security-policy"]
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100_000
    for licence in ("swagger-ui/LICENSE", "swagger-ui/NOTICE", "redoc/LICENSE"):
        assert client.get(f"/docs-assets/{licence}").status_code == 200
    assert '"validatorUrl": null' in client.get("/docs").text
    schema = client.get("/openapi.json").json()
    assert not any(path.startswith("/ui") for path in schema["paths"])


def test_sub_agent_runs_link_to_each_other(
    client: TestClient, settings: Settings, signed_in: dict[str, str]
) -> None:
    gid = client.post("/ui/graphs", json=export_with_sub_graph(), headers=signed_in).json()["id"]
    rid = client.post(
        f"/ui/graphs/{gid}/runs", json={"inputs": {"x": 3}}, headers=signed_in
    ).json()["id"]
    drain(settings)
    [child] = client.get(f"{API}/executions/{rid}").json()["children"]
    parent_page = client.get(f"/ui/runs/{rid}")
    assert f'href="/ui/runs/{child["id"]}"' in parent_page.text
    child_page = client.get(f"/ui/runs/{child['id']}")
    assert "Parent run" in child_page.text and f'href="/ui/runs/{rid}"' in child_page.text
    assert child_page.text.count('class="node s-COMPLETED"') == 3
    graph_page = client.get(f"/ui/graphs/{gid}")
    assert graph_page.text.count('class="node s-NOT_RUN"') == 3  # drawn, not selectable


@needs_autogpt_data
def test_shipped_agents_graph_pages_render(
    settings: Settings, store: Store, alice_key: str
) -> None:
    roomy = settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024})  # exports are big
    with TestClient(create_app(roomy, store)) as client:
        assert sign_in(client, alice_key).status_code == 204
        csrf = {"X-CSRF-Token": csrf_of(client.get("/ui/graphs"))}
        shown = 0
        for path in sorted(AGENTS_DIR.glob("*.json")):
            export = json.loads(path.read_text())
            made = client.post("/ui/graphs", json=export, headers=csrf)
            if made.status_code != 201:
                continue  # blocks of services this server does not have
            page = client.get(f"/ui/graphs/{made.json()['id']}")
            assert page.status_code == 200
            nodes = len(export.get("graph", export)["nodes"])
            assert page.text.count('<g class="node ') == nodes
            shown += 1
        assert shown >= 5
        listing = client.get("/ui/graphs")
        assert listing.status_code == 200 and listing.text.count("/ui/graphs/") >= shown


def test_a_bad_cursor_is_an_error_page_and_sign_in_skips_a_live_session(
    client: TestClient, signed_in: dict[str, str]
) -> None:
    for path in ("/ui/runs?cursor=nonsense", "/ui/graphs?cursor=nonsense"):
        page = client.get(path)
        assert page.status_code == 422 and "invalid cursor" in page.text
    assert_error(client.get("/ui/runs.json?cursor=nonsense"), 422, "invalid_input")
    assert client.get("/ui/runs.json?limit=1").json()["items"] == []
    assert client.get("/ui/session").json() == {"signed_in": True}
    page = client.get("/ui/login?next=/ui/graphs", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/graphs"


def test_a_failed_run_shows_the_failed_node_and_the_error(
    client: TestClient, settings: Settings, signed_in: dict[str, str]
) -> None:
    graph = secret_graph()  # its template node, given a template that cannot render
    graph["name"] = "breaks"
    for node in graph["nodes"]:
        node["input_default"].pop("secret", None)
        if node["id"] == "say":
            node["input_default"]["format"] = "{{ t.nope( }}"
    gid = client.post("/ui/graphs", json=graph, headers=signed_in).json()["id"]
    rid = client.post(
        f"/ui/graphs/{gid}/runs", json={"inputs": {"token": "x"}}, headers=signed_in
    ).json()["id"]
    drain(settings)
    page = client.get(f"/ui/runs/{rid}")
    assert 'id="run-status" class="status s-FAILED"' in page.text
    assert page.text.count('class="node s-FAILED"') == 1
    error = client.get(f"{API}/executions/{rid}").json()["error"]
    assert error and str(escape(error)) in page.text  # escaped as the templates do
    assert 'id="run-error-box" hidden' not in page.text
    assert client.get("/ui/runs.json?status=FAILED").json()["items"][0]["id"] == rid


def test_disconnect_deletes_a_connected_account_with_the_csrf_token(
    client: TestClient, store: Store, settings: Settings, signed_in: dict[str, str]
) -> None:
    manager: CredentialsManager = manager_of(client)
    tokens = TokenSet(access_token=SecretStr("wpcom-ui-access"), account="blog.example")
    record = manager.add_oauth("alice", "wordpress", tokens)
    bobs = manager.add_oauth("bob", "wordpress", tokens)

    page = client.get("/ui/credentials")
    assert f'data-disconnect="{record.id}"' in page.text and bobs.id not in page.text
    assert '<script src="/ui/static/credentials.js">' in page.text
    path = f"/ui/credentials/{record.id}/disconnect"
    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        assert_error(client.post(path, headers=headers), 403, "csrf_refused")
    assert_error(
        client.post(f"/ui/credentials/{bobs.id}/disconnect", headers=signed_in), 404, "not_found"
    )

    assert client.post(path, headers=signed_in).status_code == 204

    assert store.list_credentials("alice") == []
    assert [r.id for r in store.list_credentials("bob")] == [bobs.id]
    assert record.id not in client.get("/ui/credentials").text
    assert_error(client.post(path, headers=signed_in), 404, "not_found")

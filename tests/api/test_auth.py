"""API keys: every /api route needs one; users see only their own graphs and runs."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from backend.data.store import Store
from backend.errors import Conflict, NotFound
from tests.api.conftest import calculator_graph, create_key

API = "/api/v1"
ROUTES = [
    ("GET", "/blocks"),
    ("POST", "/graphs"),
    ("GET", "/graphs"),
    ("GET", "/graphs/g"),
    ("PUT", "/graphs/g"),
    ("DELETE", "/graphs/g"),
    ("POST", "/graphs/g/execute"),
    ("GET", "/executions"),
    ("GET", "/executions/r"),
    ("GET", "/executions/r/nodes"),
    ("POST", "/executions/r/cancel"),
    ("GET", "/executions/r/events"),
    ("POST", "/credentials"),
    ("GET", "/credentials"),
    ("GET", "/credentials/c"),
    ("DELETE", "/credentials/c"),
]


def assert_401(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in ROUTES:
        body = calculator_graph() if method in ("POST", "PUT") else None
        response = client.request(method, f"{API}{path}", json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_missing_key_answers_401_everywhere(client: TestClient) -> None:
    assert_401(client, {})
    assert_401(client, {"Authorization": "Basic YWxpY2U6eA=="})
    assert_401(client, {"Authorization": "Bearer "})


def test_wrong_key_answers_401(client: TestClient, alice: dict[str, str]) -> None:
    assert_401(client, {"Authorization": "Bearer ags_not-a-real-key"})
    assert_401(client, {"Authorization": alice["Authorization"] + "x"})


def test_revoked_key_answers_401_and_other_keys_keep_working(
    client: TestClient, store: Store
) -> None:
    first, second = create_key(store, "carol"), create_key(store, "carol")
    headers = {"Authorization": f"Bearer {first}"}
    assert client.get(f"{API}/graphs", headers=headers).status_code == 200
    (record, _) = store.list_api_keys("carol")
    store.revoke_api_key(record.prefix, time.time())
    assert_401(client, headers)
    other = {"Authorization": f"Bearer {second}"}
    assert client.get(f"{API}/graphs", headers=other).status_code == 200


def test_revoke_by_id_is_idempotent_and_unknown_is_not_found(store: Store) -> None:
    create_key(store, "dave")
    (record,) = store.list_api_keys("dave")
    revoked = store.revoke_api_key(record.id, 10.0)
    assert revoked.revoked_at == 10.0
    assert store.revoke_api_key(record.id, 20.0).revoked_at == 10.0
    with pytest.raises(NotFound):
        store.revoke_api_key("nope", 1.0)


def test_ambiguous_prefix_is_refused(store: Store) -> None:
    store.create_api_key("erin", "h1", "ags_same", 1.0)
    store.create_api_key("erin", "h2", "ags_same", 2.0)
    with pytest.raises(Conflict):
        store.revoke_api_key("ags_same", 3.0)


def test_keys_are_stored_hashed(store: Store) -> None:
    key = create_key(store, "frank")
    (record,) = store.list_api_keys("frank")
    assert key.startswith(record.prefix)
    assert key not in repr(record)
    assert record.prefix != key


def test_another_users_graph_and_run_answer_404_never_the_data(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    graph = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    gid = graph["id"]
    run = client.post(
        f"{API}/graphs/{gid}/execute", json={"inputs": {"Input": 1}}, headers=alice
    ).json()
    rid = run["id"]
    for method, path in (
        ("GET", f"/graphs/{gid}"),
        ("PUT", f"/graphs/{gid}"),
        ("DELETE", f"/graphs/{gid}"),
        ("POST", f"/graphs/{gid}/execute"),
        ("GET", f"/executions/{rid}"),
        ("GET", f"/executions/{rid}/nodes"),
        ("GET", f"/executions/{rid}/events"),
        ("POST", f"/executions/{rid}/cancel"),
    ):
        body = calculator_graph() if method == "PUT" else ({} if method == "POST" else None)
        response = client.request(method, f"{API}{path}", json=body, headers=bob)
        assert response.status_code == 404, (method, path)
        assert set(response.json()) == {"error"}
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/graphs", headers=bob).json()["items"] == []
    assert client.get(f"{API}/executions", headers=bob).json()["items"] == []
    assert client.get(f"{API}/executions?graph_id={gid}", headers=bob).json()["items"] == []
    # Alice's graph and run are untouched by Bob's attempts.
    assert client.get(f"{API}/graphs/{gid}", headers=alice).json()["version"] == 1
    assert client.get(f"{API}/executions/{rid}", headers=alice).json()["status"] == "QUEUED"

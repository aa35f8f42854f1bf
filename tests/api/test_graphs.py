"""Graph routes: create, list, read, new version, delete; validation answers 422."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import calculator_graph
from tests.graphs import STORE_VALUE

API = "/api/v1"


def test_create_returns_201_with_the_stored_graph(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice)
    assert response.status_code == 201
    graph = response.json()
    assert graph["version"] == 1
    assert graph["name"] == "Calculator agent"
    assert len(graph["nodes"]) == 3 and len(graph["links"]) == 2
    # A fresh id: importing the same export twice makes two graphs.
    again = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    assert again["id"] != graph["id"]
    fetched = client.get(f"{API}/graphs/{graph['id']}", headers=alice)
    assert fetched.status_code == 200
    assert graph.pop("sub_graphs_imported") == []  # an import reports its sub-graphs
    assert fetched.json() == graph


def test_autogpt_wrapped_create_body_is_accepted(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post(f"{API}/graphs", json={"graph": calculator_graph()}, headers=alice)
    assert response.status_code == 201
    assert len(response.json()["nodes"]) == 3


def test_invalid_graph_answers_422_with_one_entry_per_node_problem(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph = {
        "name": "bad",
        "nodes": [
            {"id": "a", "block_id": "no-such-block"},
            {"id": "b", "block_id": STORE_VALUE},
        ],
        "links": [{"source_id": "b", "source_name": "nope", "sink_id": "b", "sink_name": "input"}],
    }
    response = client.post(f"{API}/graphs", json=graph, headers=alice)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    by_node = {(d["node_id"], d["pin"]) for d in error["details"]}
    assert ("a", None) in by_node
    assert ("b", "nope") in by_node
    assert any("unknown block" in d["message"] for d in error["details"])


def test_graph_json_of_the_wrong_shape_answers_422(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post(f"{API}/graphs", json={"nodes": [{"id": 5}]}, headers=alice)
    assert response.status_code == 422
    assert response.json()["error"]["details"]
    response = client.post(f"{API}/graphs", json=[1, 2], headers=alice)
    assert response.status_code == 422


def test_list_is_newest_first_and_paginated(client: TestClient, alice: dict[str, str]) -> None:
    ids = [
        client.post(
            f"{API}/graphs", json={**calculator_graph(), "name": f"g{i}"}, headers=alice
        ).json()["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/graphs", params=params, headers=alice).json()
        seen += [g["id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))


def test_put_makes_a_new_active_version_and_old_versions_stay_readable(
    client: TestClient, alice: dict[str, str]
) -> None:
    created = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    changed = {**calculator_graph(), "name": "renamed"}
    response = client.put(f"{API}/graphs/{created['id']}", json=changed, headers=alice)
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["id"] == created["id"]
    latest = client.get(f"{API}/graphs/{created['id']}", headers=alice).json()
    assert (latest["version"], latest["name"]) == (2, "renamed")
    first = client.get(f"{API}/graphs/{created['id']}", params={"version": 1}, headers=alice)
    assert first.json()["name"] == "Calculator agent"
    missing = client.get(f"{API}/graphs/{created['id']}", params={"version": 9}, headers=alice)
    assert missing.status_code == 404


def test_put_invalid_graph_answers_422_and_keeps_the_active_version(
    client: TestClient, alice: dict[str, str]
) -> None:
    created = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    bad = {"nodes": [{"id": "x", "block_id": "missing"}]}
    assert client.put(f"{API}/graphs/{created['id']}", json=bad, headers=alice).status_code == 422
    assert client.get(f"{API}/graphs/{created['id']}", headers=alice).json()["version"] == 1


def test_put_and_delete_of_unknown_graph_answer_404(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.put(f"{API}/graphs/nope", json=calculator_graph(), headers=alice)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.delete(f"{API}/graphs/nope", headers=alice).status_code == 404


def test_delete_hides_the_graph_everywhere(client: TestClient, alice: dict[str, str]) -> None:
    created = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    gid = created["id"]
    assert client.delete(f"{API}/graphs/{gid}", headers=alice).status_code == 204
    assert client.get(f"{API}/graphs/{gid}", headers=alice).status_code == 404
    assert client.get(f"{API}/graphs/{gid}?version=1", headers=alice).status_code == 404
    assert client.get(f"{API}/graphs", headers=alice).json()["items"] == []
    execute = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=alice)
    assert execute.status_code == 404
    assert client.delete(f"{API}/graphs/{gid}", headers=alice).status_code == 404


def test_blocks_lists_every_block_with_schemas(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get(f"{API}/blocks", headers=alice)
    assert response.status_code == 200
    blocks = {b["id"]: b for b in response.json()}
    calculator = blocks["b1ab9b19-67a6-406d-abf5-2dba76d00c79"]
    assert {"id", "name", "description", "categories", "input_schema", "output_schema"} <= set(
        calculator
    )
    assert "a" in calculator["input_schema"]["properties"]
    assert "result" in calculator["output_schema"]["properties"]

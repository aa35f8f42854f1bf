"""Run routes, driven to completion by a real executor on the same SQLite file."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.api.conftest import calculator_graph, drain, wait_graph

API = "/api/v1"


def create(client: TestClient, headers: dict[str, str], graph: dict[str, Any]) -> str:
    response = client.post(f"{API}/graphs", json=graph, headers=headers)
    assert response.status_code == 201, response.text
    graph_id: str = response.json()["id"]
    return graph_id


def execute(
    client: TestClient, headers: dict[str, str], graph_id: str, **body: Any
) -> dict[str, Any]:
    response = client.post(f"{API}/graphs/{graph_id}/execute", json=body, headers=headers)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


def test_execute_runs_the_calculator_to_its_output(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    accepted = execute(client, alice, graph_id, inputs={"Input": 8})
    assert accepted["status"] == "QUEUED"
    drain(settings)
    run = client.get(f"{API}/executions/{accepted['id']}", headers=alice).json()
    assert run["status"] == "COMPLETED"
    assert run["outputs"] == {"Output": [42.0]}
    assert run["inputs"] == {"Input": 8}
    assert run["graph_id"] == graph_id and run["graph_version"] == 1
    assert run["error"] is None
    assert run["created_at"] <= run["started_at"] <= run["ended_at"]
    assert run["stats"]["node_executions"] == 3
    assert run["stats"]["node_status_counts"] == {"COMPLETED": 3}

    nodes = client.get(f"{API}/executions/{accepted['id']}/nodes", headers=alice).json()["items"]
    assert [n["status"] for n in nodes] == ["COMPLETED"] * 3
    calc = next(n for n in nodes if n["block_id"] == "b1ab9b19-67a6-406d-abf5-2dba76d00c79")
    assert calc["input_data"]["a"] == 8
    assert calc["output_data"] == [["result", 42.0]]
    assert calc["attempt"] == 1
    assert calc["started_at"] is not None and calc["ended_at"] is not None


def test_execute_a_pinned_version(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    v2 = calculator_graph()
    v2["nodes"][1]["input_default"]["b"] = 100
    assert client.put(f"{API}/graphs/{graph_id}", json=v2, headers=alice).status_code == 200
    old = execute(client, alice, graph_id, inputs={"Input": 8}, version=1)
    new = execute(client, alice, graph_id, inputs={"Input": 8})
    drain(settings)
    outputs = {
        name: client.get(f"{API}/executions/{run['id']}", headers=alice).json()["outputs"]
        for name, run in (("old", old), ("new", new))
    }
    assert outputs == {"old": {"Output": [42.0]}, "new": {"Output": [108.0]}}


def test_execute_with_unknown_input_or_version_is_refused(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph_id = create(client, alice, calculator_graph())
    url = f"{API}/graphs/{graph_id}/execute"
    response = client.post(url, json={"inputs": {"Nope": 1}}, headers=alice)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["pin"] == "Nope"
    assert client.post(url, json={"version": 7}, headers=alice).status_code == 404
    assert client.post(url, json={"version": 0}, headers=alice).status_code == 422
    assert client.post(f"{API}/graphs/nope/execute", json={}, headers=alice).status_code == 404


def test_execute_without_a_required_input_is_refused_naming_it(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph = calculator_graph()
    [agent_input] = [n for n in graph["nodes"] if n["input_default"].get("name") == "Input"]
    del agent_input["input_default"]["value"]  # no default: the run must give it
    graph_id = create(client, alice, graph)
    url = f"{API}/graphs/{graph_id}/execute"
    for body in ({}, {"inputs": {"Input": None}}):
        response = client.post(url, json=body, headers=alice)
        assert response.status_code == 422, body
        error = response.json()["error"]
        assert [d["pin"] for d in error["details"]] == ["Input"]
        assert "required run input 'Input' is missing" in error["message"]
    assert client.get(f"{API}/executions?graph_id={graph_id}", headers=alice).json()["items"] == []


def test_deleted_graph_keeps_its_runs_history(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    run = execute(client, alice, graph_id, inputs={"Input": 1})
    assert client.delete(f"{API}/graphs/{graph_id}", headers=alice).status_code == 204
    # A queued run of a deleted graph still runs: it pinned its version.
    drain(settings)
    view = client.get(f"{API}/executions/{run['id']}", headers=alice).json()
    assert (view["status"], view["outputs"]) == ("COMPLETED", {"Output": [35.0]})


def test_list_filters_and_paginates(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    calc = create(client, alice, calculator_graph())
    other = create(client, alice, wait_graph(0))
    ids = [execute(client, alice, calc, inputs={"Input": i})["id"] for i in range(5)]
    execute(client, alice, other, inputs={"x": 1})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"graph_id": calc, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"{API}/executions", params=params, headers=alice).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    queued = client.get(f"{API}/executions", params={"status": "QUEUED"}, headers=alice).json()
    assert len(queued["items"]) == 6
    drain(settings)
    done = client.get(f"{API}/executions", params={"status": "COMPLETED"}, headers=alice).json()
    assert len(done["items"]) == 6
    assert client.get(f"{API}/executions?status=QUEUED", headers=alice).json()["items"] == []


def test_list_rejects_bad_filters_with_422(client: TestClient, alice: dict[str, str]) -> None:
    queries = (
        "status=DONE",
        "limit=0",
        "limit=1000",
        "cursor=%%%",
        "cursor=bm90IGpzb24",  # "not json"
        "cursor=W05hTiwgIngiXQ",  # [NaN, "x"]
        "cursor=WzEsIDJd",  # [1, 2]
    )
    for query in queries:
        response = client.get(f"{API}/executions?{query}", headers=alice)
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "invalid_input"


def test_cancel_a_queued_run_terminates_it_and_a_second_cancel_is_409(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph_id = create(client, alice, wait_graph(30))
    run = execute(client, alice, graph_id, inputs={"x": 1})
    response = client.post(f"{API}/executions/{run['id']}/cancel", headers=alice)
    assert response.status_code == 202
    assert response.json()["status"] == "TERMINATED"
    view = client.get(f"{API}/executions/{run['id']}", headers=alice).json()
    assert view["status"] == "TERMINATED"
    again = client.post(f"{API}/executions/{run['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_cancel_of_a_completed_run_is_409(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    run = execute(client, alice, graph_id, inputs={"Input": 1})
    drain(settings)
    response = client.post(f"{API}/executions/{run['id']}/cancel", headers=alice)
    assert response.status_code == 409


def test_unknown_run_answers_404_on_every_route(client: TestClient, alice: dict[str, str]) -> None:
    for method, path in (
        ("GET", "/executions/nope"),
        ("GET", "/executions/nope/nodes"),
        ("GET", "/executions/nope/events"),
        ("POST", "/executions/nope/cancel"),
    ):
        response = client.request(method, f"{API}{path}", headers=alice)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"

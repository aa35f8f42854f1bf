"""GET /executions/{id}/nodes in pages, filtered; the run view from counters."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.api.conftest import assert_error, calculator_graph, drain
from tests.api.test_executions import API, create, execute


def pages(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=query, headers=headers).json()
        assert len(page["items"]) <= params.get("limit", 100)
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_nodes_page_filter_and_bound(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], settings: Settings
) -> None:
    run_id = execute(client, alice, create(client, alice, calculator_graph()), inputs={"Input": 8})[
        "id"
    ]
    drain(settings)
    path = f"{API}/executions/{run_id}/nodes"
    whole = client.get(path, headers=alice).json()
    assert len(whole["items"]) == 3 and whole["next_cursor"] is None
    assert pages(client, alice, path, limit=1) == whole["items"]
    assert pages(client, alice, path, limit=2) == whole["items"]

    calc = next(n for n in whole["items"] if n["block_id"].startswith("b1ab9b19"))
    by_node = client.get(path, params={"node_id": calc["node_id"]}, headers=alice).json()
    assert by_node["items"] == [calc]
    done = client.get(path, params={"status": "COMPLETED", "limit": 1}, headers=alice).json()
    assert len(done["items"]) == 1 and done["next_cursor"]
    assert client.get(path, params={"status": "FAILED"}, headers=alice).json()["items"] == []

    assert_error(client.get(path, params={"limit": 1001}, headers=alice), 422, "invalid_input")
    assert_error(client.get(path, params={"limit": 0}, headers=alice), 422, "invalid_input")
    assert_error(client.get(path, params={"cursor": "nope"}, headers=alice), 422, "invalid_input")
    assert_error(client.get(path, params={"status": "DONE"}, headers=alice), 422, "invalid_input")
    # Another user's run stays hidden behind every filter.
    assert_error(client.get(path, params={"limit": 1}, headers=bob), 404, "not_found")

    run = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    assert run["stats"]["node_executions"] == 3
    assert run["stats"]["node_status_counts"] == {"COMPLETED": 3}
    assert run["stats"]["attempts"] == 3
    assert run["stats"]["input_tokens"] == 0 and run["stats"]["models"] == {}

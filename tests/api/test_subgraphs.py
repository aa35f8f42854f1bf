"""Exports with sub-graphs through the API: import, reuse, export, and the run tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.data.store import Store
from backend.server.app import create_app
from backend.settings import Settings
from tests.api.conftest import assert_error, drain
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT, wait_chain

API = "/api/v1"
AGENT = "e189baac-8c20-45a1-94a7-55177ea42565"


def export_with_sub_graph(sub_id: str = "published-elsewhere") -> dict[str, Any]:
    """A caller whose sub-agent node names the sub-graph by another id, as AutoGPT's
    published exports do: it matches by version and input/output names."""
    child = wait_chain(1, 0, "child").to_json()
    child["id"], child["version"] = "sub-graph-id", 3
    return {
        "name": "caller",
        "nodes": [
            {"id": "in", "block_id": AGENT_INPUT, "input_default": {"name": "x"}},
            {
                "id": "sub",
                "block_id": AGENT,
                "input_default": {
                    "graph_id": sub_id,
                    "graph_version": 3,
                    "input_schema": {"properties": {"x": {}}},
                    "output_schema": {"properties": {"out": {}}},
                },
            },
            {"id": "out", "block_id": AGENT_OUTPUT, "input_default": {"name": "out"}},
        ],
        "links": [
            {"source_id": "in", "source_name": "result", "sink_id": "sub", "sink_name": "x"},
            {"source_id": "sub", "source_name": "out", "sink_id": "out", "sink_name": "value"},
        ],
        "sub_graphs": [child],
    }


def test_import_stores_the_sub_graphs_and_points_the_node_at_them(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    made = client.post(f"{API}/graphs", json=export_with_sub_graph(), headers=alice)
    assert made.status_code == 201, made.text
    graph = made.json()
    [imported] = graph["sub_graphs_imported"]
    assert imported["source_id"] == "sub-graph-id" and imported["reused"] is False
    node = next(n for n in graph["nodes"] if n["id"] == "sub")
    assert node["input_default"]["graph_id"] == imported["id"]
    assert node["input_default"]["graph_version"] == imported["version"]

    run_id = client.post(
        f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"x": 5}}, headers=alice
    ).json()["id"]
    drain(settings)
    run = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    assert run["status"] == "COMPLETED", run["error"]
    assert run["outputs"] == {"out": [5]}
    [child] = run["children"]
    assert child["status"] == "COMPLETED" and child["graph_id"] == imported["id"]
    listed = client.get(f"{API}/executions?parent_id={run_id}", headers=alice).json()
    assert [r["id"] for r in listed["items"]] == [child["id"]]
    assert (
        client.get(f"{API}/executions/{child['id']}", headers=alice).json()["parent_run_id"]
        == run_id
    )

    # The same export again: the unchanged sub-graph is reused, and the answer says so.
    again = client.post(f"{API}/graphs", json=export_with_sub_graph(), headers=alice).json()
    assert again["sub_graphs_imported"][0] == {**imported, "reused": True}
    assert again["id"] != graph["id"]

    # Exported back, it carries its sub-graph and imports again as it is.
    export = client.get(f"{API}/graphs/{graph['id']}?include_sub_graphs=true", headers=alice).json()
    assert [g["id"] for g in export["sub_graphs"]] == [imported["id"]]
    round_trip = client.post(f"{API}/graphs", json=export, headers=alice)
    assert round_trip.status_code == 201
    assert round_trip.json()["sub_graphs_imported"][0]["reused"] is True


def test_an_unresolvable_reference_is_a_422_naming_the_node(
    client: TestClient, alice: dict[str, str]
) -> None:
    export = export_with_sub_graph()
    export["nodes"][1]["input_default"]["graph_version"] = 4  # no sub-graph has it
    error = assert_error(
        client.post(f"{API}/graphs", json=export, headers=alice), 422, "invalid_input"
    )
    assert error["details"][0]["node_id"] == "sub"
    assert "matches no sub-graph" in error["message"]
    assert client.get(f"{API}/graphs", headers=alice).json()["items"] == []


def test_an_ambiguous_reference_is_a_422(client: TestClient, alice: dict[str, str]) -> None:
    export = export_with_sub_graph()
    twin = json.loads(json.dumps(export["sub_graphs"][0]))
    twin["id"], twin["name"] = "twin", "twin"
    export["sub_graphs"].append(twin)
    error = assert_error(
        client.post(f"{API}/graphs", json=export, headers=alice), 422, "invalid_input"
    )
    assert "matches 2 sub-graphs" in error["message"]


@needs_autogpt_data
@pytest.mark.parametrize(
    "path",
    sorted(AGENTS_DIR.glob("*.json")) if AGENTS_DIR.is_dir() else [],
    ids=lambda p: p.stem[:14],
)
def test_every_shipped_agent_imports_with_its_sub_graphs(
    settings: Settings, store: Store, alice: dict[str, str], path: Path
) -> None:
    export = json.loads(path.read_text())
    roomy = settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024})  # exports are big
    with TestClient(create_app(roomy, store)) as client:
        answer = client.post(f"{API}/graphs", json=export, headers=alice)
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["sub_graphs_imported"]) == len(export.get("sub_graphs", []))

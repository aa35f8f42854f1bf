"""Agent inputs and outputs marked ``secret: true`` are masked in every view and event."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from backend.settings import Settings
from tests.api.conftest import LiveServer, drain, http
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT

API = "/api/v1"
SECRET = "hunter2-very-secret-token"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"


def secret_graph() -> dict[str, Any]:
    """A secret input travels through a template into a public and a secret output."""
    return {
        "name": "secrets",
        "nodes": [
            {
                "id": "token",
                "block_id": AGENT_INPUT,
                "input_default": {"name": "token", "secret": True},
            },
            {
                "id": "say",
                "block_id": TEMPLATE,
                "input_default": {"format": "token is {{ t }}", "values": {}},
            },
            {"id": "public", "block_id": AGENT_OUTPUT, "input_default": {"name": "public"}},
            {
                "id": "hidden",
                "block_id": AGENT_OUTPUT,
                "input_default": {"name": "hidden", "secret": True},
            },
        ],
        "links": [
            {
                "source_id": "token",
                "source_name": "result",
                "sink_id": "say",
                "sink_name": "values_#_t",
            },
            {
                "source_id": "say",
                "source_name": "output",
                "sink_id": "public",
                "sink_name": "value",
            },
            {
                "source_id": "token",
                "source_name": "result",
                "sink_id": "hidden",
                "sink_name": "value",
            },
        ],
    }


def test_secret_values_are_masked_everywhere_the_api_shows_them(
    live: LiveServer, alice: dict[str, str], settings: Settings
) -> None:
    with http(live, alice) as client:
        graph = client.post(f"{API}/graphs", json=secret_graph()).json()
        run_id = client.post(
            f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"token": SECRET}}
        ).json()["id"]
        drain(settings)
        run = client.get(f"{API}/executions/{run_id}").json()
        assert run["status"] == "COMPLETED", run["error"]
        assert run["inputs"] == {"token": "********"}
        assert run["outputs"] == {"public": ["token is ********"], "hidden": ["********"]}
        views = [
            json.dumps(run),
            client.get(f"{API}/executions/{run_id}/nodes").text,
            client.get(f"{API}/executions").text,
        ]
        with client.stream("GET", f"{API}/executions/{run_id}/events") as stream:
            views.append("".join(stream.iter_text()))
    for view in views:
        assert SECRET not in view
        assert "********" in view


def test_values_not_marked_secret_are_shown(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph = secret_graph()
    for node in graph["nodes"]:
        node["input_default"].pop("secret", None)
    made = client.post(f"{API}/graphs", json=graph, headers=alice).json()
    run_id = client.post(
        f"{API}/graphs/{made['id']}/execute", json={"inputs": {"token": SECRET}}, headers=alice
    ).json()["id"]
    drain(settings)
    run = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    assert run["outputs"]["hidden"] == [SECRET]

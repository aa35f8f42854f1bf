"""Real answers about real objects (a finished run and its nodes, a graph, a credential,
a schedule, a webhook, a file) match their documented response schemas, and carry no
field the document does not name: generated requests mostly meet an empty database,
so this is where the models of full views are held to what the routes send."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.settings import Settings
from tests.api.conftest import add_file, calculator_graph, drain

API = "/api/v1"
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]


def undocumented(value: Any, schema: dict[str, Any], schemas: dict[str, Any], at: str) -> list[str]:
    """Paths of object keys in ``value`` that ``schema`` does not list as properties."""
    if "$ref" in schema:
        return undocumented(value, schemas[schema["$ref"].rsplit("/", 1)[1]], schemas, at)
    for branch in schema.get("anyOf", []):
        kind = branch.get("type")
        if kind == "null" and value is None:
            return []
        if (isinstance(value, dict) and (kind == "object" or "$ref" in branch)) or (
            isinstance(value, list) and kind == "array"
        ):
            return undocumented(value, branch, schemas, at)
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{at}.{key}")
            else:
                found += undocumented(item, schema["properties"][key], schemas, f"{at}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            found += undocumented(item, schema["additionalProperties"], schemas, f"{at}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += undocumented(item, schema["items"], schemas, f"{at}[{index}]")
    return found


def seed(client: TestClient, key: dict[str, str], settings: Settings) -> dict[str, str]:
    graph = client.post(f"{API}/graphs", json=calculator_graph(), headers=key).json()
    run = client.post(
        f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"Input": 8}}, headers=key
    ).json()
    drain(settings)
    credential = client.post(
        f"{API}/credentials",
        json={"provider": "openai", "title": "work", "api_key": "sk-test-1234567890"},
        headers=key,
    ).json()
    schedule = client.post(
        f"{API}/schedules", json={"graph_id": graph["id"], "cron": "0 9 * * 1"}, headers=key
    ).json()
    hook = client.post(
        f"{API}/hooks", json={"graph_id": graph["id"], "input": "Input"}, headers=key
    ).json()
    return {
        "graph_id": graph["id"],
        "run_id": run["id"],
        "credentials_id": credential["id"],
        "schedule_id": schedule["id"],
        "hook_id": hook["id"],
    }


def test_full_views_match_their_schemas(
    app: FastAPI, client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    ids = seed(client, alice, settings)
    add_file(app.state.store, b"\x89PNG", run=ids["run_id"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    document = app.openapi()
    schemas = document["components"]["schemas"]
    asked: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/blocks", {}),
        ("GET", "/api/v1/graphs", {}),
        ("GET", "/api/v1/graphs/{graph_id}", {}),
        ("GET", "/api/v1/graphs/{graph_id}", {"query": {"include_sub_graphs": True}}),
        ("POST", "/api/v1/graphs", {"body": calculator_graph(), "query": {"reuse": True}}),
        ("GET", "/api/v1/executions", {}),
        ("GET", "/api/v1/executions/{run_id}", {}),
        ("GET", "/api/v1/executions/{run_id}/nodes", {}),
        ("POST", "/api/v1/executions/{run_id}/rerun", {}),
        ("POST", "/api/v1/executions/{run_id}/cancel", {}),  # 409: it has ended
        ("GET", "/api/v1/credentials", {}),
        ("GET", "/api/v1/credentials/{credentials_id}", {}),
        ("GET", "/api/v1/files", {}),
        ("GET", "/api/v1/schedules", {}),
        ("GET", "/api/v1/schedules/{schedule_id}", {}),
        ("POST", "/api/v1/schedules/{schedule_id}/pause", {}),
        ("GET", "/api/v1/hooks", {}),
        ("GET", "/api/v1/hooks/{hook_id}", {}),
        ("GET", "/health", {}),
        ("GET", "/ready", {}),
    ]
    statuses = []
    for method, path, extra in asked:
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        parameters = {name: ids[name] for name in names}
        case = schema[path][method].Case(path_parameters=parameters, headers=alice, **extra)
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        statuses.append(response.status_code)
        answer = document["paths"][path][method.lower()]["responses"][str(response.status_code)]
        body_schema = answer["content"]["application/json"]["schema"]
        assert undocumented(response.json(), body_schema, schemas, path) == [], method
    assert statuses.count(200) == len(asked) - 2
    assert statuses[8:10] == [202, 409]

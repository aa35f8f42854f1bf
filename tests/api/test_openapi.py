"""The OpenAPI document as a generated client reads it: stable operation ids, and errors
documented in the shape the server really sends."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from backend.server.openapi import ErrorEnvelope

# Generated clients name their methods after these: renaming one breaks every client.
OPERATION_IDS = {
    ("get", "/api/v1/executions"): "list_runs",
    ("get", "/api/v1/executions/{run_id}"): "get_run",
    ("get", "/api/v1/executions/{run_id}/nodes"): "list_run_nodes",
    ("get", "/api/v1/executions/{run_id}/events"): "stream_run_events",
    ("post", "/api/v1/executions/{run_id}/cancel"): "cancel_run",
    ("post", "/api/v1/executions/{run_id}/rerun"): "rerun_run",
    ("post", "/api/v1/executions/{run_id}/resume"): "resume_run",
    ("post", "/api/v1/graphs"): "create_graph",
    ("get", "/api/v1/graphs/{graph_id}"): "get_graph",
    ("post", "/api/v1/graphs/{graph_id}/execute"): "execute_graph",
    ("post", "/api/v1/schedules"): "create_schedule",
    ("patch", "/api/v1/schedules/{schedule_id}"): "update_schedule",
    ("post", "/api/v1/hooks/{hook_id}"): "deliver_hook",
}


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    }


def test_operation_ids_are_stable_and_unique(client: TestClient) -> None:
    found = operations(client.get("/openapi.json").json())
    assert {key: found[key]["operationId"] for key in OPERATION_IDS} == OPERATION_IDS
    ids = [operation["operationId"] for operation in found.values()]
    assert len(ids) == len(set(ids))


def test_every_error_answer_is_documented_as_the_envelope(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for (method, path), operation in operations(document).items():
        responses = operation["responses"]
        assert "500" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
    run = operations(document)[("get", "/api/v1/executions/{run_id}")]["responses"]
    assert {"401", "404", "503"} <= set(run)
    create = operations(document)[("post", "/api/v1/graphs")]["responses"]
    assert {"400", "401", "413", "415", "422"} <= set(create)
    deliver = operations(document)[("post", "/api/v1/hooks/{hook_id}")]["responses"]
    assert {"401", "404", "413", "429"} <= set(deliver)


def test_real_errors_match_the_documented_envelope(
    client: TestClient, alice: dict[str, str]
) -> None:
    answers = [
        client.get("/api/v1/executions"),  # no key
        client.get("/api/v1/executions/nope", headers=alice),
        client.post(
            "/api/v1/graphs",
            content=b"{",
            headers={**alice, "Content-Type": "application/json"},
        ),
        client.get("/api/v1/executions", params={"limit": 0}, headers=alice),
    ]
    assert [answer.status_code for answer in answers] == [401, 404, 400, 422]
    for answer in answers:
        ErrorEnvelope.model_validate(answer.json())


TAGS = {"health", "blocks", "graphs", "executions", "credentials", "files", "schedules"}


def test_every_answer_is_a_named_schema_and_every_operation_tagged(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for (method, path), operation in operations(document).items():
        assert len(operation["tags"]) == 1 and operation["tags"][0] in {*TAGS, "webhooks"}
        for status, response in operation["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = response["content"]
            if "application/json" not in content:  # a download, an event stream, metrics
                assert set(content) & {"application/octet-stream", "text/event-stream"} or (
                    path == "/metrics"
                ), (method, path)
                continue
            schema = content["application/json"]["schema"]
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            assert ref is not None, (method, path, status, schema)
            assert ref.rsplit("/", 1)[1] in schemas
    conflicts = [
        ("post", "/api/v1/executions/{run_id}/cancel"),
        ("post", "/api/v1/executions/{run_id}/resume"),
        ("post", "/api/v1/graphs/{graph_id}/execute"),
        ("post", "/api/v1/credentials"),
        ("post", "/api/v1/hooks"),
    ]
    for key in conflicts:
        assert "409" in operations(document)[key]["responses"], key

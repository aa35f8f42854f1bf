"""The API's request spans, and how a run's spans are found from the request that made it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from opentelemetry.trace import StatusCode

from backend.settings import Settings
from tests.api.conftest import calculator_graph, drain
from tests.api.test_executions import API, create
from tests.spans import by_name, collecting


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes)


def test_a_request_span_per_request_sharing_its_id_with_the_runs_span(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    with collecting() as finished:
        response = client.post(
            f"{API}/graphs/{graph_id}/execute",
            json={"inputs": {"Input": 8}},
            headers={**alice, "X-Request-ID": "req-trace-1"},
        )
        assert response.status_code == 202, response.text
        assert client.get(f"{API}/executions/nope", headers=alice).status_code == 404
        drain(settings)
        spans = finished()
    run_id = response.json()["id"]
    execute = f"{API}/graphs/{{graph_id}}/execute"
    (submit,) = by_name(spans, f"POST {execute}")
    assert attrs(submit) == {
        "http.request.method": "POST",
        "http.route": execute,
        "http.response.status_code": 202,
        "request.id": "req-trace-1",
    }
    assert submit.status.status_code == StatusCode.UNSET
    (missing,) = by_name(spans, f"GET {API}/executions/{{run_id}}")
    assert attrs(missing)["http.response.status_code"] == 404
    assert attrs(missing)["request.id"] not in ("", "req-trace-1")
    # The run's span carries the id of the request that submitted it.
    (run,) = by_name(spans, "run")
    assert attrs(run)["run.id"] == run_id
    assert attrs(run)["request.id"] == "req-trace-1"
    assert attrs(run)["status"] == "COMPLETED"
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == run.context.span_id
    ]
    assert sorted(attrs(s)["status"] for s in children) == ["COMPLETED"] * 3

"""The API's request spans, and how a run's spans are found from the request that made it."""

from __future__ import annotations

from typing import Any

import pytest
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


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_a_callers_traceparent_is_stored_and_parents_the_runs_span(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    sent = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
    with collecting() as finished:
        response = client.post(
            f"{API}/graphs/{graph_id}/execute",
            json={"inputs": {"Input": 8}},
            headers={**alice, "traceparent": sent, "X-Request-ID": "req-parent-1"},
        )
        assert response.status_code == 202, response.text
        drain(settings)
        spans = finished()
    run_id = response.json()["id"]
    answer = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    assert answer["traceparent"] == sent
    assert answer["request_id"] == "req-parent-1"
    listed = client.get(f"{API}/executions", headers=alice).json()["items"]
    assert [r["traceparent"] for r in listed if r["id"] == run_id] == [sent]
    (run,) = by_name(spans, "run")
    (submit,) = by_name(spans, f"POST {API}/graphs/{{graph_id}}/execute")
    # The caller's trace: both spans are children of the caller's span, and the nodes'
    # spans stay children of the run's.
    for span in (run, submit):
        assert format(span.context.trace_id, "032x") == TRACE_ID
        assert span.parent is not None and span.parent.is_remote
        assert format(span.parent.span_id, "016x") == CALLER_SPAN
    nodes = [s for s in spans if s.name.startswith("node ")]
    assert len(nodes) == 3
    assert {s.parent.span_id for s in nodes} == {run.context.span_id}
    assert {s.context.trace_id for s in nodes} == {run.context.trace_id}


def test_an_unsampled_callers_trace_gets_no_run_spans(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    sent = f"00-{TRACE_ID}-{CALLER_SPAN}-00"
    with collecting() as finished:
        response = client.post(
            f"{API}/graphs/{graph_id}/execute",
            json={"inputs": {"Input": 8}},
            headers={**alice, "traceparent": sent},
        )
        assert response.status_code == 202, response.text
        drain(settings)
        spans = finished()
    # Stored all the same: the caller asked not to record, not to forget.
    answer = client.get(f"{API}/executions/{response.json()['id']}", headers=alice).json()
    assert answer["traceparent"] == sent
    assert answer["status"] == "COMPLETED"
    assert [s.name for s in spans if s.context.trace_id == int(TRACE_ID, 16)] == []
    assert by_name(spans, "run") == []


@pytest.mark.parametrize(
    "sent",
    [
        f"00-{TRACE_ID.upper()}-{CALLER_SPAN}-01",  # upper-case hex
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE_ID}-{CALLER_SPAN}-01",  # the forbidden version
        f"00-{TRACE_ID}-{CALLER_SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{TRACE_ID[:-1]}-{CALLER_SPAN}-01",  # a digit short
        "not a traceparent",
    ],
)
def test_an_invalid_traceparent_is_ignored(
    client: TestClient, alice: dict[str, str], sent: str
) -> None:
    graph_id = create(client, alice, calculator_graph())
    response = client.post(
        f"{API}/graphs/{graph_id}/execute",
        json={"inputs": {"Input": 8}},
        headers={**alice, "traceparent": sent},
    )
    assert response.status_code == 202, response.text
    answer = client.get(f"{API}/executions/{response.json()['id']}", headers=alice).json()
    assert answer["traceparent"] is None
    assert answer["request_id"]

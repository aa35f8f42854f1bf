"""Idempotent submits, rerun and resume, over the real API and a real executor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.blocks import register_block, unregister_block
from backend.data.graph import Node
from backend.data.store import Store
from backend.server.app import create_app
from backend.settings import Settings
from tests.api.conftest import assert_error, calculator_graph, drain
from tests.api.test_executions import create, execute
from tests.blocks_for_tests import TraceBlock
from tests.graphs import input_output_chain

API = "/api/v1"
STEPS = 5


@pytest.fixture(autouse=True)
def _trace_block() -> Iterator[None]:
    register_block(TraceBlock)
    yield
    unregister_block(TraceBlock.id)


def trace_chain(trace: Path, fail_marker: Path | None) -> dict[str, Any]:
    """Input "x" -> n1 .. n5 (TraceBlocks, node 3 failing once when a marker is given)
    -> Output "out"; a clean run outputs "x|n1|n2|n3|n4|n5"."""
    middle = [
        Node(
            id=f"n{i}",
            block_id=TraceBlock.id,
            input_default={
                "label": f"n{i}",
                "trace": str(trace),
                "fail_marker": str(fail_marker) if fail_marker and i == 3 else "",
            },
        )
        for i in range(1, STEPS + 1)
    ]
    return input_output_chain(middle, "trace").to_json()


def ran(trace: Path) -> list[str]:
    lines = trace.read_text().split() if trace.exists() else []
    trace.unlink(missing_ok=True)
    return lines


def run_of(client: TestClient, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    response = client.get(f"{API}/executions/{run_id}", headers=headers)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


# -- Idempotency-Key ---------------------------------------------------------------------------


def test_the_same_idempotency_key_returns_the_first_run(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    keyed = {**alice, "Idempotency-Key": "order-1"}
    url = f"{API}/graphs/{graph_id}/execute"
    first = client.post(url, json={"inputs": {"Input": 8}}, headers=keyed)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = client.post(url, json={"inputs": {"Input": 8}}, headers=keyed)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(f"{API}/executions", headers=alice).json()["items"]) == 1

    # Another body with the key is refused; another key, or no key, starts a run.
    other = client.post(url, json={"inputs": {"Input": 9}}, headers=keyed)
    assert_error(other, 409, "conflict")
    second = client.post(
        url, json={"inputs": {"Input": 8}}, headers={**alice, "Idempotency-Key": "order-2"}
    )
    assert second.json()["id"] != first.json()["id"]
    assert client.post(url, json={"inputs": {"Input": 8}}, headers=alice).status_code == 202
    # Keys are per user: bob's "order-1" is his own.
    bob_graph = create(client, bob, calculator_graph())
    bobs = client.post(
        f"{API}/graphs/{bob_graph}/execute",
        json={"inputs": {"Input": 8}},
        headers={**bob, "Idempotency-Key": "order-1"},
    )
    assert bobs.status_code == 202 and bobs.json()["id"] != first.json()["id"]
    drain(settings)
    # A repeat after the run ended still finds it, with its status now.
    done = client.post(url, json={"inputs": {"Input": 8}}, headers=keyed)
    assert done.json() == {"id": first.json()["id"], "status": "COMPLETED"}


def test_an_expired_idempotency_key_starts_a_new_run(
    store: Store, alice: dict[str, str], settings: Settings
) -> None:
    short = settings.model_copy(update={"idempotency_ttl_seconds": 1e-6})
    with TestClient(create_app(short, store)) as quick:
        graph_id = create(quick, alice, calculator_graph())
        keyed = {**alice, "Idempotency-Key": "k"}
        url = f"{API}/graphs/{graph_id}/execute"
        first = quick.post(url, json={"inputs": {"Input": 1}}, headers=keyed).json()
        second = quick.post(url, json={"inputs": {"Input": 1}}, headers=keyed).json()
    assert first["id"] != second["id"]


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_unusable_idempotency_keys_are_refused(
    client: TestClient, alice: dict[str, str], key: str
) -> None:
    graph_id = create(client, alice, calculator_graph())
    response = client.post(
        f"{API}/graphs/{graph_id}/execute",
        json={"inputs": {"Input": 1}},
        headers={**alice, "Idempotency-Key": key},
    )
    assert_error(response, 422, "invalid_input")


# -- rerun -------------------------------------------------------------------------------------


def test_rerun_starts_the_same_version_with_the_same_inputs(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    first = execute(client, alice, graph_id, inputs={"Input": 8})["id"]
    # A newer version exists: the rerun keeps the first run's version.
    client.put(f"{API}/graphs/{graph_id}", json=calculator_graph(), headers=alice)
    drain(settings)
    rerun = client.post(f"{API}/executions/{first}/rerun", headers=alice)
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["rerun_of"] == first
    drain(settings)
    again = run_of(client, alice, rerun.json()["id"])
    assert again["graph_version"] == 1
    assert again["inputs"] == {"Input": 8} and again["outputs"] == {"Output": [42.0]}
    assert_error(client.post(f"{API}/executions/{first}/rerun", headers=bob), 404, "not_found")


# -- resume ------------------------------------------------------------------------------------


def test_resume_runs_only_what_did_not_complete_and_matches_a_clean_run(
    client: TestClient, alice: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    trace, marker = tmp_path / "trace", tmp_path / "failed-once"
    clean_id = create(client, alice, trace_chain(trace, None))
    clean = execute(client, alice, clean_id, inputs={"x": "x"})["id"]
    drain(settings)
    assert ran(trace) == ["n1", "n2", "n3", "n4", "n5"]
    expected = run_of(client, alice, clean)["outputs"]
    assert expected == {"out": ["x|n1|n2|n3|n4|n5"]}

    graph_id = create(client, alice, trace_chain(trace, marker))
    failed = execute(client, alice, graph_id, inputs={"x": "x"})["id"]
    drain(settings)
    assert run_of(client, alice, failed)["status"] == "FAILED"
    assert ran(trace) == ["n1", "n2", "n3"]

    resumed = client.post(f"{API}/executions/{failed}/resume", headers=alice)
    assert resumed.status_code == 202, resumed.text
    answer = resumed.json()
    assert answer["resumed_from"] == failed
    assert [r["node_id"] for r in answer["reused"]] == ["in", "n1", "n2"]
    assert answer["to_run"] == ["n3"]
    drain(settings)
    assert ran(trace) == ["n3", "n4", "n5"]
    run = run_of(client, alice, answer["id"])
    assert run["status"] == "COMPLETED"
    assert run["outputs"] == expected
    nodes = client.get(f"{API}/executions/{answer['id']}/nodes", headers=alice).json()["items"]
    old = {
        n["node_id"]: n
        for n in client.get(f"{API}/executions/{failed}/nodes", headers=alice).json()["items"]
    }
    by_node = {n["node_id"]: n for n in nodes}
    for node_id in ("in", "n1", "n2"):
        reused = by_node[node_id]
        assert reused["reused_from"] == old[node_id]["id"]
        assert reused["status"] == "COMPLETED" and reused["attempt"] == 0
        assert reused["output_data"] == old[node_id]["output_data"]
    for node_id in ("n3", "n4", "n5", "out"):
        assert by_node[node_id]["reused_from"] is None
        assert by_node[node_id]["attempt"] == 1


def test_only_failed_or_terminated_runs_resume(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    run_id = execute(client, alice, graph_id, inputs={"Input": 8})["id"]
    assert_error(client.post(f"{API}/executions/{run_id}/resume", headers=alice), 409, "conflict")
    drain(settings)
    assert_error(client.post(f"{API}/executions/{run_id}/resume", headers=alice), 409, "conflict")
    assert_error(client.post(f"{API}/executions/{run_id}/resume", headers=bob), 404, "not_found")


def test_a_cancelled_run_resumes_from_where_it_stopped(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, calculator_graph())
    run_id = execute(client, alice, graph_id, inputs={"Input": 8})["id"]
    # Cancelled before any executor claimed it: nothing completed, everything runs.
    client.post(f"{API}/executions/{run_id}/cancel", headers=alice)
    assert run_of(client, alice, run_id)["status"] == "TERMINATED"
    answer = client.post(f"{API}/executions/{run_id}/resume", headers=alice).json()
    assert answer["reused"] == [] and answer["to_run"] == [answer["to_run"][0]]
    drain(settings)
    assert run_of(client, alice, answer["id"])["outputs"] == {"Output": [42.0]}

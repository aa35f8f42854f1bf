"""Metrics, access log and request ids of the real programs under a real supervisord: one
run submitted through the REST API, then every executor's /metrics port and the API's
/metrics scraped and parsed with Prometheus' own parser, and the logs read."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.supervisor_helpers import Supervisor, api_key, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UP_TIMEOUT = 60.0
EXECUTORS = ("executor_00", "executor_01")
REQUEST_ID = "trace-7f3a.checkout:42"

EXECUTOR_FAMILIES = {
    "agent_server_executor_node_executions": "counter",
    "agent_server_executor_node_retries": "counter",
    "agent_server_executor_node_duration_seconds": "histogram",
    "agent_server_executor_runs_claimed": "counter",
    "agent_server_executor_runs_finished": "counter",
    "agent_server_executor_run_start_delay_seconds": "histogram",
    "agent_server_executor_lease_losses": "counter",
    "agent_server_executor_run_hand_backs": "counter",
    "agent_server_executor_llm_tokens": "counter",
    "agent_server_executor_oldest_queued_run_age_seconds": "gauge",
    "agent_server_executor_active_runs": "gauge",
}
API_FAMILIES = {
    "agent_server_http_requests": "counter",
    "agent_server_http_request_duration_seconds": "histogram",
    "agent_server_queue_depth": "gauge",
    "agent_server_executors_alive": "gauge",
}


def consecutive_free_ports(count: int) -> int:
    """A base port with ``count`` free ports from it (one per executor process)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count > 65535:
            continue
        with ExitStack() as held:
            try:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return base
    raise AssertionError("no run of free ports")


@pytest.fixture(scope="module")
def group() -> Iterator[Supervisor]:
    env = {
        "BACKEND_EXECUTOR_METRICS_PORT": str(consecutive_free_ports(len(EXECUTORS))),
        "BACKEND_HEARTBEAT_SECONDS": "0.5",
        "BACKEND_POLL_SECONDS": "0.1",
    }
    with running_supervisord(env=env) as sup:
        sup.wait_all("RUNNING", UP_TIMEOUT)
        sup.wait_api(UP_TIMEOUT)
        yield sup


def scrape(url: str) -> dict[str, Metric]:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def total(family: Metric, suffix: str = "_total", **labels: str) -> float:
    return sum(
        s.value
        for s in family.samples
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture(scope="module")
def submitted(group: Supervisor) -> dict[str, Any]:
    """One calculator run, submitted with a request id, finished."""
    base = f"http://127.0.0.1:{group.env['BACKEND_API_PORT']}/api/v1"
    headers = {"Authorization": f"Bearer {api_key(group, 'alice')}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
        graph = api.post(
            "/graphs", json=json.loads((FIXTURES / "ref4_calculator.json").read_text())
        )
        assert graph.status_code == 201, graph.text
        accepted = api.post(
            f"/graphs/{graph.json()['id']}/execute",
            json={"inputs": {"Input": 8}},
            headers={"X-Request-ID": REQUEST_ID},
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["id"]

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = api.get(f"/executions/{run_id}").json()
            return run if run["status"] in ("COMPLETED", "FAILED", "TERMINATED") else None

        run = wait_for(finished, UP_TIMEOUT, "the run to end")
        # An id that could forge log fields (or is too long) is replaced by a new one.
        forged = api.get(f"/executions/{run_id}", headers={"X-Request-ID": "a run=forged"})
        return {
            "forged": forged.headers.get("x-request-id"),
            "graph_id": graph.json()["id"],
            "run": run,
            "echoed": accepted.headers.get("x-request-id"),
            "generated": graph.headers.get("x-request-id"),
        }


def test_every_executor_serves_its_own_metrics(
    group: Supervisor, submitted: dict[str, Any]
) -> None:
    assert submitted["run"]["status"] == "COMPLETED", submitted["run"]["error"]
    port = int(group.env["BACKEND_EXECUTOR_METRICS_PORT"])
    scraped = [scrape(f"http://127.0.0.1:{port + n}/metrics") for n, _ in enumerate(EXECUTORS)]
    for n, name in enumerate(EXECUTORS):
        # Each says where it listens: the base port plus its process number.
        assert f"serving metrics on http://127.0.0.1:{port + n}/metrics" in (
            group.log_path(name).read_text()
        )
    for families in scraped:
        assert {name: families[name].type for name in EXECUTOR_FAMILIES} == EXECUTOR_FAMILIES
        # The process collector: the target's own CPU and memory.
        assert "process_cpu_seconds" in families

    def summed(name: str, suffix: str = "_total", **labels: str) -> float:
        return sum(total(families[name], suffix, **labels) for families in scraped)

    # Input, calculator, output: three nodes completed, on whichever executor ran the run.
    completed = summed("agent_server_executor_node_executions", status="COMPLETED")
    assert completed == 3
    assert summed("agent_server_executor_node_executions", status="FAILED") == 0
    assert summed("agent_server_executor_node_duration_seconds", "_count") == 3
    assert summed("agent_server_executor_runs_claimed") == 1
    assert summed("agent_server_executor_runs_finished", status="COMPLETED") == 1
    assert summed("agent_server_executor_run_start_delay_seconds", "_count") == 1
    # Nothing waits once the run has started; each executor sees that on its next heartbeat.
    for n, _ in enumerate(EXECUTORS):

        def queue_age(url: str = f"http://127.0.0.1:{port + n}/metrics") -> list[float]:
            age = scrape(url)["agent_server_executor_oldest_queued_run_age_seconds"]
            return [s.value for s in age.samples]

        wait_for(lambda: queue_age() == [0.0] or None, UP_TIMEOUT, "an empty queue's age")


def test_api_metrics_count_requests_by_route_template(
    group: Supervisor, submitted: dict[str, Any]
) -> None:
    url = f"http://127.0.0.1:{group.env['BACKEND_API_PORT']}/metrics"
    families = scrape(url)
    assert {name: families[name].type for name in API_FAMILIES} == API_FAMILIES
    requests = families["agent_server_http_requests"]
    route = "/api/v1/graphs/{graph_id}/execute"
    assert total(requests, method="POST", route=route, status="202") == 1
    assert total(requests, method="POST", route="/api/v1/graphs", status="201") == 1
    duration = families["agent_server_http_request_duration_seconds"]
    assert total(duration, "_count", method="POST", route=route) == 1
    # Labelled by template: no raw path (no graph or run id) ever becomes a label.
    run_id = submitted["run"]["id"]
    for sample in requests.samples + duration.samples:
        assert submitted["graph_id"] not in sample.labels.get("route", "")
        assert run_id not in sample.labels.get("route", "")
    # A path no route matches counts under one label, not its own.
    assert httpx.get(url.replace("/metrics", "/no/such/path")).status_code == 404
    again = scrape(url)["agent_server_http_requests"]
    assert total(again, method="GET", route="unmatched", status="404") == 1


def test_request_id_is_echoed_and_follows_the_run_into_executor_logs(
    group: Supervisor, submitted: dict[str, Any]
) -> None:
    assert submitted["echoed"] == REQUEST_ID
    for generated in (submitted["generated"], submitted["forged"]):
        assert re.fullmatch(r"[0-9a-f]{32}", generated or "")
    run_id, graph_id = submitted["run"]["id"], submitted["graph_id"]

    access = [
        line
        for line in group.log_path("rest").read_text().splitlines()
        if "backend.server.access" in line
    ]
    [line] = [line for line in access if f"request={REQUEST_ID}" in line]
    assert f"POST /api/v1/graphs/{graph_id}/execute 202 " in line
    assert any(f"request={submitted['generated']}" in line for line in access)
    assert not any("forged" in line for line in access)

    executor_lines = [
        line
        for name in EXECUTORS
        for line in group.log_path(name).read_text().splitlines()
        if f"request={REQUEST_ID}" in line
    ]
    assert any(f"claimed run {run_id}" in line for line in executor_lines), executor_lines
    # The run's own lines (its end) carry the request id next to the run id.
    assert any(f"run={run_id}" in line and "run COMPLETED" in line for line in executor_lines)

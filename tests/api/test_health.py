"""Health, readiness, metrics and the OpenAPI documents: no API key needed."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import Vault, generate_key
from backend.server.app import create_app
from backend.settings import Settings
from tests.api.conftest import calculator_graph, drain, make_settings, wait_graph

API = "/api/v1"


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def set_revision(store: Store, revision: str) -> None:
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def test_ready_is_503_when_the_schema_is_behind(tmp_path: Path, store: Store) -> None:
    settings = make_settings(tmp_path, auto_migrate=False)
    head = store.schema_revision()  # type: ignore[attr-defined]
    set_revision(store, "0001")
    try:
        with TestClient(create_app(settings, store)) as client:
            response = client.get("/ready")
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "not_ready"
            assert client.get("/health").status_code == 200
    finally:
        # The PostgreSQL database outlives the test; the next one must find it current.
        set_revision(store, head)


# A database of the same kind that cannot be opened: a missing directory, a closed port.
UNREACHABLE = {
    "sqlite": "sqlite:////no-such-dir/backend.db",
    "postgresql": "postgresql+psycopg://agent@127.0.0.1:1/agent",
}


def test_ready_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    store = open_store(settings)
    # The same store, its engine pointed at a database that cannot be reached.
    dialect = store.engine.dialect.name  # type: ignore[attr-defined]
    store.engine.dispose()  # type: ignore[attr-defined]
    store.engine = sa.create_engine(UNREACHABLE[dialect])  # type: ignore[attr-defined]
    # A vault of its own: opening one from the settings would need the database.
    vault = Vault([generate_key()], "a test key")
    try:
        with TestClient(create_app(settings, store, vault)) as client:
            response = client.get("/ready")
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "not_ready"
            assert client.get("/health").status_code == 200
    finally:
        store.close()


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} missing from\n{text}"
    return float(match.group(1))


def test_metrics_count_runs_queue_and_node_durations(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    calc = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    slow = client.post(f"{API}/graphs", json=wait_graph(30), headers=alice).json()["id"]
    for i in range(3):
        client.post(f"{API}/graphs/{calc}/execute", json={"inputs": {"Input": i}}, headers=alice)
    queued = client.post(f"{API}/graphs/{slow}/execute", json={"inputs": {"x": 1}}, headers=alice)

    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert _value(before.text, 'agent_server_runs{status="QUEUED"}') == 4
    assert _value(before.text, "agent_server_queue_depth") == 4

    client.post(f"{API}/executions/{queued.json()['id']}/cancel", headers=alice)
    drain(settings)
    text = client.get("/metrics").text
    assert _value(text, 'agent_server_runs{status="COMPLETED"}') == 3
    assert _value(text, 'agent_server_runs{status="TERMINATED"}') == 1
    assert _value(text, "agent_server_queue_depth") == 0
    # The burst executor has deregistered: nobody is alive.
    assert _value(text, "agent_server_executors_alive") == 0
    calc_block = 'block_id="b1ab9b19-67a6-406d-abf5-2dba76d00c79",block="CalculatorBlock"'
    assert _value(text, f"agent_server_node_execution_duration_seconds_count{{{calc_block}}}") == 3
    inf = f'agent_server_node_execution_duration_seconds_bucket{{{calc_block},le="+Inf"}}'
    assert _value(text, inf) == 3
    assert "# TYPE agent_server_node_execution_duration_seconds histogram" in text


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        "/health": {"get"},
        "/ready": {"get"},
        "/metrics": {"get"},
        "/api/v1/blocks": {"get"},
        "/api/v1/graphs": {"get", "post"},
        "/api/v1/graphs/{graph_id}": {"get", "put", "delete"},
        "/api/v1/graphs/{graph_id}/execute": {"post"},
        "/api/v1/executions": {"get"},
        "/api/v1/executions/{run_id}": {"get"},
        "/api/v1/executions/{run_id}/nodes": {"get"},
        "/api/v1/executions/{run_id}/cancel": {"post"},
        "/api/v1/executions/{run_id}/events": {"get"},
    }
    assert {path: set(paths[path]) for path in expected} == expected
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200

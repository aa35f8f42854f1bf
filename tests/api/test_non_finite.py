"""Numbers JSON cannot carry (inf, nan) have one representation, null, on every surface:
the run and node views, the event stream and the rows of both databases. A Calculator
dividing by zero (inf) and raising a negative number to 0.5 (nan) makes them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend.client import parse_sse
from backend.data import schema as t
from backend.data.sqlbase import SQLBase
from backend.data.store import Store
from backend.settings import Settings
from tests.api.conftest import calculator_graph, drain

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"


def calculator(operation: str, b: float) -> dict[str, Any]:
    graph = copy.deepcopy(calculator_graph())
    (node,) = [n for n in graph["nodes"] if n["block_id"] == CALCULATOR]
    node["input_default"].update(operation=operation, b=b)
    return graph


def stored_text(store: Store, run_id: str) -> list[str]:
    """The JSON the database itself holds for the run: outputs, node outputs, events."""
    assert isinstance(store, SQLBase)
    runs, nodes, events = t.graph_executions, t.node_executions, t.execution_events
    queries = [
        sa.select(sa.cast(runs.c.outputs, sa.Text)).where(runs.c.id == run_id),
        sa.select(sa.cast(nodes.c.output_data, sa.Text)).where(nodes.c.run_id == run_id),
        sa.select(sa.cast(events.c.data, sa.Text)).where(events.c.run_id == run_id),
    ]
    with store.engine.connect() as conn:
        return [row[0] for query in queries for row in conn.execute(query)]


@pytest.mark.parametrize(
    ("operation", "a", "b"), [("Divide", 8, 0), ("Power", -8, 0.5)], ids=["inf", "nan"]
)
def test_inf_and_nan_are_null_everywhere(
    client: TestClient,
    alice: dict[str, str],
    settings: Settings,
    store: Store,
    operation: str,
    a: float,
    b: float,
) -> None:
    graph = client.post(f"{API}/graphs", json=calculator(operation, b), headers=alice).json()
    rid = client.post(
        f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"Input": a}}, headers=alice
    ).json()["id"]
    drain(settings)

    run = client.get(f"{API}/executions/{rid}", headers=alice)
    assert run.json()["status"] == "COMPLETED"
    assert run.json()["outputs"] == {"Output": [None]}
    nodes = client.get(f"{API}/executions/{rid}/nodes", headers=alice).json()["items"]
    (calc,) = [n for n in nodes if n["block_id"] == CALCULATOR]
    assert calc["output_data"] == [["result", None]]

    with client.stream("GET", f"{API}/executions/{rid}/events", headers=alice) as stream:
        raw = "".join(stream.iter_text())
    events = list(parse_sse(iter(raw.splitlines())))
    assert events[-1].data["outputs"] == {"Output": [None]}
    (done,) = [
        e.data
        for e in events
        if e.data.get("node_id") == calc["node_id"] and e.data["status"] == "COMPLETED"
    ]
    assert done["outputs"] == [["result", None]]

    texts = [run.text, raw, *stored_text(store, rid)]
    for text in texts:
        for spelling in ("Infinity", "NaN"):
            assert spelling not in text
    # Every stored value parses as strict JSON (no literal a JSON parser would refuse).
    for text in stored_text(store, rid):
        json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} stored"))


@pytest.mark.parametrize("value", ["nan", "NaN", "-Infinity", "inf", "[1, NaN]"])
@pytest.mark.parametrize("command", ["run", "run-local"])
def test_the_cli_refuses_non_finite_inputs_in_one_line(
    command: str, value: str, tmp_path: Path
) -> None:
    graph = Path(__file__).resolve().parent.parent / "fixtures" / "ref4_calculator.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # Refused before anything is reached: no server listens here.
        "BACKEND_API_URL": "http://127.0.0.1:9",
        "BACKEND_API_KEY": "unused",
        "BACKEND_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", command, str(graph), "--input", f"Input={value}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    problems = [line for line in done.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        f"  - --input Input={value}: NaN and Infinity are not JSON numbers; give a finite "
        f"number, or quote it as JSON text: Input='\"{value}\"'"
    ]

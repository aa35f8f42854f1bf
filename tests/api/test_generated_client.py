"""A client generated from the live server's /openapi.json runs a graph end to end and
reads errors as typed models, as a user of openapi-python-client would.

The generator is a tool, not a library of ours: it runs as a program (from `make`'s
tool environment, or wherever OPENAPI_PYTHON_CLIENT points), and the client it writes
is imported from a temporary directory. Without the generator the test is skipped.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from backend.settings import Settings
from tests.api.conftest import LiveServer, calculator_graph, drain

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"COMPLETED", "FAILED", "TERMINATED"}


def generator() -> str | None:
    """The openapi-python-client program: $OPENAPI_PYTHON_CLIENT, make's tool
    environment, or one on PATH."""
    for candidate in (
        os.environ.get("OPENAPI_PYTHON_CLIENT"),
        str(ROOT / ".venv-codegen" / "bin" / "openapi-python-client"),
        shutil.which("openapi-python-client"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture
def generated(live: LiveServer, tmp_path: Path) -> Iterator[ModuleType]:
    program = generator()
    if program is None:
        pytest.skip("openapi-python-client is not installed (make installs it in .venv-codegen)")
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(f"{live.url}/openapi.json", timeout=10).content)
    # A fresh package name per test: the same name imported twice would be the first one.
    name = f"agent_server_client_{uuid.uuid4().hex[:8]}"
    # Its formatter (ruff) sits beside it in the tool environment.
    env = {**os.environ, "PATH": f"{Path(program).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [program, "generate", "--path", str(spec), "--meta", "none"]
    done = subprocess.run(
        [*command, "--output-path", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every part of the document was understood: nothing skipped, no warnings.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


def part(package: ModuleType, path: str) -> ModuleType:
    return importlib.import_module(f"{package.__name__}.{path}")


def test_generated_client_runs_a_graph_and_types_errors(
    generated: ModuleType, live: LiveServer, alice: dict[str, str], settings: Settings
) -> None:
    token = alice["Authorization"].removeprefix("Bearer ")
    client = generated.AuthenticatedClient(base_url=live.url, token=token)
    models = part(generated, "models")
    create_graph = part(generated, "api.graphs.create_graph")
    execute_graph = part(generated, "api.graphs.execute_graph")
    get_run = part(generated, "api.executions.get_run")

    graph = create_graph.sync(
        client=client, body=models.CreateGraphBody.from_dict(calculator_graph())
    )
    assert isinstance(graph, models.CreatedGraph), graph
    assert graph.version == 1 and graph.nodes

    body = models.ExecuteRequest(inputs=models.ExecuteRequestInputs.from_dict({"Input": 8}))
    started = execute_graph.sync(graph_id=graph.id, client=client, body=body)
    assert isinstance(started, models.RunStarted), started
    assert started.status == models.RunStatus.QUEUED

    drain(settings)  # a real executor, until the queue is empty
    deadline = time.monotonic() + 30
    run = get_run.sync(run_id=started.id, client=client)
    while isinstance(run, models.RunView) and run.status.value not in FINAL:
        assert time.monotonic() < deadline, "the run did not finish in 30 s"
        time.sleep(0.2)
        run = get_run.sync(run_id=started.id, client=client)
    assert isinstance(run, models.RunView), run
    assert run.status == models.RunStatus.COMPLETED
    assert run.outputs.to_dict() == {"Output": [42.0]}
    assert run.stats.node_executions >= 3

    missing = get_run.sync_detailed(run_id="no-such-run", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorEnvelope)
    assert missing.parsed.error.code == "not_found"

    stranger = generated.AuthenticatedClient(base_url=live.url, token="not-a-key")
    refused = get_run.sync_detailed(run_id=started.id, client=stranger)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.ErrorEnvelope)
    assert refused.parsed.error.code == "unauthorized"

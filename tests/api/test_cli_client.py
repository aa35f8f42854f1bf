"""The agent-server CLI: API keys on the database, client commands over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.cli import run_command
from backend.client import ApiClient
from backend.executor.manager import ExecutionManager
from backend.settings import Settings
from tests.api.conftest import FIXTURES, LiveServer, wait_graph

CALCULATOR = str(FIXTURES / "ref4_calculator.json")


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, settings: Settings, live: LiveServer) -> pytest.MonkeyPatch:
    clean_env.setenv("BACKEND_DATA_DIR", str(settings.data_dir))
    clean_env.setenv("BACKEND_DATABASE_URL", settings.resolved_database_url)
    clean_env.setenv("BACKEND_API_URL", live.url)
    return clean_env


@pytest.fixture
def key(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    assert run_command(["api-key", "create", "--user", "alice", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["user"] == "alice"
    env.setenv("BACKEND_API_KEY", created["key"])
    return str(created["key"])


@pytest.fixture
def executor(settings: Settings) -> Iterator[None]:
    """A real executor serving the queue in this process while the CLI waits on runs."""
    manager = ExecutionManager(settings)
    thread = threading.Thread(target=lambda: asyncio.run(manager.serve()), daemon=True)
    thread.start()
    yield
    manager.stop()
    thread.join(30)
    assert not thread.is_alive()


def test_api_key_create_list_revoke(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(["api-key", "create", "--user", "bob", "--name", "laptop"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("ags_") and "shown only now" in out.err
    assert run_command(["api-key", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["user"], listed["name"], listed["revoked_at"]) == ("bob", "laptop", None)
    assert key not in json.dumps(listed) and key.startswith(listed["prefix"])

    env.setenv("BACKEND_API_KEY", key)
    assert run_command(["graph", "list"]) == 0
    capsys.readouterr()
    assert run_command(["api-key", "revoke", listed["prefix"]]) == 0
    assert "revoked" in capsys.readouterr().out
    assert run_command(["graph", "list"]) == 2
    assert "invalid or revoked API key" in capsys.readouterr().err
    assert run_command(["api-key", "revoke", "no-such-key"]) == 2


def test_run_a_file_and_wait_prints_progress_and_output(
    key: str, executor: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_command(["run", CALCULATOR, "--input", "Input=8", "--wait"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Output: 42.0" in out.out.splitlines()
    assert "status: COMPLETED (3 node executions)" in out.out
    assert "CalculatorBlock: COMPLETED" in out.err
    assert ": COMPLETED" in out.err.splitlines()[-1]


def test_run_json_prints_the_final_run_and_exit_codes_follow_the_status(
    key: str, executor: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_command(["graph", "import", CALCULATOR]) == 0
    graph_id = capsys.readouterr().out.strip()
    code = run_command(["run", graph_id, "-i", "Input=8", "--wait", "--json"])
    run = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (run["status"], run["outputs"]) == ("COMPLETED", {"Output": [42.0]})

    assert run_command(["status", run["id"]]) == 0
    assert "Output: 42.0" in capsys.readouterr().out
    assert run_command(["runs", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run["id"]]
    assert run_command(["graph", "list"]) == 0
    assert graph_id in capsys.readouterr().out

    # A run that is cancelled ends TERMINATED: exit code 1; cancelling it again is a
    # conflict, also exit code 1.
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(wait_graph(30)))
    assert run_command(["run", str(slow), "-i", "x=1"]) == 0
    run_id = capsys.readouterr().out.strip()
    assert run_command(["cancel", run_id]) == 0
    assert "cancellation requested" in capsys.readouterr().out
    with ApiClient(os.environ["BACKEND_API_URL"], key) as client:
        final = list(client.follow_events(run_id))[-1]
    assert final.data["status"] == "TERMINATED"
    assert run_command(["status", run_id]) == 1
    assert "status: TERMINATED" in capsys.readouterr().out
    assert run_command(["cancel", run_id]) == 1
    assert "already ended" in capsys.readouterr().err


def test_usage_and_validation_errors_exit_2(
    key: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_command(["run", CALCULATOR, "--input", "Nope=1"]) == 2
    assert "unknown run input 'Nope'" in capsys.readouterr().err
    assert run_command(["run", CALCULATOR, "--input", "novalue"]) == 2
    assert run_command(["status", "no-such-run"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": [{"id": "a", "block_id": "missing"}]}')
    assert run_command(["graph", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "node_id a: unknown block id missing" in err
    bad.write_text("{not json")
    assert run_command(["graph", "import", str(bad)]) == 2


def test_unreachable_server_and_missing_key(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(["graph", "list"]) == 2
    assert "no API key" in capsys.readouterr().err
    code = run_command(["graph", "list", "--api-key", "k", "--api-url", "http://127.0.0.1:9"])
    assert code == 1
    assert "cannot reach the API" in capsys.readouterr().err

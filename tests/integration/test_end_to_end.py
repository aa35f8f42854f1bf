"""A user's whole path under the real supervisord group (rest + 2 executors, SQLite):
create a key, import a graph file, run it, watch it, read the output."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.process_fixtures import REPO_ROOT
from tests.supervisor_helpers import BIN_DIR, Supervisor, running_supervisord

pytestmark = pytest.mark.supervisord

CALCULATOR_AGENT = REPO_ROOT / "tests" / "fixtures" / "ref4_calculator.json"


@pytest.fixture(scope="module")
def group() -> Iterator[Supervisor]:
    with running_supervisord(env={"BACKEND_POLL_SECONDS": "0.02"}) as sup:
        sup.wait_all("RUNNING", 30)
        yield sup


def agent_server(sup: Supervisor, *args: str, key: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **sup.env,
        "BACKEND_API_URL": f"http://127.0.0.1:{sup.env['BACKEND_API_PORT']}",
        "BACKEND_API_KEY": key,
    }
    return subprocess.run(
        [str(BIN_DIR / "agent-server"), *args],
        env=env,
        cwd=sup.var_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def key(group: Supervisor) -> str:
    created = agent_server(group, "api-key", "create", "--user", "e2e", "--json")
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)
    assert doc["user"] == "e2e"
    return str(doc["key"])


def test_cli_runs_the_calculator_agent_and_watches_it(group: Supervisor, key: str) -> None:
    done = agent_server(
        group, "run", str(CALCULATOR_AGENT), "--input", "Input=8", "--wait", key=key
    )
    assert done.returncode == 0, done.stderr
    assert "Output" in done.stdout and "42.0" in done.stdout
    assert "COMPLETED" in done.stderr + done.stdout


def test_cli_run_json_prints_the_final_run(group: Supervisor, key: str) -> None:
    done = agent_server(
        group, "run", str(CALCULATOR_AGENT), "--input", "Input=8", "--wait", "--json", key=key
    )
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["status"] == "COMPLETED"
    assert run["outputs"] == {"Output": [42.0]}
    status = agent_server(group, "status", run["id"], key=key)
    assert status.returncode == 0, status.stderr


def test_cli_without_a_valid_key_is_refused(group: Supervisor) -> None:
    refused = agent_server(group, "runs", "list", key="not-a-key")
    assert refused.returncode == 2
    assert "401" in refused.stderr or "key" in refused.stderr.lower()

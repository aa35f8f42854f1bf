"""deploy/README.md's first hour, as far as a test can follow it: a settings file, `init`
from another directory, the group started on that file, the first key accepted, a graph
run through the CLI, a backup while the group runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_fixtures import REPO_ROOT
from tests.supervisor_helpers import running_supervisord

pytestmark = pytest.mark.supervisord

CALCULATOR = REPO_ROOT / "tests" / "fixtures" / "ref4_calculator.json"


def agent_server(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    # This checkout's command, whatever the virtualenv's script points at.
    clean["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_first_hour_on_a_fresh_vm(tmp_path: Path) -> None:
    database = tmp_path / "lib" / "backend.db"
    settings = tmp_path / "etc" / "env"
    settings.parent.mkdir()
    # Only the file names the database: a program or command that did not read it would
    # use a database of its own, and the key would not be accepted.
    settings.write_text(f"BACKEND_DATABASE_URL=sqlite:///{database}\n")
    home = tmp_path / "home"
    home.mkdir()

    before = agent_server(home, "--env-file", str(settings), "api-key", "list")
    assert before.returncode == 1
    assert f"no database at sqlite:///{database}" in before.stderr

    init = agent_server(home, "--env-file", str(settings), "init")
    assert init.returncode == 0, init.stderr
    key = init.stdout.strip()
    assert "next: start the service" in init.stderr and database.is_file()

    with running_supervisord(env={"BACKEND_ENV_FILE": str(settings)}) as group:
        group.wait_all("RUNNING", 60)
        group.wait_api(60)
        client = {
            "BACKEND_API_URL": f"http://127.0.0.1:{group.env['BACKEND_API_PORT']}",
            "BACKEND_API_KEY": key,
        }
        done = agent_server(home, "run", str(CALCULATOR), "--input", "Input=8", "--wait", **client)
        assert done.returncode == 0, done.stderr
        assert "Output: 42.0" in done.stdout.splitlines()
        assert "imported it as graph" in done.stderr
        again = agent_server(home, "run", str(CALCULATOR), "--input", "Input=8", **client)
        assert again.returncode == 0 and "reusing graph" in again.stderr

        backup = tmp_path / "backup.db"
        saved = agent_server(home, "--env-file", str(settings), "backup", str(backup))
        assert saved.returncode == 0, saved.stderr

    listed = agent_server(home, "--env-file", str(settings), "api-key", "list", "--json")
    (only,) = json.loads(listed.stdout)
    assert only["user"] == "admin"
    assert not (home / "var").exists()
    assert backup.stat().st_size > 0

"""One source of settings for every entry point, `agent-server init`, and database commands
that refuse to create a database of their own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend import envfile
from backend.cli import run_command
from backend.errors import ConfigError
from backend.settings import load_settings


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    # The VM default must not be this machine's real file.
    clean_env.setattr(envfile, "DEFAULT_ENV_FILE", tmp_path / "etc" / "env")
    return clean_env


def write_env(path: Path, data_dir: Path, **extra: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"BACKEND_DATA_DIR={data_dir}", *(f"BACKEND_{k}={v}" for k, v in extra.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- which file ----------------------------------------------------------------------------


def test_explicit_file_then_vm_default_then_dotenv(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert envfile.env_file() is None
    Path(".env").write_text("BACKEND_NUM_GRAPH_WORKERS=5\n")
    assert envfile.env_file() == Path(".env").resolve()
    assert load_settings().num_graph_workers == 5

    write_env(envfile.DEFAULT_ENV_FILE, tmp_path, NUM_GRAPH_WORKERS="6")
    assert envfile.env_file() == envfile.DEFAULT_ENV_FILE
    assert load_settings().num_graph_workers == 6

    explicit = write_env(tmp_path / "mine.env", tmp_path, NUM_GRAPH_WORKERS="7")
    env.setenv("BACKEND_ENV_FILE", str(explicit))
    assert load_settings().num_graph_workers == 7
    # The environment still wins over any file.
    env.setenv("BACKEND_NUM_GRAPH_WORKERS", "8")
    assert load_settings().num_graph_workers == 8


def test_an_explicit_file_that_is_missing_is_one_error(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.env"
    env.setenv("BACKEND_ENV_FILE", str(missing))
    with pytest.raises(ConfigError, match=f"cannot read settings file {missing}"):
        load_settings()
    env.delenv("BACKEND_ENV_FILE")
    assert run_command(["--env-file", str(missing), "api-key", "list"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot read settings file {missing}")


# -- database commands never create a database ---------------------------------------------


def test_database_commands_refuse_a_missing_database_naming_its_url(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    settings_file = write_env(tmp_path / "agent.env", data)
    for argv in (
        ["api-key", "create", "--user", "bob"],
        ["api-key", "list"],
        ["migrate"],
        ["purge-files"],
        ["encryption-key", "rotate"],
    ):
        assert run_command(["--env-file", str(settings_file), *argv]) == 1, argv
        (line,) = capsys.readouterr().err.splitlines()
        assert f"no database at sqlite:///{data / 'backend.db'}" in line, argv
        assert f"settings from {settings_file}" in line
        assert "agent-server init" in line
    assert not data.exists()
    assert not Path("var").exists()


def test_init_creates_the_database_and_the_first_key_once(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "fresh" / "data"
    settings_file = write_env(tmp_path / "agent.env", data)
    assert run_command(["--env-file", str(settings_file), "init"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("ags_")
    assert (data / "backend.db").is_file()
    assert f"database sqlite:///{data / 'backend.db'} is ready" in out.err
    assert "next: start the service" in out.err

    # From another directory, the same settings file finds the same database and key.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_command(["--env-file", str(settings_file), "api-key", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["user"] == "admin" and key.startswith(listed["prefix"])
    assert not (elsewhere / "var").exists()

    # A second init changes nothing.
    assert run_command(["--env-file", str(settings_file), "init", "--user", "eve"]) == 1
    assert "already set up (1 API keys)" in capsys.readouterr().err
    # The option is gone again once the command has run.
    assert "BACKEND_ENV_FILE" not in os.environ


def test_init_json(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("BACKEND_DATA_DIR", str(tmp_path / "d"))
    assert run_command(["init", "--user", "ops", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["user"] == "ops" and created["key"].startswith("ags_")
    assert created["database"] == f"sqlite:///{tmp_path / 'd' / 'backend.db'}"


# -- global options ---------------------------------------------------------------------------


def test_client_options_work_before_and_after_the_subcommand(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ["--api-key", "k", "--api-url", "http://127.0.0.1:9", "graph", "list"]
    assert run_command(before) == 1
    assert "cannot reach the API" in capsys.readouterr().err
    after = ["graph", "list", "--api-key", "k", "--api-url", "http://127.0.0.1:9"]
    assert run_command(after) == 1
    assert "cannot reach the API" in capsys.readouterr().err
    assert run_command(["graph", "list"]) == 2
    assert "no API key" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_command(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("agent-server ")


def test_an_unreadable_vm_default_is_skipped_and_named(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = write_env(envfile.DEFAULT_ENV_FILE, tmp_path / "data")
    env.setattr(envfile.os, "access", lambda path, mode: Path(path) != default)
    assert envfile.env_file() is None
    assert run_command(["api-key", "list"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{default} is not readable by this user" in line

"""The agent-server CLI: API keys on the database, client commands over HTTP."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from rich.console import Console

from backend.blocks.maths import CountItemsBlock
from backend.cli import run_command
from backend.cli_render import follow_run
from backend.client import ApiClient
from backend.data.credentials_manager import CredentialsManager
from backend.data.open import open_store
from backend.data.vault import KEY_FILE_NAME, open_vault
from backend.executor.manager import ExecutionManager
from backend.providers.credentials import CredentialsMetaInput
from backend.providers.oauth import TokenSet
from backend.settings import Settings
from tests.api.conftest import FIXTURES, LiveServer, wait_graph
from tests.graphs import STORE_VALUE

REPO_ROOT = Path(__file__).resolve().parents[2]

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
    # stderr is no terminal here: no bar, no node lines, a summary.
    assert "nodes: 3 COMPLETED (" in out.err
    assert "CalculatorBlock" not in out.err
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


def test_run_file_reuses_the_graph_of_the_same_content(
    key: str, executor: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run_command(["run", CALCULATOR, "-i", "Input=8", "--wait"]) == 0
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith(f"{CALCULATOR}: imported it as graph ")
    graph_id = first.split()[-2]
    for _ in range(2):
        assert run_command(["run", CALCULATOR, "-i", "Input=8"]) == 0
        assert f"{CALCULATOR}: reusing graph {graph_id} v1" in capsys.readouterr().err
    # Another copy of the same content is the same graph; changed content is a new one.
    copy = tmp_path / "copy.json"
    copy.write_text(Path(CALCULATOR).read_text())
    assert run_command(["run", str(copy), "-i", "Input=8"]) == 0
    assert f"reusing graph {graph_id}" in capsys.readouterr().err
    changed = json.loads(copy.read_text())
    changed["name"] = "Calculator, renamed"
    copy.write_text(json.dumps(changed))
    assert run_command(["run", str(copy), "-i", "Input=8"]) == 0
    assert "imported it as graph" in capsys.readouterr().err
    assert run_command(["graph", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    # `graph import` still stores a copy every time, as AutoGPT's import does.
    assert run_command(["graph", "import", CALCULATOR]) == 0
    assert capsys.readouterr().out.strip() != graph_id


def test_a_path_that_is_not_a_file_says_so(
    key: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for missing in ("graphs/calculatr.json", "calculatr.json", str(tmp_path / "x")):
        assert run_command(["run", missing]) == 2
        assert capsys.readouterr().err.strip() == f"error: no such file: {missing}"
    assert run_command(["run", "no-such-graph-id"]) == 2
    assert "not found" in capsys.readouterr().err


def test_graph_show_and_delete(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(["graph", "import", CALCULATOR]) == 0
    graph_id = capsys.readouterr().out.strip()
    assert run_command(["graph", "show", graph_id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{graph_id}  v1  Calculator agent"
    assert "  3 nodes, 2 links" in lines
    assert any(line.endswith("  CalculatorBlock") for line in lines)
    assert run_command(["graph", "show", graph_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == graph_id

    assert run_command(["graph", "delete", graph_id]) == 0
    assert f"deleted graph {graph_id}" in capsys.readouterr().out
    assert run_command(["graph", "show", graph_id]) == 2
    assert "not found" in capsys.readouterr().err
    assert run_command(["graph", "delete", graph_id]) == 2


def test_watch_attaches_to_a_run_and_nodes_lists_its_node_executions(
    key: str, executor: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(["run", CALCULATOR, "-i", "Input=8"]) == 0
    run_id = capsys.readouterr().out.strip()
    assert run_command(["watch", run_id]) == 0
    out = capsys.readouterr()
    assert "Output: 42.0" in out.out.splitlines()
    assert out.err.splitlines()[-2].startswith("nodes: 3 COMPLETED (")
    assert out.err.splitlines()[-1] == f"run {run_id}: COMPLETED"

    assert run_command(["nodes", run_id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all("COMPLETED" in line for line in lines)
    assert any("CalculatorBlock" in line for line in lines)
    assert run_command(["nodes", run_id, "--json", "--status", "COMPLETED"]) == 0
    nodes = json.loads(capsys.readouterr().out)
    assert [node["status"] for node in nodes] == ["COMPLETED"] * 3
    assert run_command(["nodes", "no-such-run"]) == 2


def chain_graph(path: Path, count: int) -> Path:
    """A graph file of ``count`` nodes in a chain, each passing its input on."""
    nodes = [
        {"id": f"n{i}", "block_id": STORE_VALUE, "input_default": {"input": i}}
        for i in range(count)
    ]
    links = [
        {
            "source_id": f"n{i}",
            "source_name": "output",
            "sink_id": f"n{i + 1}",
            "sink_name": "input",
        }
        for i in range(count - 1)
    ]
    path.write_text(json.dumps({"name": "long", "nodes": nodes, "links": links}))
    return path


def test_wait_on_a_big_run_prints_a_summary_of_a_few_lines(
    key: str, executor: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    count = 300
    path = chain_graph(tmp_path / "long.json", count)
    assert run_command(["run", str(path), "--wait"]) == 0
    out = capsys.readouterr()
    err = out.err.splitlines()
    # Import, queued, the run's status changes and the summary: not a line per node.
    assert len(err) <= 8, err
    assert not any("StoreValueBlock" in line for line in err)
    assert err[-2].startswith(f"nodes: {count} COMPLETED (")
    assert err[-1].endswith(": COMPLETED")
    assert f"status: COMPLETED ({count} node executions)" in out.out
    run_id = err[-1].split()[1].rstrip(":")

    # Watching it again after its end prints the same bounded summary.
    assert run_command(["watch", run_id]) == 0
    again = capsys.readouterr().err.splitlines()
    assert len(again) <= 6 and again[-1] == f"run {run_id}: COMPLETED"
    assert again[-2].startswith(f"nodes: {count} COMPLETED (")


def test_a_failed_run_names_its_first_failure_in_the_summary(
    key: str, executor: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    count_items = CountItemsBlock.id
    node = {"id": "count", "block_id": count_items, "input_default": {"collection": 42}}
    path = tmp_path / "fails.json"
    path.write_text(json.dumps({"name": "fails", "nodes": [node], "links": []}))
    assert run_command(["run", str(path), "--wait"]) == 1
    out = capsys.readouterr()
    err = out.err.splitlines()
    assert err[-3].startswith("first failure: node count CountItemsBlock: ")
    assert "cannot count the items of a int" in err[-3]
    assert err[-2].startswith("nodes: 1 FAILED (") and err[-1].endswith(": FAILED")
    assert "status: FAILED" in out.out


def test_on_a_terminal_a_run_shows_one_live_bar(
    key: str, executor: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(["run", CALCULATOR, "-i", "Input=8"]) == 0
    run_id = capsys.readouterr().out.strip()
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with ApiClient(os.environ["BACKEND_API_URL"], key) as client:
        follow_run(client, run_id, console)
    shown = screen.getvalue()
    # Done/total and the block of the latest node: the graph's output block at its end.
    assert "3/3" in shown and "AgentOutputBlock" in shown
    assert "\x1b[" in shown  # drawn with terminal control codes, not printed lines
    assert "nodes: 3 COMPLETED (" in shown and f"run {run_id}: COMPLETED" in shown
    assert capsys.readouterr().err == ""


def test_lists_page_with_limit_and_cursor(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        assert run_command(["graph", "import", CALCULATOR]) == 0
    ids = capsys.readouterr().out.split()
    assert run_command(["graph", "list", "--limit", "2"]) == 0
    first = capsys.readouterr()
    assert len(first.out.splitlines()) == 2
    (more,) = first.err.splitlines()
    assert more.startswith("more: --cursor ")
    cursor = more.split()[-1]
    assert run_command(["graph", "list", "--limit", "2", "--cursor", cursor, "--json"]) == 0
    rest = capsys.readouterr()
    assert len(json.loads(rest.out)) == 1 and rest.err == ""
    seen = [line.split()[0] for line in first.out.splitlines()] + [json.loads(rest.out)[0]["id"]]
    assert sorted(seen) == sorted(ids)


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


# -- credentials ------------------------------------------------------------------------------

SECRET = "sk-cli-4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"


def add_from_stdin(monkeypatch: pytest.MonkeyPatch, text: str, *args: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return run_command(["credentials", "add", "--secret-stdin", *args])


def test_credentials_add_list_delete_never_show_the_secret(
    key: str, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_from_stdin(env, SECRET + "\n", "--provider", "openai", "--title", "work") == 0
    out = capsys.readouterr()
    credentials_id = out.out.strip()
    assert f"api_key credentials for openai (sk-...{SECRET[-4:]})" in out.err

    assert run_command(["credentials", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["title"], listed["hint"]) == (credentials_id, "work", "sk-...8c9d")
    assert run_command(["credentials", "list"]) == 0
    assert capsys.readouterr().out.split() == [
        credentials_id,
        "openai",
        "api_key",
        "sk-...8c9d",
        "work",
    ]

    assert run_command(["credentials", "delete", credentials_id]) == 0
    assert run_command(["credentials", "delete", credentials_id]) == 2
    out = capsys.readouterr()
    assert f"credentials {credentials_id} not found" in out.err
    assert SECRET[6:] not in out.out + out.err


def test_credentials_list_shows_an_oauth2_credentials_scopes(
    key: str, live: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    manager: CredentialsManager = live.app.state.credentials
    tokens = TokenSet(
        access_token=SecretStr("ya29.cli-access"),
        refresh_token=SecretStr("1//cli-refresh"),
        scopes=(
            "https://www.googleapis.com/auth/gmail.readonly",
            "https://www.googleapis.com/auth/calendar.readonly",
        ),
        account="alice@example.com",
    )
    record = manager.add_oauth("alice", "google", tokens)
    assert run_command(["credentials", "list"]) == 0
    out = capsys.readouterr().out
    assert out.split() == [
        record.id,
        "google",
        "oauth2",
        "oauth2",
        "Google",
        "account",
        "alice@example.com",
        "[gmail.readonly",
        "calendar.readonly]",
    ]
    assert "ya29" not in out and "1//" not in out


def test_an_empty_secret_or_no_way_to_read_one_is_refused(
    key: str, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_from_stdin(env, "\n", "--provider", "openai") == 2
    assert "secret is empty" in capsys.readouterr().err
    # Without --secret-stdin the secret is asked for on a terminal, and stdin is none.
    env.setattr(sys, "stdin", io.StringIO(SECRET))
    assert run_command(["credentials", "add", "--provider", "openai"]) == 2
    assert "--secret-stdin" in capsys.readouterr().err
    assert add_from_stdin(env, "pw", "--provider", "smtp", "--type", "user_password") == 2
    assert "--username" in capsys.readouterr().err
    assert run_command(["credentials", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_credentials_add_asks_for_the_secret_without_echo(key: str, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "backend.cli", "credentials", "add", "--provider", "openai"]
    # A session of its own: the pty is the only terminal the command can ask on.
    process = subprocess.Popen(
        command,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        start_new_session=True,
    )
    os.close(terminal)
    try:
        screen = read_until(controller, b"API key for openai: ")
        os.write(controller, SECRET.encode() + b"\n")
        screen += read_until(controller, None)
        assert process.wait(timeout=30) == 0, screen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    text = screen.decode()
    assert "added api_key credentials for openai" in text
    assert SECRET[6:] not in text


def read_until(fd: int, marker: bytes | None, timeout: float = 30) -> bytes:
    """What the terminal shows until ``marker`` appears (None: until the command exits)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker is None or marker not in seen:
        assert time.monotonic() < deadline, f"terminal showed only {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command closed its terminal
            chunk = b""
        if not chunk:
            assert marker is None, f"terminal closed before {marker!r}: {seen!r}"
            break
        seen += chunk
    return seen


ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(*args: str, columns: int = 120) -> tuple[str, str]:
    """What `agent-server ARGS` writes when stdout and stderr are a terminal of that
    width: as written, and as text without its control codes."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        start_new_session=True,
    )
    os.close(terminal)
    try:
        screen = read_until(controller, None, timeout=60)
        assert process.wait(timeout=30) == 0, screen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)
    written = screen.decode()
    return written, ANSI_CODE.sub("", written).replace("\r", "\n")


def test_on_a_terminal_lists_are_tables_and_a_wait_draws_a_bar(
    key: str, env: pytest.MonkeyPatch, executor: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(["graph", "import", CALCULATOR]) == 0
    graph_id = capsys.readouterr().out.strip()
    _, shown = on_terminal("graph", "list")
    assert table_header(shown) == ["graph", "version", "created", "name"]
    row = next(line for line in shown.splitlines() if graph_id in line)
    assert "│" in row and "Calculator agent" in row
    # Piped, the same command prints its plain line, which scripts read.
    assert run_command(["graph", "list"]) == 0
    assert capsys.readouterr().out.startswith(f"{graph_id}  v1  ")

    written, shown = on_terminal("run", graph_id, "-i", "Input=8", "--wait")
    assert "\x1b[" in written  # a bar drawn in place, not lines printed
    assert any("3/3 nodes" in line for line in shown.splitlines())
    assert "Output: 42.0" in shown.splitlines()
    (queued,) = [line for line in shown.splitlines() if line.endswith(" queued")]
    run_id = queued.split()[1]
    _, shown = on_terminal("nodes", run_id)
    assert table_header(shown) == ["seq", "node", "block", "status", "time", "attempt", "error"]
    assert any("CalculatorBlock" in line and "│" in line for line in shown.splitlines())
    _, shown = on_terminal("runs", "list")
    assert table_header(shown) == ["run", "status", "created", "graph"]
    assert any(run_id in line and "COMPLETED" in line for line in shown.splitlines())
    _, shown = on_terminal("api-key", "list")
    assert table_header(shown) == ["id", "prefix", "user", "created", "state", "name"]

    assert add_from_stdin(env, SECRET, "--provider", "openai", "--title", "work") == 0
    assert run_command(["schedule", "add", graph_id, "--cron", "*/10 * * * *"]) == 0
    capsys.readouterr()
    _, shown = on_terminal("credentials", "list")
    assert table_header(shown) == ["id", "provider", "type", "hint", "title", "scopes"]
    assert any("openai" in line and "work" in line for line in shown.splitlines())
    assert SECRET[6:] not in shown
    _, shown = on_terminal("schedule", "list", "--times", columns=240)
    header = ["schedule", "state", "cron", "timezone", "graph", "name", "last error"]
    assert table_header(shown) == [*header, "next fire times"]
    assert any("*/10 * * * *" in line and "enabled" in line for line in shown.splitlines())


def table_header(shown: str) -> list[str]:
    """The column names of the table on a terminal's screen (its first ┃ line)."""
    line = next(line for line in shown.splitlines() if "┃" in line)
    return [name.strip() for name in line.split("┃")]


def test_encryption_key_rotate_rewrites_secrets_and_a_wrong_key_fails_in_one_line(
    key: str, env: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_from_stdin(env, SECRET, "--provider", "openai") == 0
    credentials_id = capsys.readouterr().out.strip()
    old = (settings.data_dir / KEY_FILE_NAME).read_text().strip()
    assert run_command(["encryption-key", "generate"]) == 0
    new = capsys.readouterr().out.strip()

    env.setenv("BACKEND_ENCRYPTION_KEY", f"{new},{old}")
    assert run_command(["encryption-key", "rotate"]) == 0
    assert "re-encrypted 1 secrets" in capsys.readouterr().out

    only_new = Settings(
        data_dir=settings.data_dir, database_url=settings.database_url, encryption_key=new
    )
    store = open_store(only_new)
    try:
        manager = CredentialsManager(only_new, store, open_vault(only_new, store))
        ref = CredentialsMetaInput(id=credentials_id, provider="openai")
        assert manager.resolve("alice", ref, "openai").api_key == SecretStr(SECRET)
    finally:
        store.close()

    env.setenv("BACKEND_ENCRYPTION_KEY", old)
    assert run_command(["encryption-key", "rotate"]) == 1
    out = capsys.readouterr()
    (line,) = out.err.splitlines()
    assert line.startswith("error: the encryption key from BACKEND_ENCRYPTION_KEY is not the key")
    assert old not in out.err and new not in out.err

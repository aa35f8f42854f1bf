"""The process model with real processes: run_processes() supervision, signals, and the
fail-fast start of the executor entrypoint."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

import pytest

from tests.process_fixtures import REPO_ROOT, RUNNER, pid_alive, wait_until

# Bounds for waits on real processes; generous because CI machines stall.
START_TIMEOUT = 30.0
EXIT_TIMEOUT = 15.0


def backend_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment minus any BACKEND_* of the caller, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env["BACKEND_DATA_DIR"] = str(tmp_path / "data")
    env["BACKEND_SHUTDOWN_GRACE_SECONDS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"BACKEND_{k.upper()}": v for k, v in settings.items()})
    return env


class Script:
    """A running ``run_processes(...)`` script whose stdout announces pids."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.pids: dict[str, int] = {}
        self.stderr: list[str] = []
        self._pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, self.lines.put), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, self.stderr.append), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()

    def expect(self, prefix: str, timeout: float = START_TIMEOUT) -> str:
        """The next stdout line, which must start with ``prefix``."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {prefix!r} line; stderr: {self.stderr}") from None
        assert line.startswith(prefix), line
        return line

    def wait_ready(self, count: int) -> dict[str, int]:
        for _ in range(count):
            _, label, pid = self.expect("ready ").split()
            self.pids[label] = int(pid)
        return self.pids

    def collect_announced(self) -> None:
        """Record the pids announced so far (after exit, when not all may have started)."""
        while not self.lines.empty():
            line = self.lines.get()
            if line.startswith("ready "):
                _, label, pid = line.split()
                self.pids[label] = int(pid)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        code = self.proc.wait(timeout=timeout)
        for pump in self._pumps:
            pump.join(timeout)
        return code


def _pump(stream: TextIO, sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line.rstrip("\n"))


@contextmanager
def run_script(tmp_path: Path, *specs: str) -> Iterator[Script]:
    # A session of its own: the test can signal the whole group, as supervisord does,
    # and clean-up can kill whatever is left.
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *specs],
        cwd=REPO_ROOT,
        env=backend_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    script = Script(proc)
    try:
        yield script
    finally:
        # The whole session, so children that never announced themselves go too.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=EXIT_TIMEOUT)


def children_of(script: Script) -> list[int]:
    return [pid for pid in script.pids.values() if pid != script.proc.pid]


# -- run_processes supervision ---------------------------------------------------------


def test_foreground_runs_in_the_calling_process_and_children_apart(tmp_path: Path) -> None:
    with run_script(tmp_path, "idle:child", "idle:main") as script:
        pids = script.wait_ready(2)
        assert pids["main"] == script.proc.pid
        assert pids["child"] != script.proc.pid


def test_killed_child_stops_everything_with_a_failure(tmp_path: Path) -> None:
    with run_script(tmp_path, "idle:child", "idle:other", "idle:main") as script:
        script.wait_ready(3)
        os.kill(script.pids["child"], signal.SIGKILL)

        assert script.wait() != 0
        assert not any(pid_alive(pid) for pid in children_of(script))
        assert any(f"pid {script.pids['child']}" in line for line in script.stderr)


def test_child_failing_with_an_expected_error_stops_everything(tmp_path: Path) -> None:
    with run_script(tmp_path, "failing:child", "idle:main") as script:
        assert script.wait() != 0
        script.collect_announced()
        assert not any(pid_alive(pid) for pid in children_of(script))
        assert any("child cannot continue" in line for line in script.stderr)


def test_sigterm_to_the_parent_stops_every_child(tmp_path: Path) -> None:
    with run_script(tmp_path, "idle:a", "idle:b", "idle:main") as script:
        script.wait_ready(3)
        os.kill(script.proc.pid, signal.SIGTERM)

        assert script.wait() == 0
        assert not any(pid_alive(pid) for pid in children_of(script))


def test_sigterm_to_the_whole_group_is_a_clean_stop(tmp_path: Path) -> None:
    # supervisord's stopasgroup signals parent and children at once: the children
    # ending first is part of the stop, not a crash.
    with run_script(tmp_path, "idle:a", "idle:b", "draining:main") as script:
        script.wait_ready(3)
        os.killpg(script.proc.pid, signal.SIGTERM)

        assert script.wait() == 0
        assert not any(pid_alive(pid) for pid in children_of(script))


def test_second_sigterm_exits_at_once_and_leaves_no_child(tmp_path: Path) -> None:
    with run_script(tmp_path, "idle:child", "slow-stop:main") as script:
        script.wait_ready(2)
        os.kill(script.proc.pid, signal.SIGTERM)
        script.expect("draining main")
        os.kill(script.proc.pid, signal.SIGTERM)

        assert script.wait() != 0
        assert wait_until(lambda: not any(pid_alive(p) for p in children_of(script)), 10.0)


def test_backend_error_in_run_exits_1_with_one_line(tmp_path: Path) -> None:
    with run_script(tmp_path, "failing:main") as script:
        assert script.wait() == 1
    errors = [line for line in script.stderr if line.strip()]
    assert len(errors) == 1, errors
    assert "main cannot continue: fixture failure" in errors[0]
    assert "Traceback" not in errors[0]


# -- the executor entrypoint -------------------------------------------------------------

ENTRYPOINTS = {
    "script": [sys.executable, "backend/exec.py"],
    "module": [sys.executable, "-m", "backend.exec"],
}


def run_exec(env: dict[str, str], style: str = "module") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ENTRYPOINTS[style],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single log line a fail-fast start must produce."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("style", sorted(ENTRYPOINTS))
def test_entrypoint_starts_registers_and_stops_cleanly(tmp_path: Path, style: str) -> None:
    proc = subprocess.Popen(
        ENTRYPOINTS[style],
        cwd=REPO_ROOT,
        env=backend_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "executor registered" in line:
                break
        assert any("executor registered" in line for line in seen), seen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=EXIT_TIMEOUT) == 0
        assert "executor deregistered" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("style", sorted(ENTRYPOINTS))
def test_entrypoint_bad_setting_fails_fast(tmp_path: Path, style: str) -> None:
    result = run_exec(backend_env(tmp_path, num_graph_workers="abc"), style)
    assert "BACKEND_NUM_GRAPH_WORKERS" in one_line(result)


def test_schema_newer_than_the_code_fails_fast(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "backend.db") as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('ffff')")
    line = one_line(run_exec(backend_env(tmp_path)))
    assert "'ffff'" in line
    assert "BACKEND_DATABASE_URL" in line


def test_no_auto_migrate_on_an_empty_database_fails_fast(tmp_path: Path) -> None:
    line = one_line(run_exec(backend_env(tmp_path, auto_migrate="false")))
    assert "BACKEND_AUTO_MIGRATE" in line


def test_unusable_data_dir_fails_fast(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = backend_env(tmp_path, data_dir=str(blocker / "data"))
    assert "BACKEND_DATA_DIR" in one_line(run_exec(env))


def test_unsupported_database_url_fails_fast(tmp_path: Path) -> None:
    env = backend_env(tmp_path, database_url="mysql://db.example/agents")
    assert "BACKEND_DATABASE_URL" in one_line(run_exec(env))

"""A program started while PostgreSQL does not answer waits for it, within a bound."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from tests import pg
from tests.process_fixtures import REPO_ROOT, wait_until


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_scheduler(tmp_path: Path, url: str, wait_seconds: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env.update(
        BACKEND_DATABASE_URL=url,
        BACKEND_DATABASE_WAIT_SECONDS=str(wait_seconds),
        BACKEND_DATA_DIR=str(tmp_path),
        PYTHONPATH=str(REPO_ROOT),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "backend.scheduler"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """The stderr lines of a process, read on a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))


@pytest.fixture
def scheduler_cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_closed_port_is_retried_then_fails_in_one_line(
    tmp_path: Path, scheduler_cleanup: list[subprocess.Popen[str]]
) -> None:
    url = f"postgresql://agent:s3cret-pw@127.0.0.1:{closed_port()}/agent"
    process = start_scheduler(tmp_path, url, wait_seconds=2)
    scheduler_cleanup.append(process)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    lines = err.splitlines()
    tries = [line for line in lines if "waiting for the database" in line]
    assert len(tries) >= 3, err
    assert "postgresql://agent:***@127.0.0.1" in tries[0]
    assert "s3cret-pw" not in err
    assert "gave up after" in lines[-1] and "BACKEND_DATABASE_WAIT_SECONDS" in lines[-1]
    assert "Traceback" not in err


def test_a_database_that_appears_during_the_wait_is_used(
    tmp_path: Path, scheduler_cleanup: list[subprocess.Popen[str]]
) -> None:
    pg.require_postgres()
    name = f"{pg.DB_PREFIX}late_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(pg.ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    process = start_scheduler(tmp_path, url, wait_seconds=60)
    scheduler_cleanup.append(process)
    lines = Lines(process)
    try:
        assert wait_until(lambda: lines.count("waiting for the database") >= 2, 30), lines.lines
        with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        assert wait_until(lambda: lines.count("scheduler started") == 1, 30), lines.lines
        assert lines.count("database answered after") == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, lines.lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        pg.drop_database(url)

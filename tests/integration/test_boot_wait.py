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


# Under supervisord a program waits longer than its startsecs (as 300 s is longer than the
# shipped 3 s; shorter here, to keep the test short), so it is RUNNING before it gives up
# and exits 1: supervisord restarts it as a program that ran, with a fresh budget of start
# retries, instead of counting a failed start.
SUPERVISED_STARTSECS = 1
SUPERVISED_WAIT_SECONDS = 2
# At most this many failed starts before FATAL; the outage below outlasts more exits.
SUPERVISED_STARTRETRIES = 1


@pytest.mark.supervisord
def test_an_outage_longer_than_startretries_ends_with_the_group_back(tmp_path: Path) -> None:
    from tests.supervisor_helpers import running_supervisord, wait_for

    pg.require_postgres()
    name = f"{pg.DB_PREFIX}outage_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(pg.ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    program = {
        "startretries": str(SUPERVISED_STARTRETRIES),
        "startsecs": str(SUPERVISED_STARTSECS),
    }
    overrides = {
        "program:executor": {**program, "numprocs": "1"},
        "program:rest": program,
        "program:scheduler": program,
    }
    env = {
        "BACKEND_DATABASE_URL": url,
        "BACKEND_DATABASE_WAIT_SECONDS": str(SUPERVISED_WAIT_SECONDS),
    }
    names = ("executor_00", "rest", "scheduler_00")
    try:
        with running_supervisord(env=env, overrides=overrides) as sup:
            seen: set[str] = set()

            def gave_up_enough() -> bool | None:
                seen.update(info["statename"] for info in sup.all_info())
                counts = [sup.log_path(n).read_text().count("gave up after") for n in names]
                return min(counts) > SUPERVISED_STARTRETRIES or None

            # Every program has given up more often than startretries would forgive
            # failed starts, and none was ever taken for a failed start.
            wait_for(gave_up_enough, 25, "every program to give up twice")
            assert seen <= {"STARTING", "RUNNING", "EXITED"}, seen
            with psycopg.connect(pg.ADMIN_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            sup.wait_api(20)
            infos = sup.wait_all("RUNNING", 20)
            assert {i["name"] for i in infos} == set(names)
            for n, started in (
                ("executor_00", "executor registered"),
                ("scheduler_00", "scheduler started"),
            ):
                wait_for(
                    lambda n=n, started=started: started in sup.log_path(n).read_text() or None,
                    20,
                    f"{n} to start on the database",
                )
            own_log = sup.log_path("supervisord").read_text()
            assert "FATAL" not in own_log and "gave up: " not in own_log
    finally:
        pg.drop_database(url)

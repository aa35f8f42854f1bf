"""The real supervisord.conf under a real supervisord, driven through its XML-RPC socket."""

from __future__ import annotations

import configparser
import os
import signal
from collections.abc import Iterator

import pytest

from backend.data.execution import ExecutorInfo
from tests.supervisor_helpers import (
    REAL_CONF,
    Supervisor,
    process_name,
    running_supervisord,
    set_keys,
    wait_for,
)

pytestmark = pytest.mark.supervisord

# Bounds, not expectations: startsecs is 3 s and a restart backs off by seconds.
UP_TIMEOUT = 30.0
EXECUTOR = "executor_"
FATAL_TIMEOUT = 60.0


def real_program_setting(key: str) -> str:
    conf = configparser.RawConfigParser()
    conf.read(REAL_CONF)
    return conf.get("program:executor", key)


@pytest.fixture(scope="module")
def group() -> Iterator[Supervisor]:
    with running_supervisord() as sup:
        sup.wait_all("RUNNING", UP_TIMEOUT)
        yield sup


def executor_rows(sup: Supervisor) -> dict[int, ExecutorInfo]:
    with sup.store() as store:
        return {row.pid: row for row in store.list_executors()}


def row_state(sup: Supervisor, pid: int, state: str) -> ExecutorInfo | None:
    row = executor_rows(sup).get(pid)
    return row if row is not None and row.state == state else None


def test_group_reaches_running_and_status_exits_0(group: Supervisor) -> None:
    numprocs = int(real_program_setting("numprocs"))
    everything = group.wait_all("RUNNING", UP_TIMEOUT)
    # Every program is a group of its own, so `supervisorctl update` after a change to one
    # program's section restarts that program only.
    assert {(i["group"], i["name"]) for i in everything} == {
        ("rest", "rest"),
        *(("executor", f"executor_{n:02d}") for n in range(int(real_program_setting("numprocs")))),
        ("scheduler", "scheduler_00"),
    }
    infos = [i for i in everything if i["name"].startswith(EXECUTOR)]
    assert sorted(i["name"] for i in infos) == [f"executor_{n:02d}" for n in range(numprocs)]

    status = group.ctl("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("RUNNING") == len(everything)

    # Every running executor registered itself in the shared database.
    pids = {info["pid"] for info in infos}
    wait_for(
        lambda: (
            pids <= {pid for pid, row in executor_rows(group).items() if row.state == "RUNNING"}
            or None
        ),
        UP_TIMEOUT,
        "every executor to register",
    )


def test_killed_executor_is_restarted_and_its_predecessor_marked_gone(group: Supervisor) -> None:
    old_pid = group.wait_state("executor_00", "RUNNING", UP_TIMEOUT)["pid"]
    wait_for(lambda: row_state(group, old_pid, "RUNNING"), UP_TIMEOUT, "registration")

    os.kill(old_pid, signal.SIGKILL)

    new = wait_for(
        lambda: (
            info
            if (info := group.info("executor_00"))["pid"] not in (0, old_pid)
            and info["statename"] == "RUNNING"
            else None
        ),
        UP_TIMEOUT,
        "a new executor_00 to run",
    )
    # The restarted executor finds its predecessor's pid gone on this host at start.
    wait_for(lambda: row_state(group, old_pid, "GONE"), UP_TIMEOUT, "the old row to be GONE")
    wait_for(lambda: row_state(group, new["pid"], "RUNNING"), UP_TIMEOUT, "the new row")


def test_stopped_executor_exits_0_and_deregisters(group: Supervisor) -> None:
    pid = group.wait_state("executor_01", "RUNNING", UP_TIMEOUT)["pid"]
    wait_for(lambda: row_state(group, pid, "RUNNING"), UP_TIMEOUT, "registration")
    try:
        assert group.stop("executor_01")

        info = group.info("executor_01")
        assert info["statename"] == "STOPPED"
        # 0 means it exited by itself after SIGTERM, not by supervisord's SIGKILL.
        assert info["exitstatus"] == 0
        assert row_state(group, pid, "STOPPED") is not None
    finally:
        group.start("executor_01")


def test_executor_log_is_its_stderr_log(group: Supervisor) -> None:
    # `supervisorctl tail NAME stderr` reads this log through the same XML-RPC call.
    def registered() -> str | None:
        text: str = group.rpc.readProcessStderrLog(process_name("executor_00"), 0, 0)
        return text if "executor registered" in text else None

    log = wait_for(registered, UP_TIMEOUT, "the executor's registration line")
    assert "Traceback" not in log
    # BACKEND_EXECUTOR_METRICS_PORT is unset by default: no metrics listener.
    assert "serving metrics" not in log
    tail = group.ctl("tail", process_name("executor_00"), "stderr")
    assert tail.returncode == 0, tail.stdout + tail.stderr
    assert "executor registered" in tail.stdout


def update(sup: Supervisor) -> set[str]:
    """What `supervisorctl update` does after the config file changed: re-read it, then
    stop, remove and re-add each changed group (and add or remove whole groups)."""
    [[added, changed, removed]] = sup.rpc.reloadConfig()
    for name in removed + changed:
        sup.rpc.stopProcessGroup(name, True)
        sup.rpc.removeProcessGroup(name)
    for name in changed + added:
        sup.rpc.addProcessGroup(name)
    return set(added + changed + removed)


def test_update_after_more_executors_leaves_the_api_running(group: Supervisor) -> None:
    numprocs = int(real_program_setting("numprocs")) + 1
    api_pid = group.wait_state("rest", "RUNNING", UP_TIMEOUT)["pid"]
    scheduler_pid = group.info("scheduler_00")["pid"]
    group.conf.write_text(
        set_keys(group.conf.read_text(), "program:executor", {"numprocs": str(numprocs)})
    )

    assert update(group) == {"executor"}

    infos = group.wait_all("RUNNING", UP_TIMEOUT, prefix=EXECUTOR)
    assert sorted(i["name"] for i in infos) == [f"executor_{n:02d}" for n in range(numprocs)]
    assert group.info("rest")["pid"] == api_pid
    assert group.info("scheduler_00")["pid"] == scheduler_pid
    group.wait_api(UP_TIMEOUT)


def test_bad_setting_exits_1_with_one_line_and_ends_fatal() -> None:
    attempts = int(real_program_setting("startretries")) + 1
    with running_supervisord(env={"BACKEND_NUM_GRAPH_WORKERS": "abc"}) as sup:
        # Every program of the group reads the settings, so every one must fail fast.
        infos = sup.wait_all("FATAL", FATAL_TIMEOUT)

        own_log = sup.log_path("supervisord").read_text()
        for info in infos:
            # supervisord records no exit status for a start that failed; its log does.
            name = info["name"]
            # A start slower than startsecs (a loaded machine) counts as started, and
            # supervisord then tries again: at least ``attempts`` exits, every one status 1.
            exits = own_log.count(f"exited: {name} (")
            assert own_log.count(f"exited: {name} (exit status 1; not expected)") == exits
            assert exits >= attempts
            lines = sup.log_path(name).read_text().splitlines()
            # One line per attempt, each naming the setting; no traceback.
            assert len(lines) == exits, lines
            assert all("BACKEND_NUM_GRAPH_WORKERS" in line for line in lines), lines
            assert not any("Traceback" in line for line in lines)


def test_program_log_rotates_into_numbered_backups() -> None:
    program = {"numprocs": "1", "stderr_logfile_maxbytes": "1KB", "startsecs": "1"}
    env = {"BACKEND_LOG_LEVEL": "DEBUG"}
    with running_supervisord(env=env, overrides={"program:executor": program}) as sup:
        sup.wait_state("executor_00", "RUNNING", UP_TIMEOUT)
        log = sup.log_path("executor_00")
        backup = log.with_name(log.name + ".1")

        def registrations() -> int:
            return sum(
                path.read_text().count("executor registered")
                for path in (log, backup)
                if path.exists()
            )

        # Each restart appends its start and stop lines to the program log; waiting for
        # each start to register keeps a slow start from adding too little to rotate.
        for _ in range(20):
            if backup.exists():
                break
            before = registrations()
            sup.stop("executor_00")
            sup.start("executor_00")
            wait_for(lambda n=before: registrations() > n or None, UP_TIMEOUT, "the restart")

        sup.stop("executor_00")

        assert backup.exists()
        assert "executor registered" in backup.read_text()
        # Rotation keeps the live file under maxbytes.
        assert log.stat().st_size < 1024

"""Durability under the real supervisord: executors killed, stopped and contended."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.data.execution import NodeStatus, RunStatus
from backend.data.graph import Graph
from backend.data.sqlite import SQLiteStore
from backend.executor.submit import save_graph, submit_run
from tests.graphs import wait_chain
from tests.supervisor_helpers import Supervisor, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord


# Short leases and heartbeats so recovery happens within a test's patience.
FAST = {
    "BACKEND_LEASE_SECONDS": "2",
    "BACKEND_HEARTBEAT_SECONDS": "0.2",
    "BACKEND_POLL_SECONDS": "0.02",
}
UP_TIMEOUT = 30.0


@pytest.fixture
def group() -> Iterator[Supervisor]:
    with running_supervisord(env=FAST) as sup:
        sup.wait_all("RUNNING", UP_TIMEOUT)
        yield sup


def submit(sup: Supervisor, graph: Graph, count: int) -> list[str]:
    with sup.store() as store:
        saved = save_graph(store, "tester", graph)
        return [submit_run(store, "tester", saved.id, {"x": i}).id for i in range(count)]


def wait_all_final(sup: Supervisor, run_ids: list[str], timeout: float) -> None:
    def finished() -> bool | None:
        with sup.store() as store:
            return all(store.get_run(r).status.is_final for r in run_ids) or None

    wait_for(finished, timeout, "every run to end")


def running_nodes_of(store: SQLiteStore, pid: int) -> set[str]:
    """Node executions RUNNING in runs owned by the executor with this pid."""
    owners = {e.id for e in store.list_executors() if e.pid == pid}
    found: set[str] = set()
    for run in store.list_runs(status=RunStatus.RUNNING, limit=1000):
        if run.owner in owners:
            found |= {n.id for n in store.node_executions(run.id) if n.status == NodeStatus.RUNNING}
    return found


def test_runs_survive_executors_being_killed(group: Supervisor) -> None:
    # 20 nodes per run; long enough that work is still in flight at the fifth kill.
    run_ids = submit(group, wait_chain(18, 0.25), 30)
    rng = random.Random(7)
    interrupted: set[str] = set()
    for _ in range(5):
        name = rng.choice(["executor_00", "executor_01"])
        pid = group.wait_state(name, "RUNNING", UP_TIMEOUT)["pid"]
        # Let it claim work before it dies.
        wait_for(lambda p=pid: _owns_work(group, p) or None, UP_TIMEOUT, "work to be claimed")
        os.kill(pid, signal.SIGKILL)
        # Until a successor reclaims them, the dead executor's rows show what it was running.
        with group.store() as store:
            interrupted |= running_nodes_of(store, pid)
        wait_for(lambda n=name, old=pid: _restarted(group, n, old), UP_TIMEOUT, "a restart")
    wait_all_final(group, run_ids, 120)

    with group.store() as store:
        for i, run_id in enumerate(run_ids):
            run = store.get_run(run_id)
            assert run.status == RunStatus.COMPLETED, run.error
            assert run.outputs == {"out": [i]}
            nodes = store.node_executions(run_id)
            assert Counter(n.node_id for n in nodes if n.status == NodeStatus.COMPLETED) == {
                node: 1 for node in ["in", *(f"w{k}" for k in range(18)), "out"]
            }
            assert all(n.status == NodeStatus.COMPLETED for n in nodes)
            for n in nodes:
                if n.attempt > 1:
                    assert n.id in interrupted, f"{n.node_id} re-ran without being interrupted"


def _owns_work(sup: Supervisor, pid: int) -> bool:
    with sup.store() as store:
        return bool(running_nodes_of(store, pid))


def _restarted(sup: Supervisor, name: str, old_pid: int) -> dict[str, object] | None:
    info = sup.info(name)
    return info if info["pid"] not in (0, old_pid) and info["statename"] == "RUNNING" else None


def test_sigterm_drains_and_the_other_executor_finishes(group: Supervisor) -> None:
    run_ids = submit(group, wait_chain(6, 0.3), 4)
    busy = wait_for(
        lambda: next((i for i in group.all_info() if _owns_work(group, i["pid"])), None),
        UP_TIMEOUT,
        "work to be claimed",
    )
    group.stop(busy["name"])  # waits until it has stopped
    stopped = group.info(busy["name"])
    assert stopped["statename"] == "STOPPED"
    assert stopped["exitstatus"] == 0
    # Its runs went back to the queue; the other executor finishes them all.
    wait_all_final(group, run_ids, 60)
    with group.store() as store:
        for i, run_id in enumerate(run_ids):
            run = store.get_run(run_id)
            assert run.status == RunStatus.COMPLETED, run.error
            assert run.outputs == {"out": [i]}
        assert not store.list_runs(status=RunStatus.RUNNING)
        rows = {e.pid: e for e in store.list_executors()}
        assert rows[busy["pid"]].state == "STOPPED"


def test_contended_sqlite_file_never_reports_locked(group: Supervisor) -> None:
    graph = wait_chain(3, 0)
    with group.store() as store:
        graph_id = save_graph(store, "tester", graph).id
    run_ids: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            store = SQLiteStore(f"sqlite:///{group.data_dir / 'backend.db'}")
            try:
                for i in range(150):
                    run_ids.append(submit_run(store, "tester", graph_id, {"x": i}).id)
            finally:
                store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    wait_all_final(group, run_ids, 120)
    with group.store() as store:
        statuses = Counter(store.get_run(r).status for r in run_ids)
    assert statuses == {RunStatus.COMPLETED: 300}
    for name in ("executor_00", "executor_01"):
        log = Path(group.log_path(name)).read_text()
        assert "database is locked" not in log
        assert " ERROR " not in log

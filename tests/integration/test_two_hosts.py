"""Two hosts sharing one PostgreSQL database, each a real supervisord (rest + 2 executors)
with its own var dir and API port.

Runs are submitted through both REST APIs and both hosts' executors take them. Then every
process of host A (supervisord included) is SIGKILLed mid-run, as when a VM dies: host B
finishes A's runs once their leases expire, without losing a run or completing a node
activation twice.

Both "hosts" run on this machine, so they share one hostname. An executor starting on a
host releases at once the runs of predecessors on that host whose pid is gone; host A is
not restarted here, so nothing does that for it, and host B takes A's runs only when their
leases expire (BACKEND_LEASE_SECONDS), exactly as for a VM that never comes back.

Who executed what is read from each host's own executor logs ("claimed run ID"): the log
files live in that host's var dir, so the attribution needs no pid bookkeeping, and every
claim is logged (the executors table and the run rows only show current owners).
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from backend.client import ApiClient
from backend.data.execution import NodeStatus, Run, RunStatus
from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import generate_key
from backend.settings import Settings
from tests import pg
from tests.graphs import wait_chain
from tests.process_fixtures import pid_alive
from tests.supervisor_helpers import Supervisor, api_key, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord


LEASE_SECONDS = 3
# Short leases so that a dead host's runs come back within the test's patience; NOTIFY
# announces new runs, polling only has to notice expired leases.
FAST = {
    "BACKEND_LEASE_SECONDS": str(LEASE_SECONDS),
    "BACKEND_HEARTBEAT_SECONDS": "0.5",
    "BACKEND_POLL_SECONDS": "0.2",
}
UP_TIMEOUT = 30.0
EXECUTORS = ("executor_00", "executor_01")
CLAIMED = re.compile(r"claimed run (\S+)")


def wait_graph(name: str, steps: int, seconds: float) -> dict[str, Any]:
    return wait_chain(steps, seconds, name).to_json()


def node_ids(steps: int) -> list[str]:
    return ["in", *(f"w{i}" for i in range(steps)), "out"]


@pytest.fixture
def database() -> Iterator[str]:
    with pg.fresh_database("two_hosts") as url:
        yield url


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    store = open_store(Settings(database_url=database))
    yield store
    store.close()


def api(sup: Supervisor, key: str) -> ApiClient:
    return ApiClient(f"http://127.0.0.1:{sup.env['BACKEND_API_PORT']}", key)


def submit(clients: list[ApiClient], graph: dict[str, Any], count: int) -> list[str]:
    """``count`` runs with inputs x=0..count-1, alternating between the APIs given."""
    graph_ids = [client.create_graph(graph)["id"] for client in clients]
    return [
        clients[i % len(clients)].execute(graph_ids[i % len(clients)], {"x": i})["id"]
        for i in range(count)
    ]


def runs_by_id(store: Store) -> dict[str, Run]:
    return {run.id: run for run in store.list_runs(limit=10_000)}


def wait_all_final(store: Store, run_ids: list[str], timeout: float) -> dict[str, Run]:
    def finished() -> dict[str, Run] | None:
        runs = runs_by_id(store)
        return runs if all(runs[r].status.is_final for r in run_ids) else None

    return wait_for(finished, timeout, "every run to end")


def claims(sup: Supervisor) -> Counter[str]:
    """How often each run was claimed by this host's executors, from their logs."""
    counted: Counter[str] = Counter()
    for name in EXECUTORS:
        counted.update(CLAIMED.findall(sup.log_path(name).read_text()))
    return counted


def wait_for_claims(hosts: list[Supervisor], run_ids: set[str]) -> list[Counter[str]]:
    """Each host's claims, once their logs together show ``run_ids`` (supervisord copies a
    program's output into its log a moment after the program wrote it)."""

    def logged() -> list[Counter[str]] | None:
        found = [claims(host) for host in hosts]
        return found if run_ids <= {run for counts in found for run in counts} else None

    return wait_for(logged, 10, "the claims in the executor logs")


def assert_completed_once(
    store: Store, runs: dict[str, Run], run_ids: list[str], steps: int
) -> None:
    for i, run_id in enumerate(run_ids):
        run = runs[run_id]
        assert run.status == RunStatus.COMPLETED, run.error
        assert run.outputs == {"out": [i]}
        assert (run.owner, run.lease_expires_at) == (None, None)
        ends = [e.data["status"] for e in store.events(run_id) if e.type == "run_status"]
        assert ends.count("COMPLETED") == 1 and ends[-1] == "COMPLETED", ends
        nodes = store.node_executions(run_id)
        assert all(n.status == NodeStatus.COMPLETED for n in nodes), run_id
        # One execution per activation, completed exactly once, whoever ran it.
        assert Counter(n.node_id for n in nodes) == {node: 1 for node in node_ids(steps)}


def descendants(parent: int) -> set[int]:
    """Every process below ``parent`` (children, grandchildren, ...), from /proc."""
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, set()).add(int(stat.parent.name))
    found: set[int] = set()
    pending = [parent]
    while pending:
        for child in children.get(pending.pop(), set()) - found:
            found.add(child)
            pending.append(child)
    return found


def kill_host(sup: Supervisor) -> set[int]:
    """SIGKILL supervisord first (so it restarts nothing), then every process under it."""
    program_pids = {info["pid"] for info in sup.all_info() if info["pid"]}
    doomed = descendants(sup.process.pid) | program_pids
    os.kill(sup.process.pid, signal.SIGKILL)
    sup.process.wait()
    for pid in doomed:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(pid) for pid in doomed) or None, UP_TIMEOUT, "host A to die")
    return program_pids


def test_two_hosts_share_the_work_and_finish_a_dead_hosts_runs(database: str, store: Store) -> None:
    # Hosts sharing a database share its encryption key too (a key file is per host).
    env = {**FAST, "BACKEND_DATABASE_URL": database, "BACKEND_ENCRYPTION_KEY": generate_key()}
    with ExitStack() as stack:
        host_a = stack.enter_context(running_supervisord(env=env))
        host_b = stack.enter_context(running_supervisord(env=env))
        assert host_a.env["BACKEND_API_PORT"] != host_b.env["BACKEND_API_PORT"]
        for host in (host_a, host_b):
            host.wait_all("RUNNING", UP_TIMEOUT)
            host.wait_api(UP_TIMEOUT)
        key = api_key(host_a, "tester")
        client_a = stack.enter_context(api(host_a, key))
        client_b = stack.enter_context(api(host_b, key))

        # -- phase 1: 100 runs through both APIs, executed by both hosts ------------------
        short = wait_graph("short", 2, 0.05)
        first = submit([client_a, client_b], short, 100)
        runs = wait_all_final(store, first, 60)
        assert_completed_once(store, runs, first, 2)
        by_a, by_b = wait_for_claims([host_a, host_b], set(first))
        assert by_a and by_b, "both hosts execute work"
        # Every run was claimed by one of them (a heartbeat late on a loaded machine may
        # let a lease lapse and the run move: its nodes still ran once, checked above).
        assert set(by_a + by_b) == set(first)
        # The executors table lists both hosts' executors, by pid.
        registered = {e.pid for e in store.list_executors() if e.state == "RUNNING"}
        for host in (host_a, host_b):
            assert {host.info(name)["pid"] for name in EXECUTORS} <= registered

        # -- phase 2: host A dies mid-run; host B finishes its runs -----------------------
        slow = wait_graph("slow", 4, 0.5)
        second = submit([client_b], slow, 40)
        a_ids = {e.id for e in store.list_executors() if e.pid in _pids(host_a)}
        wait_for(lambda: _mid_run(store, a_ids) or None, UP_TIMEOUT, "host A to be mid-run")
        killed = kill_host(host_a)
        assert not any(pid_alive(pid) for pid in killed | {host_a.process.pid})
        # What A held when it died: frozen until the leases run out (A's heartbeat renewed
        # them at most half a second before the kill).
        held = {
            r.id for r in store.list_runs(status=RunStatus.RUNNING, limit=1000) if r.owner in a_ids
        }
        done_by_a = {
            n.id: n
            for run_id in held
            for n in store.node_executions(run_id)
            if n.status == NodeStatus.COMPLETED
        }
        assert held and done_by_a

        runs = wait_all_final(store, second, 60)
        assert_completed_once(store, runs, second, 4)
        assert store.list_runs(status=RunStatus.RUNNING) == []
        assert store.list_runs(status=RunStatus.QUEUED) == []
        # B took every run A held: each was claimed twice, once by A and once by B.
        wait_for_claims([host_b], held)
        for run_id in held:
            statuses = [e.data["status"] for e in store.events(run_id) if e.type == "run_status"]
            assert statuses.count("RUNNING") == 2, (run_id, statuses)
        # What A had completed stayed as A wrote it: B did not run it again.
        after = {n.id: n for run_id in held for n in store.node_executions(run_id)}
        assert {i: after[i] for i in done_by_a} == done_by_a
        # A node ran again only in a run that changed hands (A's, taken over by B; one
        # that B took before the snapshot above is not in ``held``), never in a run one
        # executor kept from claim to end.
        for run_id in second:
            if any(n.attempt > 1 for n in store.node_executions(run_id)):
                statuses = [
                    e.data["status"] for e in store.events(run_id) if e.type == "run_status"
                ]
                assert statuses.count("RUNNING") >= 2, (run_id, statuses)


def _pids(sup: Supervisor) -> set[int]:
    return {sup.info(name)["pid"] for name in EXECUTORS}


def _mid_run(store: Store, owners: set[str]) -> bool:
    """True once some run owned by ``owners`` has completed a wait node and not ended."""
    for run in store.list_runs(status=RunStatus.RUNNING, limit=1000):
        if run.owner in owners:
            nodes = store.node_executions(run.id)
            if any(n.node_id.startswith("w") and n.status == NodeStatus.COMPLETED for n in nodes):
                return True
    return False

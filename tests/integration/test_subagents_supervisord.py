"""Sub-agent durability under the real supervisord: executors are SIGKILLed while parents
wait and while children run; every parent still completes with its child's outputs, and
the database holds exactly one child run per parent node execution."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from backend.data.execution import RunStatus
from backend.data.graph import Graph, Link, Node
from backend.executor.subagents import child_run_id
from backend.executor.submit import save_graph, submit_run
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT, wait_chain
from tests.supervisor_helpers import Supervisor, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord

ENV = {
    "BACKEND_LEASE_SECONDS": "1",
    "BACKEND_HEARTBEAT_SECONDS": "0.2",
    "BACKEND_POLL_SECONDS": "0.02",
    "BACKEND_SHUTDOWN_GRACE_SECONDS": "1",
    # The test kills executors every few tenths of a second, far faster than any real
    # crash loop: runs hit again and again must not be failed as poison runs here
    # (that is tested on its own).
    "BACKEND_MAX_STALLED_CLAIMS": "1000",
}
KILLS = 15
RUNS = 12


@pytest.fixture
def group() -> Iterator[Supervisor]:
    with running_supervisord(env=ENV) as sup:
        sup.wait_all("RUNNING", 30)
        yield sup


def caller(child: Graph) -> Graph:
    return Graph(
        name="parent",
        nodes=[
            Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}),
            Node(
                id="sub",
                block_id="e189baac-8c20-45a1-94a7-55177ea42565",
                input_default={
                    "graph_id": child.id,
                    "graph_version": child.version,
                    "input_schema": {"properties": {"x": {}}},
                    "output_schema": {"properties": {"out": {}}},
                },
            ),
            Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}),
        ],
        links=[
            Link(source_id="in", source_name="result", sink_id="sub", sink_name="x"),
            Link(source_id="sub", source_name="out", sink_id="out", sink_name="value"),
        ],
    )


def kill_owner(group: Supervisor, depth: int) -> bool:
    """SIGKILL the executor that owns a RUNNING run at ``depth`` (0: a parent, which is
    then waiting on its child; 1: a child); False when there is none right now."""
    with group.store() as store:
        owners = {
            run.owner
            for run in store.list_runs(status=RunStatus.RUNNING, limit=500)
            if run.depth == depth and run.owner
        }
        if depth == 0:
            # Only parents whose child is running: the parent is waiting.
            owners = {
                run.owner
                for run in store.list_runs(status=RunStatus.RUNNING, limit=500)
                if run.depth == 0
                and run.owner in owners
                and any(
                    c.status == RunStatus.RUNNING
                    for c in store.list_runs(parent_run_id=run.id, limit=5)
                )
            }
        pids = {e.pid for e in store.list_executors() if e.id in owners and e.state == "RUNNING"}
    # Only executors supervisord counts as started: killing one still starting would count
    # as a failed start, and a few of those end the program FATAL.
    started = {info["pid"] for info in group.all_info() if info["statename"] == "RUNNING"}
    for pid in pids & started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        return True
    return False


@pytest.mark.timeout(400)
def test_parents_and_children_survive_their_executors_being_killed(group: Supervisor) -> None:
    with group.store() as store:
        child = save_graph(store, "tester", wait_chain(2, 0.3, "child"))
        parent = save_graph(store, "tester", caller(child))
    kills = {0: 0, 1: 0}
    deadline = time.monotonic() + 240
    with group.store() as store:
        run_ids = [submit_run(store, "tester", parent.id, {"x": i}).id for i in range(RUNS)]
    while min(kills.values()) < KILLS:
        assert time.monotonic() < deadline, f"only {kills} kills happened"
        with group.store() as store:
            unfinished = [r for r in run_ids if not store.get_run(r).status.is_final]
            if len(unfinished) < 4:  # keep parents in flight, so there is always work to hit
                run_ids += [
                    submit_run(store, "tester", parent.id, {"x": len(run_ids) + i}).id
                    for i in range(4)
                ]
        depth = 0 if kills[0] <= kills[1] else 1
        if kill_owner(group, depth):
            kills[depth] += 1
            time.sleep(0.3)  # let supervisord restart it and the work move on
        else:
            time.sleep(0.05)

    def all_done() -> bool | None:
        with group.store() as store:
            return all(store.get_run(r).status.is_final for r in run_ids) or None

    wait_for(all_done, 180, "every parent run to end")
    with group.store() as store:
        for i, run_id in enumerate(run_ids):
            run = store.get_run(run_id)
            assert run.status == RunStatus.COMPLETED, (run_id, run.error)
            assert run.outputs == {"out": [i]}
            subs = [ne for ne in store.node_executions(run_id) if ne.node_id == "sub"]
            assert len(subs) == 1  # one activation, whatever re-ran it
            children = store.list_runs(parent_run_id=run_id, limit=10)
            assert [c.id for c in children] == [child_run_id(subs[0].id)]
            assert children[0].status == RunStatus.COMPLETED

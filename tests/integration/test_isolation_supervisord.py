"""An attacker's graphs under the real supervisord: the executors keep their heartbeats,
their memory and their manners, and an innocent run beside them completes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks.basic import StoreValueBlock
from backend.blocks.text import FillTextTemplateBlock, MatchTextPatternBlock
from backend.data.execution import RunStatus
from backend.data.graph import Graph, Link, Node
from backend.executor.submit import cancel_run, save_graph, submit_run
from tests.graphs import CALCULATOR, wait_chain
from tests.supervisor_helpers import Supervisor, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord

ENV = {
    "BACKEND_LEASE_SECONDS": "2",
    "BACKEND_HEARTBEAT_SECONDS": "0.2",
    "BACKEND_POLL_SECONDS": "0.02",
    "BACKEND_MAX_NODE_EXECUTIONS_PER_RUN": "300",
}
UP_TIMEOUT = 30.0
# Pure CPU in a template: two nested loops that print nothing.
SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
EXECUTORS = ("executor_00", "executor_01")


@pytest.fixture
def group() -> Iterator[Supervisor]:
    with running_supervisord(env=ENV) as sup:
        sup.wait_all("RUNNING", UP_TIMEOUT)
        yield sup


def spin_node(node_id: str, timeout: float) -> Node:
    return Node(
        id=node_id,
        block_id=FillTextTemplateBlock.id,
        input_default={"values": {}, "format": SPIN},
        metadata={"timeout_seconds": timeout},
    )


def submit(sup: Supervisor, graph: Graph, inputs: dict[str, Any] | None = None) -> str:
    with sup.store() as store:
        saved = save_graph(store, "mallory", graph)
        return submit_run(store, "mallory", saved.id, inputs or {}).id


def status(sup: Supervisor, run_id: str) -> tuple[RunStatus, str | None]:
    with sup.store() as store:
        run = store.get_run(run_id)
        return run.status, run.error


def wait_final(sup: Supervisor, run_id: str, timeout: float) -> tuple[RunStatus, str | None]:
    return wait_for(
        lambda: found if (found := status(sup, run_id))[0].is_final else None,
        timeout,
        f"run {run_id} to end",
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_attacks_end_failed_while_an_innocent_run_completes(group: Supervisor) -> None:
    regex = Graph(
        nodes=[
            Node(
                id="match",
                block_id=MatchTextPatternBlock.id,
                input_default={"text": "a" * 29 + "b", "match": "(a|a)+$"},
                metadata={"timeout_seconds": 3},
            )
        ]
    )
    spinning = Graph(nodes=[spin_node(f"spin{i}", 3) for i in range(8)])
    huge = Graph(
        nodes=[
            Node(
                id="huge",
                block_id=FillTextTemplateBlock.id,
                input_default={"values": {}, "format": "{{ 'a'.ljust(1500000000)|length }}"},
            )
        ]
    )
    loop = Graph(
        nodes=[
            Node(id="s", block_id=StoreValueBlock.id, input_default={"input": 1}),
            Node(id="a", block_id=StoreValueBlock.id),
        ],
        links=[
            Link(source_id="s", source_name="output", sink_id="a", sink_name="input"),
            Link(source_id="a", source_name="output", sink_id="a", sink_name="input"),
        ],
    )
    bad = {
        name: submit(group, g)
        for name, g in [("regex", regex), ("spin", spinning), ("huge", huge), ("loop", loop)]
    }
    innocent = [submit(group, calculator(i), {"x": 1}) for i in range(5)]

    # While the attacks run, no executor misses its lease: heartbeats stay on time.
    pids = [group.info(name)["pid"] for name in EXECUTORS]
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        with group.store() as store:
            now = time.time()
            for executor in store.list_executors():
                if executor.pid in pids and executor.state == "RUNNING":
                    assert now - executor.heartbeat_at < 2.0, "a heartbeat was late"
        time.sleep(0.2)

    for run_id in innocent:
        assert wait_final(group, run_id, 60)[0] == RunStatus.COMPLETED
    ends = {name: wait_final(group, run_id, 60) for name, run_id in bad.items()}
    assert ends["regex"][0] == RunStatus.FAILED and "timed out after 3 s" in str(ends["regex"][1])
    assert ends["spin"][0] == RunStatus.FAILED and "timed out after 3 s" in str(ends["spin"][1])
    assert ends["huge"][0] == RunStatus.FAILED and "over the limit" in str(ends["huge"][1])
    assert ends["loop"][0] == RunStatus.FAILED
    assert "BACKEND_MAX_NODE_EXECUTIONS_PER_RUN" in str(ends["loop"][1])

    # The executors never grew: the work happened in their block workers.
    for pid in pids:
        assert rss_mb(pid) < 300
    assert (group.data_dir / "backend.db").stat().st_size < 20 * 1024 * 1024
    for name in EXECUTORS:
        log = group.log_path(name).read_text()
        assert "Traceback" not in log and "event loop blocked" not in log


def test_cancel_and_stop_do_not_wait_for_a_spinning_node(group: Supervisor) -> None:
    cancelled = submit(group, Graph(nodes=[spin_node("spin", 60)]))
    wait_for(lambda: status(group, cancelled)[0] == RunStatus.RUNNING or None, 30, "a claim")
    with group.store() as store:
        asked = time.monotonic()
        cancel_run(store, cancelled)
    assert wait_final(group, cancelled, 10)[0] == RunStatus.TERMINATED
    # Within a heartbeat (0.2 s), plus the kill: far from the node's 60 s.
    assert time.monotonic() - asked < 5

    # SIGTERM while a node spins: the executor drains for the grace period (2 s here),
    # hands the run back and exits 0; it does not wait for the node.
    stopped = submit(group, Graph(nodes=[spin_node("spin", 60)]))
    with group.store() as store:
        wait_for(lambda: store.get_run(stopped).owner or None, 30, "a claim")
        owner = store.get_run(stopped).owner
        pid = next(e.pid for e in store.list_executors() if e.id == owner)
    name = next(n for n in EXECUTORS if group.info(n)["pid"] == pid)
    started = time.monotonic()
    assert group.stop(name)
    assert time.monotonic() - started < 10
    assert group.info(name)["exitstatus"] == 0
    # The other executor takes the run over; cancel it there.
    with group.store() as store:
        wait_for(
            lambda: store.get_run(stopped).owner not in (None, owner) or None,
            30,
            "the other executor to claim the run",
        )
        cancel_run(store, stopped)
    assert wait_final(group, stopped, 10)[0] == RunStatus.TERMINATED
    group.start(name)


def calculator(i: int) -> Graph:
    chain = wait_chain(1, 0)
    chain.nodes[1] = Node(id="w0", block_id=CALCULATOR, input_default={"operation": "Add", "b": i})
    chain.links[0] = chain.links[0].model_copy(update={"sink_name": "a"})
    chain.links[1] = chain.links[1].model_copy(update={"source_name": "result"})
    return chain

"""Reading several runs' events at once (the API's one poller per process)."""

from __future__ import annotations

import time
import uuid

from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunWrite
from backend.data.store import Store


def test_events_after_reads_each_run_from_its_own_position(store: Store) -> None:
    runs = []
    for _ in range(3):
        run = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=time.time())
        node = NodeExecution(f"{run.id}-0", run.id, 0, "a", "blk", NodeStatus.QUEUED, {})
        store.submit_run(run, [node], Event(run.id, "run_status", {"status": "QUEUED"}))
        runs.append(run)
    store.claim_runs("ex", 10, time.time(), 60)
    for i in range(3):
        writes = [RunWrite(r.id, [], [Event(r.id, "node_status", {"i": i})]) for r in runs]
        store.save_writes("ex", writes, time.time(), 60)
    a, b, c = runs
    ids = {r.id: [e.id for e in store.events(r.id)] for r in runs}
    found = store.events_after({a.id: 0, b.id: ids[b.id][3], c.id: ids[c.id][-1]})
    assert [e.id for e in found] == sorted(ids[a.id] + ids[b.id][4:])
    assert all(e.type and e.data is not None for e in found)
    # A limit keeps the oldest: each run's events stay a prefix from its position.
    assert [e.id for e in store.events_after({a.id: 0, b.id: 0}, limit=3)] == sorted(
        ids[a.id] + ids[b.id]
    )[:3]
    assert store.events_after({}) == []

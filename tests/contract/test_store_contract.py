"""The store contract: what every driver guarantees, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.data.credentials import CredentialRecord
from backend.data.execution import (
    Event,
    ExecutorInfo,
    NodeExecution,
    NodeStatus,
    Run,
    RunStatus,
    RunWrite,
)
from backend.data.open import open_store
from backend.data.sqlstore import SQLStore
from backend.data.store import Store
from backend.errors import Conflict, LeaseLost, NotFound, SchemaError
from backend.providers.credentials import CredentialsType
from backend.settings import Settings
from tests import pg

LEASE = 30.0


def open_url(url: str) -> Store:
    return open_store(Settings(database_url=url))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_url(database_url)
    store.prepare(auto_migrate=True)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nobody has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with pg.fresh_database("empty") as url:
        yield url


def new_run(store: Store, created_at: float, user: str = "alice", graph: str = "g") -> Run:
    run = Run(str(uuid.uuid4()), graph, 1, user, created_at=created_at)
    node = NodeExecution(
        f"{run.id}-0", run.id, 0, "a", "blk", NodeStatus.QUEUED, {"input": 1}, created_at=created_at
    )
    store.submit_run(run, [node], queued_event(run.id, created_at))
    return run


def queued_event(run_id: str, now: float) -> Event:
    return Event(run_id, "run_status", {"status": "QUEUED"}, created_at=now)


def statuses(store: Store, run_id: str) -> list[str]:
    return [e.data["status"] for e in store.events(run_id) if e.type == "run_status"]


# -- migrations ------------------------------------------------------------------------------


def test_fresh_database_is_migrated_and_again_is_a_no_op(empty_url: str) -> None:
    store = open_url(empty_url)
    try:
        store.prepare(auto_migrate=True)
        assert isinstance(store, SQLStore)
        revision = store.schema_revision()
        store.prepare(auto_migrate=True)
        store.prepare(auto_migrate=False)
        assert store.schema_revision() == revision is not None
        new_run(store, time.time())
    finally:
        store.close()


def test_concurrent_first_starts_migrate_once(empty_url: str) -> None:
    stores = [open_url(empty_url) for _ in range(3)]
    errors: list[BaseException] = []

    def prepare(store: Store) -> None:
        try:
            store.prepare(auto_migrate=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=prepare, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in stores:
        store.close()
    assert errors == []


def test_behind_schema_without_auto_migrate_fails(empty_url: str) -> None:
    store = open_url(empty_url)
    try:
        with pytest.raises(SchemaError, match="agent-server migrate"):
            store.prepare(auto_migrate=False)
    finally:
        store.close()


def test_newer_schema_revision_is_refused(empty_url: str) -> None:
    store = open_url(empty_url)
    try:
        store.prepare(auto_migrate=True)
        assert isinstance(store, SQLStore)
        with store.write() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaError, match="newer than this code"):
            store.prepare(auto_migrate=True)
    finally:
        store.close()


# -- executors ---------------------------------------------------------------------------------


def test_executors_register_beat_and_deregister(store: Store) -> None:
    now = time.time()
    store.register_executor(ExecutorInfo("ex-1", "host-a", 123, "RUNNING", now, now))
    assert store.heartbeat("ex-1", now + 5, LEASE) == {}
    store.deregister_executor("ex-1", now + 6)
    (info,) = store.list_executors()
    assert (info.id, info.state, info.heartbeat_at, info.stopped_at) == (
        "ex-1",
        "STOPPED",
        now + 5,
        now + 6,
    )


def test_dead_executors_of_a_host_are_reaped_and_their_runs_freed(store: Store) -> None:
    now = time.time()
    alive, dead = os.getpid(), 2**22 + 12345
    for ex_id, host, pid in [("live", "h", alive), ("dead", "h", dead), ("other", "h2", dead)]:
        store.register_executor(ExecutorInfo(ex_id, host, pid, "RUNNING", now, now))
    run = new_run(store, now)
    store.claim_runs("dead", 1, now, LEASE)
    assert store.claim_runs("live", 1, now, LEASE) == []
    assert store.reap_dead_executors("h", {alive}, now + 1) == ["dead"]
    states = {e.id: e.state for e in store.list_executors()}
    assert states == {"live": "RUNNING", "dead": "GONE", "other": "RUNNING"}
    (claimed,) = store.claim_runs("live", 1, now + 2, LEASE)
    assert claimed.id == run.id and claimed.owner == "live"


# -- graphs --------------------------------------------------------------------------------------


def test_graph_versions_are_immutable_and_owned(store: Store) -> None:
    now = time.time()
    assert store.save_graph("alice", {"id": "g1", "name": "first", "nodes": []}, now) == 1
    assert store.save_graph("alice", {"id": "g1", "name": "second", "nodes": []}, now) == 2
    assert store.get_graph("alice", "g1")["name"] == "second"
    assert store.get_graph("alice", "g1", 1) == {
        "id": "g1",
        "name": "first",
        "nodes": [],
        "version": 1,
    }
    with pytest.raises(NotFound):
        store.get_graph("bob", "g1")
    with pytest.raises(NotFound):
        store.get_graph("alice", "g1", 3)
    with pytest.raises(NotFound):
        store.save_graph("bob", {"id": "g1", "nodes": []}, now)


@pytest.mark.parametrize("existing", [True, False], ids=["new-versions", "first-save"])
def test_concurrent_saves_of_one_graph_all_get_distinct_versions(
    database_url: str, store: Store, existing: bool
) -> None:
    if existing:
        assert store.save_graph("alice", {"id": "g1", "name": "v1", "nodes": []}, 0.0) == 1
    writers = 6
    start = threading.Barrier(writers)
    versions: list[int] = []
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        own = open_url(database_url)
        try:
            start.wait()
            versions.append(own.save_graph("alice", {"id": "g1", "name": f"w{i}"}, time.time()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    first = 2 if existing else 1
    assert sorted(versions) == list(range(first, first + writers))
    # The active version is the last one saved, whoever won the race.
    assert store.get_graph("alice", "g1")["version"] == max(versions)


# -- submission and claims -------------------------------------------------------------------------


def test_submit_writes_run_nodes_and_event_together(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    assert store.get_run(run.id).status == RunStatus.QUEUED
    assert [(n.node_id, n.status) for n in store.node_executions(run.id)] == [
        ("a", NodeStatus.QUEUED)
    ]
    assert statuses(store, run.id) == ["QUEUED"]
    # A submission that fails part-way leaves nothing behind.
    second = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=now)
    clash = store.node_executions(run.id)[0]
    with pytest.raises(sa.exc.IntegrityError):
        store.submit_run(second, [clash], queued_event(second.id, now))
    with pytest.raises(NotFound):
        store.get_run(second.id)
    assert store.events(second.id) == []


def test_a_runs_request_id_and_traceparent_are_stored_with_it(store: Store) -> None:
    now = time.time()
    traced = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=now)
    traced.request_id = "req-" + "x" * 124  # the longest id the API keeps
    traced.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    node = NodeExecution(f"{traced.id}-0", traced.id, 0, "a", "blk", NodeStatus.QUEUED, {})
    store.submit_run(traced, [node], queued_event(traced.id, now))
    plain = new_run(store, now)
    got = store.get_run(traced.id)
    assert (got.request_id, got.traceparent) == (traced.request_id, traced.traceparent)
    assert (store.get_run(plain.id).request_id, store.get_run(plain.id).traceparent) == (
        None,
        None,
    )
    # A claim hands the executor both.
    claimed = {run.id: run for run in store.claim_runs("exec-1", 10, now, LEASE)}
    assert claimed[traced.id].traceparent == traced.traceparent
    assert claimed[traced.id].request_id == traced.request_id


def test_claim_takes_oldest_first_up_to_the_limit(store: Store) -> None:
    now = time.time()
    runs = [new_run(store, now - 10 + i) for i in range(5)]
    claimed = store.claim_runs("ex-1", 2, now, LEASE)
    assert [r.id for r in claimed] == [runs[0].id, runs[1].id]
    for run in claimed:
        assert (run.status, run.owner, run.lease_expires_at) == (
            RunStatus.RUNNING,
            "ex-1",
            now + LEASE,
        )
        assert run.started_at == now
        assert statuses(store, run.id) == ["QUEUED", "RUNNING"]
    assert [r.id for r in store.claim_runs("ex-2", 10, now, LEASE)] == [r.id for r in runs[2:]]
    assert store.claim_runs("ex-3", 10, now, LEASE) == []


def test_expired_lease_is_reclaimable_and_a_live_one_is_not(store: Store) -> None:
    now = time.time()
    assert not store.has_claimable(now)
    run = new_run(store, now)
    assert store.has_claimable(now)
    store.claim_runs("ex-1", 1, now, 10.0)
    assert not store.has_claimable(now + 9)
    assert store.has_claimable(now + 11)
    assert store.claim_runs("ex-2", 1, now + 9, LEASE) == []
    (taken,) = store.claim_runs("ex-2", 1, now + 11, LEASE)
    assert (taken.id, taken.owner, taken.started_at) == (run.id, "ex-2", now)
    # The heartbeat tells the old owner it no longer owns the run.
    assert store.heartbeat("ex-1", now + 12, LEASE) == {}
    assert store.heartbeat("ex-2", now + 12, LEASE) == {run.id: False}


def test_concurrent_claimers_never_share_a_run(database_url: str, store: Store) -> None:
    now = time.time()
    runs = {new_run(store, now + i * 1e-3).id for i in range(60)}
    start = threading.Barrier(3)
    taken: dict[str, list[str]] = {"ex-1": [], "ex-2": [], "ex-3": []}

    def claimer(owner: str) -> None:
        own = open_url(database_url)
        try:
            start.wait()
            while batch := own.claim_runs(owner, 2, time.time(), LEASE):
                taken[owner].extend(r.id for r in batch)
        finally:
            own.close()

    threads = [threading.Thread(target=claimer, args=(owner,)) for owner in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [run_id for ids in taken.values() for run_id in ids]
    assert sorted(everything) == sorted(runs)
    for run_id in runs:
        assert statuses(store, run_id) == ["QUEUED", "RUNNING"]


# -- fenced writes ---------------------------------------------------------------------------


def node_done(run: Run, now: float, value: object) -> NodeExecution:
    return NodeExecution(
        f"{run.id}-0",
        run.id,
        0,
        "a",
        "blk",
        NodeStatus.COMPLETED,
        {"input": 1},
        [("output", value)],
        attempt=1,
        created_at=now,
        started_at=now,
        ended_at=now,
    )


def test_writes_by_a_non_owner_raise_lease_lost_and_change_nothing(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    (claimed,) = store.claim_runs("ex-1", 1, now, 1.0)
    (claimed,) = store.claim_runs("ex-2", 1, now + 2, LEASE)
    before = (store.get_run(run.id), store.node_executions(run.id), store.events(run.id))
    done = Event(run.id, "node_status", {"status": "COMPLETED"}, created_at=now)
    write = RunWrite(run.id, [node_done(run, now, 1)], [done])
    assert store.save_writes("ex-1", [write], now, LEASE) == {run.id}
    finished = Run(**{**claimed.__dict__, "status": RunStatus.COMPLETED})
    with pytest.raises(LeaseLost):
        store.finish_run("ex-1", finished, [done], now)
    store.release_run("ex-1", run.id, queued_event(run.id, now))  # not its run: a no-op
    after = (store.get_run(run.id), store.node_executions(run.id), store.events(run.id))
    assert after == before


def test_one_batch_commits_owned_runs_and_skips_a_lost_one(store: Store) -> None:
    now = time.time()
    kept, taken = new_run(store, now), new_run(store, now + 1)
    store.claim_runs("ex-1", 2, now + 2, LEASE)
    # An executor reclaimed `taken` (its lease looked expired from there).
    with store.write() as conn:
        conn.execute(
            sa.text("UPDATE graph_executions SET owner = 'ex-2' WHERE id = :id"), {"id": taken.id}
        )
    before = (store.node_executions(taken.id), store.events(taken.id))
    writes = [
        RunWrite(run.id, [node_done(run, now, run.id)], [Event(run.id, "node_status", {}, 0, now)])
        for run in (kept, taken)
    ]
    assert store.save_writes("ex-1", writes, now + 3, LEASE) == {taken.id}
    assert [n.output_data for n in store.node_executions(kept.id)] == [[("output", kept.id)]]
    assert store.events(kept.id)[-1].type == "node_status"
    assert (store.node_executions(taken.id), store.events(taken.id)) == before


def test_owner_writes_renew_the_lease_and_keep_output_order(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    store.claim_runs("ex-1", 1, now, LEASE)
    values = [{"deep": ["ü", 1.5, None, True]}, math.inf, "plain"]
    node = node_done(run, now, None)
    node.output_data = [("output", value) for value in values]
    event = Event(run.id, "node_status", {"status": "COMPLETED"}, created_at=now)
    assert store.save_writes("ex-1", [RunWrite(run.id, [node], [event])], now + 3, LEASE) == set()
    assert store.get_run(run.id).lease_expires_at == now + 3 + LEASE
    (saved,) = store.node_executions(run.id)
    assert saved.status == NodeStatus.COMPLETED and saved.attempt == 1
    got = [value for _, value in saved.output_data]
    assert got[0] == values[0] and got[2] == "plain"
    # JSON has no Infinity (nor PostgreSQL's json type): every driver stores null.
    assert got[1] is None


def test_finish_ends_the_run_and_frees_it(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    (claimed,) = store.claim_runs("ex-1", 1, now, LEASE)
    claimed.status, claimed.outputs, claimed.error = RunStatus.FAILED, {"out": [1]}, "boom"
    ended = Event(run.id, "run_status", {"status": "FAILED"}, created_at=now + 1)
    store.finish_run("ex-1", claimed, [ended], now + 1)
    done = store.get_run(run.id)
    assert (done.status, done.outputs, done.error, done.ended_at) == (
        RunStatus.FAILED,
        {"out": [1]},
        "boom",
        now + 1,
    )
    assert (done.owner, done.lease_expires_at) == (None, None)
    assert statuses(store, run.id) == ["QUEUED", "RUNNING", "FAILED"]
    assert store.claim_runs("ex-2", 1, now + 100, LEASE) == []
    with pytest.raises(Conflict):
        store.request_cancel(run.id, now + 2)


def test_claim_with_state_returns_each_runs_nodes_in_order(store: Store) -> None:
    now = time.time()
    first, second = new_run(store, now - 2), new_run(store, now - 1)
    store.claim_runs("ex-1", 1, now, 1.0)  # first's lease lapses; ex-2 takes both
    store.save_writes("ex-1", [RunWrite(first.id, [node_done(first, now, "x")], [])], now, 1.0)
    later = NodeExecution(f"{first.id}-1", first.id, 1, "b", "blk", NodeStatus.QUEUED, {})
    store.save_writes("ex-1", [RunWrite(first.id, [later], [])], now, 1.0)
    claimed = store.claim_runs_with_state("ex-2", 10, now + 2, LEASE)
    assert [(run.id, run.owner) for run, _ in claimed] == [(first.id, "ex-2"), (second.id, "ex-2")]
    assert [[(n.node_id, n.status) for n in nodes] for _, nodes in claimed] == [
        [("a", NodeStatus.COMPLETED), ("b", NodeStatus.QUEUED)],
        [("a", NodeStatus.QUEUED)],
    ]
    assert claimed[0][1] == store.node_executions(first.id)
    assert store.claim_runs_with_state("ex-3", 10, now + 2, LEASE) == []


def test_a_write_with_finish_ends_the_run_with_its_last_nodes(store: Store) -> None:
    now = time.time()
    run, lost = new_run(store, now), new_run(store, now + 1)
    (claimed,), _ = (
        store.claim_runs("ex-1", 1, now + 2, LEASE),
        store.claim_runs("ex-2", 1, now + 2, LEASE),
    )
    claimed.status, claimed.outputs = RunStatus.COMPLETED, {"out": ["x"]}
    ended = Event(run.id, "run_status", {"status": "COMPLETED"}, created_at=now + 3)
    other = Run(**{**store.get_run(lost.id).__dict__, "status": RunStatus.COMPLETED})
    writes = [
        RunWrite(run.id, [node_done(run, now, "x")], [ended], finish=claimed),
        # Not ex-1's run: neither its nodes nor its end are written.
        RunWrite(lost.id, [node_done(lost, now, "y")], [], finish=other),
    ]
    assert store.save_writes("ex-1", writes, now + 3, LEASE) == {lost.id}
    done = store.get_run(run.id)
    assert (done.status, done.outputs, done.ended_at, done.owner) == (
        RunStatus.COMPLETED,
        {"out": ["x"]},
        now + 3,
        None,
    )
    assert [n.status for n in store.node_executions(run.id)] == [NodeStatus.COMPLETED]
    assert statuses(store, run.id) == ["QUEUED", "RUNNING", "COMPLETED"]
    assert store.get_run(lost.id).status == RunStatus.RUNNING
    assert [n.status for n in store.node_executions(lost.id)] == [NodeStatus.QUEUED]


def test_release_hands_the_run_to_the_next_claimer_at_once(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    store.claim_runs("ex-1", 1, now, LEASE)
    store.release_run("ex-1", run.id, queued_event(run.id, now + 1))
    released = store.get_run(run.id)
    assert (released.status, released.owner, released.lease_expires_at) == (
        RunStatus.QUEUED,
        None,
        None,
    )
    (again,) = store.claim_runs("ex-2", 1, now + 1, LEASE)
    assert again.owner == "ex-2"
    assert statuses(store, run.id) == ["QUEUED", "RUNNING", "QUEUED", "RUNNING"]


def test_cancel_terminates_a_queued_run_and_flags_a_running_one(store: Store) -> None:
    now = time.time()
    running, queued = new_run(store, now), new_run(store, now + 1)
    (claimed,) = store.claim_runs("ex-1", 1, now + 2, LEASE)
    assert claimed.id == running.id
    terminated = store.request_cancel(queued.id, now + 3)
    assert terminated.status == RunStatus.TERMINATED and terminated.ended_at == now + 3
    assert [n.status for n in store.node_executions(queued.id)] == [NodeStatus.TERMINATED]
    assert statuses(store, queued.id) == ["QUEUED", "TERMINATED"]
    flagged = store.request_cancel(running.id, now + 3)
    assert (flagged.status, flagged.cancel_requested) == (RunStatus.RUNNING, True)
    # The owner learns of it from its heartbeat (or sooner, where the store pushes).
    assert store.heartbeat("ex-1", now + 4, LEASE) == {running.id: True}
    with pytest.raises(Conflict):
        store.request_cancel(queued.id, now + 5)
    with pytest.raises(NotFound):
        store.request_cancel("no-such-run", now)


# -- reading -------------------------------------------------------------------------------


def test_events_are_ordered_and_paged(store: Store) -> None:
    now = time.time()
    run = new_run(store, now)
    store.claim_runs("ex-1", 1, now, LEASE)
    batch = [Event(run.id, "node_status", {"i": i}, created_at=now) for i in range(10)]
    assert store.save_writes("ex-1", [RunWrite(run.id, [], batch)], now, LEASE) == set()
    events = store.events(run.id)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert [e.data.get("i") for e in events[2:]] == list(range(10))
    page = store.events(run.id, after_id=events[3].id, limit=4)
    assert page == events[4:8]


def test_list_runs_newest_first_with_filters_and_before(store: Store) -> None:
    now = time.time()
    runs = [new_run(store, now + i, graph="g" if i % 2 else "h") for i in range(7)]
    new_run(store, now, user="bob")
    newest = list(reversed(runs))
    assert store.list_runs("alice", limit=100) == [store.get_run(r.id) for r in newest]
    first = store.list_runs("alice", limit=3)
    last = first[-1]
    rest = store.list_runs("alice", limit=100, before=(last.created_at, last.id))
    assert [r.id for r in first + rest] == [r.id for r in newest]
    assert {r.graph_id for r in store.list_runs("alice", graph_id="g")} == {"g"}
    store.claim_runs("ex-1", 1, now + 100, LEASE)
    assert [r.id for r in store.list_runs(status=RunStatus.RUNNING)] == [runs[0].id]


# -- credentials -----------------------------------------------------------------------------------


def credential(user: str, provider: str = "openai", created_at: float = 1.0) -> CredentialRecord:
    return CredentialRecord(
        id=str(uuid.uuid4()),
        user_id=user,
        provider=provider,
        type=CredentialsType.API_KEY,
        title=f"{user}'s {provider}",
        hint="sk-...abcd",
        created_at=created_at,
        updated_at=created_at,
        scopes=("chat",),
    )


def test_credentials_are_stored_listed_and_deleted_per_user(store: Store) -> None:
    first, second = credential("alice", created_at=1.0), credential("alice", "anthropic", 2.0)
    others = credential("bob")
    for record, secret in [(first, "token-1"), (second, "token-2"), (others, "token-3")]:
        store.create_credentials(record, secret)

    assert store.list_credentials("alice") == [first, second]
    assert store.list_credentials("alice", provider="anthropic") == [second]
    assert store.get_credentials("alice", first.id) == first
    assert store.get_credentials_secret("alice", first.id) == (first, "token-1")
    assert (store.count_credentials("alice"), store.count_credentials()) == (2, 3)
    assert store.has_credentials("alice", "openai")
    assert not store.has_credentials("alice", "open_router")

    store.delete_credentials("alice", first.id)
    assert store.list_credentials("alice") == [second]
    with pytest.raises(NotFound):
        store.get_credentials("alice", first.id)
    with pytest.raises(NotFound):
        store.delete_credentials("alice", first.id)


def test_another_users_credentials_are_not_found(store: Store) -> None:
    record = credential("alice")
    store.create_credentials(record, "token")
    assert store.list_credentials("bob") == []
    assert not store.has_credentials("bob", "openai")
    for lookup in (store.get_credentials, store.get_credentials_secret, store.delete_credentials):
        with pytest.raises(NotFound, match=f"credentials {record.id} not found"):
            lookup("bob", record.id)
    assert store.get_credentials("alice", record.id) == record


def test_one_executor_at_a_time_holds_a_credentials_refresh_lease(store: Store) -> None:
    record = credential("alice")
    store.create_credentials(record, "token")

    assert store.claim_credentials_refresh("alice", record.id, "exec-a", 10.0, 40.0)
    assert not store.claim_credentials_refresh("alice", record.id, "exec-b", 11.0, 41.0)
    store.release_credentials_refresh("alice", record.id, "exec-b")  # not its lease
    assert not store.claim_credentials_refresh("alice", record.id, "exec-b", 12.0, 42.0)
    # A holder that died: its lease runs out and another executor takes it.
    assert store.claim_credentials_refresh("alice", record.id, "exec-b", 40.0, 70.0)
    store.release_credentials_refresh("alice", record.id, "exec-b")
    assert store.claim_credentials_refresh("alice", record.id, "exec-c", 41.0, 71.0)
    # Another user's credential, or one that is gone, has no lease to give.
    assert not store.claim_credentials_refresh("bob", record.id, "exec-d", 99.0, 130.0)
    assert not store.claim_credentials_refresh("alice", "missing", "exec-d", 99.0, 130.0)
    assert store.get_credentials("alice", record.id) == record


def test_of_many_claims_at_once_one_wins(database_url: str, store: Store) -> None:
    record = credential("alice")
    store.create_credentials(record, "token")
    claims = 4
    barrier = threading.Barrier(claims)
    won: list[str] = []

    def claim(i: int) -> None:
        other = open_url(database_url)
        try:
            barrier.wait(timeout=10)
            if other.claim_credentials_refresh("alice", record.id, f"exec-{i}", 5.0, 35.0):
                won.append(f"exec-{i}")
        finally:
            other.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(claims)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1


def test_the_encryption_check_is_written_once(database_url: str, store: Store) -> None:
    assert store.encryption_check() is None
    starts = 4
    barrier = threading.Barrier(starts)
    stored: list[str] = []

    def start(i: int) -> None:
        own = open_url(database_url)
        try:
            barrier.wait()
            stored.append(own.init_encryption_check(f"check-{i}", time.time()))
        finally:
            own.close()

    threads = [threading.Thread(target=start, args=(i,)) for i in range(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # Every start got the one value that won back, whichever it was.
    assert len(stored) == starts and len(set(stored)) == 1
    assert store.encryption_check() == stored[0]


def test_reencrypting_rewrites_every_secret_and_the_check(store: Store) -> None:
    records = [credential("alice"), credential("bob")]
    for record in records:
        store.create_credentials(record, f"old:{record.id}")
    store.init_encryption_check("old:check", 1.0)

    assert store.reencrypt_secrets(lambda token: token.replace("old:", "new:"), 2.0) == 2

    for record in records:
        assert store.get_credentials_secret(record.user_id, record.id)[1] == f"new:{record.id}"
    assert store.encryption_check() == "new:check"


def test_a_failing_reencryption_changes_nothing(store: Store) -> None:
    records = [credential("alice"), credential("bob")]
    for record in records:
        store.create_credentials(record, "old")
    calls: list[str] = []

    def rewrap(token: str) -> str:
        calls.append(token)
        if len(calls) == 2:
            raise ValueError("cannot decrypt")
        return "new"

    with pytest.raises(ValueError):
        store.reencrypt_secrets(rewrap, 2.0)
    assert [store.get_credentials_secret(r.user_id, r.id)[1] for r in records] == ["old", "old"]

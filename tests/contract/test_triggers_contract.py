"""The store's trigger contract on SQLite and PostgreSQL: schedules and their
compare-and-set, keyed submits (one run per key, even racing), hooks, and the schema."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from backend.data import schema as t
from backend.data.execution import Event, NodeExecution, NodeStatus, Run
from backend.data.hooks import HookAuth, HookRecord
from backend.data.open import open_store
from backend.data.run_keys import RateLimit, RunKey
from backend.data.schedules import MisfirePolicy, ScheduleAdvance, ScheduleRecord
from backend.data.sqlstore import SQLStore
from backend.data.store import Store
from backend.errors import Conflict, NotFound, RateLimited, ScheduleMoved
from backend.settings import Settings

RACERS = 6


def schedule(user: str = "alice", **fields: object) -> ScheduleRecord:
    record = ScheduleRecord(
        id=str(uuid.uuid4()),
        user_id=user,
        graph_id="g",
        graph_version=None,
        cron="* * * * *",
        timezone="UTC",
        next_fire_at=60.0,
        created_at=1.0,
        updated_at=1.0,
        inputs={"x": 1},
    )
    return replace(record, **fields)  # type: ignore[arg-type]


def new_run(user: str = "alice") -> tuple[Run, list[NodeExecution], Event]:
    run = Run(str(uuid.uuid4()), "g", 1, user, created_at=time.time())
    node = NodeExecution(f"{run.id}-0", run.id, 0, "a", "blk", NodeStatus.QUEUED)
    return run, [node], Event(run.id, "run_status", {"status": "QUEUED"}, created_at=run.created_at)


def key(name: str, fingerprint: str = "f", **fields: object) -> RunKey:
    return replace(RunKey("alice", "execute", name, fingerprint), **fields)  # type: ignore[arg-type]


def run_ids(store: Store) -> list[str]:
    return [run.id for run in store.list_runs(limit=200)]


# -- schema ---------------------------------------------------------------------------------


def test_the_migrated_schema_is_the_one_the_code_declares(store: Store) -> None:
    assert isinstance(store, SQLStore)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []


# -- schedules ----------------------------------------------------------------------------------


def test_schedules_are_their_users_own(store: Store) -> None:
    mine, theirs = schedule(), schedule("bob")
    store.create_schedule(mine)
    store.create_schedule(theirs)
    assert store.get_schedule("alice", mine.id) == mine
    assert [s.id for s in store.list_schedules("alice")] == [mine.id]
    for call in (
        lambda: store.get_schedule("bob", mine.id),
        lambda: store.update_schedule(replace(mine, user_id="bob")),
        lambda: store.delete_schedule("bob", mine.id),
    ):
        with pytest.raises(NotFound):
            call()
    updated = store.update_schedule(replace(mine, misfire=MisfirePolicy.EACH, name="n"))
    assert updated.revision == mine.revision + 1
    assert store.get_schedule("alice", mine.id) == updated
    store.delete_schedule("alice", mine.id)
    assert store.list_schedules("alice") == []


def test_due_schedules_are_the_enabled_ones_whose_time_came(store: Store) -> None:
    soon, later, paused = (
        schedule(next_fire_at=10.0),
        schedule(next_fire_at=20.0),
        schedule(next_fire_at=5.0, enabled=False),
    )
    for record in (later, soon, paused):
        store.create_schedule(record)
    assert [s.id for s in store.due_schedules(15.0, 10)] == [soon.id]
    assert [s.id for s in store.due_schedules(25.0, 10)] == [soon.id, later.id]
    assert store.due_schedules(25.0, 1) == [soon]
    assert store.next_fire_time() == 10.0


def test_a_slot_fires_with_its_schedule_moving_on_or_not_at_all(store: Store) -> None:
    record = schedule()
    store.create_schedule(record)
    run, nodes, event = new_run()
    slot = RunKey("alice", f"schedule:{record.id}", "60", "slot")
    advance = ScheduleAdvance(record.id, record.revision, 120.0, 61.0, slot=60.0)
    assert store.submit_run(run, nodes, event, slot, advance) == run.id
    fired = store.get_schedule("alice", record.id)
    assert (fired.next_fire_at, fired.last_slot_at, fired.last_run_id) == (120.0, 60.0, run.id)
    assert fired.revision == record.revision + 1

    # A second scheduler that read the schedule before: nothing is written at all.
    other, other_nodes, other_event = new_run()
    with pytest.raises(ScheduleMoved):
        store.submit_run(other, other_nodes, other_event, slot, advance)
    assert run_ids(store) == [run.id]
    assert store.get_schedule("alice", record.id) == fired
    # The slot's key holds even against a schedule moved back by hand.
    again = ScheduleAdvance(record.id, fired.revision, 120.0, 62.0, slot=60.0)
    assert store.submit_run(other, other_nodes, other_event, slot, again) == run.id
    assert run_ids(store) == [run.id]


def race(database_url: str, attempt: Callable[[Store], str]) -> list[str]:
    """``attempt`` from RACERS threads at once, each on a store of its own; the answers."""
    barrier = threading.Barrier(RACERS)
    answers: list[str] = []

    def one() -> None:
        own = open_store(Settings(database_url=database_url))
        try:
            barrier.wait()
            answers.append(attempt(own))
        finally:
            own.close()

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == RACERS
    return answers


def test_racing_schedulers_fire_a_slot_once(database_url: str, store: Store) -> None:
    record = schedule()
    store.create_schedule(record)

    def fire(own: Store) -> str:
        slot = RunKey("alice", f"schedule:{record.id}", "60", "slot")
        advance = ScheduleAdvance(record.id, record.revision, 120.0, 61.0, slot=60.0)
        try:
            return own.submit_run(*new_run(), slot, advance)
        except ScheduleMoved:
            return "moved"

    outcomes = race(database_url, fire)
    assert outcomes.count("moved") == RACERS - 1
    assert run_ids(store) == [o for o in outcomes if o != "moved"]


def test_advancing_without_a_run_is_compared_and_set(store: Store) -> None:
    record = schedule()
    store.create_schedule(record)
    advance = ScheduleAdvance(record.id, record.revision, 180.0, 170.0, error="skipped")
    assert store.advance_schedule(advance) is True
    assert store.advance_schedule(advance) is False
    moved = store.get_schedule("alice", record.id)
    assert (moved.next_fire_at, moved.last_error, moved.last_run_id) == (180.0, "skipped", None)
    assert store.advance_schedule(replace(advance, revision=moved.revision, disable=True))
    assert store.get_schedule("alice", record.id).enabled is False


# -- run keys ---------------------------------------------------------------------------------


def test_a_key_returns_its_first_run_until_it_expires(store: Store) -> None:
    first = new_run()
    assert store.submit_run(*first, key("k", expires_at=time.time() + 60)) == first[0].id
    assert store.submit_run(*new_run(), key("k", expires_at=time.time() + 60)) == first[0].id
    with pytest.raises(Conflict):
        store.submit_run(*new_run(), key("k", "another request"))
    # Per user: bob's key of the same name is his own.
    bobs = new_run("bob")
    assert store.submit_run(*bobs, replace(key("k"), user_id="bob")) == bobs[0].id
    expired = new_run()
    assert store.submit_run(*expired, key("old", expires_at=time.time() - 1)) == expired[0].id
    fresh = new_run()
    assert store.submit_run(*fresh, key("old")) == fresh[0].id
    assert store.purge_run_keys(time.time()) == 0
    assert len(run_ids(store)) == 4


def test_racing_submits_with_one_key_start_one_run(database_url: str, store: Store) -> None:
    answers = race(database_url, lambda own: own.submit_run(*new_run(), key("race")))
    assert len(set(answers)) == 1
    assert run_ids(store) == answers[:1]


def test_a_scope_over_its_rate_is_refused_until_the_window_passes(store: Store) -> None:
    rate = RateLimit(2, 60.0)
    for name in ("a", "b"):
        store.submit_run(*new_run(), key(name, scope="hook:h", rate=rate))
    with pytest.raises(RateLimited) as refused:
        store.submit_run(*new_run(), key("c", scope="hook:h", rate=rate))
    assert 0 < refused.value.retry_after <= 60
    # Another scope counts apart, and a known key is answered whatever the rate.
    store.submit_run(*new_run(), key("c", scope="hook:other", rate=rate))
    assert store.submit_run(*new_run(), key("a", scope="hook:h", rate=rate)) in run_ids(store)
    assert len(run_ids(store)) == 3


def test_expired_keys_are_purged(store: Store) -> None:
    store.submit_run(*new_run(), key("gone", expires_at=10.0))
    store.submit_run(*new_run(), key("kept", expires_at=time.time() + 60))
    store.submit_run(*new_run(), key("forever"))
    assert store.purge_run_keys(time.time()) == 1


# -- hooks ------------------------------------------------------------------------------------


def hook(user: str = "alice") -> HookRecord:
    return HookRecord(f"hk_{uuid.uuid4().hex}", user, "g", None, "event", HookAuth.HMAC, 1.0, 1.0)


def test_hooks_are_their_users_own_and_delivery_finds_them_by_id(store: Store) -> None:
    mine = hook()
    store.create_hook(mine, "encrypted")
    assert store.get_hook("alice", mine.id) == mine
    assert store.get_hook_for_delivery(mine.id) == (mine, "encrypted")
    with pytest.raises(NotFound):
        store.get_hook("bob", mine.id)
    with pytest.raises(NotFound):
        store.update_hook(replace(mine, user_id="bob", enabled=False))
    store.update_hook(replace(mine, enabled=False, name="off"))
    assert store.get_hook("alice", mine.id).enabled is False
    assert [h.id for h in store.list_hooks("alice", "g")] == [mine.id]
    assert store.list_hooks("bob") == []
    store.delete_hook("alice", mine.id)
    with pytest.raises(NotFound):
        store.get_hook_for_delivery(mine.id)


def test_reencrypting_rewrites_hook_secrets_too(store: Store) -> None:
    store.create_hook(hook(), "old:hook")
    store.init_encryption_check("old:check", 1.0)
    assert store.reencrypt_secrets(lambda token: token.replace("old:", "new:"), 2.0) == 1
    [record] = store.list_hooks("alice")
    assert store.get_hook_for_delivery(record.id)[1] == "new:hook"


def test_reused_node_executions_keep_their_marker(store: Store) -> None:
    run, nodes, event = new_run()
    nodes[0].reused_from = "earlier-exec"
    store.submit_run(run, nodes, event)
    assert store.node_executions(run.id)[0].reused_from == "earlier-exec"

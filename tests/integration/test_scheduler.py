"""The Scheduler on each database, on a clock the test sets: misfire policies after a
5-minute stop, a scheduler dying on either side of a commit, two sharing one database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from backend.data.open import open_store
from backend.data.schedules import MisfirePolicy
from backend.data.store import Store
from backend.executor.limits import Limits
from backend.executor.submit import save_graph
from backend.schedules.manage import ScheduleSpec, create_schedule
from backend.schedules.process import Scheduler
from backend.settings import Settings
from tests.graphs import fast_settings, wait_chain

MINUTE = 60.0


class Killed(Exception):
    """Where the test stops a scheduler, as SIGKILL would."""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return fast_settings(tmp_path, database_url=database_url)


def minutely(store: Store, policy: MisfirePolicy) -> Any:
    graph = save_graph(store, "alice", wait_chain(1, 0))
    spec = ScheduleSpec(cron="* * * * *", inputs={"x": 1}, misfire=policy)
    return create_schedule(store, "alice", graph.id, spec, Limits())


def serve(settings: Settings, store: Store, now: float) -> int:
    return Scheduler(settings, clock=lambda: now, store=store).serve(until_idle=True)


def run_count(store: Store) -> int:
    return len(store.list_runs(user_id="alice", limit=1000))


@pytest.mark.parametrize(
    ("policy", "runs"),
    [(MisfirePolicy.SKIP, 2), (MisfirePolicy.ONCE, 3), (MisfirePolicy.EACH, 7)],
)
def test_after_a_five_minute_stop_missed_slots_follow_the_policy(
    settings: Settings, store: Store, policy: MisfirePolicy, runs: int
) -> None:
    record = minutely(store, policy)
    first = record.next_fire_at
    assert serve(settings, store, first + 1) == 1
    # Stopped for 5 minutes: back 20 s after the slot at first + 6 min.
    back = first + 6 * MINUTE + 20
    assert serve(settings, store, back) == runs - 1
    assert run_count(store) == runs
    after = store.get_schedule("alice", record.id)
    assert after.next_fire_at == first + 7 * MINUTE
    assert after.last_slot_at == (first + 6 * MINUTE)
    # Once caught up, nothing more until the next slot.
    assert serve(settings, store, back + 10) == 0


def test_each_catches_up_only_the_most_recent_slots(settings: Settings, store: Store) -> None:
    record = minutely(store, MisfirePolicy.EACH)
    bounded = settings.model_copy(update={"scheduler_max_catchup": 3})
    assert serve(bounded, store, record.next_fire_at + 10 * MINUTE) == 3
    assert store.get_schedule("alice", record.id).next_fire_at == record.next_fire_at + 11 * MINUTE


class DyingStore:
    """The real store, with a scheduler that dies just before or just after the commit
    that fires a slot."""

    def __init__(self, store: Store, after_commit: bool) -> None:
        self._store = store
        self.after_commit = after_commit

    def submit_run(self, *args: Any) -> str:
        if not self.after_commit:
            raise Killed("before the commit")
        self._store.submit_run(*args)
        raise Killed("after the commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("after_commit", [False, True])
def test_a_scheduler_killed_around_the_commit_neither_loses_nor_doubles_the_slot(
    settings: Settings, store: Store, after_commit: bool
) -> None:
    record = minutely(store, MisfirePolicy.EACH)
    slot = record.next_fire_at
    dying = Scheduler(settings, clock=lambda: slot, store=DyingStore(store, after_commit))  # type: ignore[arg-type]
    with pytest.raises(Killed):
        dying.serve(until_idle=True)
    assert run_count(store) == (1 if after_commit else 0)
    # Its successor (or the other scheduler) finds the slot fired, or fires it.
    serve(settings, store, slot + 5)
    assert run_count(store) == 1
    assert store.get_schedule("alice", record.id).next_fire_at == slot + MINUTE


def test_two_schedulers_on_one_database_fire_each_slot_once(
    settings: Settings, store: Store
) -> None:
    records = [minutely(store, MisfirePolicy.EACH) for _ in range(3)]
    start = min(r.next_fire_at for r in records)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def scheduler() -> None:
        own = open_store(settings)
        try:
            barrier.wait()
            results.append(serve(settings, own, start + 30 * MINUTE))
        finally:
            own.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # 31 slots each (start .. start + 30 min), each fired by one of the two.
    assert sum(results) == run_count(store) == 3 * 31

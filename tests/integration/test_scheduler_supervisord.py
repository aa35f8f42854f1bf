"""The one long test: two schedulers under a real supervisord on one SQLite file, and two
more under another on PostgreSQL, fire an every-second schedule for 60 s while the test
SIGKILLs them at random. Every slot must have fired exactly once: checked in the database,
where the slot is the run's unique key."""

from __future__ import annotations

import os
import random
import signal
import time
from contextlib import ExitStack, suppress
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa

from backend.data import schema as t
from backend.data.open import open_store
from backend.data.schedules import MisfirePolicy
from backend.data.sqlstore import SQLStore
from backend.executor.limits import Limits
from backend.executor.submit import save_graph
from backend.schedules.manage import ScheduleSpec, create_schedule
from backend.settings import Settings
from tests import pg
from tests.graphs import wait_chain
from tests.supervisor_helpers import Supervisor, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord

DURATION_SECONDS = 60.0
UP_TIMEOUT = 60.0
# Only schedulers: the runs they start stay QUEUED, which is all this test looks at.
OVERRIDES = {
    "program:executor": None,
    "program:rest": None,
    "program:scheduler": {"numprocs": "2"},
}
ENV = {"BACKEND_SCHEDULER_POLL_SECONDS": "0.2"}
SCHEDULERS = ("scheduler_00", "scheduler_01")


def schedule_every_second(store: SQLStore) -> tuple[str, float]:
    """A schedule firing every second from now on (each missed slot caught up)."""
    graph = save_graph(store, "alice", wait_chain(1, 0))
    spec = ScheduleSpec(cron="* * * * * *", inputs={"x": 1}, misfire=MisfirePolicy.EACH)
    record = create_schedule(store, "alice", graph.id, spec, Limits())
    return record.id, record.next_fire_at


def fired(store: SQLStore, schedule_id: str) -> tuple[list[int], int]:
    """The slots keyed in the database, and how many runs exist."""
    rk, ge = t.run_keys, t.graph_executions
    with store.engine.connect() as conn:
        keys = conn.execute(
            sa.select(rk.c.key, rk.c.run_id).where(rk.c.scope == f"schedule:{schedule_id}")
        ).all()
        runs = conn.execute(sa.select(sa.func.count()).select_from(ge)).scalar_one()
    slots = [int(key.rsplit(":", 1)[1]) for key, _ in keys]
    assert len({run_id for _, run_id in keys}) == len(keys)
    return sorted(slots), int(runs)


def kill_one_at_random(groups: list[Supervisor], rng: random.Random) -> dict[str, Any] | None:
    """SIGKILL one RUNNING scheduler of either group (one still starting is left alone:
    supervisord would count its death as a failed start)."""
    running = [
        (sup, info)
        for sup in groups
        for info in sup.all_info()
        if info["statename"] == "RUNNING" and info["pid"]
    ]
    if not running:
        return None
    _, info = rng.choice(running)
    with suppress(ProcessLookupError):  # it may just have exited: its log will tell why
        os.kill(info["pid"], signal.SIGKILL)
    return info


def caught_up(store: SQLStore, schedule_id: str, slot: int) -> bool | None:
    return (store.get_schedule("alice", schedule_id).last_slot_at or 0) >= slot or None


def crashes(sup: Supervisor) -> list[str]:
    """Lines of the schedulers' logs that tell of anything but being killed."""
    return [
        line
        for name in SCHEDULERS
        for line in sup.log_path(name).read_text(errors="replace").splitlines()
        if "Traceback" in line or "crashed" in line or " ERROR " in line
    ]


@pytest.mark.timeout(300)
def test_every_second_for_a_minute_with_random_kills_fires_each_slot_once() -> None:
    rng = random.Random(20261202)
    with ExitStack() as stack:
        pg_url = stack.enter_context(pg.fresh_database("schedulers"))
        sqlite_group = stack.enter_context(running_supervisord(ENV, OVERRIDES))
        pg_env = {**ENV, "BACKEND_DATABASE_URL": pg_url}
        pg_group = stack.enter_context(running_supervisord(pg_env, OVERRIDES))
        groups = [sqlite_group, pg_group]
        for sup in groups:
            for name in SCHEDULERS:
                sup.wait_state(name, "RUNNING", UP_TIMEOUT)
        pg_store = open_store(Settings(database_url=pg_url))
        stack.callback(pg_store.close)
        stores: list[SQLStore] = [stack.enter_context(sqlite_group.store())]
        assert isinstance(pg_store, SQLStore)
        stores.append(pg_store)
        # RUNNING means up for startsecs; on a loaded machine one may still be migrating.
        wait_for(lambda: pg_store.schema_is_current() or None, UP_TIMEOUT, "the migration")
        schedules = [schedule_every_second(s) for s in stores]

        kills = 0
        end = time.time() + DURATION_SECONDS
        while time.time() < end:
            time.sleep(rng.uniform(0.5, 3.0))
            if kill_one_at_random(groups, rng) is not None:
                kills += 1
        last_slot = int(time.time()) - 1
        assert kills >= 10

        for store, (schedule_id, first_slot) in zip(stores, schedules, strict=True):
            # Restarted schedulers catch up every slot up to the end of the killing.
            wait_for(
                partial(caught_up, store, schedule_id, last_slot),
                UP_TIMEOUT,
                "the schedulers to catch up",
            )
            # Paused so the counts below stop moving.
            store.update_schedule(replace(store.get_schedule("alice", schedule_id), enabled=False))
            slots, runs = fired(store, schedule_id)
            expected = list(range(int(first_slot), slots[-1] + 1))
            assert slots == expected, f"missing {sorted(set(expected) - set(slots))}"
            assert runs == len(slots)
            assert slots[-1] >= last_slot and len(slots) >= DURATION_SECONDS
        for sup in groups:
            assert crashes(sup) == []

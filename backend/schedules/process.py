"""Scheduler: the process that fires schedules' slots (backend/scheduler.py starts it).

One loop: read the due schedules, plan each one's slots (misfire.py), and fire every
step in one transaction: the run, keyed by (schedule, slot), and the schedule's next
fire time, compared-and-set on its revision. Any number of schedulers may share one
database (several on one host, on several VMs sharing PostgreSQL): whoever commits a
step first fires it, the others find the schedule moved and read it again; the slot's
unique key makes a second run impossible even then. A scheduler killed at any point
leaves either the whole step or none of it, so no slot is lost or doubled.

The clock is injected: tests move time by hand and call ``serve(until_idle=True)``,
which fires whatever is due at that time and returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

from backend.data.open import open_store
from backend.data.retention import settings_cutoff
from backend.data.run_keys import RunKey, fingerprint
from backend.data.schedules import ScheduleAdvance, ScheduleRecord
from backend.data.store import Store
from backend.data.wait import wait_for_database
from backend.errors import InvalidInput, NotFound, ScheduleMoved
from backend.executor.limits import Limits
from backend.executor.submit import load_live_graph, submit_keyed_run
from backend.schedules.cron import Schedule
from backend.schedules.misfire import Step, plan
from backend.schedules.retention import prune
from backend.settings import Settings
from backend.util.logs import log_context
from backend.util.process import AppProcess

logger = logging.getLogger(__name__)

# Due schedules read per pass; a pass that finds this many looks again at once.
BATCH = 100
# How often expired run keys (old Idempotency-Keys, delivery ids) are deleted.
PURGE_SECONDS = 3600.0
# How often ended runs past BACKEND_RETENTION_DAYS are looked for; one pass deletes at
# most PRUNE_BATCHES small transactions, and the next pass follows after PRUNE_PAUSE
# while expired runs are left, so due slots still fire on time.
PRUNE_SECONDS = 600.0
PRUNE_BATCHES = 10
PRUNE_PAUSE = 0.1

Clock = Callable[[], float]


@lru_cache(maxsize=1024)
def _parsed(cron: str, timezone: str) -> Schedule:
    return Schedule.parse(cron, timezone)


def slot_key(record: ScheduleRecord, slot: float) -> RunKey:
    """The run key of one slot: unique in the database, never expiring."""
    return RunKey(
        user_id=record.user_id,
        scope=f"schedule:{record.id}",
        key=str(int(slot)),
        fingerprint=fingerprint({"schedule": record.id, "slot": slot}),
    )


class Scheduler(AppProcess):
    name = "scheduler"

    def __init__(
        self, settings: Settings | None = None, clock: Clock = time.time, store: Store | None = None
    ) -> None:
        """``store``: an opened, prepared store to use (tests); by default one is opened."""
        super().__init__(settings)
        self.clock = clock
        self._given_store = store

    def run(self) -> None:
        self.serve()

    def serve(self, until_idle: bool = False) -> int:
        """Fire due slots until stopped (or, ``until_idle``, until none is due at the
        clock's time); returns how many runs were started."""
        store = self._given_store or open_store(self.settings)
        try:
            if self._given_store is None:
                wait = self.settings.database_wait_seconds
                if not wait_for_database(store, wait, self.wait_for_stop):
                    return 0
                store.prepare(self.settings.auto_migrate)
                logger.info("scheduler started")
            return self._loop(store, until_idle)
        finally:
            if self._given_store is None:
                store.close()

    def _loop(self, store: Store, until_idle: bool) -> int:
        fired = 0
        purged_at = 0.0
        prune_at = 0.0
        while not self.stopping:
            now = self.clock()
            due = store.due_schedules(now, BATCH)
            for record in due:
                with log_context(schedule=record.id):
                    fired += self._fire(store, record, now)
            if until_idle:
                if not due:
                    self.prune_expired(store, now)
                    return fired
                continue  # a pass fires a schedule's steps; look until none is due
            if now - purged_at >= PURGE_SECONDS:
                store.purge_run_keys(now)
                purged_at = now
            if now >= prune_at:
                left = self.prune_expired(store, now, PRUNE_BATCHES)
                prune_at = now + (PRUNE_PAUSE if left else PRUNE_SECONDS)
            if len(due) < BATCH:
                # Pruning took a while: the next slot's wait counts from after it.
                after = self.clock()
                self.wait_for_stop(
                    min(self._sleep_seconds(store, after), max(0.0, prune_at - after))
                )
        return fired

    def prune_expired(self, store: Store, now: float, max_batches: int | None = None) -> bool:
        """Delete ended runs past BACKEND_RETENTION_DAYS; True if some are left (after
        ``max_batches`` transactions)."""
        cutoff = settings_cutoff(self.settings, now)
        if cutoff is None:
            return False
        return prune(store, cutoff, max_batches=max_batches)[1]

    def _sleep_seconds(self, store: Store, now: float) -> float:
        poll = self.settings.scheduler_poll_seconds
        upcoming = store.next_fire_time()
        if upcoming is None:
            return poll
        return min(poll, max(0.0, upcoming - now))

    def _fire(self, store: Store, record: ScheduleRecord, now: float) -> int:
        """Take every step the schedule has due; stops at the first one another writer
        got to first (the next pass reads the schedule again)."""
        try:
            schedule = _parsed(record.cron, record.timezone)
        except InvalidInput as exc:
            # Only a schedule stored by hand or by an older version gets here.
            self._give_up(store, record, now, f"cannot fire: {exc.message}")
            return 0
        steps = plan(
            schedule,
            record.next_fire_at,
            now,
            record.misfire,
            self.settings.scheduler_misfire_grace_seconds,
            self.settings.scheduler_max_catchup,
        )
        fired = 0
        revision = record.revision
        for step in steps:
            taken = self._take(store, record, revision, step, now)
            if taken is None:
                break
            fired += taken
            revision += 1
        return fired

    def _take(
        self, store: Store, record: ScheduleRecord, revision: int, step: Step, now: float
    ) -> int | None:
        """One step in one transaction: 1 if it started a run, 0 if not, None if the
        schedule had moved on (nothing written)."""
        if step.next_fire_at is None:
            self._give_up(store, record, now, "the cron expression fires no more")
            return None
        advance = ScheduleAdvance(record.id, revision, step.next_fire_at, now, slot=step.slot)
        if step.slot is None:
            logger.info("missed slots skipped (misfire policy %s)", record.misfire.value)
            return 0 if store.advance_schedule(advance) else None
        try:
            graph = load_live_graph(store, record.user_id, record.graph_id, record.graph_version)
            submitted = submit_keyed_run(
                store,
                record.user_id,
                graph,
                record.inputs,
                deadline_seconds=self.settings.run_deadline_seconds,
                limits=Limits.from_settings(self.settings),
                key=slot_key(record, step.slot),
                advance=advance,
            )
        except ScheduleMoved:
            return None
        except NotFound as exc:
            # The graph (or its pinned version) is gone: pause rather than fail forever.
            error = f"paused: {exc.message}"
            moved = store.advance_schedule(replace(advance, error=error, disable=True))
            logger.warning("schedule %s", error)
            return 0 if moved else None
        except InvalidInput as exc:
            # The graph or the inputs no longer fit: this slot cannot run; the next may.
            error = f"slot {step.slot:.0f} not fired: {exc.message}"
            logger.warning("%s", error)
            return 0 if store.advance_schedule(replace(advance, error=error)) else None
        if submitted.replayed:
            return 0
        logger.info("slot %.0f fired run %s", step.slot, submitted.run.id)
        return 1

    def _give_up(self, store: Store, record: ScheduleRecord, now: float, error: str) -> None:
        logger.warning("schedule %s; pausing it", error)
        store.advance_schedule(
            ScheduleAdvance(
                record.id, record.revision, record.next_fire_at, now, error=error, disable=True
            )
        )

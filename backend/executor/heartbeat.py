"""The executor's heartbeat: liveness, lease renewal, cancellation and stray runs.

A side task of the ExecutionManager, on a database thread of its own so it never queues
behind node writes. Each beat records the executor as alive, renews the leases of the
runs it owns, and learns which of them were cancelled (a row update) or reclaimed by
another executor; runs it owns but does not run are handed back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from backend.data.execution import Event
from backend.data.store import Store
from backend.executor import metrics
from backend.executor.runner import RunRunner
from backend.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


class HeartbeatMixin:
    """The ExecutionManager's heartbeat (see its ``serve`` for the state it sets up)."""

    settings: Settings
    store: Store
    executor_id: str
    active: dict[str, tuple[RunRunner, asyncio.Task[None]]]
    _heartbeat_thread: ThreadPoolExecutor
    # Owned but not running at the last beat; claimed but not started yet; claims not
    # yet answered: what tells a stray run from one about to start.
    _stray: set[str]
    _starting: set[str]
    _claims_in_flight: int
    _lost: metrics.LeaseLosses

    if TYPE_CHECKING:

        async def db(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _on(self, thread: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T: ...

    async def _heartbeat_loop(self) -> None:
        while True:
            # Runs started before this beat were claimed before it: its answer covers them.
            # A claim that commits while the beat is in flight may be missing from it.
            known = set(self.active)
            owned = await self._on(
                self._heartbeat_thread,
                self.store.heartbeat,
                self.executor_id,
                time.time(),
                self.settings.lease_seconds,
            )
            for run_id, (runner, _) in list(self.active.items()):
                # An ending run's own write clears its lease; were it taken over, that
                # write fails on its fence instead (LeaseLost, counted by its task).
                if run_id not in known or runner.ending:
                    continue
                if run_id not in owned:
                    logger.warning("run %s was reclaimed by another executor; dropping it", run_id)
                    runner.abandon()
                    self._lost.count(run_id)
                elif owned[run_id]:
                    runner.cancel()
            # A claim in flight may have committed runs it has not handed over yet.
            stray = set() if self._claims_in_flight else set(owned) - set(self.active)
            await self._release_strays(stray - self._starting)
            oldest = await self._on(self._heartbeat_thread, self.store.oldest_queued_at)
            metrics.OLDEST_QUEUED_AGE.set(0.0 if oldest is None else max(0.0, time.time() - oldest))
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def _release_strays(self, stray: set[str]) -> None:
        """Hand back runs this executor owns but does not run (a run task died on an error,
        or a claim committed although its reply was lost): the heartbeat would otherwise
        renew their leases forever. Seen on two beats in a row, so a claim still being
        started is not one."""
        for run_id in stray & self._stray:
            logger.warning("run %s is owned but not running here; handing it back", run_id)
            event = Event(run_id, "run_status", {"status": "QUEUED"}, created_at=time.time())
            await self.db(self.store.release_run, self.executor_id, run_id, event)
            metrics.HAND_BACKS.labels("stray").inc()
        self._stray = stray - self._stray

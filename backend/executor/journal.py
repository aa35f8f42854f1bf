"""The durable journal: runs' writes, batched per executor, fenced by each run's lease.

Every write names this executor as the owner: once another executor has reclaimed a run,
the store skips that run's writes and its runner gets LeaseLost. An executor runs several
runs at once; whatever they write while a transaction is in flight goes out together in
the next one, so a busy executor makes fewer, larger transactions (group commit).
Each runner keeps at most one write in flight, so a run's writes stay in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from backend.data.execution import Event, NodeExecution, Run, RunWrite
from backend.data.store import Store
from backend.errors import LeaseLost

logger = logging.getLogger(__name__)
DbCall = Callable[..., Awaitable[Any]]
Pending = tuple[RunWrite, "asyncio.Future[None]"]


class WriteBatcher:
    """One per executor: merges the node writes of its runs into shared transactions."""

    def __init__(self, store: Store, owner: str, lease_seconds: float, db: DbCall) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.db = db
        self._queue: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def save(self, write: RunWrite) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((write, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="write-batcher")
        await done

    async def _write_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                # One bad write must not fail its neighbours: try each on its own.
                logger.warning(
                    "a batch of %d writes failed (%s); retrying one by one", len(batch), exc
                )
                for pending in batch:
                    try:
                        await self._commit([pending])
                    except Exception as single:
                        _settle(pending[1], single)

    async def _commit(self, batch: list[Pending]) -> None:
        writes = [write for write, _ in batch]
        lost = await self.db(
            self.store.save_writes, self.owner, writes, time.time(), self.lease_seconds
        )
        for write, done in batch:
            if write.run_id in lost:
                _settle(done, LeaseLost(f"run {write.run_id} is no longer owned by {self.owner}"))
            else:
                _settle(done, None)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return  # its runner gave up waiting (cancelled)
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class StoreJournal:
    """One run's journal: node writes and its end through the executor's batcher."""

    def __init__(self, run_id: str, batcher: WriteBatcher) -> None:
        self.run_id = run_id
        self.batcher = batcher

    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None:
        if changed or events:
            await self.batcher.save(RunWrite(self.run_id, list(changed), list(events)))

    async def finish(
        self, run: Run, changed: Sequence[NodeExecution], events: Sequence[Event]
    ) -> None:
        # Through the batcher too: a run's end shares the transaction of whatever the
        # executor's other runs write meanwhile (group commit), and its last node writes.
        await self.batcher.save(RunWrite(self.run_id, list(changed), list(events), finish=run))

    async def release(self, run: Run, event: Event) -> None:
        b = self.batcher
        await b.db(b.store.release_run, b.owner, run.id, event)

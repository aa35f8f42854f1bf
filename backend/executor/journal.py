"""StoreJournal: the runner's writes, made durable in the store and fenced by the lease."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from backend.data.execution import Event, NodeExecution, Run
from backend.data.store import Store
from backend.errors import StoreError

T = TypeVar("T")
DbCall = Callable[..., Awaitable[Any]]


class StoreJournal:
    """Every write names this executor as the owner: once another executor has reclaimed
    the run, the store raises LeaseLost and nothing is written.

    The runner keeps several writes in flight; they run in submission order on the
    executor's database thread, and a write whose predecessor failed is refused, so the
    database never holds a later step of a run without an earlier one.
    """

    def __init__(self, store: Store, owner: str, lease_seconds: float, db: DbCall) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.db = db
        self._submitted = 0
        self._written = 0

    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None:
        if not changed and not events:
            return
        self._submitted += 1
        run_id = (changed[0] if changed else events[0]).run_id
        await self.db(self._write, self._submitted, run_id, list(changed), list(events))

    def _write(
        self, seq: int, run_id: str, changed: list[NodeExecution], events: list[Event]
    ) -> None:
        # On the database thread, in submission order (a retry repeats the same seq).
        if seq != self._written + 1:
            raise StoreError(f"run {run_id}: an earlier write failed; not writing step {seq}")
        self.store.save_node_executions(
            self.owner, run_id, changed, events, time.time(), self.lease_seconds
        )
        self._written = seq

    async def finish(self, run: Run, events: Sequence[Event]) -> None:
        await self.db(self.store.finish_run, self.owner, run, list(events), time.time())

    async def release(self, run: Run, event: Event) -> None:
        await self.db(self.store.release_run, self.owner, run.id, event)

"""StoreJournal: the runner's writes, made durable in the store and fenced by the lease."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from backend.data.execution import Event, NodeExecution, Run
from backend.data.store import Store

T = TypeVar("T")
DbCall = Callable[..., Awaitable[Any]]


class StoreJournal:
    """Every write names this executor as the owner: once another executor has reclaimed
    the run, the store raises LeaseLost and nothing is written."""

    def __init__(self, store: Store, owner: str, lease_seconds: float, db: DbCall) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.db = db

    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None:
        if not changed and not events:
            return
        run_id = (changed[0] if changed else events[0]).run_id
        await self.db(
            self.store.save_node_executions,
            self.owner,
            run_id,
            list(changed),
            list(events),
            time.time(),
            self.lease_seconds,
        )

    async def finish(self, run: Run, events: Sequence[Event]) -> None:
        await self.db(self.store.finish_run, self.owner, run, list(events), time.time())

    async def release(self, run: Run, event: Event) -> None:
        await self.db(self.store.release_run, self.owner, run.id, event)

"""What the executor lends a node beyond its input, backed by the store: sub-agent runs
(subagents.py), the user's key/value store, and a sink for the files the node produces."""

from __future__ import annotations

import time
from typing import Any

from backend.blocks.files import FileSink
from backend.blocks.runtime import KeyValue, ServiceRefused, SubAgents
from backend.data.execution import NodeExecution, Run
from backend.data.files import StoreFileSink
from backend.data.store import Store
from backend.executor.limits import stored_size
from backend.executor.subagents import ChildRuns, DbCall
from backend.settings import Settings

MAX_KEYS_PER_USER = 10_000


class StoreServices:
    def __init__(self, store: Store, db: DbCall, settings: Settings, children: ChildRuns) -> None:
        self.store = store
        self.db = db
        self.settings = settings
        self.children = children

    def agents(self, run: Run, ne: NodeExecution, token_budget: int | None) -> SubAgents:
        return self.children.agents(run, ne, token_budget)

    def kv(self, run: Run) -> KeyValue:
        return _StoreKeyValue(self, run.user_id)

    def files(self, run: Run, ne: NodeExecution) -> FileSink:
        return StoreFileSink(
            self.store, self.settings, user_id=run.user_id, run_id=run.id, node_exec_id=ne.id
        )


class _StoreKeyValue:
    def __init__(self, services: StoreServices, user_id: str) -> None:
        self.services, self.user_id = services, user_id

    async def get(self, scope: str, key: str) -> tuple[bool, Any]:
        s = self.services
        found: tuple[bool, Any] = await s.db(s.store.kv_get, self.user_id, scope, key)
        return found

    async def put(self, scope: str, key: str, value: Any) -> None:
        s = self.services
        limit = s.settings.max_output_value_bytes
        if stored_size(value) > limit:
            raise ServiceRefused(f"a stored value may be at most {limit} bytes")
        found, _ = await self.get(scope, key)
        if not found and await s.db(s.store.kv_count, self.user_id) >= MAX_KEYS_PER_USER:
            raise ServiceRefused(f"a user keeps at most {MAX_KEYS_PER_USER} stored keys")
        await s.db(s.store.kv_put, self.user_id, scope, key, value, time.time())

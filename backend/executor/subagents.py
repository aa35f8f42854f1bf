"""Sub-agent runs, as the executor lends them to blocks.

A sub-agent (AgentExecutorBlock) node starts exactly one child run per node execution:
the child's id is derived from the node execution's id, so a node run again after its
executor died finds the child it started and waits for it instead of starting another.
A child that failed or was cancelled fails the node for good (no retry starts a second
child). The child inherits the parent's user, credential references, deadline and what
is left of its token budget, one level deeper; cancelling or failing the parent cancels
it (the store does that with the parent's end).

Waiting holds no thread: one side task of the executor polls for the ends of every child
its nodes wait on, and a run whose nodes only wait does not count against the executor's
graph workers, so the children themselves always find room.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from backend.blocks.runtime import ServiceRefused, SubAgentResult, SubAgents
from backend.data.execution import NodeExecution, Run
from backend.data.graph import Graph
from backend.data.store import Store
from backend.errors import InvalidInput, NotFound
from backend.executor.engine import RunState
from backend.executor.limits import Limits
from backend.executor.local import check_runnable
from backend.executor.runner import run_event

logger = logging.getLogger(__name__)
DbCall = Callable[..., Awaitable[Any]]
# Child run ids are uuid5(this, parent node execution id): the same node, the same child.
CHILD_NAMESPACE = uuid.UUID("6f3c2a91-4d8e-4b7a-9e25-0c1d7b3a5f60")


def child_run_id(node_exec_id: str) -> str:
    return str(uuid.uuid5(CHILD_NAMESPACE, node_exec_id))


class ChildRuns:
    """One per executor: starts children and waits for them."""

    def __init__(self, store: Store, db: DbCall, limits: Limits, poll_seconds: float) -> None:
        self.store = store
        self.db = db
        self.limits = limits
        self.max_depth = limits.max_agent_depth
        self.poll_seconds = poll_seconds
        self.waiting: Counter[str] = Counter()  # parent run id -> nodes waiting on children
        self._ends: dict[str, asyncio.Future[Run]] = {}
        self._new_waiter = asyncio.Event()

    def agents(self, run: Run, ne: NodeExecution, token_budget: int | None) -> SubAgents:
        return _NodeSubAgents(self, run, ne, token_budget)

    # -- children ----------------------------------------------------------------------------

    async def start(
        self,
        parent: Run,
        ne: NodeExecution,
        graph_id: str,
        version: int,
        inputs: dict[str, Any],
        token_budget: int | None,
    ) -> Run:
        if parent.depth + 1 > self.max_depth:
            raise ServiceRefused(
                f"sub-agents nest at most {self.max_depth} deep (BACKEND_MAX_AGENT_DEPTH)"
            )
        if graph_id in await self._ancestor_graphs(parent):
            raise ServiceRefused(f"graph {graph_id} calls itself through its own sub-agents")
        try:
            graph = Graph.from_json(
                await self.db(self.store.get_graph, parent.user_id, graph_id, version)
            )
        except NotFound:
            raise ServiceRefused(f"graph {graph_id} version {version} not found") from None
        try:
            check_runnable(graph, inputs, self.limits)
        except InvalidInput as exc:
            raise ServiceRefused(f"the sub-agent cannot run: {exc.message}") from None
        now = time.time()
        deadline = parent.deadline_at or parent.created_at + self.limits.run_deadline_seconds
        child = Run.new(
            graph.id,
            graph.version,
            parent.user_id,
            inputs,
            max(deadline - now, 0.001),
            parent.credentials,
            token_budget,
        )
        child.id = child_run_id(ne.id)
        child.parent_run_id, child.parent_node_exec_id = parent.id, ne.id
        child.depth = parent.depth + 1
        child.request_id = parent.request_id  # the request that started the whole tree
        child.traceparent = parent.traceparent
        starting = RunState(child.id, graph).start(inputs, child.created_at)
        stored: Run = await self.db(self.store.start_child_run, child, starting, run_event(child))
        if stored.created_at != child.created_at:
            logger.info("node %s: found its sub-agent run %s again", ne.node_id, stored.id)
        return stored

    async def _ancestor_graphs(self, run: Run) -> set[str]:
        graphs = {run.graph_id}
        while run.parent_run_id is not None:
            run = await self.db(self.store.get_run, run.parent_run_id)
            graphs.add(run.graph_id)
        return graphs

    async def wait(self, parent: Run, child: Run) -> SubAgentResult:
        if not child.status.is_final:
            future = self._ends.get(child.id)
            if future is None:
                future = self._ends[child.id] = asyncio.get_running_loop().create_future()
                self._new_waiter.set()
            self.waiting[parent.id] += 1
            try:
                child = await asyncio.shield(future)
            finally:
                self.waiting[parent.id] -= 1
                if not self.waiting[parent.id]:
                    del self.waiting[parent.id]
        nodes = await self.db(self.store.node_executions, child.id)
        # The child's LLM usage counts against the parent's token budget as the node's own.
        stats: dict[str, Any] = {"sub_agent_run": child.id}
        for key in ("input_tokens", "output_tokens"):
            if used := sum(int(n.stats.get(key, 0)) for n in nodes):
                stats[key] = used
        return SubAgentResult(
            run_id=child.id,
            status=child.status.value,
            outputs=child.outputs,
            error=child.error,
            stats=stats,
        )

    async def watch(self) -> None:
        """Side task: resolve the waits of children that have ended."""
        while True:
            if not self._ends:
                self._new_waiter.clear()
                await self._new_waiter.wait()
            ended: Sequence[Run] = await self.db(self.store.ended_runs, list(self._ends))
            for run in ended:
                future = self._ends.pop(run.id, None)
                if future is not None and not future.done():
                    future.set_result(run)
            await asyncio.sleep(self.poll_seconds)


class _NodeSubAgents:
    def __init__(
        self, children: ChildRuns, run: Run, ne: NodeExecution, token_budget: int | None
    ) -> None:
        self.children, self.parent, self.ne, self.budget = children, run, ne, token_budget

    async def run(
        self, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> SubAgentResult:
        child = await self.children.start(
            self.parent, self.ne, graph_id, graph_version, inputs, self.budget
        )
        return await self.children.wait(self.parent, child)

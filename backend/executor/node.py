"""NodeExecutor: runs one node execution where its block says, under the node's limits.

WORKER blocks run in the executor's worker pool: the whole node (input validation, the
block, measuring its outputs) happens in a worker process that a timeout or a cancel
kills. INLINE blocks run here, on the event loop, as async generators; their outputs are
measured as they come, and anything heavy they need (a template) goes through
``ctx.compute`` to the same pool.

Either way the result is the node's outputs, or ``NodeFailed`` (final: error pin, bad
input, a limit, a dead worker), or another exception, which the retry policy may retry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.blocks.base import (
    ERROR_PIN,
    Block,
    BlockContext,
    BlockInputError,
    Isolation,
    ToolSink,
)
from backend.blocks.files import FileSink
from backend.blocks.runtime import KeyValue, SubAgents
from backend.data.execution import NodeExecution, Run
from backend.data.graph import Graph
from backend.executor.credentials import CredentialsLookup
from backend.executor.limits import Limits, NodeFailed
from backend.executor.pool import WorkerPool
from backend.executor.tools import linked_tools
from backend.executor.worker import NodeTask
from backend.providers.credentials import Credentials

logger = logging.getLogger(__name__)


class NodeServices(Protocol):
    """What the executor (or a local run) lends nodes: sub-agent runs, the key/value store."""

    def agents(self, run: Run, ne: NodeExecution, token_budget: int | None) -> SubAgents: ...

    def kv(self, run: Run) -> KeyValue: ...

    def files(self, run: Run, ne: NodeExecution) -> FileSink: ...


class BlockRaised(Exception):
    """The block raised an exception (in a worker, where only its text could travel)."""


@dataclass
class NodeResult:
    outputs: list[tuple[str, Any]]
    output_bytes: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


async def _no_credentials(run: Run, ne: NodeExecution, block: Block) -> Mapping[str, Credentials]:
    return {}


class NodeExecutor:
    def __init__(
        self,
        pool: WorkerPool,
        limits: Limits,
        credentials: CredentialsLookup | None = None,
        services: NodeServices | None = None,
    ) -> None:
        self.pool = pool
        self.limits = limits
        self.credentials = credentials or _no_credentials
        self.services = services

    async def execute(
        self,
        run: Run,
        ne: NodeExecution,
        block: Block,
        timeout: float,
        token_budget: int | None = None,
        graph: Graph | None = None,
    ) -> NodeResult:
        """Run ``ne``; ``token_budget`` is what the run may still spend on LLM calls,
        ``graph`` the run's graph (a tool-using block describes its linked nodes from it)."""
        credentials = await self.credentials(run, ne, block)
        if block.isolation is Isolation.WORKER:
            return await self._in_worker(ne, block, timeout, dict(credentials))
        tools = linked_tools(graph, ne.node_id) if graph is not None and block.uses_tools else ()
        return await self._inline(run, ne, block, timeout, credentials, token_budget, tools)

    async def _in_worker(
        self, ne: NodeExecution, block: Block, timeout: float, credentials: dict[str, Credentials]
    ) -> NodeResult:
        task = NodeTask(
            block_id=block.id,
            block_class=f"{type(block).__module__}:{type(block).__qualname__}",
            input_data=ne.input_data,
            run_id=ne.run_id,
            node_id=ne.node_id,
            node_exec_id=ne.id,
            timeout_seconds=timeout,
            max_output_value_bytes=self.limits.max_output_value_bytes,
            max_node_output_bytes=self.limits.max_node_output_bytes,
            allow_private_network=self.limits.allow_private_network,
            egress=self.limits.egress,
            credentials=credentials,
        )
        outcome = await self.pool.run_node(task)
        if outcome.failed is not None:
            raise NodeFailed(outcome.failed, outcome.stats)
        if outcome.raised is not None:
            raise BlockRaised(outcome.raised)
        return NodeResult(outcome.outputs, outcome.output_bytes, outcome.stats)

    async def _inline(
        self,
        run: Run,
        ne: NodeExecution,
        block: Block,
        timeout: float,
        credentials: Mapping[str, Credentials],
        token_budget: int | None,
        tools: tuple[ToolSink, ...],
    ) -> NodeResult:
        # The loop's clock is time.monotonic(), the clock BlockContext.deadline is read on.
        deadline = asyncio.get_running_loop().time() + timeout
        ctx = BlockContext(
            run_id=ne.run_id,
            node_id=ne.node_id,
            node_exec_id=ne.id,
            user_id=run.user_id,
            graph_id=run.graph_id,
            allow_private_network=self.limits.allow_private_network,
            egress=self.limits.egress,
            max_output_bytes=self.limits.max_output_value_bytes,
            credentials=credentials,
            agents=self.services.agents(run, ne, token_budget) if self.services else None,
            kv=self.services.kv(run) if self.services else None,
            files=self.services.files(run, ne) if self.services else None,
            compute=functools.partial(self._compute, deadline),
            deadline=deadline,
            tools=tools,
            logger=logger,
        )
        budget = self.limits.output_budget()
        outputs: list[tuple[str, Any]] = []
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                async for pin, value in block.execute(ne.input_data, ctx):
                    if pin == ERROR_PIN:
                        raise NodeFailed(str(value), ctx.stats)
                    budget.add(pin, value)
                    outputs.append((pin, value))
        except TimeoutError:
            if limit.expired():
                raise NodeFailed(f"timed out after {timeout:g} s", ctx.stats) from None
            raise
        except BlockInputError as exc:
            raise NodeFailed(str(exc)) from None
        except NodeFailed as exc:
            exc.stats = exc.stats or ctx.stats
            raise
        return NodeResult(outputs, budget.total, ctx.stats)

    async def _compute(self, deadline: float, fn: Callable[..., Any], *args: Any) -> Any:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        return await self.pool.call(fn, args, remaining)

"""RunRunner: executes one run's nodes with limits, persisting every transition.

The runner owns the timing side of execution: how many nodes run at once, time limits,
retries with backoff, the run deadline, cancellation and hand-back. The dataflow side
is ``RunState``'s; durability is the journal's (a store, or memory for local runs).
Each loop turn hands what changed to the journal in ONE call (one transaction) and goes
on while the write is in flight. Writes are applied strictly in order, so a node's
outputs are never recorded before its start; a node that ran but whose start was not
recorded when its executor died simply runs again (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from backend.blocks import get_block
from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunStatus
from backend.executor import metrics
from backend.executor.engine import RunState
from backend.executor.events import node_event, run_event, snapshot, tokens_of
from backend.executor.limits import Limits, NodeFailed, stored_size
from backend.executor.node import NodeExecutor, NodeResult
from backend.executor.retries import RetryPolicy
from backend.util import tracing
from backend.util.logs import bind_context

logger = logging.getLogger(__name__)

# How far the loop may run ahead of a slow database before it waits for the write.
MAX_BATCH = 256


class Journal(Protocol):
    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None: ...

    async def finish(
        self, run: Run, changed: Sequence[NodeExecution], events: Sequence[Event]
    ) -> None:
        """The run's last node changes and its end, written together."""

    async def release(self, run: Run, event: Event) -> None: ...


class RunRunner:
    def __init__(
        self,
        run: Run,
        state: RunState,
        journal: Journal,
        limits: Limits,
        nodes: NodeExecutor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run = run
        self.state = state
        self.journal = journal
        self.limits = limits
        self.nodes = nodes
        self.clock = clock
        self._wake = asyncio.Event()
        self._cancel_requested = False
        self._draining = False
        self._abandoning = False
        # Set once the run writes its end or hands itself back: that write clears its
        # lease, so the heartbeat must not take the lease's absence for a takeover.
        self.ending = False
        self._running: dict[asyncio.Task[NodeResult], NodeExecution] = {}
        self._retry_at: dict[str, tuple[float, NodeExecution]] = {}
        self._changed: dict[str, NodeExecution] = {}
        self._events: list[Event] = []
        self._saving: asyncio.Future[None] | None = None
        self._stored_bytes = 0
        self._tokens = 0
        self._limit_error: str | None = None
        # A run submitted without its own deadline gets the executor's default.
        self._deadline = run.deadline_at or run.created_at + limits.run_deadline_seconds
        self._trace: tracing.RunTrace | None = None
        # One timer for the next due time (deadline, retry), moved only when that changes:
        # not a timeout armed and disarmed on every loop turn.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._timeouts: dict[str, float] = {}

    # -- control (called by the owner; they only set flags) -------------------------------

    def cancel(self) -> None:
        self._cancel_requested = True
        self._wake.set()

    def drain(self) -> None:
        """Start no more nodes; hand the run back once its running nodes are done."""
        self._draining = True
        self._wake.set()

    def abandon(self) -> None:
        """Stop running nodes now and hand the run back (the grace period is over)."""
        self._abandoning = True
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    async def execute(self) -> Run:
        bind_context(run=self.run.id)
        if self.run.request_id:
            bind_context(request=self.run.request_id)
        self._trace = tracing.run_trace(self.run)
        error: str | None = None
        try:
            self._stored_bytes = sum(
                stored_size(ne.input_data) + stored_size(ne.output_data)
                for ne in self.state.executions.values()
            )
            self._tokens = sum(tokens_of(ne.stats) for ne in self.state.executions.values())
            for ne in self.state.with_status(NodeStatus.RUNNING):
                # Its previous owner died mid-node: run it again (at-least-once).
                logger.info("node %s interrupted at attempt %s; re-queued", ne.node_id, ne.attempt)
                self.state.requeue(ne)
                self._note(ne)
            return await self._loop()
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            await self._stop_tasks()
            if self._saving is not None:
                self._saving.cancel()
            if self._timer is not None:
                self._timer.cancel()
            if self._trace is not None:
                self._trace.end(self.run, error)

    async def _loop(self) -> Run:
        while True:
            now = self.clock()
            if self._cancel_requested:
                return await self._end(RunStatus.TERMINATED, "cancelled", None)
            if now >= self._deadline:
                limit = self._deadline - self.run.created_at
                message = f"run deadline exceeded after {limit:g} s"
                return await self._end(RunStatus.FAILED, message, message)
            if self._limit_error is not None:
                return await self._end(RunStatus.FAILED, self._limit_error, self._limit_error)
            if self._abandoning:
                return await self._hand_back()
            if not self._draining:
                self._start_ready(now)
            await self._flush()
            if not self._running:
                if self._draining:
                    return await self._hand_back()
                if self.state.is_idle():
                    return await self._end(self.state.final_status(), None, None)
            await self._wait(now)
            await self._collect()

    def _start_ready(self, now: float) -> None:
        for ne_id, (due, ne) in list(self._retry_at.items()):
            if due <= now:
                del self._retry_at[ne_id]
                self.state.make_ready(ne)
        for ne in self.state.take_ready(self.limits.node_workers - len(self._running)):
            self.state.mark_running(ne, now)
            self._note(ne)
            if self._trace is not None:
                block = get_block(ne.block_id)
                self._trace.node_started(ne, block.name if block is not None else "unknown")
            problem = (
                self.state.input_problem(ne) or self._budget_spent(ne) or self._input_over_limit(ne)
            )
            if problem is not None:
                self._fail(ne, problem, now)
                continue
            task = asyncio.create_task(self._run_node(ne), name=f"node-{ne.id}")
            task.add_done_callback(lambda _: self._wake.set())
            self._running[task] = ne

    def _budget_spent(self, ne: NodeExecution) -> str | None:
        block = get_block(ne.block_id)
        budget = self.run.max_tokens
        if budget is None or block is None or not block.spends_tokens or self._tokens < budget:
            return None
        return self._over_budget(budget)

    def _over_budget(self, budget: int) -> str:
        return (
            f"the run's token budget is spent: {self._tokens} of {budget} tokens used "
            "(the run's max_tokens, or BACKEND_MAX_TOKENS_PER_RUN)"
        )

    def _input_over_limit(self, ne: NodeExecution) -> str | None:
        self._stored_bytes += stored_size(ne.input_data)
        return self._check_stored()

    def _check_stored(self) -> str | None:
        if self._stored_bytes <= self.limits.max_run_stored_bytes:
            return None
        self._limit_error = (
            f"the run stored more than {self.limits.max_run_stored_bytes} bytes of node data "
            "(BACKEND_MAX_RUN_STORED_BYTES)"
        )
        return self._limit_error

    async def _wait(self, now: float) -> None:
        """Sleep until a node finishes, a control flag is set, or a timer is due."""
        due = min([self._deadline, *(at for at, _ in self._retry_at.values())])
        if due <= now:
            await asyncio.sleep(0)  # due already (e.g. a retry while draining): yield
            self._wake.clear()
            return
        if self._timer is None or due != self._timer_due:
            if self._timer is not None:
                self._timer.cancel()
            # ``due`` is on the runner's clock; the loop's timer runs on its own.
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + (due - now), self._on_timer)
            self._timer_due = due
        await self._wake.wait()
        self._wake.clear()

    def _on_timer(self) -> None:
        # Fired: the next wait arms a new one, even for the same due time (the runner's
        # clock may not have reached it yet).
        self._timer = None
        self._wake.set()

    async def _collect(self) -> None:
        for task in [t for t in self._running if t.done()]:
            ne = self._running.pop(task)
            now = self.clock()
            if not task.cancelled() and ne.started_at is not None:
                metrics.node_series(ne.block_id).duration.observe(max(0.0, now - ne.started_at))
            try:
                result = task.result()
            except NodeFailed as exc:
                self._count_tokens(ne, exc.stats)
                self._fail(ne, str(exc), now)
            except asyncio.CancelledError:
                continue
            except Exception as exc:
                self._retry_or_fail(ne, f"{type(exc).__name__}: {exc}", now)
            else:
                self._complete(ne, result, now)

    def _count_tokens(self, ne: NodeExecution, stats: dict[str, Any]) -> None:
        ne.stats = stats
        self._tokens += tokens_of(stats)
        metrics.count_tokens(stats)

    def _complete(self, ne: NodeExecution, result: NodeResult, now: float) -> None:
        self._count_tokens(ne, result.stats)
        budget = self.run.max_tokens
        if budget is not None and tokens_of(result.stats) and self._tokens > budget:
            # This node crossed the budget: it fails, and what it produced goes nowhere.
            self._fail(ne, self._over_budget(budget), now)
            return
        self._stored_bytes += result.output_bytes
        if (problem := self._check_stored()) is not None:
            self._fail(ne, problem, now)
            return
        for changed in self.state.complete(ne, result.outputs, now):
            self._note(changed)
        metrics.node_series(ne.block_id).completed.inc()
        if self._trace is not None:
            self._trace.node_ended(ne, "COMPLETED")
        if len(self.state.executions) > self.limits.max_node_executions_per_run:
            self._limit_error = (
                f"the run created more than {self.limits.max_node_executions_per_run} node "
                "executions (BACKEND_MAX_NODE_EXECUTIONS_PER_RUN)"
            )

    def _fail(self, ne: NodeExecution, error: str, now: float) -> None:
        logger.warning("node %s failed: %s", ne.node_id, error)
        self.state.fail(ne, error, now)
        self._note(ne)
        metrics.node_series(ne.block_id).failed.inc()
        if self._trace is not None:
            self._trace.node_ended(ne, "FAILED", error)

    def _retry_or_fail(self, ne: NodeExecution, error: str, now: float) -> None:
        policy = RetryPolicy.for_node(self.state.node(ne.node_id).options(), self.limits)
        if not policy.should_retry(ne.attempt):
            self._fail(ne, error, now)
            return
        delay = policy.delay(ne.attempt)
        logger.info(
            "node %s attempt %s raised %s; retry in %.2f s", ne.node_id, ne.attempt, error, delay
        )
        self.state.requeue(ne, ready=False)
        ne.error = error
        self._retry_at[ne.id] = (now + delay, ne)
        self._note(ne)
        metrics.node_series(ne.block_id).retries.inc()
        if self._trace is not None:
            self._trace.node_ended(ne, "RETRIED", error)

    async def _run_node(self, ne: NodeExecution) -> NodeResult:
        bind_context(node=ne.node_id, node_exec=ne.id)
        block = get_block(ne.block_id)
        if block is None:
            raise NodeFailed(f"unknown block {ne.block_id}")
        timeout = self._timeouts.get(ne.node_id)
        if timeout is None:
            timeout = (
                self.state.node(ne.node_id).options().timeout_seconds
                or block.timeout_seconds
                or self.limits.node_timeout_seconds
            )
            timeout = self._timeouts[ne.node_id] = min(
                timeout, self.limits.max_node_timeout_seconds
            )
        budget = self.run.max_tokens
        left = None if budget is None else max(budget - self._tokens, 0)
        return await self.nodes.execute(self.run, ne, block, timeout, left, self.state.graph)

    # -- endings -------------------------------------------------------------------------------

    def _note(self, ne: NodeExecution) -> None:
        self._changed[ne.id] = ne
        self._events.append(node_event(ne))

    async def _flush(self, force: bool = False) -> None:
        """Send what changed to the journal, one write at a time.

        While a write is in flight, changes pile up and go out together in the next one
        (group commit): a busy database then gets fewer, larger transactions instead of a
        queue. Raises if the previous write failed.
        """
        if self._saving is not None and self._saving.done():
            await self._settle()
        if not self._changed and not self._events:
            return
        if self._saving is not None:
            if not force and len(self._changed) < MAX_BATCH:
                return
            await self._settle()
        # Snapshots: the engine keeps mutating these objects while the write is queued.
        changed = [snapshot(ne) for ne in self._changed.values()]
        events, self._changed, self._events = self._events, {}, []
        self._saving = asyncio.ensure_future(self.journal.save(changed, events))
        self._saving.add_done_callback(lambda _: self._wake.set())

    async def _settle(self) -> None:
        """Wait for the write in flight; its error (e.g. LeaseLost) surfaces here."""
        if self._saving is not None:
            saving, self._saving = self._saving, None
            await saving

    async def _stop_tasks(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _end(self, status: RunStatus, node_error: str | None, run_error: str | None) -> Run:
        self.ending = True
        await self._stop_tasks()
        self._running.clear()
        for ne in self.state.terminate(self.clock(), node_error):
            self._note(ne)
        # The write in flight first (its error, e.g. LeaseLost, ends the run here); what
        # changed since goes out with the run's end in one write, not two.
        await self._settle()
        self.run.status = status
        self.run.outputs = self.state.outputs()
        self.run.error = run_error if run_error is not None else self.state.first_error()
        self.run.ended_at = self.clock()
        changed = [snapshot(ne) for ne in self._changed.values()]
        events, self._changed, self._events = self._events, {}, []
        await self.journal.finish(self.run, changed, [*events, run_event(self.run)])
        logger.info("run %s", status.value)
        return self.run

    async def _hand_back(self) -> Run:
        self.ending = True
        for task, ne in list(self._running.items()):
            task.cancel()
            self.state.requeue(ne)
            self._note(ne)
        await self._stop_tasks()
        self._running.clear()
        await self._flush(force=True)
        await self._settle()
        self.run.status = RunStatus.QUEUED
        await self.journal.release(self.run, run_event(self.run))
        metrics.HAND_BACKS.labels("shutdown").inc()
        logger.info("run handed back")
        return self.run

"""ExecutionManager: the executor process.

It registers itself, then runs two side tasks until told to stop:

* heartbeat (heartbeat.py): records liveness, renews the leases of its runs, and learns
  which of them were cancelled (cancellation is a row update) or reclaimed by another
  executor; it has a database thread of its own, so it never queues behind node writes;
* claim loop: takes QUEUED or lease-expired runs while it has free graph workers, fairly
  (every user's oldest run first, at most BACKEND_MAX_RUNS_PER_USER of one user at once),
  polling every BACKEND_POLL_SECONDS when idle.

Blocks run through a NodeExecutor: isolated blocks in the executor's worker processes
(pool.py), so the event loop only schedules, writes and heartbeats; a watchdog logs
whoever holds the loop up all the same. A run claimed again and again without progress
(its executors crash, lose the lease or hand it back) is failed as a poison run.

A side task that dies stops the process with exit code 1 (supervisord restarts it).
On stop it drains: no new claims, no new nodes; running nodes get the grace period,
then are cancelled and their runs handed back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from backend.data.credentials_manager import CredentialsManager
from backend.data.execution import (
    ExecutorInfo,
    NodeExecution,
    NodeStatus,
    Run,
    RunStatus,
    RunWrite,
)
from backend.data.graph import Graph
from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import open_vault
from backend.data.wait import wait_for_database
from backend.errors import BackendError, LeaseLost
from backend.executor import metrics
from backend.executor.credentials import lookup as credentials_lookup
from backend.executor.engine import RunState
from backend.executor.heartbeat import HeartbeatMixin
from backend.executor.journal import StoreJournal, WriteBatcher
from backend.executor.limits import Limits
from backend.executor.node import NodeExecutor
from backend.executor.pool import WorkerPool
from backend.executor.runner import RunRunner, run_event
from backend.executor.services import StoreServices
from backend.executor.subagents import ChildRuns
from backend.executor.watchdog import LoopWatchdog
from backend.providers.llm import configure as configure_llm
from backend.providers.llm import preload as preload_llm
from backend.providers.services import configure_services
from backend.settings import Settings
from backend.util import tracing
from backend.util.logs import bind_context, log_context
from backend.util.process import AppProcess, block_stop_signals
from backend.util.waits import wait_event

logger = logging.getLogger(__name__)
T = TypeVar("T")
SideTask = Callable[[], Coroutine[Any, Any, None]]
GRAPH_CACHE_SIZE = 256


class SideTaskDied(BackendError):
    code = "side_task_died"


class ExecutionManager(HeartbeatMixin, AppProcess):
    name = "executor"

    def __init__(self, settings: Settings | None = None, pool: WorkerPool | None = None) -> None:
        """``pool``: block workers to share (tests); by default the executor starts its own."""
        super().__init__(settings)
        self._given_pool = pool

    def run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self, burst: bool = False) -> None:
        """Execute runs until stopped; with ``burst``, stop once no work is left."""
        self.burst = burst
        self.host = socket.gethostname()
        self.executor_id = f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        bind_context(executor=self.executor_id)
        self.limits = Limits.from_settings(self.settings)
        self.active: dict[str, tuple[RunRunner, asyncio.Task[None]]] = {}
        self._graphs: dict[tuple[str, int], Graph] = {}
        # Database calls run on one thread (the heartbeat's on another): the event loop
        # never blocks on a lock wait, and the store sees one writer per process.
        self._db_thread = ThreadPoolExecutor(
            1, thread_name_prefix="db", initializer=block_stop_signals
        )
        self._heartbeat_thread = ThreadPoolExecutor(
            1, thread_name_prefix="heartbeat-db", initializer=block_stop_signals
        )
        # A credential lookup may refresh an OAuth2 token over HTTP, or wait ~45 s for
        # another executor's refresh lease: on threads of its own, never the db thread's.
        self._credentials_threads = ThreadPoolExecutor(
            4, thread_name_prefix="credentials", initializer=block_stop_signals
        )
        self.pool = self._given_pool or WorkerPool(
            self.settings.num_block_workers, self.settings.worker_memory_mb * 1024 * 1024
        )
        self._work_done = asyncio.Event()
        self._stray: set[str] = set()
        # Claimed, not yet running: the heartbeat must not take them for strays.
        self._starting: set[str] = set()
        self._claims_in_flight = 0
        self._lost = metrics.LeaseLosses()
        stop_listening: Callable[[], None] | None = None
        # Tracing asked for without its packages stops the executor here, at start.
        traced = tracing.start(self.settings, "agent-server-executor")
        metrics_server = metrics.serve_metrics(self.settings)
        watchdog = LoopWatchdog(asyncio.get_running_loop(), self.settings.loop_lag_warn_seconds)
        watchdog.start()
        llm = configure_llm(self.settings)  # a bad model alias fails here, at start
        clients = configure_services(self.settings)
        await asyncio.to_thread(preload_llm)
        try:
            self.store: Store = await self.db(open_store, self.settings)
            wait = self.settings.database_wait_seconds
            if not await self.db(wait_for_database, self.store, wait, self.wait_for_stop):
                return
            await self.db(self.store.prepare, self.settings.auto_migrate)
            # A wrong or missing encryption key stops the executor here, at start.
            vault = await self.db(open_vault, self.settings, self.store)
            resolver = CredentialsManager(self.settings, self.store, vault)
            self.children = ChildRuns(self.store, self.db, self.limits, self.settings.poll_seconds)
            services = StoreServices(self.store, self.db, self.settings, self.children)
            self.nodes = NodeExecutor(
                self.pool, self.limits, credentials_lookup(resolver, self._credentials), services
            )
            await self.pool.warm()
            await self._register()
            self._writes = WriteBatcher(
                self.store, self.executor_id, self.settings.lease_seconds, self.db
            )
            stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            # Where the database pushes (PostgreSQL NOTIFY) new work wakes the claim loop
            # at once; polling every BACKEND_POLL_SECONDS stays as the fallback.
            stop_listening = self.store.listen(lambda: _call_soon(loop, self._work_done.set))
            self.on_stop(lambda: _call_soon(loop, stopped.set))
            await self._supervise(
                stopped,
                {
                    "heartbeat": self._heartbeat_loop,
                    "claim": self._claim_loop,
                    "children": self.children.watch,
                },
            )
            # Leases must outlive the grace period: the heartbeat goes on while runs drain.
            heartbeat = asyncio.create_task(self._heartbeat_loop(), name="drain-heartbeat")
            try:
                await self._drain()
            finally:
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)
            await self.db(self.store.deregister_executor, self.executor_id, time.time())
            logger.info("executor deregistered")
        finally:
            if metrics_server is not None:
                await asyncio.to_thread(metrics_server.shutdown)
            if traced:
                # Sends the spans still batched (bounded by the exporter's timeout).
                await asyncio.to_thread(tracing.stop)
            watchdog.stop()
            await llm.aclose()
            await clients.aclose()
            for _, task in self.active.values():
                task.cancel()
            if self._given_pool is None:
                await asyncio.to_thread(self.pool.close)
            if stop_listening is not None:
                await self.db(stop_listening)
            # A lookup still running ends on its own, within its HTTP and lease bounds.
            self._credentials_threads.shutdown(wait=False, cancel_futures=True)
            if hasattr(self, "store"):
                await self.db(self.store.close)
            self._db_thread.shutdown()
            self._heartbeat_thread.shutdown()

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._on(self._db_thread, fn, *args)

    async def _credentials(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._on(self._credentials_threads, fn, *args)

    async def _on(self, thread: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(thread, fn, *args)
        except Exception as exc:
            store: Store | None = getattr(self, "store", None)
            if store is None or not store.is_disconnect(exc):
                raise
            # The server dropped the connection (restart, failover, terminated session);
            # the pool reconnects. Retried once: a database that stays down still fails
            # the caller, and a side task that fails ends the process for its supervisor.
            logger.warning("database connection lost in %s; retrying", _name(fn))
            return await loop.run_in_executor(thread, fn, *args)

    async def _register(self) -> None:
        now = time.time()
        dead = await self.db(self.store.reap_dead_executors, self.host, _alive_pids(), now)
        for executor_id in dead:
            logger.warning(
                "predecessor %s on this host is gone; its runs are released", executor_id
            )
        info = ExecutorInfo(self.executor_id, self.host, os.getpid(), "RUNNING", now, now)
        await self.db(self.store.register_executor, info)
        logger.info("executor registered (pid %s)", os.getpid())

    async def _supervise(self, stopped: asyncio.Event, side: dict[str, SideTask]) -> None:
        """Run the side tasks until a stop is requested; a side task that ends is fatal."""
        tasks: set[asyncio.Task[None]] = {
            asyncio.create_task(fn(), name=name) for name, fn in side.items()
        }
        stop_wait = asyncio.create_task(stopped.wait(), name="stop")
        done, _ = await asyncio.wait(tasks | {stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks | {stop_wait}:
            task.cancel()
        await asyncio.gather(*tasks, stop_wait, return_exceptions=True)
        dead = [task for task in done if task is not stop_wait]
        if dead:
            task = dead[0]
            reason = repr(task.exception()) if not task.cancelled() else "cancelled"
            raise SideTaskDied(f"side task {task.get_name()} ended: {reason}")

    # -- side tasks --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        idle = False
        while True:
            # Cleared before looking, so a wake-up that arrives during the claim is kept.
            self._work_done.clear()
            # Burst mode stops only after a look made with no run of its own: runs that
            # end during a look made its per-user limits stale (it looks again then).
            looked_idle = not self.active
            # A run whose nodes wait on sub-agents holds no slot: its children need them.
            working = [r for r, _ in self.active.values() if r.run.id not in self.children.waiting]
            free = self.settings.num_graph_workers - len(working)
            claimed: list[tuple[Run, list[NodeExecution]]] = []
            per_user = Counter(runner.run.user_id for runner in working)
            full = {user for user, n in per_user.items() if n >= self.settings.max_runs_per_user}
            # An idle executor polls with a read: on SQLite a claim takes the write lock
            # that the API and the other executors would have to wait for.
            if free > 0 and (
                not idle or await self.db(self.store.has_claimable, time.time(), full)
            ):
                self._claims_in_flight += 1
                claimed_at = time.time()
                try:
                    # Each run comes with its node executions, read in the claim's
                    # transaction: starting it takes no further round trip.
                    claimed = await self.db(
                        self.store.claim_runs_with_state,
                        self.executor_id,
                        free,
                        claimed_at,
                        self.settings.lease_seconds,
                        self.settings.max_runs_per_user,
                        dict(per_user),
                    )
                finally:
                    self._claims_in_flight -= 1
                metrics.count_claims([run for run, _ in claimed], claimed_at)
                self._starting.update(run.id for run, _ in claimed)
                for run, executions in claimed:
                    try:
                        await self._start(run, executions)
                    finally:
                        self._starting.discard(run.id)
                idle = not claimed
            if self.burst and looked_idle and not self.active and not claimed:
                self.stop()
                await asyncio.Event().wait()  # until _supervise cancels this task
            if claimed and len(claimed) < free:
                # Another executor may have taken some: look again, with a read first
                # (a claim that finds nothing still takes SQLite's write lock).
                idle = True
                continue
            loop = asyncio.get_running_loop()
            await wait_event(self._work_done, loop.time() + self.settings.poll_seconds)

    # -- runs ----------------------------------------------------------------------------------

    async def _start(self, run: Run, executions: list[NodeExecution]) -> None:
        if run.stalled_claims > self.settings.max_stalled_claims and not await self.db(
            self._waits_on_children, run.id
        ):
            logger.error("run %s is a poison run; failing it", run.id)
            await self._fail_at_start(
                run,
                f"poison run: claimed {run.stalled_claims - 1} times without progress (its "
                "executors crashed, lost the lease or handed it back; "
                "BACKEND_MAX_STALLED_CLAIMS)",
            )
            return
        try:
            graph = await self._graph(run)
        except BackendError as exc:
            # Retrying cannot help (e.g. the graph version is gone): fail the run instead
            # of claiming it again and again.
            logger.error("run %s cannot start: %s", run.id, exc.message)
            await self._fail_at_start(run, f"cannot start: {exc.message}")
            return
        state = RunState(run.id, graph, executions)
        journal = StoreJournal(run.id, self._writes)
        runner = RunRunner(run, state, journal, self.limits, self.nodes)
        task = asyncio.create_task(self._execute(runner), name=f"run-{run.id}")
        self.active[run.id] = (runner, task)
        metrics.ACTIVE_RUNS.set(len(self.active))
        with log_context(**({"request": run.request_id} if run.request_id else {})):
            logger.info("claimed run %s (graph %s v%s)", run.id, run.graph_id, run.graph_version)

    def _waits_on_children(self, run_id: str) -> bool:
        """A parent claimed again and again while its sub-agent runs is not stuck: the
        child makes the progress (and is itself watched for being poison), and the parent
        takes the child's result as soon as it runs again."""
        waiting = {ne.id for ne in self.store.node_executions(run_id) if not ne.status.is_final}
        children = self.store.list_runs(parent_run_id=run_id, limit=100)
        return any(child.parent_node_exec_id in waiting for child in children)

    async def _fail_at_start(self, run: Run, error: str) -> None:
        now = time.time()
        ended = []
        for ne in await self.db(self.store.node_executions, run.id):
            if not ne.status.is_final:
                # None stays QUEUED or RUNNING in a run that has ended.
                ne.set_status(NodeStatus.TERMINATED)
                ne.error, ne.ended_at = error, now
                ended.append(ne)
        run.status, run.error, run.ended_at = RunStatus.FAILED, error, now
        await self._writes.save(RunWrite(run.id, ended, [run_event(run)], finish=run))
        metrics.RUNS_FINISHED.labels(run.status.value).inc()

    async def _graph(self, run: Run) -> Graph:
        """Graph versions never change, so each is read and parsed once per process."""
        key = (run.graph_id, run.graph_version)
        graph = self._graphs.get(key)
        if graph is None:
            data = await self.db(self.store.get_graph, run.user_id, *key)
            graph = self._graphs[key] = Graph.from_json(data)
            while len(self._graphs) > GRAPH_CACHE_SIZE:
                self._graphs.pop(next(iter(self._graphs)))
        return graph

    async def _execute(self, runner: RunRunner) -> None:
        run_id = runner.run.id
        try:
            run = await runner.execute()
            if run.status.is_final:
                metrics.RUNS_FINISHED.labels(run.status.value).inc()
        except LeaseLost:
            logger.warning(
                "run %s: lease lost to another executor; stopped without writing", run_id
            )
            self._lost.count(run_id)
        except Exception:
            # The run stays RUNNING under our lease until the heartbeat hands it back
            # (_release_strays); then any executor picks it up again.
            logger.exception("run %s: executor error", run_id)
        finally:
            self.active.pop(run_id, None)
            self._lost.forget(run_id)
            metrics.ACTIVE_RUNS.set(len(self.active))
            self._work_done.set()

    async def _drain(self) -> None:
        if not self.active:
            return
        logger.info("draining %d run(s)", len(self.active))
        for runner, _ in self.active.values():
            runner.drain()
        tasks = [task for _, task in self.active.values()]
        _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
        if pending:
            logger.warning("grace period over; handing %d run(s) back", len(pending))
            for runner, _ in self.active.values():
                runner.abandon()
            await asyncio.wait(pending)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    loop.call_soon_threadsafe(callback)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _alive_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}

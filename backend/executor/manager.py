"""ExecutionManager: the executor process.

It registers itself, then runs two side tasks until told to stop:

* heartbeat: records liveness, renews the leases of its runs, and learns which of them
  were cancelled (cancellation is a row update) or reclaimed by another executor;
* claim loop: takes QUEUED or lease-expired runs while it has free graph workers,
  polling every BACKEND_POLL_SECONDS when idle.

A side task that dies stops the process with exit code 1 (supervisord restarts it).
On stop it drains: no new claims, no new nodes; running nodes get the grace period,
then are cancelled and their runs handed back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from backend.data.execution import Event, ExecutorInfo, Run, RunStatus
from backend.data.graph import Graph
from backend.data.open import open_store
from backend.data.store import Store
from backend.errors import BackendError, LeaseLost
from backend.executor.engine import RunState
from backend.executor.journal import StoreJournal, WriteBatcher
from backend.executor.runner import Limits, RunRunner, run_event
from backend.util.logs import bind_context
from backend.util.process import AppProcess, block_stop_signals

logger = logging.getLogger(__name__)
T = TypeVar("T")
SideTask = Callable[[], Coroutine[Any, Any, None]]
GRAPH_CACHE_SIZE = 256


class SideTaskDied(BackendError):
    code = "side_task_died"


class ExecutionManager(AppProcess):
    name = "executor"

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
        # All database calls run on one thread: the event loop never blocks on a lock
        # wait, and the store sees one writer per process.
        self._db_thread = ThreadPoolExecutor(
            1, thread_name_prefix="db", initializer=block_stop_signals
        )
        self._work_done = asyncio.Event()
        self._stray: set[str] = set()
        stop_listening: Callable[[], None] | None = None
        try:
            self.store: Store = await self.db(open_store, self.settings)
            await self.db(self.store.prepare, self.settings.auto_migrate)
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
                stopped, {"heartbeat": self._heartbeat_loop, "claim": self._claim_loop}
            )
            await self._drain()
            await self.db(self.store.deregister_executor, self.executor_id, time.time())
            logger.info("executor deregistered")
        finally:
            for _, task in self.active.values():
                task.cancel()
            if stop_listening is not None:
                await self.db(stop_listening)
            if hasattr(self, "store"):
                await self.db(self.store.close)
            self._db_thread.shutdown()

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._db_thread, fn, *args)
        except Exception as exc:
            store: Store | None = getattr(self, "store", None)
            if store is None or not store.is_disconnect(exc):
                raise
            # The server dropped the connection (restart, failover, terminated session);
            # the pool reconnects. Retried once: a database that stays down still fails
            # the caller, and a side task that fails ends the process for its supervisor.
            logger.warning("database connection lost in %s; retrying", _name(fn))
            return await loop.run_in_executor(self._db_thread, fn, *args)

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

    async def _heartbeat_loop(self) -> None:
        while True:
            owned = await self.db(
                self.store.heartbeat, self.executor_id, time.time(), self.settings.lease_seconds
            )
            for run_id, (runner, _) in list(self.active.items()):
                if run_id not in owned:
                    logger.warning("run %s was reclaimed by another executor; dropping it", run_id)
                    runner.abandon()
                elif owned[run_id]:
                    runner.cancel()
            await self._release_strays(set(owned) - set(self.active))
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
        self._stray = stray - self._stray

    async def _claim_loop(self) -> None:
        idle = False
        while True:
            # Cleared before looking, so a wake-up that arrives during the claim is kept.
            self._work_done.clear()
            free = self.settings.num_graph_workers - len(self.active)
            claimed: list[Run] = []
            # An idle executor polls with a read: on SQLite a claim takes the write lock
            # that the API and the other executors would have to wait for.
            if free > 0 and (not idle or await self.db(self.store.has_claimable, time.time())):
                claimed = await self.db(
                    self.store.claim_runs,
                    self.executor_id,
                    free,
                    time.time(),
                    self.settings.lease_seconds,
                )
                for run in claimed:
                    await self._start(run)
                idle = not claimed
            if self.burst and not self.active and not claimed:
                self.stop()
                await asyncio.Event().wait()  # until _supervise cancels this task
            if claimed and len(self.active) < self.settings.num_graph_workers:
                continue  # more may be waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work_done.wait(), self.settings.poll_seconds)

    # -- runs ----------------------------------------------------------------------------------

    async def _start(self, run: Run) -> None:
        try:
            graph = await self._graph(run)
        except BackendError as exc:
            # Retrying cannot help (e.g. the graph version is gone): fail the run instead
            # of claiming it again and again.
            logger.error("run %s cannot start: %s", run.id, exc.message)
            run.status, run.error = RunStatus.FAILED, f"cannot start: {exc.message}"
            await self.db(
                self.store.finish_run, self.executor_id, run, [run_event(run)], time.time()
            )
            return
        executions = await self.db(self.store.node_executions, run.id)
        state = RunState(run.id, graph, executions)
        journal = StoreJournal(run.id, self._writes)
        runner = RunRunner(run, state, journal, self.limits)
        task = asyncio.create_task(self._execute(runner), name=f"run-{run.id}")
        self.active[run.id] = (runner, task)
        logger.info("claimed run %s (graph %s v%s)", run.id, run.graph_id, run.graph_version)

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
            await runner.execute()
        except LeaseLost:
            logger.warning(
                "run %s: lease lost to another executor; stopped without writing", run_id
            )
        except Exception:
            # The run stays RUNNING under our lease until the heartbeat hands it back
            # (_release_strays); then any executor picks it up again.
            logger.exception("run %s: executor error", run_id)
        finally:
            self.active.pop(run_id, None)
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

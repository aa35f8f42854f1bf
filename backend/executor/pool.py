"""WorkerPool: the executor's block worker processes, awaited from its event loop.

Built on pebble's ProcessPool, which already does what we need of a pool of killable
workers: a task's time limit starts when a worker takes it; a timed-out or cancelled task
gets its worker stopped (SIGTERM, then SIGKILL) and a fresh worker takes its place; a
worker that dies fails its task with ``ProcessExpired``. This module adds our worker
set-up (worker.initialize: limits, signals, its own process group), turns pool failures
into node errors, and replaces the pool should pebble ever declare it broken.

Workers are spawned (a fresh interpreter: no locks, threads or connections inherited),
on first use; an executor starts them before it claims work (``warm``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import pebble

from backend.executor import worker
from backend.executor.limits import NodeFailed
from backend.executor.worker import NodeOutcome, NodeTask

logger = logging.getLogger(__name__)
T = TypeVar("T")
# A worker recycles itself after this many tasks, so slow leaks in block code cannot grow.
_TASKS_PER_WORKER = 10_000
_STOP_SECONDS = 5.0
_WARM_SECONDS = 60.0


class WorkerDied(NodeFailed):
    """The worker process running the node ended abnormally (killed, crashed)."""


class WorkerPool:
    def __init__(self, workers: int, memory_bytes: int) -> None:
        self.workers = workers
        self.memory_bytes = memory_bytes
        self._pool: pebble.ProcessPool | None = None
        self._lock = threading.Lock()

    def _current(self) -> pebble.ProcessPool:
        with self._lock:
            if self._pool is None or not self._pool.active:
                if self._pool is not None:
                    logger.warning("block worker pool was broken; starting a new one")
                    self._pool.stop()
                self._pool = pebble.ProcessPool(
                    max_workers=self.workers,
                    max_tasks=_TASKS_PER_WORKER,
                    initializer=worker.initialize,
                    initargs=(self.memory_bytes,),
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool

    async def run_node(self, task: NodeTask) -> NodeOutcome:
        outcome: NodeOutcome = await self._submit(worker.run_node, (task,), task.timeout_seconds)
        return outcome

    async def call(self, fn: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
        """``fn(*args)`` in a worker; it must be a picklable module-level function."""
        result: T = await self._submit(worker.call, (fn, args, timeout), timeout)
        return result

    async def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        try:
            return await self._attempt(fn, args, timeout)
        except BrokenProcessPool:
            # pebble gives up on the whole pool when a worker dies while no task is
            # acknowledged (e.g. a worker still starting got the stop signal meant for the
            # executor's process group): the task never ran, so it goes to a fresh pool.
            logger.warning("block worker pool broke; trying the node on a fresh pool")
        try:
            return await self._attempt(fn, args, timeout)
        except BrokenProcessPool:
            raise WorkerDied("the block worker pool broke; the node was not run") from None

    async def _attempt(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        # The pool's threads start with this thread's signal mask; see _start_blocked.
        future = _start_blocked(lambda: self._current().schedule(fn, args=args, timeout=timeout))
        try:
            # Cancelling this await cancels the future, and pebble stops its worker.
            return await asyncio.wrap_future(future)
        except TimeoutError:
            raise NodeFailed(f"timed out after {timeout:g} s") from None
        except pebble.ProcessExpired as exc:
            raise WorkerDied(f"worker process died: {_describe_exit(exc.exitcode)}") from None

    async def warm(self) -> None:
        """Start every worker now and wait until each has taken a task: a worker is in its
        own process group only once it is set up, so an executor starts them before it
        claims work (and a stop signal for its group meets none half started)."""
        await asyncio.gather(
            *(self.call(time.sleep, (0.05,), _WARM_SECONDS) for _ in range(self.workers))
        )

    def close(self) -> None:
        """Stop every worker now (a stopping executor has handed its runs back by then)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(_STOP_SECONDS)


def _start_blocked(schedule: Callable[[], T]) -> T:
    """Call ``schedule`` with stop signals blocked: the pool's helper threads start on the
    first call and inherit the mask, so SIGTERM always reaches the executor's main thread."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        return schedule()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "unknown exit status"
    if code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGKILL:
            return f"killed ({name}; the memory limit or the operator)"
        if -code == signal.SIGXCPU:
            return f"killed ({name}: CPU time limit)"
        return f"killed by {name}"
    return f"exit code {code}"

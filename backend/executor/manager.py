"""ExecutionManager: the executor process. Registers itself, heartbeats, and (with the
durable runner) claims runs and executes them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from backend.data.execution import ExecutorInfo
from backend.data.store import Store, open_store
from backend.errors import BackendError
from backend.util.logs import bind_context
from backend.util.process import AppProcess

logger = logging.getLogger(__name__)
T = TypeVar("T")


class SideTaskDied(BackendError):
    code = "side_task_died"


class ExecutionManager(AppProcess):
    name = "executor"

    def run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        self.host = socket.gethostname()
        self.executor_id = f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        bind_context(executor=self.executor_id)
        # All database calls run on one thread: the event loop never blocks on a lock
        # wait, and the store sees one writer per process.
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="db")
        self.store: Store = await self.db(open_store, self.settings)
        try:
            await self.db(self.store.prepare, self.settings.auto_migrate)
            await self._register()
            stopped = asyncio.Event()
            loop = asyncio.get_running_loop()
            self.on_stop(lambda: _call_soon(loop, stopped.set))
            await self._supervise(stopped, self._side_tasks())
        finally:
            await self.db(self.store.close)
            self._db_thread.shutdown()

    def _side_tasks(self) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
        return {"heartbeat": self._heartbeat_loop}

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

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

    async def _supervise(
        self, stopped: asyncio.Event, side: dict[str, Callable[[], Coroutine[Any, Any, None]]]
    ) -> None:
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
        await self.db(self.store.deregister_executor, self.executor_id, time.time())
        logger.info("executor deregistered")

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.db(
                self.store.heartbeat, self.executor_id, time.time(), self.settings.lease_seconds
            )
            await asyncio.sleep(self.settings.heartbeat_seconds)


def _alive_pids() -> set[int]:
    return {int(name) for name in os.listdir("/proc") if name.isdigit()}


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    loop.call_soon_threadsafe(callback)

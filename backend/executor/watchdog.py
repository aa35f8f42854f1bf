"""LoopWatchdog: notices when the executor's event loop is late, and says who held it.

The loop should only schedule, write and heartbeat; whatever blocks it delays every run's
heartbeat. A thread watches a tick the loop updates; when the tick is late it reads the
loop thread's current stack and logs the run and node whose code is on it (the frame with
a ``BlockContext`` named ``ctx``), and the innermost line, while the loop is still stuck.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from types import FrameType

from backend.blocks.base import BlockContext
from backend.util.process import block_stop_signals

logger = logging.getLogger(__name__)


class LoopWatchdog:
    def __init__(self, loop: asyncio.AbstractEventLoop, warn_after: float) -> None:
        self.loop = loop
        self.warn_after = warn_after
        self.interval = min(0.25, warn_after / 4)
        self._tick = time.monotonic()
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(self.interval * 4)

    def _beat(self) -> None:
        self._tick = time.monotonic()
        if not self._stopped.is_set():
            self.loop.call_later(self.interval, self._beat)

    def _watch(self) -> None:
        block_stop_signals()
        warned_for = 0.0
        while not self._stopped.wait(self.interval):
            tick = self._tick
            late = time.monotonic() - tick - self.interval
            if late < self.warn_after:
                continue
            if warned_for == tick:
                continue  # one line per stall
            warned_for = tick
            logger.warning("event loop blocked for %.1f s%s", late, self._culprit())

    def _culprit(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return ""
        return describe(frame)


def describe(frame: FrameType) -> str:
    """'; in run R node N (block code at file:line in fn)' from a stack, innermost first."""
    innermost = traceback.extract_stack(frame, limit=1)[-1]
    where = f" at {innermost.filename}:{innermost.lineno} in {innermost.name}"
    current: FrameType | None = frame
    while current is not None:
        ctx = current.f_locals.get("ctx")
        if isinstance(ctx, BlockContext):
            return f"; in run {ctx.run_id} node {ctx.node_id}{where}"
        current = current.f_back
    return where

"""Blocks that exist only for tests: they make failure modes reproducible."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

from backend.blocks.base import Block, BlockContext, BlockSchema, Isolation


class FlakyBlock(Block):
    """Raises until it has been called `fail_times` times for the same `token`."""

    id = "7d6c8a52-0e54-4f0e-9f0c-2f9a6b1d7e01"
    # Counts its calls in this process, so it must run here, not in a worker.
    isolation = Isolation.INLINE
    calls: ClassVar[Counter[str]] = Counter()

    class Input(BlockSchema):
        token: str
        fail_times: int = 2

    class Output(BlockSchema):
        output: int

    async def run(self, input_data: Any, ctx: BlockContext) -> AsyncIterator[tuple[str, Any]]:
        self.calls[input_data.token] += 1
        if self.calls[input_data.token] <= input_data.fail_times:
            raise ConnectionError(f"transient failure {self.calls[input_data.token]}")
        yield "output", self.calls[input_data.token]


class BurnBlock(Block):
    """Spins on the CPU for ``seconds`` (a node that never yields to anything), after
    writing its worker's pid to ``pid_file`` so a test can see that process die."""

    id = "2c0f3a8e-6a1b-4b9e-8f57-3d5c1e9a7b02"

    class Input(BlockSchema):
        seconds: float = 3600.0
        pid_file: str = ""

    class Output(BlockSchema):
        output: str

    def run(self, input_data: Any, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        if input_data.pid_file:
            Path(input_data.pid_file).write_text(str(os.getpid()))
        end = time.monotonic() + input_data.seconds
        while time.monotonic() < end:
            pass
        yield "output", "burnt"


class CrashBlock(Block):
    """Kills its own worker process, as a segfault in C code would."""

    id = "5e9d1c3b-2f4a-4c8d-9b6e-7a1f0d2c4e03"

    class Input(BlockSchema):
        input: Any = None

    class Output(BlockSchema):
        output: Any

    def run(self, input_data: Any, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        os.kill(os.getpid(), signal.SIGKILL)
        yield "output", input_data.input


class HogBlock(Block):
    """Allocates ``megabytes`` of memory at once."""

    id = "8b4e2d6f-1c3a-4e5b-a7d9-0f2e4c6a8b04"

    class Input(BlockSchema):
        megabytes: int

    class Output(BlockSchema):
        output: int

    def run(self, input_data: Any, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        held = bytearray(input_data.megabytes * 1024 * 1024)
        yield "output", len(held)


class StallLoopBlock(Block):
    """A block wrongly declared INLINE that blocks the event loop for ``seconds``."""

    id = "a1d3f5b7-9c2e-4a6b-8d0f-1e3a5c7b9d05"
    isolation = Isolation.INLINE

    class Input(BlockSchema):
        seconds: float

    class Output(BlockSchema):
        output: float

    async def run(self, input_data: Any, ctx: BlockContext) -> AsyncIterator[tuple[str, Any]]:
        time.sleep(input_data.seconds)  # deliberately blocking: what the watchdog reports
        yield "output", input_data.seconds


MISBEHAVING_BLOCKS: tuple[type[Block], ...] = (BurnBlock, CrashBlock, HogBlock, StallLoopBlock)


class TraceBlock(Block):
    """Passes ``input`` on as ``"<input>|<label>"``, writing ``label`` to ``trace`` each
    time it runs (so a test sees which nodes ran); with ``fail_marker``, its first run
    creates that file and fails, and every later run succeeds (a failure "by design")."""

    id = "c3e5a7b9-1d2f-4e6a-8b0c-9d1e3f5a7b06"
    isolation = Isolation.INLINE

    class Input(BlockSchema):
        input: Any = None
        label: str
        trace: str
        fail_marker: str = ""

    class Output(BlockSchema):
        output: str

    async def run(self, input_data: Any, ctx: BlockContext) -> AsyncIterator[tuple[str, Any]]:
        with open(input_data.trace, "a") as trace:
            trace.write(input_data.label + "\n")
        marker = input_data.fail_marker
        if marker and not os.path.exists(marker):
            Path(marker).touch()
            yield "error", f"{input_data.label} fails once by design"
            return
        yield "output", f"{input_data.input}|{input_data.label}"

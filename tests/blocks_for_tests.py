"""Blocks that exist only for tests: they make failure modes reproducible."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
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

"""Running one block to the end outside the executor, as the block tests do."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.blocks.base import Block, BlockContext


def run_block(
    block: Block, data: dict[str, Any], ctx: BlockContext | None = None
) -> list[tuple[str, Any]]:
    async def collect() -> list[tuple[str, Any]]:
        return [output async for output in block.execute(data, ctx)]

    return asyncio.run(collect())

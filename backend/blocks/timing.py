"""Blocks about time: the current time and a pause."""

import asyncio
import time
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector


class GetCurrentTimeBlock(Block):
    id = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
    isolation = Isolation.INLINE
    description = "Outputs the current local time, formatted with strftime."
    categories = ("TEXT",)

    class Input(BlockSchema):
        trigger: Any = Field(description="Any value; its arrival makes the block run.")
        format: str = Field(default="%H:%M:%S", description="strftime format of the output.")

    class Output(BlockSchema):
        time: str = Field(description="The current time in the requested format.")

    # The clock is not deterministic, so the vectors use formats without fields.
    test_vectors = (
        TestVector({"trigger": "Hello", "format": "no fields"}, [("time", "no fields")]),
        TestVector({"trigger": 1, "format": "100%%"}, [("time", "100%")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        try:
            formatted = time.strftime(input_data.format, time.localtime())
        except ValueError as exc:
            yield "error", f"invalid time format: {exc}"
            return
        yield "time", formatted


class WaitBlock(Block):
    id = "0c4a7902-fb25-4abf-a256-136f29ba2dc4"
    isolation = Isolation.INLINE
    description = "Waits the given number of seconds, then passes its input on."
    categories = ("BASIC",)

    class Input(BlockSchema):
        seconds: float = Field(
            default=0, ge=0, allow_inf_nan=False, description="How long to wait, in seconds."
        )
        input: Any = Field(default=None, description="The value to pass on after waiting.")

    class Output(BlockSchema):
        output: Any = Field(description="The input, after the wait.")

    test_vectors = (
        TestVector({"seconds": 0, "input": "Hello"}, [("output", "Hello")]),
        TestVector({"seconds": 0.01, "input": {"a": 1}}, [("output", {"a": 1})]),
        TestVector({}, [("output", None)]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        await asyncio.sleep(input_data.seconds)
        yield "output", input_data.input

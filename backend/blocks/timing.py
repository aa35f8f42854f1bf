"""Blocks that wait: a plain pause and AutoGPT's countdown timer.

Both sleep with ``asyncio.sleep`` on the event loop: a wait costs nothing while it lasts,
and cancelling the run (or the node's timeout) ends it at once.
"""

import asyncio
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector

MAX_COUNTDOWN_REPEAT = 1000


class WaitBlock(Block):
    id = "0c4a7902-fb25-4abf-a256-136f29ba2dc4"
    isolation = Isolation.INLINE
    description = "Waits the given number of seconds, then passes its input on."
    categories = ("BASIC",)
    isolation = Isolation.INLINE

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


class CountdownTimerBlock(Block):
    """Waits days + hours + minutes + seconds, then outputs the message; ``repeat`` times.

    Differences from AutoGPT: ``repeat`` is capped at 1000 (each round yields an output,
    and a huge count with no duration would flood the run), and a duration that is not a
    whole number is reported on the error pin. The node's timeout (its
    ``timeout_seconds`` metadata, else the server default) bounds the whole wait.
    """

    id = "d67a9c52-5e4e-11e2-bcfd-0800200c9a71"
    description = "Waits a duration, then outputs a message (optionally several times)."
    categories = ("TEXT",)
    isolation = Isolation.INLINE  # an async sleep: cancel ends it

    class Input(BlockSchema):
        input_message: Any = Field(
            default="timer finished", description="What to output when the time is up."
        )
        seconds: int | str = Field(default=0, description="Duration in seconds.")
        minutes: int | str = Field(default=0, description="Duration in minutes.")
        hours: int | str = Field(default=0, description="Duration in hours.")
        days: int | str = Field(default=0, description="Duration in days.")
        repeat: int = Field(
            default=1, ge=0, le=MAX_COUNTDOWN_REPEAT, description="How many times to count down."
        )

    class Output(BlockSchema):
        output_message: Any = Field(description="The message, once per countdown.")

    test_vectors = (
        TestVector({"seconds": 0}, [("output_message", "timer finished")]),
        TestVector({"input_message": "Custom message"}, [("output_message", "Custom message")]),
        TestVector(
            {"input_message": {"n": 1}, "seconds": "0", "repeat": 2},
            [("output_message", {"n": 1}), ("output_message", {"n": 1})],
        ),
        TestVector({"repeat": 0}, []),
        TestVector({"minutes": "soon"}, [("error", "minutes must be a whole number, not 'soon'")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        total = 0
        for unit, scale in (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400)):
            raw = getattr(input_data, unit)
            try:
                total += int(raw) * scale
            except ValueError:
                yield "error", f"{unit} must be a whole number, not {raw!r}"
                return
        for _ in range(input_data.repeat):
            # Always give the loop a turn, so even zero-length rounds cannot hog it.
            await asyncio.sleep(max(total, 0))
            yield "output_message", input_data.input_message

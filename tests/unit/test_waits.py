"""A wait on an event with a deadline: set, timed out, or cancelled, never confused."""

from __future__ import annotations

import asyncio

import pytest

from backend.util.waits import wait_event


def test_reports_whether_the_event_was_set_in_time() -> None:
    async def scenario() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        timed_out = await wait_event(event, loop.time() + 0.01)
        loop.call_soon(event.set)
        return timed_out, await wait_event(event, loop.time() + 10)

    assert asyncio.run(scenario()) == (False, True)


def test_a_cancel_landing_as_the_event_is_set_is_not_lost() -> None:
    """The executor's stop: its claim loop is cancelled in the loop turn in which the
    run that just ended sets the event it polls."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        task = asyncio.create_task(wait_event(event, loop.time() + 10))
        await asyncio.sleep(0)  # the task waits on the event
        event.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(10):
                await task

    asyncio.run(scenario())

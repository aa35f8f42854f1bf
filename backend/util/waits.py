"""Waiting on an asyncio event until a deadline, without losing a cancel."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, deadline: float) -> bool:
    """Whether ``event`` was set before ``deadline`` (on the running loop's clock).

    ``asyncio.wait_for`` on Python 3.11 returns normally when it is cancelled in the loop
    turn in which what it waits on completes: a polling loop then goes on, and whoever
    cancelled it waits forever (an executor whose stop never ended, the loop woken by the
    run that had just ended). Awaited in the caller's own task under a timeout scope, a
    cancel always arrives.
    """
    try:
        async with asyncio.timeout_at(deadline):
            await event.wait()
    except TimeoutError:
        return False
    return True

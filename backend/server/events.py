"""GET /api/v1/executions/{id}/events: a run's events as Server-Sent Events.

Events are read from the store's ordered event log, so the stream is the same for
every client and every API instance: first the events after the client's position
(``Last-Event-ID`` header, or ``?after=``), then new ones as the executors write them,
read by the process's one poller and shared by every stream of the run (event_hub.py).
Each message carries the event id, so a client that reconnects with ``Last-Event-ID``
gets every event exactly once. The stream ends after the run's final
``run_status`` event, when the server stops (the client resumes elsewhere), or soon
after its API key is revoked (the key is looked up again every second).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from backend.blocks import get_block
from backend.data.execution import Event, RunStatus
from backend.data.schema import INT_MAX
from backend.data.store import Store
from backend.errors import InvalidInput
from backend.server.auth import ReaderDep
from backend.server.deps import StoreDep
from backend.server.event_hub import Channel, hub_for
from backend.server.redaction import Redactor, redactor
from backend.server.routes_executions import own_run
from backend.util import finite_json

router = APIRouter(prefix="/api/v1", tags=["executions"])

# A comment line now and then keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
# How often a stream asks whether its key still holds (an indexed lookup, shared by the
# process's streams of that key: event_hub.KEY_CACHE_SECONDS).
KEY_CHECK_SECONDS = 1.0
_BATCH = 500
# Sent first on every stream: the reconnection delay clients should use.
RETRY_MILLISECONDS = 2000


def event_payload(event: Event) -> dict[str, Any]:
    """What a message's data says: the stored event's fields, the run it belongs to and
    when it was written, and for a node event the name of its block (None for a block
    this server does not know)."""
    payload = {**event.data, "run_id": event.run_id, "timestamp": event.created_at}
    if event.type == "node_status":
        block = get_block(str(event.data.get("block_id", "")))
        payload["block_name"] = block.name if block is not None else None
    return payload


def format_event(event: Event) -> str:
    # Non-finite numbers are null here as in every REST answer (finite_json).
    data = finite_json.dumps(event_payload(event), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


def is_final(event: Event) -> bool:
    if event.type != "run_status":
        return False
    try:
        return RunStatus(str(event.data.get("status"))).is_final
    except ValueError:
        return False


def _start_position(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is None or not last_event_id.strip():
        return after or 0
    try:
        position = int(last_event_id)
    except ValueError:
        raise InvalidInput(
            "Last-Event-ID must be the id of an event from this stream",
            details=[{"loc": ["header", "last-event-id"], "message": "not an integer"}],
        ) from None
    if not 0 <= position <= INT_MAX:
        raise InvalidInput(
            f"Last-Event-ID must be between 0 and {INT_MAX}",
            details=[{"loc": ["header", "last-event-id"], "message": "out of range"}],
        )
    return position


async def stream_events(
    store: Store,
    run_id: str,
    after: int,
    stopping: threading.Event,
    key_valid: Callable[[], bool],
    masked: Redactor,
    key_id: str | None = None,
) -> AsyncIterator[str]:
    """``key_valid`` says whether the caller's key still holds; with ``key_id`` (which
    key that is), the process's streams of that key share one check."""
    hub = hub_for(store, stopping)
    channel = hub.join(run_id, after)
    check: Callable[[], Awaitable[bool]] = (
        partial(hub.key_valid, key_id, key_valid)
        if key_id is not None
        else partial(anyio.to_thread.run_sync, key_valid)
    )
    try:
        # How long a browser's EventSource waits before it reconnects (with Last-Event-ID).
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        async for message in _follow(store, channel, after, stopping, check, masked):
            yield message
    finally:
        hub.leave(channel)


async def _follow(
    store: Store,
    channel: Channel,
    after: int,
    stopping: threading.Event,
    key_valid: Callable[[], Awaitable[bool]],
    masked: Redactor,
) -> AsyncIterator[str]:
    position = after
    # No event of the run lies between position and here (an empty read of the store).
    synced = after
    quiet_since = key_checked = time.monotonic()
    while not stopping.is_set():
        if time.monotonic() - key_checked >= KEY_CHECK_SECONDS:
            if not await key_valid():
                yield ": API key revoked\n\n"
                return
            key_checked = time.monotonic()
        batch = channel.after(max(position, synced))
        if batch is None:
            # Behind what the hub keeps (a replay, a slow client): read the log itself.
            mark = channel.floor
            batch = await anyio.to_thread.run_sync(store.events, channel.run_id, position, _BATCH)
            if not batch:
                synced = max(synced, mark)
        for event in batch:
            position = event.id
            yield format_event(replace(event, data=masked.event(event.type, event.data)))
            if is_final(event):
                return
        if batch:
            quiet_since = time.monotonic()
            continue
        # The hub marks a run ended once its final event is read: resumed after that
        # event, nothing more will come.
        if channel.ended and max(position, synced) >= channel.position:
            return
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        now = time.monotonic()
        await channel.changed(
            max(0.0, min(key_checked + KEY_CHECK_SECONDS, quiet_since + KEEPALIVE_SECONDS) - now)
        )


@router.get(
    "/executions/{run_id}/events",
    summary="The run's events as Server-Sent Events, resumable with Last-Event-ID",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_run_events(
    run_id: str,
    request: Request,
    caller: ReaderDep,
    store: StoreDep,
    after: Annotated[
        int | None, Query(ge=0, le=INT_MAX, description="Start after this event id")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    run = own_run(store, caller.user, run_id)
    position = _start_position(last_event_id, after)
    stopping: threading.Event = request.app.state.stopping
    still_valid = partial(caller.still_valid, store)
    return StreamingResponse(
        stream_events(
            store,
            run_id,
            position,
            stopping,
            still_valid,
            redactor(store, run),
            key_id=caller.key_hash,
        ),
        media_type="text/event-stream",
        # No caching, and no buffering by reverse proxies that honour this header.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

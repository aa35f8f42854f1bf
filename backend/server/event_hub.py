"""One reader of the event log per API process, shared by every live event stream.

Each run that has streams open gets a ``Channel``: the last events read for it (a
bounded buffer) and the position read up to. One poller task reads, every
``POLL_SECONDS``, the new events of every such run in one query and wakes that run's
streams; once a second it also asks, in one query, which of them have ended. A stream
takes its events from the buffer, or from the store while it is behind the buffer (a
replay from the start, a client slower than the run): memory stays bounded whatever a
client does, and no event is skipped. A stream waiting for events costs no query and
no thread; the poller stops when the last stream closes.

Streams read with the same API key share its validity check (``key_valid``): a key is
looked up at most once per ``KEY_CACHE_SECONDS``, however many streams use it, so idle
streams cost no query and no thread of their own for it either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

import anyio

from backend.data.execution import Event
from backend.data.store import Store

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
# How often the poller asks which followed runs have ended.
ENDED_CHECK_SECONDS = 1.0
# Events kept per followed run for its streams; a stream further behind reads the store.
BUFFER_EVENTS = 1000
# Events one poll reads for a group of runs; more are read at the next poll, at once.
POLL_BATCH = 1000
ERROR_PAUSE_SECONDS = 1.0
# How old a key's shared validity answer may be; a stream checks about once a second, so
# a revoked key's streams end within one and a half seconds.
KEY_CACHE_SECONDS = 0.5
# Keys whose answers are kept; past this, answers too old to be used are dropped.
KEY_CACHE_SIZE = 1000


class Channel:
    """What the streams of one run share: recent events and the read position."""

    def __init__(self, run_id: str, position: int) -> None:
        self.run_id = run_id
        self.position = position  # every event up to here has been read
        self.buffer: deque[Event] = deque(maxlen=BUFFER_EVENTS)
        self.floor = position  # the buffer holds every event after this, up to position
        self.ended = False  # the run has ended and its last event is read
        self.streams = 0
        self._changed = asyncio.Event()

    def push(self, events: list[Event]) -> None:
        for event in events:
            if len(self.buffer) == self.buffer.maxlen:
                self.floor = self.buffer[0].id
            self.buffer.append(event)
            self.position = event.id
        self.wake()

    def after(self, position: int) -> list[Event] | None:
        """The buffered events after ``position``; None when some may be missing from
        the buffer (``position`` is behind it): read the store."""
        if position < self.floor:
            return None
        return [e for e in self.buffer if e.id > position]

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self, timeout: float) -> None:
        """Until the next push or wake-up, or ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            await self._changed.wait()


class EventHub:
    """The process's reader; one per event loop (``hub_for``)."""

    def __init__(self, store: Store, stopping: threading.Event) -> None:
        self.store = store
        self.stopping = stopping
        self.channels: dict[str, Channel] = {}
        self._poller: asyncio.Task[None] | None = None
        # key id -> (when looked up, valid); a lock per key so one stream looks it up.
        self._keys: dict[str, tuple[float, bool]] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}

    async def key_valid(self, key_id: str, lookup: Callable[[], bool]) -> bool:
        """Whether the key ``key_id`` names is still valid: ``lookup()`` (run on a
        thread), or its answer for another stream less than KEY_CACHE_SECONDS ago."""
        answer = self._fresh(key_id)
        if answer is not None:
            return answer
        lock = self._key_locks.setdefault(key_id, asyncio.Lock())
        async with lock:
            answer = self._fresh(key_id)
            if answer is None:
                answer = await anyio.to_thread.run_sync(lookup)
                self._remember(key_id, answer)
            return answer

    def _fresh(self, key_id: str) -> bool | None:
        known = self._keys.get(key_id)
        if known is None or time.monotonic() - known[0] >= KEY_CACHE_SECONDS:
            return None
        return known[1]

    def _remember(self, key_id: str, valid: bool) -> None:
        now = time.monotonic()
        if len(self._keys) >= KEY_CACHE_SIZE:
            for stale in [k for k, (at, _) in self._keys.items() if now - at >= KEY_CACHE_SECONDS]:
                del self._keys[stale]
                lock = self._key_locks.get(stale)
                if lock is not None and not lock.locked():
                    del self._key_locks[stale]
        self._keys[key_id] = (now, valid)

    def join(self, run_id: str, position: int) -> Channel:
        channel = self.channels.get(run_id)
        if channel is None:
            channel = self.channels[run_id] = Channel(run_id, position)
        channel.streams += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="event-hub")
        return channel

    def leave(self, channel: Channel) -> None:
        channel.streams -= 1
        if channel.streams <= 0 and self.channels.get(channel.run_id) is channel:
            del self.channels[channel.run_id]

    async def _poll(self) -> None:
        checked = 0.0
        while self.channels:
            if self.stopping.is_set():
                for channel in list(self.channels.values()):
                    channel.wake()
                return
            more = False
            try:
                check_ended = time.monotonic() - checked >= ENDED_CHECK_SECONDS
                if check_ended:
                    checked = time.monotonic()
                more = await self._read(check_ended)
            except Exception:
                # A stream must not die of a passing database error: wait, then retry.
                logger.warning("reading events failed; retrying in 1 s", exc_info=True)
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
            await asyncio.sleep(0 if more else POLL_SECONDS)

    async def _read(self, check_ended: bool) -> bool:
        """One poll; True when it read a full batch (more may be waiting)."""
        followed = {rid: ch for rid, ch in self.channels.items() if not ch.ended}
        if not followed:
            return False
        ended: set[str] = set()
        if check_ended:
            # Asked before the events are read: a run's final status and its final event
            # are one transaction, so the read below sees that event.
            runs = await anyio.to_thread.run_sync(self.store.ended_runs, list(followed))
            ended = {run.id for run in runs}
        positions = {rid: ch.position for rid, ch in followed.items()}
        events = await anyio.to_thread.run_sync(self.store.events_after, positions, POLL_BATCH)
        full = len(events) >= POLL_BATCH
        per_run: dict[str, list[Event]] = {}
        for event in events:
            per_run.setdefault(event.run_id, []).append(event)
        for run_id, channel in followed.items():
            if run_id in per_run:
                channel.push(per_run[run_id])
            if run_id in ended and not full:
                channel.ended = True
                channel.wake()
        return full


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, EventHub]] = (
    weakref.WeakKeyDictionary()
)


def hub_for(store: Store, stopping: threading.Event) -> EventHub:
    """The hub of the running event loop for ``store`` (created on first use)."""
    per_loop = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = per_loop.get(id(store))
    if hub is None or hub.store is not store:
        hub = per_loop[id(store)] = EventHub(store, stopping)
    return hub

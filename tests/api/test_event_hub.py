"""The process's one event reader: shared by every stream, bounded, quiet when idle."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunStatus, RunWrite
from backend.data.open import open_store
from backend.data.store import Store
from backend.server import event_hub
from backend.server.events import stream_events
from backend.server.redaction import Redactor, SecretPins
from backend.settings import Settings

LEASE = 60.0


class Counting:
    """The store, counting the calls streams and the hub make."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.store, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    store.prepare(auto_migrate=True)
    yield store
    store.close()


def submit(store: Store) -> Run:
    run = Run(str(uuid.uuid4()), "g", 1, "alice", created_at=time.time())
    node = NodeExecution(f"{run.id}-0", run.id, 0, "a", "blk", NodeStatus.QUEUED, {})
    store.submit_run(run, [node], Event(run.id, "run_status", {"status": "QUEUED"}))
    return run


def write_events(store: Store, run: Run, count: int, final: bool) -> None:
    (claimed,) = [r for r in store.claim_runs("ex", 100, time.time(), LEASE) if r.id == run.id]
    for i in range(count):
        event = Event(run.id, "node_status", {"i": i})
        store.save_writes("ex", [RunWrite(run.id, [], [event])], time.time(), LEASE)
    if final:
        done = Event(run.id, "run_status", {"status": "COMPLETED"})
        store.finish_run(
            "ex",
            replace(claimed, status=RunStatus.COMPLETED),
            [done],
            time.time(),
        )


async def collect(store: Any, run: Run, after: int = 0, delay: float = 0.0) -> list[int]:
    ids = []
    masked = Redactor(SecretPins(), run)
    stream = stream_events(
        cast(Store, store), run.id, after, threading.Event(), lambda: True, masked
    )
    async for message in stream:
        if message.startswith("id: "):
            ids.append(int(message.split("\n", 1)[0][4:]))
            await asyncio.sleep(delay)
    return ids


def test_many_streams_of_a_run_share_one_reader(store: Store) -> None:
    run = submit(store)
    counting = Counting(store)

    async def main() -> list[list[int]]:
        streams = [asyncio.create_task(collect(counting, run)) for _ in range(50)]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(write_events, store, run, 20, True)
        return await asyncio.wait_for(asyncio.gather(*streams), 30)

    started = time.monotonic()
    results = asyncio.run(main())
    elapsed = time.monotonic() - started
    expected = [e.id for e in store.events(run.id)]
    assert len(expected) == 23  # queued, claimed, 20 nodes, completed
    assert all(ids == expected for ids in results)
    # One read per poll for all 50 streams, none of their own.
    assert counting.calls["events"] == 0
    assert counting.calls["events_after"] <= elapsed / event_hub.POLL_SECONDS + 5


def test_a_slow_or_late_stream_gets_every_event_once_with_a_bounded_buffer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_hub, "BUFFER_EVENTS", 5)
    run = submit(store)
    write_events(store, run, 40, False)
    counting = Counting(store)

    async def main() -> tuple[list[int], list[int], list[int]]:
        fast = asyncio.create_task(collect(counting, run))
        slow = asyncio.create_task(collect(counting, run, delay=0.01))
        await asyncio.sleep(0.2)
        late = asyncio.create_task(collect(counting, run, after=10))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(write_events_final, store, run)
        hub = event_hub.hub_for(cast(Store, counting), threading.Event())
        assert all(len(ch.buffer) <= 5 for ch in hub.channels.values())
        return await asyncio.wait_for(asyncio.gather(fast, slow, late), 30)

    fast, slow, late = asyncio.run(main())
    expected = [e.id for e in store.events(run.id)]
    assert fast == slow == expected
    assert late == [i for i in expected if i > 10]


def write_events_final(store: Store, run: Run) -> None:
    claimed = store.get_run(run.id)
    done = Event(run.id, "run_status", {"status": "COMPLETED"})
    store.finish_run(
        "ex",
        replace(claimed, status=RunStatus.COMPLETED),
        [done],
        time.time(),
    )


def test_idle_streams_make_no_reads_of_their_own(store: Store) -> None:
    runs = [submit(store) for _ in range(100)]
    counting = Counting(store)

    async def main() -> None:
        streams = [asyncio.create_task(collect(counting, run, after=10**9)) for run in runs]
        await asyncio.sleep(1.0)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

    asyncio.run(main())
    assert counting.calls["events"] == 0
    assert counting.calls["events_after"] <= 1.0 / event_hub.POLL_SECONDS + 3
    assert counting.calls["ended_runs"] <= 2


def test_streams_of_one_key_share_its_check_and_all_end_when_it_is_revoked(
    store: Store,
) -> None:
    runs = [submit(store) for _ in range(50)]
    lookups: list[float] = []
    valid = threading.Event()
    valid.set()

    def lookup() -> bool:
        lookups.append(time.monotonic())
        return valid.is_set()

    async def follow(run: Run) -> list[str]:
        masked = Redactor(SecretPins(), run)
        stream = stream_events(store, run.id, 10**9, threading.Event(), lookup, masked, "k")
        return [message async for message in stream]

    async def main() -> list[list[str]]:
        streams = [asyncio.create_task(follow(run)) for run in runs]
        await asyncio.sleep(2.5)
        valid.clear()
        return await asyncio.wait_for(asyncio.gather(*streams), 30)

    started = time.monotonic()
    ended = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert all(messages[-1] == ": API key revoked\n\n" for messages in ended)
    # 50 streams checking once a second each, but one lookup per cache period for all.
    assert 2 <= len(lookups) <= elapsed / event_hub.KEY_CACHE_SECONDS + 2

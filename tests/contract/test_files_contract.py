"""The file store on both databases: bytes round-trip in chunks, tenancy, limits, expiry."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from backend.blocks.files import FileTooLarge
from backend.data.files import FILE_CHUNK_BYTES, FileRecord, StoreFileSink, chunks
from backend.data.store import Store
from backend.errors import NotFound
from backend.settings import Settings


def record(
    user: str = "alice", run: str = "run-1", size: int = 3, created_at: float = 1000.0, **kw: str
) -> FileRecord:
    return FileRecord(
        id=kw.get("id", f"file-{user}-{run}-{created_at}"),
        user_id=user,
        run_id=run,
        node_exec_id=f"{run}-0",
        name=kw.get("name", "image.png"),
        content_type="image/png",
        size=size,
        sha256="0" * 64,
        created_at=created_at,
    )


def test_bytes_round_trip_chunk_by_chunk(store: Store) -> None:
    data = os.urandom(2 * FILE_CHUNK_BYTES + 17)
    rec = record(size=len(data))
    assert store.create_file(rec, chunks(data), max_run_bytes=10 * len(data))

    assert store.get_file("alice", rec.id) == rec
    pieces = list(store.file_chunks(rec.id))
    assert [len(p) for p in pieces] == [FILE_CHUNK_BYTES, FILE_CHUNK_BYTES, 17]
    assert b"".join(pieces) == data


def test_an_empty_file_is_stored_too(store: Store) -> None:
    rec = record(size=0)
    assert store.create_file(rec, chunks(b""), max_run_bytes=1)
    assert b"".join(store.file_chunks(rec.id)) == b""


def test_another_users_file_is_not_found(store: Store) -> None:
    rec = record()
    store.create_file(rec, [b"abc"], max_run_bytes=100)
    with pytest.raises(NotFound):
        store.get_file("bob", rec.id)
    with pytest.raises(NotFound):
        store.get_file("alice", "no-such-file")
    assert store.list_files("bob") == []


def test_a_run_over_its_file_budget_stores_nothing(store: Store) -> None:
    assert store.create_file(record(size=60, created_at=1.0), [b"x" * 60], max_run_bytes=100)
    too_much = record(size=41, created_at=2.0)
    assert not store.create_file(too_much, [b"x" * 41], max_run_bytes=100)
    with pytest.raises(NotFound):
        store.get_file("alice", too_much.id)
    assert list(store.file_chunks(too_much.id)) == []
    # Another run has a budget of its own.
    assert store.create_file(record(run="run-2", size=41), [b"x" * 41], max_run_bytes=100)


def test_listing_is_per_run_newest_first_and_pages(store: Store) -> None:
    for i in range(5):
        store.create_file(record(created_at=float(i)), [b"abc"], max_run_bytes=100)
    store.create_file(record(run="run-2", created_at=9.0), [b"abc"], max_run_bytes=100)

    first = store.list_files("alice", run_id="run-1", limit=3)
    assert [f.created_at for f in first] == [4.0, 3.0, 2.0]
    last = first[-1]
    rest = store.list_files("alice", run_id="run-1", limit=3, before=(last.created_at, last.id))
    assert [f.created_at for f in rest] == [1.0, 0.0]
    assert [f.run_id for f in store.list_files("alice", limit=1)] == ["run-2"]
    assert [f.created_at for f in store.list_files("alice", created_since=3.0)] == [9.0, 4.0, 3.0]


def test_expired_files_are_hidden_then_purged(store: Store) -> None:
    old, new = record(created_at=100.0), record(created_at=200.0)
    for rec in (old, new):
        store.create_file(rec, [b"abc", b"def"], max_run_bytes=100)
    with pytest.raises(NotFound):
        store.get_file("alice", old.id, created_since=150.0)
    assert store.get_file("alice", new.id, created_since=150.0) == new

    assert store.purge_files(created_before=150.0) == 1
    assert list(store.file_chunks(old.id)) == []
    assert [f.id for f in store.list_files("alice")] == [new.id]
    assert b"".join(store.file_chunks(new.id)) == b"abcdef"


def test_the_sink_stores_for_its_run_and_refuses_past_the_limits(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, max_file_bytes=2048, max_run_file_bytes=3000)
    sink = StoreFileSink(store, settings, user_id="alice", run_id="r", node_exec_id="r-3")
    data = os.urandom(2000)

    ref = asyncio.run(sink.save("a picture?.png", "image/png", data))

    assert ref.url == f"/api/v1/files/{ref.id}"
    assert (ref.name, ref.size, ref.sha256) == (
        "a_picture.png",
        2000,
        hashlib.sha256(data).hexdigest(),
    )
    stored = store.get_file("alice", ref.id)
    assert (stored.run_id, stored.node_exec_id, stored.content_type) == ("r", "r-3", "image/png")
    assert abs(stored.created_at - time.time()) < 60
    assert b"".join(store.file_chunks(ref.id)) == data
    with pytest.raises(FileTooLarge, match="BACKEND_MAX_FILE_BYTES"):
        asyncio.run(sink.save("big.png", "image/png", b"x" * 2049))
    with pytest.raises(FileTooLarge, match="BACKEND_MAX_RUN_FILE_BYTES"):
        asyncio.run(sink.save("second.png", "image/png", b"x" * 1001))
    assert len(store.list_files("alice", run_id="r")) == 1

"""Stored files: the record the store keeps, and the sink that executors give blocks.

A file belongs to the run (and so the user) of the node that made it. The bytes live in
the database beside the record, split into chunks: every executor and API process of a
deployment reaches the same database, while a data directory is one host's (see
docs/files.md). Sizes are bounded per file and per run; files older than the retention
are not served and are purged.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.blocks.files import FileRef, FileTooLarge, new_file_id, safe_name

if TYPE_CHECKING:
    from backend.data.store import Store
    from backend.settings import Settings

FILE_CHUNK_BYTES = 1024 * 1024
FILES_URL = "/api/v1/files"
DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class FileRecord:
    id: str
    user_id: str
    run_id: str
    node_exec_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: float

    @property
    def url(self) -> str:
        return f"{FILES_URL}/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "node_exec_id": self.node_exec_id,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "url": self.url,
        }


def chunks(data: bytes) -> list[bytes]:
    """``data`` in pieces of at most FILE_CHUNK_BYTES (one empty piece for no data)."""
    return [data[i : i + FILE_CHUNK_BYTES] for i in range(0, len(data), FILE_CHUNK_BYTES)] or [b""]


def retention_cutoff(settings: Settings, now: float | None = None) -> float | None:
    """Files created before this are expired; None when files are kept forever."""
    if settings.file_retention_days <= 0:
        return None
    return (time.time() if now is None else now) - settings.file_retention_days * DAY_SECONDS


class StoreFileSink:
    """The executor's ``FileSink`` for one node execution: files go to the store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        user_id: str,
        run_id: str,
        node_exec_id: str,
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.run_id = run_id
        self.node_exec_id = node_exec_id
        self._max_bytes = settings.max_file_bytes
        self._max_run_bytes = settings.max_run_file_bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def save(self, name: str, content_type: str, data: bytes) -> FileRef:
        if len(data) > self._max_bytes:
            raise FileTooLarge(
                f"the file is {len(data)} bytes, more than the limit of {self._max_bytes} "
                "(BACKEND_MAX_FILE_BYTES)"
            )
        record = FileRecord(
            id=new_file_id(),
            user_id=self.user_id,
            run_id=self.run_id,
            node_exec_id=self.node_exec_id,
            name=safe_name(name, content_type),
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=time.time(),
        )
        # The store is synchronous; its transaction must not hold up the event loop.
        stored = await asyncio.to_thread(
            self.store.create_file, record, chunks(data), self._max_run_bytes
        )
        if not stored:
            raise FileTooLarge(
                f"the run's files would pass the limit of {self._max_run_bytes} bytes "
                "(BACKEND_MAX_RUN_FILE_BYTES)"
            )
        return FileRef(
            record.id, record.name, record.content_type, record.size, record.sha256, record.url
        )

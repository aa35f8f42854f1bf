"""How a block hands over binary results (images, videos): ``ctx.files.save(...)``.

Node outputs carry JSON, so a block never puts the bytes themselves there: it saves them
through the ``FileSink`` on its ``BlockContext`` and outputs the ``FileRef``'s URL. The
executor's sink keeps them in the store, where the REST API serves them to the run's
owner at ``/api/v1/files/{id}``; ``DirectoryFileSink`` writes them to a folder instead
(local runs, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

MAX_NAME_CHARS = 200
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FileTooLarge(ValueError):
    """A file (or a run's files together) would pass the operator's size limit."""


@dataclass(frozen=True)
class FileRef:
    """A stored file: what a block outputs is its ``url``."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str
    url: str


class FileSink(Protocol):
    """Where a running node stores the files it produces."""

    @property
    def max_bytes(self) -> int:
        """The largest file ``save`` accepts (the block stops downloading past it)."""
        ...

    async def save(self, name: str, content_type: str, data: bytes) -> FileRef:
        """Store ``data``; raises ``FileTooLarge`` past a limit."""
        ...


def new_file_id() -> str:
    return str(uuid.uuid4())


def safe_name(name: str, content_type: str) -> str:
    """A file name that is safe in a path and a header: plain characters, an extension."""
    stem, dot, ext = Path(name).name.rpartition(".")
    if not dot:
        stem, ext = ext, ""
    stem = _UNSAFE_NAME.sub("_", stem).strip("._") or "file"
    ext = _UNSAFE_NAME.sub("", ext)[:10]
    if not ext:
        guessed = mimetypes.guess_extension(content_type.split(";", 1)[0].strip()) or ""
        ext = guessed.lstrip(".")
    name = f"{stem[: MAX_NAME_CHARS - 11]}.{ext}" if ext else stem[:MAX_NAME_CHARS]
    return name


def content_type_of(name: str, declared: str | None) -> str:
    """The declared content type (without parameters), else a guess from the name."""
    kind = (declared or "").split(";", 1)[0].strip().lower()
    if kind and kind != DEFAULT_CONTENT_TYPE and "/" in kind:
        return kind
    return mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE


class DirectoryFileSink:
    """Files written to a folder, each as ``<id>-<name>``; the URL is a ``file:`` URI."""

    def __init__(self, directory: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.directory = directory
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def save(self, name: str, content_type: str, data: bytes) -> FileRef:
        if len(data) > self._max_bytes:
            raise FileTooLarge(f"the file is larger than the limit of {self._max_bytes} bytes")
        file_id = new_file_id()
        name = safe_name(name, content_type)
        path = self.directory / f"{file_id}-{name}"
        await asyncio.to_thread(self._write, path, data)
        digest = hashlib.sha256(data).hexdigest()
        return FileRef(file_id, name, content_type, len(data), digest, path.resolve().as_uri())

    def _write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

"""Files blocks produced: list them (per run) and download one. Owner only.

Another user's file, like an expired or unknown one, answers 404. A download streams the
stored chunks one by one with the file's content type; only image, audio and video types
are shown inline, anything else is an attachment, and nothing is sniffed or scripted.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from backend.data.files import retention_cutoff
from backend.server.auth import UserDep
from backend.server.deps import SettingsDep, StoreDep
from backend.server.models import FilePage
from backend.server.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["files"])

FileId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
INLINE_PREFIXES = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")


def content_disposition(name: str, content_type: str) -> str:
    kind = "inline" if content_type.startswith(INLINE_PREFIXES) else "attachment"
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


@router.get(
    "/files",
    summary="List your files (of one run), newest first",
    response_model=FilePage,
)
def list_files(
    user: UserDep,
    store: StoreDep,
    settings: SettingsDep,
    run_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Only this run's")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    files = store.list_files(
        user,
        run_id=run_id,
        created_since=retention_cutoff(settings),
        limit=limit,
        before=decode_cursor(cursor),
    )
    last = files[-1] if len(files) == limit else None
    return {
        "items": [record.to_dict() for record in files],
        "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
    }


@router.get(
    "/files/{file_id}",
    summary="Download one of your files",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes"}},
)
def get_file(
    file_id: FileId, user: UserDep, store: StoreDep, settings: SettingsDep
) -> StreamingResponse:
    record = store.get_file(user, file_id, created_since=retention_cutoff(settings))
    return StreamingResponse(
        store.file_chunks(record.id),
        media_type=record.content_type,
        headers={
            "Content-Length": str(record.size),
            "Content-Disposition": content_disposition(record.name, record.content_type),
            "ETag": f'"{record.sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=0",
        },
    )

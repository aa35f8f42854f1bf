"""Files in SQL: a record per file, its bytes as ordered chunks, read back one by one.

Every lookup a user makes is scoped to that user: another user's file is not found,
exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.files import FileRecord
from backend.data.sqlbase import SQLBase
from backend.errors import NotFound


def _to_record(row: sa.Row[Any]) -> FileRecord:
    return FileRecord(**row._asdict())


def _not_found(file_id: str) -> NotFound:
    return NotFound(f"file {file_id} not found")


class FilesMixin(SQLBase):
    def create_file(self, record: FileRecord, chunks: Sequence[bytes], max_run_bytes: int) -> bool:
        f = t.files
        with self.write() as conn:
            used = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(f.c.size), 0)).where(
                    f.c.run_id == record.run_id
                )
            ).scalar_one()
            if int(used) + record.size > max_run_bytes:
                return False
            conn.execute(
                f.insert().values(
                    id=record.id,
                    user_id=record.user_id,
                    run_id=record.run_id,
                    node_exec_id=record.node_exec_id,
                    name=record.name,
                    content_type=record.content_type,
                    size=record.size,
                    sha256=record.sha256,
                    created_at=record.created_at,
                )
            )
            conn.execute(
                t.file_chunks.insert(),
                [{"file_id": record.id, "seq": i, "data": c} for i, c in enumerate(chunks)],
            )
        return True

    def get_file(
        self, user_id: str, file_id: str, created_since: float | None = None
    ) -> FileRecord:
        f = t.files
        query = sa.select(f).where(f.c.id == file_id, f.c.user_id == user_id)
        if created_since is not None:
            query = query.where(f.c.created_at >= created_since)
        with self.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise _not_found(file_id)
        return _to_record(row)

    def file_chunks(self, file_id: str) -> Iterator[bytes]:
        c = t.file_chunks
        seq = 0
        while True:
            # One short read per chunk: a slow download holds no transaction open.
            with self.read() as conn:
                data = conn.execute(
                    sa.select(c.c.data).where(c.c.file_id == file_id, c.c.seq == seq)
                ).scalar()
            if data is None:
                return
            yield bytes(data)
            seq += 1

    def list_files(
        self,
        user_id: str,
        run_id: str | None = None,
        created_since: float | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[FileRecord]:
        f = t.files
        query = sa.select(f).where(f.c.user_id == user_id)
        if run_id is not None:
            query = query.where(f.c.run_id == run_id)
        if created_since is not None:
            query = query.where(f.c.created_at >= created_since)
        if before is not None:
            query = query.where(sa.tuple_(f.c.created_at, f.c.id) < sa.tuple_(*before))
        query = query.order_by(f.c.created_at.desc(), f.c.id.desc()).limit(limit)
        with self.read() as conn:
            return [_to_record(row) for row in conn.execute(query)]

    def purge_files(self, created_before: float) -> int:
        f, c = t.files, t.file_chunks
        with self.write() as conn:
            expired = sa.select(f.c.id).where(f.c.created_at < created_before)
            conn.execute(c.delete().where(c.c.file_id.in_(expired)))
            return int(conn.execute(f.delete().where(f.c.created_at < created_before)).rowcount)

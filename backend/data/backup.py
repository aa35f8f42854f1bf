"""Backups of the embedded database while the group runs, and how PostgreSQL's are made.

SQLite's online backup API copies the database as of one moment, in one step under one
read transaction: in WAL mode the executors and the API keep writing meanwhile, and the
copy holds every transaction committed before it started and none after. The copy is
checked, written under a temporary name, then renamed, so PATH is never half a backup.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from backend.errors import StoreError
from backend.settings import Settings

BUSY_TIMEOUT_SECONDS = 30.0


class NotSQLite(StoreError):
    """The database is not the embedded one: back it up with ``pg_dump_command``."""

    code = "not_sqlite"


def pg_dump_command(url: str, target: str) -> str:
    """The pg_dump line that backs up the PostgreSQL database ``url`` to ``target``;
    the password is left out (pg_dump reads PGPASSWORD or ~/.pgpass)."""
    parsed = sa.make_url(url)
    plain = sa.URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    address = plain.render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file {shlex.quote(target)} {shlex.quote(address)}"


def sqlite_file(settings: Settings) -> Path:
    """The SQLite file of the settings; NotSQLite for PostgreSQL."""
    url = sa.make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite":
        raise NotSQLite("agent-server backup copies the embedded SQLite database only")
    if not url.database or url.database == ":memory:":
        raise StoreError("an in-memory database cannot be backed up")
    return Path(url.database)


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy the live database ``source`` to the new file ``target``; returns its size."""
    if not source.is_file():
        raise StoreError(f"no database at sqlite:///{source}: nothing to back up")
    if target.exists():
        raise StoreError(f"{target} exists already; back up to a new file")
    partial = target.with_name(f".{target.name}.partial")
    try:
        _copy(source, partial)
        os.chmod(partial, 0o600)  # API key hashes and encrypted secrets
        os.replace(partial, target)
    except OSError as exc:
        raise StoreError(f"cannot write the backup {target}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def _copy(source: Path, partial: Path) -> None:
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            # A backup keeps WAL mode in its header; a plain file restores anywhere.
            dst.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise StoreError(f"backup of sqlite:///{source} failed: {exc}") from None
    finally:
        src.close()
    if verdict != "ok":
        raise StoreError(f"the backup of sqlite:///{source} does not check out: {verdict}")

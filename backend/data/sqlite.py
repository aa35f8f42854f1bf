"""SQLite driver: WAL, a busy timeout, IMMEDIATE write transactions, a file lock for
migrations. One file is shared by every executor on the host."""

from __future__ import annotations

import fcntl
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.data.sqlbase import dumps
from backend.data.sqlstore import SQLStore
from backend.data.wake import WakeListener, wake_all, wake_dir
from backend.errors import StoreError

# Long enough that a writer never sees "database is locked" while another process
# commits; short enough that a wedged database still surfaces as an error.
BUSY_TIMEOUT_SECONDS = 30.0
# PRAGMA auto_vacuum's answer in incremental mode.
INCREMENTAL = 2
# Set on a connection whose transaction queued work idle executors should see.
_WAKE = "wake_executors"


class SQLiteStore(SQLStore):
    def __init__(self, url: str) -> None:
        self.path = _database_path(url)
        if self.path is not None:
            _ensure_writable_dir(self.path.parent)
        engine = sa.create_engine(
            url,
            json_serializer=dumps,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            # One connection per thread is plenty; in-memory databases need exactly one.
            poolclass=sa.pool.StaticPool if self.path is None else sa.pool.QueuePool,
        )
        event.listen(engine, "connect", _on_connect)
        event.listen(engine, "begin", _on_begin)
        super().__init__(engine, url, dumps)

    def insert(self, table: sa.Table) -> Any:
        return sqlite_insert(table)

    def notify(self, conn: sa.Connection, kind: str) -> None:
        conn.info[_WAKE] = True

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with super().write() as conn:
            conn.info.pop(_WAKE, None)  # left by a transaction that failed
            yield conn
            wake = conn.info.pop(_WAKE, False)
        # Only now, after the commit: a woken executor must find the new rows.
        if wake and self.path is not None:
            wake_all(wake_dir(self.path))

    def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], None] | None:
        """Idle executors on this host wake on a datagram (wake.py); None where the
        database is in memory or the socket cannot be made: they poll."""
        if self.path is None:
            return None
        listener = WakeListener(wake_dir(self.path), on_wakeup)
        return listener.stop if listener.start() else None

    def reclaim_space(self) -> None:
        """Files created by this version free deleted pages in incremental auto-vacuum
        mode; an older file keeps them for reuse until a VACUUM (docs/durability.md)."""
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if raw.execute("PRAGMA auto_vacuum").fetchone() == (INCREMENTAL,):
                # executescript steps the pragma to its end (one execute frees one page).
                raw.executescript("PRAGMA incremental_vacuum;")

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with open(self.path.with_name(self.path.name + ".migrate.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _database_path(url: str) -> Path | None:
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _ensure_writable_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # A uniquely named probe: several processes may open the store at once.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise StoreError(
            f"data directory {str(directory)!r} is not usable (BACKEND_DATA_DIR or "
            f"BACKEND_DATABASE_URL): {exc.strerror}"
        ) from None


def _on_connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # Takes effect only on a file without tables yet (a new database), and only before
    # WAL mode is set; retention then hands deleted pages back (reclaim_space).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable across process crashes; only a power loss may drop
    # the last commits, which is the usual trade for an embedded default.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get("readonly"):
        conn.exec_driver_sql("BEGIN")
        return
    # IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    # instead of deadlocking on a read-to-write upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")

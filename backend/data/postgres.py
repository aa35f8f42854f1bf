"""PostgreSQL driver: psycopg 3 under a SQLAlchemy connection pool, an advisory lock for
migrations, NOTIFY on every change an idle executor should act on, and a LISTEN thread.

Several executors on several hosts share one database. Claims use
``FOR UPDATE SKIP LOCKED`` (in the shared claim query) so concurrent claimers pass over
each other's rows; leases and fencing are the same as on SQLite.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from backend.data.sql_direct import Batches, execute_on
from backend.data.sqlbase import dumps
from backend.data.sqlstore import SQLStore
from backend.errors import StoreError
from backend.util.process import block_stop_signals

logger = logging.getLogger(__name__)

# Every executor LISTENs on this one channel; the payload says why ("run" or "cancel").
CHANNEL = "agent_server_work"
# pg_advisory_lock key held while the schema is checked and upgraded (any fixed int64).
MIGRATION_LOCK_KEY = 0x6167656E745F7376  # "agent_sv"
# An unreachable server must fail a start within seconds, not the OS TCP timeout.
CONNECT_TIMEOUT_SECONDS = 2
# Detect a peer that vanished without closing the socket (host down, network cut).
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
LISTEN_POLL_SECONDS = 0.25
# A pooled connection idle for longer than this is pinged before it is handed out; one in
# steady use is not (a ping is a round trip, and every write would pay it).
IDLE_PING_SECONDS = 5.0
RECONNECT_BACKOFF = (0.1, 5.0)


class PostgresStore(SQLStore):
    waits_for_server = True

    def __init__(self, url: str) -> None:
        parsed = psycopg_url(url)
        masked = sa.make_url(url).render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {"application_name": "agent-server", **KEEPALIVES}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        try:
            engine = sa.create_engine(
                parsed,
                json_serializer=dumps,
                pool_size=5,
                max_overflow=5,
                connect_args=connect_args,
            )
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise StoreError(f"invalid BACKEND_DATABASE_URL={masked!r}: {exc}") from None
        # psycopg takes a libpq URI; the listener connects with it directly.
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connect_args = connect_args
        _ping_when_stale(engine)
        super().__init__(engine, masked, dumps)

    def insert(self, table: sa.Table) -> Any:
        return pg_insert(table)

    def notify(self, conn: sa.Connection, kind: str) -> None:
        # Delivered at commit, so a woken executor always finds the committed row.
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :kind)"), {"channel": CHANNEL, "kind": kind}
        )

    def insert_rows(self, conn: sa.Connection, batches: Batches, wake: str | None = None) -> None:
        raw: Any = conn.connection.dbapi_connection
        if not psycopg.Pipeline.is_supported():
            super().insert_rows(conn, batches, wake)
            return
        # Pipelined: the inserts and the NOTIFY go out together and are answered in one
        # round trip; an error among them is raised here, when the pipeline syncs.
        with self.driver_cursor(conn) as cursor, raw.pipeline():
            for prepared, rows in batches:
                execute_on(cursor, prepared, rows)
            if wake is not None:
                cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, wake))

    def fence_runs(self, conn: sa.Connection, fences: Sequence[dict[str, Any]]) -> set[str]:
        raw: Any = conn.connection.dbapi_connection
        if len(fences) < 2 or not psycopg.Pipeline.is_supported():
            return super().fence_runs(conn, fences)
        # Pipelined: every run's fence in one round trip. Each has its own cursor, which
        # holds that statement's row count once the pipeline has synced.
        fence = self._fence_update
        cursors = [raw.cursor() for _ in fences]
        try:
            with self.driver_cursor(conn), raw.pipeline():
                for cursor, row in zip(cursors, fences, strict=True):
                    cursor.execute(fence.sql, fence._params(row))
            counts = zip(fences, cursors, strict=True)
            return {row["rid"] for row, cursor in counts if cursor.rowcount != 1}
        finally:
            for cursor in cursors:
                cursor.close()

    @contextmanager
    def outside_transaction(self, raw: Any) -> Iterator[None]:
        # As SQLAlchemy's own ping does: psycopg would open a transaction (one more
        # round trip, and one to end it) around a single read.
        if raw.autocommit:
            yield
            return
        raw.autocommit = True
        try:
            yield
        finally:
            if not raw.closed:
                raw.autocommit = False

    def lock_scope(self, conn: sa.Connection, scope: str) -> None:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:scope, 0))"),
            {"scope": scope},
        )

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        # A session-level lock on its own connection: the migration itself runs in a
        # transaction on another one, and every process waits here for the first to finish.
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.DBAPIError as exc:
            reason = " ".join(str(exc.orig).split())
            raise StoreError(
                f"cannot open database BACKEND_DATABASE_URL={self.url!r}: {reason}"
            ) from None
        try:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
        finally:
            conn.close()

    def listen(self, on_wakeup: Callable[[], None]) -> Callable[[], None]:
        listener = _Listener(self._conninfo, self._connect_args, on_wakeup)
        listener.start()
        # Returns once LISTEN is in place (nothing committed after this is missed), or
        # after one connect timeout; the thread keeps retrying either way.
        listener.listening.wait(CONNECT_TIMEOUT_SECONDS + 1)
        return listener.stop


def _ping_when_stale(engine: sa.Engine) -> None:
    """Check a pooled connection at checkout only where it may be stale, instead of a
    round trip on every checkout: when the server has sent it something unasked (a
    terminated or restarting server says so, then closes the socket), when it sat idle
    for a while (a peer that vanished silently), or when another connection was found
    lost since it was returned. One dropped while in use fails its statement instead;
    the executor retries such a call once."""
    lost_at = [0.0]

    def checkin(dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    def invalidated(dbapi_conn: Any, record: Any, exc: BaseException | None) -> None:
        lost_at[0] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("checked_in", None)
        if since is None:
            return  # a new connection
        if dbapi_conn.closed or dbapi_conn.broken:
            raise sa.exc.DisconnectionError("connection closed")
        fresh = since > lost_at[0] and time.monotonic() - since < IDLE_PING_SECONDS
        if fresh and not _has_input(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except psycopg.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(exc).strip() or type(exc).__name__) from exc

    sa.event.listen(engine.pool, "checkin", checkin)
    sa.event.listen(engine.pool, "invalidate", invalidated)
    sa.event.listen(engine.pool, "checkout", checkout)


def _has_input(dbapi_conn: Any) -> bool:
    """Whether the server sent an idle connection anything (no round trip: a poll of its
    socket). Pooled connections LISTEN to nothing, so input there is an error or EOF."""
    try:
        readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def psycopg_url(url: str) -> sa.URL:
    """The user's postgres:// or postgresql:// URL, with the psycopg 3 driver."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        # The message would echo the URL, password included.
        raise StoreError(
            "invalid BACKEND_DATABASE_URL: expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    return parsed.set(drivername="postgresql+psycopg")


class _Listener:
    """LISTEN on a dedicated autocommit connection in a daemon thread; reconnects with
    backoff when the connection drops, and wakes the caller once after each reconnect
    because notifications sent while it was away are lost."""

    def __init__(
        self, conninfo: str, connect_args: dict[str, Any], on_wakeup: Callable[[], None]
    ) -> None:
        self._conninfo = conninfo
        self._connect_args = connect_args
        self._on_wakeup = on_wakeup
        self._stopped = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=LISTEN_POLL_SECONDS * 4 + CONNECT_TIMEOUT_SECONDS)

    def _wake(self) -> None:
        # The callback's failure must not end the thread: polling would then be all.
        try:
            self._on_wakeup()
        except Exception:
            logger.exception("LISTEN wake-up callback failed")

    def _run(self) -> None:
        block_stop_signals()
        delay = RECONNECT_BACKOFF[0]
        connected_before = False
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, **self._connect_args) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if connected_before:
                        logger.info("LISTEN connection restored")
                        self._wake()
                    connected_before = True
                    delay = RECONNECT_BACKOFF[0]
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=LISTEN_POLL_SECONDS):
                            self._wake()
            except psycopg.Error as exc:
                if self._stopped.is_set():
                    return
                logger.warning(
                    "LISTEN connection lost (%s); polling until it is back, retry in %.1f s",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    delay,
                )
                self._stopped.wait(delay)
                delay = min(delay * 2, RECONNECT_BACKOFF[1])

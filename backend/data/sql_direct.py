"""Statements sent straight to the driver's cursor, for the submit and write paths.

A submit is a handful of small statements; SQLAlchemy's handling around each one (its
result set-up, events, error wrapping) cost several times what the database did for
them. Here precompiled statements run on the DBAPI cursor of a SQLAlchemy connection,
inside its transaction, and driver errors still come out as SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from backend.data.sqlbase import Prepared, Query, SQLBase

# Precompiled inserts and the rows for each, in order.
Batches = Sequence[tuple[Prepared, Sequence[dict[str, Any]]]]


class DirectMixin(SQLBase):
    def insert_rows(self, conn: sa.Connection, batches: Batches, wake: str | None = None) -> None:
        """Run ``batches`` in ``conn``'s transaction, then ``notify(conn, wake)``."""
        with self.driver_cursor(conn) as cursor:
            for prepared, rows in batches:
                execute_on(cursor, prepared, rows)
        if wake is not None:
            self.notify(conn, wake)

    def read_row(self, query: Query, **values: Any) -> Any | None:
        """The first row of ``query``. One statement reads one snapshot on every
        supported database, so no transaction is opened around it."""
        with (
            self.engine.connect() as conn,
            self.driver_cursor(conn) as cursor,
            self.outside_transaction(conn.connection.dbapi_connection),
        ):
            cursor.execute(query.sql, query.params(values))
            return cursor.fetchone()

    @contextmanager
    def outside_transaction(self, raw: Any) -> Iterator[None]:
        """Statements on the DBAPI connection ``raw`` run outside a transaction; drivers
        that open one implicitly are told not to."""
        yield

    @contextmanager
    def driver_cursor(self, conn: sa.Connection) -> Iterator[Any]:
        """A DBAPI cursor on ``conn``; driver errors leave it as SQLAlchemy's."""
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            yield cursor
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise wrapped(self.engine, conn, exc) from exc
        finally:
            cursor.close()


def execute_on(cursor: Any, prepared: Prepared, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    params = [prepared._params(row) for row in rows]
    if len(params) == 1:
        cursor.execute(prepared.sql, params[0])
    else:
        cursor.executemany(prepared.sql, params)


def wrapped(engine: sa.Engine, conn: sa.Connection, exc: Any) -> BaseException:
    """``exc`` as SQLAlchemy raises it from ``conn.execute``; a lost connection is
    invalidated, as SQLAlchemy does, so the pool does not hand it out again."""
    dialect = engine.dialect
    raw = conn.connection.dbapi_connection
    lost = dialect.is_disconnect(exc, raw, None)
    if lost:
        conn.invalidate(exc)
    return sa.exc.DBAPIError.instance(
        None, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )

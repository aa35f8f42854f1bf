"""open_store(): the store factory. The scheme of the database URL picks the driver.

Kept apart from the interface (store.py) so the drivers, which import the interface,
are never imported back by it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from backend.data.store import Store
from backend.envfile import describe_env_file
from backend.errors import ConfigError, StoreError
from backend.settings import Settings

POSTGRES_EXTRA = "agent-server[postgres]"


def open_store(settings: Settings, create: bool = True) -> Store:
    """The store of ``settings``. ``create=False`` refuses a SQLite file that does not
    exist yet (commands run by hand must not make an empty database somewhere else)."""
    url = settings.resolved_database_url
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        from backend.data.sqlite import SQLiteStore

        if not create:
            require_sqlite_file(url)
        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from backend.data.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] != "psycopg":
                raise
            raise ConfigError(
                f"BACKEND_DATABASE_URL={masked_url(url)!r} needs the PostgreSQL driver, "
                f"which is not installed: pip install '{POSTGRES_EXTRA}'"
            ) from None

        return PostgresStore(url)
    raise ConfigError(
        f"invalid setting BACKEND_DATABASE_URL={masked_url(url)!r}: unsupported scheme "
        f"{scheme!r} (use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
    )


def require_sqlite_file(url: str) -> None:
    """StoreError naming ``url`` and the settings file when its SQLite file is missing."""
    try:
        database = sa.engine.make_url(url).database
    except (sa.exc.ArgumentError, ValueError):
        return  # SQLiteStore reports the bad URL itself
    if not database or database == ":memory:" or Path(database).exists():
        return
    raise StoreError(
        f"no database at {url} ({describe_env_file()}); create it with `agent-server init`, "
        "or point --env-file, BACKEND_DATA_DIR or BACKEND_DATABASE_URL at the right one"
    )


def masked_url(url: str) -> str:
    """``url`` with any password shown as ``***``, for messages and logs.

    Done by hand rather than with a URL parser: the URL may be unparsable (that may be
    why it is being reported), and a password holding an unescaped ``@`` must not leak
    its tail. Everything between the user name and the last ``@`` is hidden.
    """
    credentials, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = credentials.partition("://")
    prefix = scheme + sep
    if not sep:
        prefix, userinfo = "", credentials
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return url
    return f"{prefix}{user}:***@{host}"

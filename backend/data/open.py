"""open_store(): the store factory. The scheme of the database URL picks the driver.

Kept apart from the interface (store.py) so the drivers, which import the interface,
are never imported back by it.
"""

from __future__ import annotations

from backend.data.store import Store
from backend.errors import ConfigError
from backend.settings import Settings


def open_store(settings: Settings) -> Store:
    url = settings.resolved_database_url
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        from backend.data.sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        from backend.data.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(
        f"invalid setting BACKEND_DATABASE_URL={masked_url(url)!r}: unsupported scheme "
        f"{scheme!r} (use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
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

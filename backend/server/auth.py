"""Bearer API keys: every /api route resolves the caller's user from its key.

Only the key's hash is looked up, never stored or logged in clear. A missing, unknown
or revoked key answers 401 in the common error shape; what a user may see is then
decided by the routes, which scope every lookup to that user. An answer that lasts
(the event stream) re-checks its key while it runs, so revoking a key ends it.

The monitor at /ui signs in with a key and keeps a sealed session token (see
:mod:`backend.server.sessions`) in an HttpOnly cookie. The read-only routes it calls
(``ReaderDep``: GET only) accept that cookie in place of the header; every other route
takes the header alone, so a cookie can never change anything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from backend.data.api_keys import hash_key
from backend.data.store import Store
from backend.data.vault import Vault
from backend.server.deps import StoreDep, VaultDep
from backend.server.errors import Unauthorized
from backend.server.sessions import SESSION_COOKIE, unseal

# auto_error=False: the 401 is ours (JSON error shape), the scheme is still documented
# in the OpenAPI schema so /docs offers an "Authorize" button.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `agent-server api-key create --user NAME`.",
)
_session = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The monitor's session (sign in at /ui); accepted by GET routes only.",
)
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Caller:
    """Who is asking, and by which key (its hash): a long answer re-checks the key."""

    user: str
    key_hash: str

    def still_valid(self, store: Store) -> bool:
        return store.user_for_key_hash(self.key_hash) == self.user


def caller_for_key(store: Store, key: str) -> Caller | None:
    """Who ``key`` belongs to, looked up now; None for an unknown or revoked key."""
    key_hash = hash_key(key)
    user = store.user_for_key_hash(key_hash)
    return None if user is None else Caller(user, key_hash)


def caller_for_session(store: Store, vault: Vault, token: str) -> Caller | None:
    """Who a session token names, if it is sound and its key still valid (checked now)."""
    opened = unseal(vault, token)
    if opened is None:
        return None
    caller = Caller(*opened)
    return caller if caller.still_valid(store) else None


def current_caller(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    caller = caller_for_key(store, credentials.credentials)
    if caller is None:
        raise Unauthorized("invalid or revoked API key")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def current_reader(
    request: Request,
    store: StoreDep,
    vault: VaultDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_session)],
) -> Caller:
    """The header's key, else (on a GET) the monitor's session cookie."""
    no_header = credentials is None or not credentials.credentials
    if no_header and session and request.method in READ_METHODS:
        caller = caller_for_session(store, vault, session)
        if caller is None:
            raise Unauthorized("the session has expired or its API key was revoked: sign in again")
        return caller
    return current_caller(store, credentials)


ReaderDep = Annotated[Caller, Depends(current_reader)]


async def current_user(caller: CallerDep) -> str:
    # A coroutine, as the dependencies in deps.py: it only reads what current_caller found.
    return caller.user


UserDep = Annotated[str, Depends(current_user)]


async def current_reader_user(caller: ReaderDep) -> str:
    return caller.user


ReaderUserDep = Annotated[str, Depends(current_reader_user)]

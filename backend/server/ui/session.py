"""The monitor's session: an HttpOnly cookie holding a sealed session token.

Signing in checks the key exactly as the API does and hands out a token naming the key
by its hash (:mod:`backend.server.sessions`); every later request looks the key up again
(a revoked key ends the session at its next request, nothing caches "valid"). The cookie
is HttpOnly and SameSite=Strict, and Secure when the request came over HTTPS (directly,
or through a proxy that says so in ``X-Forwarded-Proto``).

Changes (sign out, cancel, import, start a run) also need the session's CSRF token in
the ``X-CSRF-Token`` header: an HMAC of a fixed label under the session token, so it is
the same on every API instance, unknown to anyone without the cookie, and needs no
server state. Pages carry it in a ``<meta>`` tag for the page's script.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from backend.data.vault import Vault
from backend.errors import BackendError
from backend.server.auth import Caller, caller_for_session
from backend.server.deps import StoreDep, VaultDep
from backend.server.errors import Unauthorized
from backend.server.sessions import SESSION_COOKIE, SESSION_MAX_AGE_SECONDS, seal

CSRF_HEADER = "X-CSRF-Token"
_CSRF_LABEL = b"agent-server monitor csrf v1"


class CsrfRefused(BackendError):
    code = "csrf_refused"
    http_status = 403


@dataclass(frozen=True)
class Session:
    caller: Caller
    csrf: str

    @property
    def user(self) -> str:
        return self.caller.user


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded == "https" or request.url.scheme == "https"


def open_session(request: Request, store: StoreDep, vault: VaultDep) -> Session | None:
    """The signed-in session, its key checked now; None when there is none (or it has
    expired, or its key is no longer valid)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    caller = caller_for_session(store, vault, token)
    return None if caller is None else Session(caller, csrf_token(token))


MaybeSession = Annotated[Session | None, Depends(open_session)]


def require_session(session: MaybeSession) -> Session:
    if session is None:
        raise Unauthorized("not signed in, or the session's API key was revoked")
    return session


SessionDep = Annotated[Session, Depends(require_session)]


def require_csrf(request: Request, session: SessionDep) -> Session:
    """The session of a change: its CSRF token must come with it."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused(f"missing or wrong {CSRF_HEADER} header: reload the page")
    return session


ChangeDep = Annotated[Session, Depends(require_csrf)]


def set_session_cookie(response: Response, request: Request, vault: Vault, caller: Caller) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        seal(vault, caller.user, caller.key_hash),
        max_age=SESSION_MAX_AGE_SECONDS,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="strict"
    )

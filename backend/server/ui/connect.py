"""The monitor's credentials page and the OAuth2 connect flow (authorization code + PKCE).

``/ui/oauth/{provider}/start`` (signed in) makes a flow: a random ``state`` and PKCE
verifier, kept in the store (the state by its hash, the verifier encrypted) for
``STATE_TTL_SECONDS``, and a random binding value set in a cookie of this browser. It then
sends the browser to the provider. ``/ui/oauth/callback`` takes the flow (once: a second
callback with the same state finds nothing), checks the browser's binding cookie, and
exchanges the code at the token URL; the credential is stored for the user who started.

The session cookie is SameSite=Strict, so a browser does not send it on the provider's
redirect back (a cross-site navigation): the binding cookie is SameSite=Lax for that
reason, scoped to /ui/oauth and short-lived. A wrong, missing, used or expired state, or
a binding that does not match, answers 400 and stores nothing.

``POST /ui/credentials/{id}/disconnect`` (with the session's CSRF token) deletes a
connected account's credential from the credentials page.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from backend.data.credentials import OAuthState
from backend.errors import BackendError
from backend.providers.oauth import OAuthClient, pkce_pair
from backend.server.deps import CredentialsDep, StoreDep, VaultDep
from backend.server.ui.routes import _render, _to_sign_in
from backend.server.ui.session import ChangeDep, MaybeSession, is_https

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/ui", include_in_schema=False)

STATE_TTL_SECONDS = 600
MAX_PENDING_FLOWS = 10
FLOW_COOKIE = "agent_server_oauth_flow"
FLOW_COOKIE_PATH = "/ui/oauth"
CALLBACK_PATH = "/ui/oauth/callback"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _redirect_uri(request: Request) -> str:
    scheme = "https" if is_https(request) else request.url.scheme
    return str(request.url.replace(scheme=scheme, path=CALLBACK_PATH, query="", fragment=""))


def _refused(request: Request, message: str, status_code: int = 400) -> Response:
    response = _render(
        request,
        "error.html",
        None,
        status_code=status_code,
        title="Cannot connect the account",
        message=message,
    )
    response.delete_cookie(FLOW_COOKIE, path=FLOW_COOKIE_PATH)
    return response


@router.get("/credentials", response_model=None)
def credentials_page(
    request: Request, store: StoreDep, resolver: CredentialsDep, session: MaybeSession
) -> Response:
    if session is None:
        return _to_sign_in(request)
    records = [r.to_dict() for r in store.list_credentials(session.user)]
    connectable = [
        {"provider": name, "label": client.label, "scopes": client.scopes}
        for name, client in sorted(resolver.oauth.items())
        if client.configured
    ]
    return _render(
        request,
        "credentials.html",
        session,
        credentials=records,
        connectable=connectable,
        providers=sorted(resolver.oauth),
    )


@router.post("/credentials/{credentials_id}/disconnect", status_code=204)
def disconnect(credentials_id: str, resolver: CredentialsDep, session: ChangeDep) -> Response:
    """Delete one of the user's credentials (an OAuth2 one's grant is revoked first, as
    ``DELETE /api/v1/credentials/{id}`` does); another user's is not found."""
    resolver.delete(session.user, credentials_id[:64])
    return Response(status_code=204)


@router.get("/oauth/{provider}/start", response_model=None)
def start(
    request: Request,
    provider: str,
    store: StoreDep,
    vault: VaultDep,
    resolver: CredentialsDep,
    session: MaybeSession,
) -> Response:
    if session is None:
        return _to_sign_in(request)
    client: OAuthClient | None = resolver.oauth.get(provider)
    if client is None or not client.configured:
        return _refused(
            request, f"the operator has not registered a {provider[:64]} OAuth2 client", 404
        )
    state = secrets.token_urlsafe(32)
    binding = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    now = time.time()
    redirect_uri = _redirect_uri(request)
    kept = store.create_oauth_state(
        OAuthState(
            state_hash=_digest(state),
            user_id=session.user,
            binding_hash=_digest(binding),
            provider=provider,
            verifier=vault.encrypt({"verifier": verifier}),
            redirect_uri=redirect_uri,
            created_at=now,
            expires_at=now + STATE_TTL_SECONDS,
        ),
        MAX_PENDING_FLOWS,
    )
    if not kept:
        return _refused(
            request,
            f"{MAX_PENDING_FLOWS} connections are already waiting to finish: finish one or "
            f"try again in {STATE_TTL_SECONDS // 60} minutes",
            429,
        )
    response = RedirectResponse(
        client.authorization_url(state, challenge, redirect_uri), status_code=303
    )
    response.set_cookie(
        FLOW_COOKIE,
        binding,
        max_age=STATE_TTL_SECONDS,
        path=FLOW_COOKIE_PATH,
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/oauth/callback", response_model=None)
def callback(
    request: Request,
    store: StoreDep,
    vault: VaultDep,
    resolver: CredentialsDep,
    session: MaybeSession,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    if not state:
        return _refused(request, "the provider's answer has no state: start again")
    flow = store.take_oauth_state(_digest(state), time.time())
    if flow is None:
        return _refused(request, "unknown, already used or expired state: start again")
    binding = request.cookies.get(FLOW_COOKIE, "")
    if not binding or not secrets.compare_digest(_digest(binding), flow.binding_hash):
        return _refused(request, "this connection was started in another browser: start again")
    if session is not None and session.user != flow.user_id:
        return _refused(request, "this connection was started by another user: start again")
    if error:
        return _refused(request, f"{flow.provider} did not grant access: {error[:100]}")
    client = resolver.oauth.get(flow.provider)
    if not code or client is None or not client.configured:
        return _refused(request, "the provider's answer has no code: start again")
    verifier = vault.decrypt(flow.verifier, "a connect flow's verifier")["verifier"]
    try:
        tokens = client.exchange(code, verifier, flow.redirect_uri)
        record = resolver.add_oauth(flow.user_id, flow.provider, tokens)
    except BackendError as exc:
        logger.warning("connecting %s for user %s failed: %s", flow.provider, flow.user_id, exc)
        return _refused(request, exc.message, 502 if exc.http_status >= 500 else 400)
    response = _render(request, "connected.html", session, record=record.to_dict())
    response.delete_cookie(FLOW_COOKIE, path=FLOW_COOKIE_PATH)
    return response

"""OAuth2 with Google and WordPress.com: the authorization URL, the code exchange and the
refresh.

The operator registers one client per provider (``BACKEND_GOOGLE_CLIENT_ID`` and secret,
``BACKEND_WORDPRESS_CLIENT_ID`` and secret); a user grants it access in the browser
(authorization-code flow; with PKCE, RFC 7636, method S256, where the provider takes it)
and the monitor exchanges the code at the token URL. Before a node runs, an access token
about to expire is refreshed with the ``refresh_token`` grant. WordPress.com's server-side
tokens carry no expiry and no refresh token: they stay good until the user revokes them.
Every endpoint is a setting, so tests and proxies can stand in for the provider.

Tokens and the client secret never appear in a message raised from here: a failure says
what the token endpoint answered (its ``error`` code), nothing it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import httpx2
from pydantic import SecretStr

from backend.errors import BackendError, ProviderError
from backend.provider_settings import GOOGLE, WORDPRESS
from backend.settings import Settings

from .egress import DIRECT, Egress

# What the monitor's "Connect Google" asks for: the Gmail and Calendar blocks' scopes.
GOOGLE_SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/calendar.readonly",
)
# What "Connect WordPress" asks for, as AutoGPT's WordPress blocks do: the posts endpoints.
WORDPRESS_SCOPES = ("posts",)
# Google gives a refresh token only on the first grant unless asked for offline access and
# consent again; it also merges earlier grants of the same client into this one.
GOOGLE_AUTH_PARAMS = {
    "access_type": "offline",
    "prompt": "consent",
    "include_granted_scopes": "true",
}
TOKEN_TIMEOUT_SECONDS = 20.0


class GrantRevoked(BackendError):
    """The token endpoint refused the refresh token (``invalid_grant``): revoked, expired
    or from another client. Only the user can fix it, by connecting the account again."""

    code = "credentials_revoked"
    http_status = 409


@dataclass(frozen=True)
class TokenSet:
    """What a token answer gave; ``expires_at`` is a Unix time, None when not said."""

    access_token: SecretStr = field(repr=False)
    refresh_token: SecretStr | None = field(default=None, repr=False)
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    # What names the account: its address, from the OpenID id_token Google sent, or the
    # blog's URL WordPress.com sent (None when the answer had neither).
    account: str | None = None

    def payload(self) -> dict[str, str]:
        """The fields a stored OAuth2 credential keeps encrypted."""
        fields = {"access_token": self.access_token.get_secret_value()}
        if self.refresh_token is not None:
            fields["refresh_token"] = self.refresh_token.get_secret_value()
        if self.expires_at is not None:
            fields["expires_at"] = repr(self.expires_at)
        return fields


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthClient:
    """One provider's registered client and its two endpoints."""

    def __init__(
        self,
        provider: str,
        client_id: str,
        client_secret: SecretStr,
        auth_url: str,
        token_url: str,
        scopes: tuple[str, ...],
        revoke_url: str = "",
        *,
        label: str = "",
        pkce: bool = True,
        auth_params: Mapping[str, str] | None = None,
        egress: Egress = DIRECT,
    ) -> None:
        self.egress = egress
        self.provider = provider
        self.label = label or provider.capitalize()
        # WordPress.com documents no PKCE: its flow relies on the client secret alone.
        self.pkce = pkce
        self.auth_params = dict(auth_params or {})
        self.client_id = client_id
        self._client_secret = client_secret
        self.auth_url = auth_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.scopes = scopes

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self._client_secret.get_secret_value())

    def authorization_url(self, state: str, challenge: str, redirect_uri: str) -> str:
        """Where to send the browser, with the provider's own extra parameters."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
        }
        if self.pkce:
            query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        query |= self.auth_params
        separator = "&" if "?" in self.auth_url else "?"
        return f"{self.auth_url}{separator}{urlencode(query)}"

    def exchange(self, code: str, verifier: str, redirect_uri: str) -> TokenSet:
        """The tokens for an authorization code; ProviderError when refused. An answer
        naming no scopes (WordPress.com's single-blog tokens) was granted what was asked."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.pkce:
            form["code_verifier"] = verifier
        tokens = self._token(form, "exchange the authorization code")
        return tokens if tokens.scopes else replace(tokens, scopes=self.scopes)

    def refresh(self, refresh_token: str, scopes: tuple[str, ...] = ()) -> TokenSet:
        """A new access token; GrantRevoked for ``invalid_grant``, ProviderError else."""
        tokens = self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            "refresh the access token",
        )
        # Google leaves out the refresh token (it stays valid) and may leave out scopes.
        return TokenSet(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or SecretStr(refresh_token),
            expires_at=tokens.expires_at,
            scopes=tokens.scopes or scopes,
        )

    def revoke(self, token: str) -> None:
        """Revoke the grant ``token`` (a refresh or access token) belongs to; a token
        already revoked or expired counts as done. ProviderError when it cannot be."""
        if not self.revoke_url:
            return
        try:
            with self.egress.client(TOKEN_TIMEOUT_SECONDS) as http:
                response = http.post(self.revoke_url, data={"token": token})
        except httpx2.HTTPError as exc:
            raise ProviderError(
                f"cannot revoke the {self.provider} grant: {type(exc).__name__}"
            ) from None
        error = str(_json(response).get("error") or "")
        if response.status_code >= 400 and error != "invalid_token":
            raise ProviderError(
                f"cannot revoke the {self.provider} grant: {error[:100] or response.status_code}"
            )

    def _token(self, form: dict[str, str], what: str) -> TokenSet:
        form = {
            **form,
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        try:
            with self.egress.client(TOKEN_TIMEOUT_SECONDS) as http:
                response = http.post(
                    self.token_url, data=form, headers={"Accept": "application/json"}
                )
        except httpx2.HTTPError as exc:
            raise ProviderError(
                f"cannot {what} with {self.provider}: {type(exc).__name__}"
            ) from None
        body = _json(response)
        if response.status_code >= 400:
            error = str(body.get("error") or f"HTTP {response.status_code}")[:100]
            if error == "invalid_grant":
                raise GrantRevoked(
                    f"{self.provider} refused the stored grant (invalid_grant): it was revoked "
                    "or has expired; connect the account again at /ui/credentials"
                )
            raise ProviderError(f"cannot {what} with {self.provider}: {error}")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError(f"{self.provider} sent a token answer without an access_token")
        refresh = body.get("refresh_token")
        expires_in = body.get("expires_in")
        scope = body.get("scope")
        return TokenSet(
            access_token=SecretStr(token),
            refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=(
                time.time() + float(expires_in) if isinstance(expires_in, int | float) else None
            ),
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            account=_id_token_email(body.get("id_token")) or _text(body.get("blog_url")),
        )


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _id_token_email(id_token: Any) -> str | None:
    """The ``email`` claim of an id_token. It came straight from the token endpoint over
    the connection we opened, so (as OpenID Connect allows) its signature is not checked;
    it only names the credential."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    part = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    email = claims.get("email") if isinstance(claims, dict) else None
    return email[:200] if isinstance(email, str) and email else None


def oauth_clients(settings: Settings) -> dict[str, OAuthClient]:
    """{provider: its client}, for every provider the operator can register."""
    egress = Egress.from_settings(settings)
    google, wordpress = settings.oauth_apps[GOOGLE], settings.oauth_apps[WORDPRESS]
    return {
        GOOGLE: OAuthClient(
            GOOGLE,
            google.client_id,
            google.client_secret,
            google.auth_url,
            google.token_url,
            GOOGLE_SCOPES,
            google.revoke_url or "",
            auth_params=GOOGLE_AUTH_PARAMS,
            egress=egress,
        ),
        # WordPress.com has no revocation endpoint: a user revokes an app in their account.
        WORDPRESS: OAuthClient(
            WORDPRESS,
            wordpress.client_id,
            wordpress.client_secret,
            wordpress.auth_url,
            wordpress.token_url,
            WORDPRESS_SCOPES,
            label="WordPress",
            pkce=False,
            egress=egress,
        ),
    }

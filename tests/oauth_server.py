"""A fake Google authorization server: the consent page (which grants at once and sends
the browser back with a code), the token endpoint (authorization_code with PKCE S256,
refresh_token) and revocation, as Google's OAuth2 documentation describes them."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass

from tests.service_server import Json, Raw, Recorded, ServiceServer

CLIENT_ID = "test-client.apps.example.com"
CLIENT_SECRET = "test-client-secret-0a1b2c3d"
EMAIL = "alice@example.com"


@dataclass
class _Grant:
    challenge: str
    method: str
    redirect_uri: str
    scope: str


def _id_token(email: str) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'email': email, 'sub': '42'})}.sig"


class OAuthServer(ServiceServer):
    def __init__(self, expires_in: int = 3599) -> None:
        self.expires_in = expires_in
        self.codes: dict[str, _Grant] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> scope
        self.revoked: set[str] = set()
        self.access_tokens: list[str] = []
        # Seconds a refresh answer takes (so two executors' refreshes really overlap).
        self.refresh_delay = 0.0
        # Set when a refresh arrives; while ``refresh_gate`` is set to an unset event, a
        # refresh answers only once it is set (or after 30 s): a provider that hangs.
        self.refresh_arrived = threading.Event()
        self.refresh_gate: threading.Event | None = None
        self._serial = itertools.count(1)
        super().__init__(
            {
                ("GET", r"/o/oauth2/v2/auth"): self._authorize,
                ("POST", r"/token"): self._token,
                ("POST", r"/revoke"): self._revoke,
            }
        )

    @property
    def auth_url(self) -> str:
        return f"{self.url}/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def _authorize(self, recorded: Recorded, match: re.Match[str]) -> Raw:
        q = recorded.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return Raw(b"bad client", 400, "text/plain")
        code = f"code-{next(self._serial)}"
        self.codes[code] = _Grant(
            q.get("code_challenge", ""),
            q.get("code_challenge_method", ""),
            q["redirect_uri"],
            q.get("scope", ""),
        )
        back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
        return Raw(b"", 302, "text/plain", {"Location": back})

    def _issue(self, scope: str) -> dict[str, object]:
        access = f"ya29.access-{next(self._serial)}"
        self.access_tokens.append(access)
        return {
            "access_token": access,
            "expires_in": self.expires_in,
            "scope": scope,
            "token_type": "Bearer",
        }

    def _token(self, recorded: Recorded, match: re.Match[str]) -> Json:
        form = dict(urllib.parse.parse_qsl(recorded.body.decode()))
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Json({"error": "invalid_client"}, 401)
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
            if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                return Json({"error": "invalid_grant"}, 400)
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if grant.method != "S256" or grant.challenge != expected:
                return Json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
            refresh = f"1//refresh-{next(self._serial)}"
            self.refresh_tokens[refresh] = grant.scope
            return Json(
                {**self._issue(grant.scope), "refresh_token": refresh, "id_token": _id_token(EMAIL)}
            )
        if form.get("grant_type") == "refresh_token":
            self.refresh_arrived.set()
            if self.refresh_gate is not None:
                self.refresh_gate.wait(30)
            time.sleep(self.refresh_delay)
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens or token in self.revoked:
                return Json({"error": "invalid_grant", "error_description": "Token revoked"}, 400)
            return Json(self._issue(self.refresh_tokens[token]))
        return Json({"error": "unsupported_grant_type"}, 400)

    def _revoke(self, recorded: Recorded, match: re.Match[str]) -> Json:
        token = recorded.query.get("token") or dict(
            urllib.parse.parse_qsl(recorded.body.decode())
        ).get("token", "")
        self.revoked.add(token)
        return Json({})

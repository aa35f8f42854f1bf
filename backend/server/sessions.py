"""The monitor's session token: who signed in and with which key, sealed by the server.

The cookie never holds the API key itself: it holds the user, the key's hash and an
expiry time, encrypted and authenticated with the server's vault key (the one every API
instance shares), so a browser cannot forge or extend one. Whoever presents a token is
still looked up by its key hash on every request: revoking the key ends every session
signed in with it, and an expired token is refused whatever the browser keeps.
"""

from __future__ import annotations

import time

from backend.data.vault import Vault
from backend.errors import EncryptionKeyError

SESSION_COOKIE = "agent_server_session"
SESSION_MAX_AGE_SECONDS = 12 * 3600
_PURPOSE = "agent-server monitor session v1"


def seal(vault: Vault, user: str, key_hash: str, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    return vault.encrypt(
        {
            "purpose": _PURPOSE,
            "user": user,
            "key_hash": key_hash,
            "expires": str(int(issued + SESSION_MAX_AGE_SECONDS)),
        }
    )


def unseal(vault: Vault, token: str, now: float | None = None) -> tuple[str, str] | None:
    """(user, key hash) of a token this server sealed and that has not expired; else None."""
    try:
        payload = vault.decrypt(token, "a session token")
        expires = int(payload["expires"])
        user, key_hash = payload["user"], payload["key_hash"]
    except (EncryptionKeyError, UnicodeError, ValueError, KeyError, TypeError):
        return None
    if payload.get("purpose") != _PURPOSE:
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return user, key_hash

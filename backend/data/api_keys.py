"""API keys: how they look, how they are hashed, and the record the store keeps.

The key itself is shown once, when it is created; the store keeps only its SHA-256 and
a short prefix so an operator can tell keys apart in a listing and revoke one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

KEY_PREFIX = "ags_"
# Enough of the key to tell keys apart in a listing, far too little to guess the rest.
SHOWN_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    prefix: str
    created_at: float
    name: str | None = None
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user_id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def new_key() -> str:
    """A fresh random key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # The key is random and long, so a plain digest is enough: there is nothing to
    # brute-force that a slow hash would protect.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_PREFIX_LENGTH]

"""Stored credentials: the record the store keeps, the secret fields of each type, the hint.

A record is everything about a credential but its secret: the store keeps the secret
fields as one encrypted JSON payload next to it (see vault.py) and a masked hint, so a
listing can tell keys apart without decrypting anything.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from backend.errors import InvalidInput
from backend.providers.credentials import Credentials, CredentialsMetaInput, CredentialsType

# AutoGPT's provider names: lower-case words joined by underscores ("open_router").
PROVIDER_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"
MAX_TITLE_CHARS = 255
MAX_SECRET_CHARS = 8192
# Beyond this a user is more likely scripting a leak than keeping keys.
MAX_CREDENTIALS_PER_USER = 1000
# A hint shows the first and last few characters of secrets at least this long, which
# leaves most of a real API key hidden; shorter secrets show nothing.
HINT_MIN_CHARS = 16

# The fields each type keeps encrypted. OAuth2 keeps its tokens and their expiry (a Unix
# time as text) there too, so a refresh rewrites one encrypted payload.
SECRET_FIELDS: dict[CredentialsType, tuple[str, ...]] = {
    CredentialsType.API_KEY: ("api_key",),
    CredentialsType.USER_PASSWORD: ("username", "password"),
    CredentialsType.OAUTH2: ("access_token", "refresh_token", "expires_at"),
}
# Fields a credential may lack: a grant without a refresh token, a token without expiry.
OPTIONAL_FIELDS = frozenset({"refresh_token", "expires_at"})
# The types a user adds by pasting secrets; OAuth2 credentials come from a connect flow.
PASTED_TYPES = (CredentialsType.API_KEY, CredentialsType.USER_PASSWORD)
# The field a type's hint is made from (never a password: it is the weakest secret, and
# never a token: an OAuth2 credential's hint says only what it is).
_HINT_FIELD = {CredentialsType.API_KEY: "api_key", CredentialsType.USER_PASSWORD: "username"}
OAUTH2_HINT = "oauth2"


@dataclass(frozen=True)
class CredentialRecord:
    id: str
    user_id: str
    provider: str
    type: CredentialsType
    title: str
    hint: str
    created_at: float
    updated_at: float
    scopes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "type": self.type.value,
            "title": self.title,
            "hint": self.hint,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def reference(self) -> CredentialsMetaInput:
        """What a node's credentials input holds to name this credential."""
        return CredentialsMetaInput(
            id=self.id, provider=self.provider, type=self.type, title=self.title
        )


@dataclass(frozen=True)
class NewCredentials:
    """A credential to store; ``secret`` holds the fields of ``SECRET_FIELDS[type]``."""

    provider: str
    type: CredentialsType
    title: str
    secret: Mapping[str, SecretStr] = field(repr=False)
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OAuthState:
    """A connect flow waiting for its callback; ``verifier`` is encrypted by the vault."""

    state_hash: str
    user_id: str
    binding_hash: str
    provider: str
    verifier: str = field(repr=False)
    redirect_uri: str
    created_at: float
    expires_at: float


def new_credentials_id() -> str:
    return str(uuid.uuid4())


def masked_hint(value: str) -> str:
    """``sk-...abcd`` for a long secret, ``***`` for one too short to show any of."""
    if len(value) < HINT_MIN_CHARS:
        return "***"
    return f"{value[:3]}...{value[-4:]}"


def validate(new: NewCredentials) -> dict[str, str]:
    """The secret payload to encrypt, or InvalidInput naming the field (never its value)."""
    if not re.fullmatch(PROVIDER_PATTERN, new.provider):
        raise InvalidInput(
            f"provider {new.provider[:64]!r} is not a provider name "
            "(lower-case letters, digits and underscores, e.g. 'openai', 'open_router')"
        )
    if new.type not in SECRET_FIELDS:
        supported = ", ".join(t.value for t in SECRET_FIELDS)
        raise InvalidInput(f"credentials of type {new.type.value} cannot be added yet: {supported}")
    if len(new.title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"title is longer than {MAX_TITLE_CHARS} characters")
    # PostgreSQL text cannot hold NUL, and no real key or name contains one.
    if "\x00" in new.title:
        raise InvalidInput("title must not contain NUL characters")
    payload: dict[str, str] = {}
    for name in SECRET_FIELDS[new.type]:
        value = new.secret.get(name)
        text = value.get_secret_value() if value is not None else ""
        # Pasted keys often carry a newline; a password keeps its spaces.
        if name != "password":
            text = text.strip()
        if not text:
            if name in OPTIONAL_FIELDS:
                continue
            raise InvalidInput(f"{name} must not be empty")
        if len(text) > MAX_SECRET_CHARS:
            raise InvalidInput(f"{name} is longer than {MAX_SECRET_CHARS} characters")
        if "\x00" in text:
            raise InvalidInput(f"{name} must not contain NUL characters")
        payload[name] = text
    return payload


def hint_for(type_: CredentialsType, payload: Mapping[str, str]) -> str:
    if type_ not in _HINT_FIELD:
        return OAUTH2_HINT
    return masked_hint(payload[_HINT_FIELD[type_]])


def expires_at(payload: Mapping[str, str]) -> float | None:
    """The expiry an OAuth2 payload records, None when it records none."""
    try:
        return float(payload["expires_at"])
    except (KeyError, ValueError):
        return None


def resolved(record: CredentialRecord, payload: Mapping[str, str]) -> Credentials:
    """The decrypted credential as blocks receive it (secrets stay ``SecretStr``)."""

    def secret(name: str) -> SecretStr | None:
        return SecretStr(payload[name]) if name in payload else None

    return Credentials(
        provider=record.provider,
        type=record.type,
        id=record.id,
        title=record.title,
        api_key=secret("api_key"),
        username=payload.get("username"),
        password=secret("password"),
        access_token=secret("access_token"),
        scopes=record.scopes,
        expires_at=expires_at(payload),
    )

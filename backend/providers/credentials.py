"""Credential references and resolved credentials: what blocks see of a user's secrets.

A node names a credential by reference (AutoGPT's ``CredentialsMetaInput``: id,
provider, type, title), so AutoGPT exports load as they are. The executor resolves the
reference just before the node runs and hands the result to the block on its
``BlockContext``, never inside its input data, so a secret is never stored with a node,
put in an event or logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, SecretStr


class CredentialsType(StrEnum):
    API_KEY = "api_key"
    OAUTH2 = "oauth2"
    USER_PASSWORD = "user_password"


class CredentialsMetaInput(BaseModel):
    """The reference a node's ``credentials`` input holds (never the secret itself)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    provider: str
    type: CredentialsType = CredentialsType.API_KEY
    title: str | None = None


@dataclass(frozen=True)
class Credentials:
    """A resolved credential. Secrets are ``SecretStr``: printing one shows ``**********``.

    ``id`` is empty for an operator default (a ``BACKEND_*_API_KEY`` setting).
    """

    provider: str
    type: CredentialsType
    id: str = ""
    title: str = ""
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    scopes: tuple[str, ...] = ()
    # When an OAuth2 access token expires (Unix time); None when unknown.
    expires_at: float | None = None

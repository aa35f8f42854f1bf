"""Credentials: add, list, read and delete the caller's own, for nodes to reference.

A secret goes in once, with POST, and never comes out: answers carry the record and a
masked hint (``sk-...abcd``). Another user's credential answers 404, exactly like one
that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel, Discriminator, Field, SecretStr, Tag

from backend.data.credentials import (
    MAX_SECRET_CHARS,
    MAX_TITLE_CHARS,
    PROVIDER_PATTERN,
    NewCredentials,
)
from backend.providers.credentials import CredentialsType
from backend.server.auth import UserDep
from backend.server.deps import CredentialsDep, StoreDep
from backend.server.models import Credentials, CredentialsList
from backend.server.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["credentials"])

# Ids are UUIDs; anything unlike one (a NUL, which PostgreSQL cannot compare) is a 422.
CredentialsId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _CredentialsBody(BaseModel):
    provider: str = Field(
        pattern=PROVIDER_PATTERN,
        max_length=64,
        description="Provider name as blocks spell it: openai, anthropic, open_router, ...",
        examples=["openai"],
    )
    title: str = Field("", max_length=MAX_TITLE_CHARS, description="A label to tell them apart.")


class ApiKeyBody(_CredentialsBody):
    type: Literal["api_key"] = "api_key"
    api_key: SecretStr = Field(
        min_length=1, max_length=MAX_SECRET_CHARS, description="Stored encrypted; never shown."
    )

    def to_new(self) -> NewCredentials:
        return NewCredentials(
            self.provider, CredentialsType.API_KEY, self.title, {"api_key": self.api_key}
        )


class UserPasswordBody(_CredentialsBody):
    type: Literal["user_password"]
    username: SecretStr = Field(min_length=1, max_length=MAX_SECRET_CHARS)
    password: SecretStr = Field(
        min_length=1, max_length=MAX_SECRET_CHARS, description="Stored encrypted; never shown."
    )

    def to_new(self) -> NewCredentials:
        secret = {"username": self.username, "password": self.password}
        return NewCredentials(self.provider, CredentialsType.USER_PASSWORD, self.title, secret)


def _body_type(value: Any) -> str | None:
    # "type" may be left out for the common case, an API key.
    tag = value.get("type", "api_key") if isinstance(value, dict) else getattr(value, "type", None)
    return tag if isinstance(tag, str) else None


CredentialsBody = Annotated[
    Annotated[ApiKeyBody, Tag("api_key")] | Annotated[UserPasswordBody, Tag("user_password")],
    Discriminator(_body_type),
    Body(
        description='{"provider", "type": "api_key" (default) or "user_password", "title", '
        'and the secret fields: "api_key", or "username" and "password"}',
        examples=[{"provider": "openai", "type": "api_key", "title": "work", "api_key": "sk-..."}],
    ),
]


@router.post(
    "/credentials",
    status_code=status.HTTP_201_CREATED,
    summary="Add a credential; the answer shows only a masked hint of its secret",
    responses=errors(409),
    response_model=Credentials,
)
def create_credentials(
    user: UserDep, manager: CredentialsDep, body: CredentialsBody
) -> dict[str, Any]:
    return manager.add(user, body.to_new()).to_dict()


@router.get(
    "/credentials",
    summary="List your credentials (never their secrets)",
    response_model=CredentialsList,
)
def list_credentials(
    user: UserDep,
    store: StoreDep,
    provider: Annotated[
        str | None, Query(pattern=PROVIDER_PATTERN, description="Only this provider")
    ] = None,
) -> dict[str, Any]:
    return {"items": [record.to_dict() for record in store.list_credentials(user, provider)]}


@router.get(
    "/credentials/{credentials_id}",
    summary="One of your credentials",
    response_model=Credentials,
)
def get_credentials(
    credentials_id: CredentialsId, user: UserDep, store: StoreDep
) -> dict[str, Any]:
    return store.get_credentials(user, credentials_id).to_dict()


@router.delete(
    "/credentials/{credentials_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a credential; nodes that reference it fail until given another",
)
def delete_credentials(
    credentials_id: CredentialsId, user: UserDep, manager: CredentialsDep
) -> None:
    manager.delete(user, credentials_id)

"""Stored webhook hooks: the record the store keeps and how a delivery proves itself.

A hook's secret is created with it and shown once; the store keeps it encrypted by the
vault (it is needed in clear to check an HMAC signature) and never returns it in a
listing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class HookAuth(StrEnum):
    # X-Hub-Signature-256: sha256=HEX, the HMAC-SHA256 of the raw body (GitHub's shape).
    HMAC = "hmac"
    # Authorization: Bearer SECRET.
    BEARER = "bearer"


@dataclass(frozen=True)
class HookRecord:
    id: str
    user_id: str
    graph_id: str
    graph_version: int | None
    input_name: str
    auth: HookAuth
    created_at: float
    updated_at: float
    name: str = ""
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "graph_id": self.graph_id,
            "graph_version": self.graph_version,
            "input": self.input_name,
            "auth": self.auth.value,
            "enabled": self.enabled,
            "path": f"/api/v1/hooks/{self.id}",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def new_hook_id() -> str:
    # Unguessable, so a hook's URL alone tells an outsider nothing; the secret still
    # decides whether a delivery is accepted.
    return "hk_" + secrets.token_urlsafe(18)


def new_hook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)

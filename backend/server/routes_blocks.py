"""The blocks a graph may use, with their input and output JSON schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.blocks import all_blocks
from backend.server.auth import UserDep
from backend.server.models import Block

router = APIRouter(prefix="/api/v1", tags=["blocks"])


@router.get(
    "/blocks",
    summary="Every available block with its JSON schemas",
    response_model=list[Block],
)
def list_blocks(user: UserDep) -> list[dict[str, Any]]:
    blocks = sorted(all_blocks().values(), key=lambda b: b.name.lower())
    return [block.schema() for block in blocks]

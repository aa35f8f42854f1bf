"""docs/blocks.md is the generated table of built-in blocks, kept in step with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from backend.blocks import BUILTIN_BLOCKS
from backend.blocks.base import Block, BlockContext, BlockSchema, Isolation
from backend.blocks.catalog import blocks_markdown, credential_inputs
from backend.providers.credentials import CredentialsMetaInput

DOCS = Path(__file__).resolve().parents[2] / "docs" / "blocks.md"


def test_docs_list_every_builtin_block_as_generated() -> None:
    assert DOCS.read_text() == blocks_markdown(), (
        "docs/blocks.md is stale: run `python -m backend.blocks.catalog > docs/blocks.md`"
    )
    text = DOCS.read_text()
    for cls in BUILTIN_BLOCKS:
        assert f"| {cls.__name__} | `{cls.id}` | {cls.isolation.value} |" in text


class _KeyedBlock(Block):
    id = "00000000-0000-4000-8000-00000000c0de"
    description = "Calls a | service."
    categories = ("BASIC",)
    isolation = Isolation.INLINE

    class Input(BlockSchema):
        prompt: str = Field(description="What to ask.")
        credentials: CredentialsMetaInput = Field(description="The provider key.")
        backup_credentials: CredentialsMetaInput | None = Field(default=None)

    async def run(self, input_data: Any, ctx: BlockContext) -> Any:
        yield "out", input_data.prompt


def test_a_block_row_names_its_credential_inputs() -> None:
    block = _KeyedBlock()
    assert credential_inputs(block) == ["credentials", "backup_credentials"]
    row = blocks_markdown([block]).splitlines()[-1]
    assert row == (
        "| _KeyedBlock | `00000000-0000-4000-8000-00000000c0de` | inline | Calls a \\| service. "
        "| `credentials`, `backup_credentials` |"
    )

"""The table of built-in blocks in docs/blocks.md, generated from the blocks themselves.

Regenerate it after adding or changing a block::

    python -m backend.blocks.catalog > docs/blocks.md

A test compares the file with this output, so the page cannot drift from the code.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin

from backend.providers.credentials import CredentialsMetaInput

from . import BUILTIN_BLOCKS
from .base import Block

HEADER = """\
# Built-in blocks

Every block the server ships, by name. Graphs name blocks by `id` (AutoGPT's UUIDs, so
AutoGPT exports run as they are). **Isolation** says where a block's work runs:
`worker` in one of the executor's worker processes under memory and CPU limits (anything
whose cost depends on what a graph author wrote), `inline` on the executor's event loop
(tiny, bounded work: passing a value on, waiting). **Credentials** names the inputs that
take a credential reference. Every block also has an `error` output.

This page is generated: `python -m backend.blocks.catalog > docs/blocks.md`.

| block | id | isolation | what it does | credentials |
| --- | --- | --- | --- | --- |
"""


def credential_inputs(block: Block) -> list[str]:
    """The input pins of ``block`` that hold a credential reference."""
    return [
        name
        for name, field in block.Input.model_fields.items()
        if any(_is_credentials(kind) for kind in _members(field.annotation))
    ]


def _members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _is_credentials(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, CredentialsMetaInput)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def blocks_markdown(blocks: Iterable[Block] | None = None) -> str:
    """docs/blocks.md for ``blocks`` (default: the built-in blocks), sorted by name."""
    chosen = list(blocks) if blocks is not None else [cls() for cls in BUILTIN_BLOCKS]
    rows = [
        f"| {b.name} | `{b.id}` | {b.isolation.value} | {_cell(b.description)} | "
        f"{', '.join(f'`{name}`' for name in credential_inputs(b)) or '-'} |\n"
        for b in sorted(chosen, key=lambda b: b.name)
    ]
    return HEADER + "".join(rows)


if __name__ == "__main__":
    print(blocks_markdown(), end="")

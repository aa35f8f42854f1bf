"""What the executor lends a running block beyond its input: sub-agent runs and the
user's key/value store. Blocks call these through ``BlockContext``; the executor (or a
local run) provides them, so blocks never reach the database themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class SubAgentResult:
    """How a sub-agent run ended: its status, outputs by name, error and LLM usage."""

    run_id: str
    status: str
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class ServiceRefused(Exception):
    """What the block asked for cannot be done (a sub-agent that cannot run: unknown
    graph, bad inputs, too deep, a cycle; a value too large to store). The block turns it
    into its error output."""


class SubAgents(Protocol):
    async def run(
        self, graph_id: str, graph_version: int, inputs: dict[str, Any]
    ) -> SubAgentResult:
        """Start (or, after a crash, find again) this node's child run and wait for it."""


class KeyValue(Protocol):
    async def get(self, scope: str, key: str) -> tuple[bool, Any]:
        """(found, value) of ``key`` in the user's ``scope``."""

    async def put(self, scope: str, key: str, value: Any) -> None: ...

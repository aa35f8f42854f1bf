"""What the monitor's pages show, as plain dicts: run rows, node states, input fields.

Values that come from a run (inputs, outputs, errors, node data) are taken from the
API's own views, masked by :mod:`backend.server.redaction`; nothing here reads them raw.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from backend.blocks import get_block
from backend.blocks.base import BlockType
from backend.data.execution import NodeExecution, Run, RunStatus
from backend.data.graph import Graph
from backend.data.store import Store
from backend.errors import NotFound
from backend.server.pagination import decode_cursor, encode_cursor

PAGE_SIZE = 25


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp)) + "Z"


def duration(start: float | None, end: float | None) -> str:
    if start is None:
        return ""
    seconds = (end if end is not None else time.time()) - start
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class GraphNames:
    """Graph names by (id, version), each looked up once per page."""

    def __init__(self, store: Store, user: str) -> None:
        self.store, self.user = store, user
        self._names: dict[tuple[str, int], str] = {}

    def __call__(self, graph_id: str, version: int) -> str:
        key = (graph_id, version)
        if key not in self._names:
            try:
                name = str(self.store.get_graph(self.user, graph_id, version).get("name") or "")
            except NotFound:
                name = ""
            self._names[key] = name or graph_id
        return self._names[key]


def node_counts(store: Store, run: Run) -> dict[str, int]:
    """How many of the run's node executions are in each status (kept counters: cheap
    however big the run)."""
    return dict(store.run_stats(run.id).status_counts)


def run_row(store: Store, run: Run, names: GraphNames) -> dict[str, Any]:
    counts = node_counts(store, run)
    return {
        "id": run.id,
        "status": run.status.value,
        "graph_id": run.graph_id,
        "graph_version": run.graph_version,
        "graph_name": names(run.graph_id, run.graph_version),
        "created": when(run.created_at),
        "started": when(run.started_at),
        "duration": duration(run.started_at, run.ended_at),
        "nodes": sum(counts.values()),
        "node_counts": ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())),
        "parent_run_id": run.parent_run_id,
    }


def runs_page(
    store: Store,
    user: str,
    status: RunStatus | None,
    graph_id: str | None,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> dict[str, Any]:
    runs = store.list_runs(
        user_id=user, graph_id=graph_id, status=status, limit=limit, before=decode_cursor(cursor)
    )
    names = GraphNames(store, user)
    last = runs[-1] if len(runs) == limit else None
    return {
        "items": [run_row(store, run, names) for run in runs],
        "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
    }


def node_states(nodes: list[NodeExecution]) -> dict[str, dict[str, Any]]:
    """Per graph node: the status of its latest execution, and how many it had."""
    states: dict[str, dict[str, Any]] = {}
    for ne in sorted(nodes, key=lambda n: n.seq):
        state = states.setdefault(ne.node_id, {"status": ne.status.value, "executions": 0})
        state["status"] = ne.status.value
        state["executions"] += 1
    return states


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class InputField:
    """One field of the start-a-run form, from an agent input node."""

    name: str
    label: str
    kind: str  # text | long-text | integer | number | boolean | json
    description: str
    required: bool
    default: str
    secret: bool


def _value_schema(block_id: str) -> dict[str, Any]:
    block = get_block(block_id)
    if block is None:
        return {}
    schema: dict[str, Any] = block.Input.json_schema().get("properties", {}).get("value", {})
    for option in schema.get("anyOf", ()):
        if isinstance(option, dict) and option.get("type") != "null":
            return {**schema, **option}
    return schema


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        return "long-text" if schema.get("format") == "long-text" else "text"
    if kind in ("integer", "number", "boolean"):
        return str(kind)
    return "json"


def input_fields(graph: Graph) -> list[InputField]:
    fields = []
    for node in graph.nodes:
        block = get_block(node.block_id)
        name = node.input_default.get("name")
        if block is None or block.block_type != BlockType.INPUT or not isinstance(name, str):
            continue
        kind = _kind(_value_schema(node.block_id))
        value = node.input_default.get("value")
        secret = bool(node.input_default.get("secret"))
        if value is None or secret:
            default = ""
        elif isinstance(value, str) and kind in ("text", "long-text", "json"):
            default = value  # the json kind sends text that is not JSON as text
        else:
            default = json.dumps(value, ensure_ascii=False)
        fields.append(
            InputField(
                name=name,
                label=str(node.input_default.get("title") or name),
                kind=kind,
                description=str(node.input_default.get("description") or ""),
                required=value is None,
                default=default,
                secret=secret,
            )
        )
    return fields

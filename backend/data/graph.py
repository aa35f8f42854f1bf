"""Graph, Node and Link: one immutable graph version, AutoGPT export compatible.

AutoGPT's export JSON is accepted as-is through :meth:`Graph.from_json`: unknown
fields are ignored and links may come either from the top-level ``links`` list or
from each node's nested ``input_links`` / ``output_links``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from backend.blocks.base import BlockType


class Link(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source_id: str
    source_name: str
    sink_id: str
    sink_name: str
    is_static: bool = False
    id: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two links the same connection (AutoGPT's link identity)."""
        return (self.source_id, self.source_name, self.sink_id, self.sink_name)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {} if self.id is None else {"id": self.id}
        data.update(
            source_id=self.source_id,
            sink_id=self.sink_id,
            source_name=self.source_name,
            sink_name=self.sink_name,
            is_static=self.is_static,
        )
        return data


class NodeOptions(BaseModel):
    """Per-node execution limits, read from ``Node.metadata`` (other keys are the UI's)."""

    model_config = ConfigDict(extra="ignore")

    timeout_seconds: float | None = Field(None, gt=0)
    max_attempts: int | None = Field(None, ge=1, le=100)
    retry_backoff_seconds: float | None = Field(None, ge=0)


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    block_id: str
    input_default: dict[str, Any] = {}
    metadata: dict[str, Any] = {}

    @field_validator("input_default", "metadata", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def options(self) -> NodeOptions:
        """The node's limits; graph validation has rejected metadata that fails here."""
        return NodeOptions.model_validate(self.metadata)


@dataclass
class _Index:
    """Lookups built once per graph; remembers which lists it was built from."""

    nodes_ref: list[Node]
    links_ref: list[Link]
    nodes: dict[str, Node] = field(default_factory=dict)
    links_from: dict[str, list[Link]] = field(default_factory=lambda: defaultdict(list))
    links_to: dict[str, list[Link]] = field(default_factory=lambda: defaultdict(list))


def _new_graph_id() -> str:
    return str(uuid.uuid4())


class Graph(BaseModel):
    """A graph version. Treat instances as immutable: lookups are cached per instance."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=_new_graph_id)
    version: int = 1
    name: str = ""
    description: str = ""
    is_active: bool = True
    nodes: list[Node] = []
    links: list[Link] = []
    # AutoGPT's suggestion of how often the agent should run; offered, never applied.
    recommended_schedule_cron: str | None = None

    _index: _Index | None = PrivateAttr(default=None)

    @field_validator("id", mode="before")
    @classmethod
    def _default_id(cls, value: Any) -> Any:
        return _new_graph_id() if value in (None, "") else value

    @field_validator("recommended_schedule_cron", mode="before")
    @classmethod
    def _cron_text_or_nothing(cls, value: Any) -> Any:
        # A suggestion only: one that is not text is dropped rather than failing the import.
        return value.strip() or None if isinstance(value, str) else None

    @field_validator("name", "description", mode="before")
    @classmethod
    def _null_is_blank(cls, value: Any) -> Any:
        return "" if value is None else value

    def __eq__(self, other: object) -> bool:
        # Compare the data only: the cached lookups are not part of a graph's value.
        if not isinstance(other, Graph):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    # -- AutoGPT JSON -----------------------------------------------------------------

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Graph:
        """Build a graph from our JSON or an AutoGPT export.

        AutoGPT's create-graph request wraps the graph as ``{"graph": {...}}``; that
        shape is unwrapped. Top-level ``links`` win when present; otherwise links are
        gathered from the nodes' ``input_links``/``output_links`` without duplicates.
        """
        if not isinstance(data, dict):
            raise ValueError("a graph must be a JSON object")
        if "nodes" not in data and isinstance(data.get("graph"), dict):
            data = data["graph"]
        body = dict(data)
        nodes = body.get("nodes")
        if body.get("links") is None and isinstance(nodes, list):
            body["links"] = _links_from_nodes(nodes)
        return cls.model_validate(body)

    def to_json(self) -> dict[str, Any]:
        """The AutoGPT export shape: top-level links, and each node with its links."""
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "is_active": self.is_active,
            "nodes": [
                {
                    "id": node.id,
                    "block_id": node.block_id,
                    "input_default": node.input_default,
                    "metadata": node.metadata,
                    "input_links": [link.to_json() for link in self.links_to(node.id)],
                    "output_links": [link.to_json() for link in self.links_from(node.id)],
                }
                for node in self.nodes
            ],
            "links": [link.to_json() for link in self.links],
            "recommended_schedule_cron": self.recommended_schedule_cron,
            "has_external_trigger": bool(self.trigger_nodes()),
        }

    # -- lookups used by the engine ---------------------------------------------------

    def _lookups(self) -> _Index:
        index = self._index
        if index is None or index.nodes_ref is not self.nodes or index.links_ref is not self.links:
            index = _Index(nodes_ref=self.nodes, links_ref=self.links)
            for node in self.nodes:
                index.nodes.setdefault(node.id, node)  # duplicates are a validation error
            for link in self.links:
                index.links_from[link.source_id].append(link)
                index.links_to[link.sink_id].append(link)
            self._index = index
        return index

    def node(self, node_id: str) -> Node:
        """The node with this id; KeyError when the graph has none."""
        try:
            return self._lookups().nodes[node_id]
        except KeyError:
            raise KeyError(f"graph {self.id} has no node {node_id}") from None

    def has_node(self, node_id: str) -> bool:
        return node_id in self._lookups().nodes

    def links_from(self, node_id: str) -> list[Link]:
        return list(self._lookups().links_from.get(node_id, ()))

    def links_to(self, node_id: str) -> list[Link]:
        return list(self._lookups().links_to.get(node_id, ()))

    def linked_input_pins(self, node_id: str) -> set[str]:
        """Sink pin names (as written, dynamic suffixes kept) that links feed."""
        return {link.sink_name for link in self._lookups().links_to.get(node_id, ())}

    def static_input_pins(self, node_id: str) -> set[str]:
        return {
            link.sink_name for link in self._lookups().links_to.get(node_id, ()) if link.is_static
        }

    def starting_nodes(self) -> list[Node]:
        """Nodes no link feeds, plus every INPUT node; NOTE nodes never start."""
        sinks = {link.sink_id for link in self.links}
        starting = []
        for node in self.nodes:
            block_type = _block_type(node.block_id)
            if block_type == BlockType.NOTE:
                continue
            if node.id not in sinks or block_type == BlockType.INPUT:
                starting.append(node)
        return starting

    def trigger_nodes(self) -> list[Node]:
        """Nodes of trigger blocks (a webhook trigger): a run input named by the node's id
        fills the block's trigger pin when the run starts."""
        return [node for node in self.nodes if trigger_pin(node.block_id) is not None]

    def with_static_output_links(self) -> Graph:
        """A copy where every link leaving a static-output block is static.

        AutoGPT marks these links static when a graph is saved, whatever the JSON says.
        """
        from backend.blocks import get_block

        static_sources = {
            node.id
            for node in self.nodes
            if (block := get_block(node.block_id)) is not None and block.static_output
        }
        links = [
            link.model_copy(update={"is_static": True})
            if link.source_id in static_sources and not link.is_static
            else link
            for link in self.links
        ]
        return self.model_copy(update={"links": links})


def content_hash(data: dict[str, Any]) -> str:
    """A digest of what a graph does (its name, nodes and links), whatever its id or
    version: two imports of the same export's sub-graph hash the same."""
    graph = Graph.from_json(data)
    content = {
        "name": graph.name,
        "description": graph.description,
        "nodes": [node.model_dump() for node in graph.nodes],
        "links": sorted([*link.key, link.is_static] for link in graph.links),
    }
    text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def trigger_pin(block_id: str) -> str | None:
    """The pin a trigger block (e.g. the webhook trigger) receives its delivery on."""
    from backend.blocks import get_block

    pin = getattr(get_block(block_id), "trigger_input", None)
    return pin if isinstance(pin, str) else None


def _block_type(block_id: str) -> BlockType:
    from backend.blocks import get_block  # the registry imports many modules; load late

    block = get_block(block_id)
    return BlockType.STANDARD if block is None else block.block_type


def _links_from_nodes(nodes: list[Any]) -> list[dict[str, Any]]:
    """The nodes' nested links, each once. A node that is not an object is left for the
    node list's validation to report."""
    gathered: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        for side in ("input_links", "output_links"):
            links = node.get(side)
            if links is None:
                continue
            if not isinstance(links, list):
                raise ValueError(f"nodes.{index}.{side} must be a list of links")
            for position, link in enumerate(links):
                if not isinstance(link, dict):
                    raise ValueError(f"nodes.{index}.{side}.{position} must be a link object")
                key = _link_key(link)
                if key is None or key not in seen:
                    gathered.append(link)
                if key is not None:
                    seen.add(key)
    return gathered


def _link_key(link: dict[str, Any]) -> tuple[Any, ...] | None:
    """A nested link's identity; None when a part is not text (validation reports it)."""
    key = tuple(link.get(k) for k in ("source_id", "source_name", "sink_id", "sink_name"))
    return key if all(isinstance(part, str) for part in key) else None

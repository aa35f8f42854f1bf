"""Masking the values graph authors marked secret, in every run view and event.

An agent input or output node with ``secret: true`` keeps its value out of API answers:
the run's input or output of that name, the node's own data, and wherever the value
travelled (a downstream node's input, an error message) show ``********`` instead. The
executor still has the real value; only what the API shows is masked.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.blocks import get_block
from backend.blocks.base import BlockType
from backend.data.execution import Run
from backend.data.graph import Graph
from backend.data.store import Store
from backend.errors import NotFound

MASK = "********"


@dataclass(frozen=True)
class SecretPins:
    """Which inputs, outputs and nodes of a graph version are secret."""

    inputs: frozenset[str] = frozenset()
    outputs: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    defaults: tuple[Any, ...] = ()  # default values of secret inputs

    @classmethod
    def of(cls, graph: Graph) -> SecretPins:
        inputs, outputs, nodes, defaults = set(), set(), set(), []
        for node in graph.nodes:
            block = get_block(node.block_id)
            if block is None or not node.input_default.get("secret"):
                continue
            name = str(node.input_default.get("name", ""))
            if block.block_type == BlockType.INPUT:
                inputs.add(name)
                if node.input_default.get("value") is not None:
                    defaults.append(node.input_default["value"])
            elif block.block_type == BlockType.OUTPUT:
                outputs.add(name)
            else:
                continue
            nodes.add(node.id)
        return cls(frozenset(inputs), frozenset(outputs), frozenset(nodes), tuple(defaults))


class Redactor:
    """Masks one run's secrets in the dicts the API answers with."""

    def __init__(self, secret: SecretPins, run: Run) -> None:
        self.secret = secret
        values: list[Any] = list(secret.defaults)
        values += [run.inputs[name] for name in secret.inputs if name in run.inputs]
        values += [v for name in secret.outputs for v in run.outputs.get(name, [])]
        self._texts = sorted({_text(v) for v in values if _text(v)}, key=len, reverse=True)

    @property
    def active(self) -> bool:
        return bool(self.secret.nodes)

    def run(self, view: dict[str, Any]) -> dict[str, Any]:
        if not self.active:
            return view
        view = dict(view)
        view["inputs"] = _masked_keys(view.get("inputs", {}), self.secret.inputs)
        view["outputs"] = _masked_keys(view.get("outputs", {}), self.secret.outputs)
        return self.value(view)

    def node(self, view: dict[str, Any]) -> dict[str, Any]:
        if not self.active:
            return view
        if view.get("node_id") in self.secret.nodes:
            inputs = view.get("input_data", {})
            view = {
                **view,
                "input_data": {**inputs, "value": MASK} if "value" in inputs else inputs,
            }
            view["output_data"] = [[pin, MASK] for pin, _ in view.get("output_data", [])]
        return self.value(view)

    def event(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        if not self.active:
            return data
        if kind == "node_status" and data.get("node_id") in self.secret.nodes:
            data = {**data, "outputs": [[pin, MASK] for pin, _ in data.get("outputs", [])]}
        if kind == "run_status" and isinstance(data.get("outputs"), dict):
            data = {**data, "outputs": _masked_keys(data["outputs"], self.secret.outputs)}
        return self.value(data)

    def value(self, value: Any) -> Any:
        """``value`` with every occurrence of a secret replaced by the mask."""
        if not self._texts:
            return value
        if isinstance(value, str):
            for text in self._texts:
                value = value.replace(text, MASK)
            return value
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if _text(value) in self._texts:
            return MASK
        return value


def redactor(store: Store, run: Run) -> Redactor:
    return Redactor(_secret_pins(store, run.user_id, run.graph_id, run.graph_version), run)


def redactors(store: Store, runs: Iterable[Run]) -> dict[str, Redactor]:
    return {run.id: redactor(store, run) for run in runs}


@functools.lru_cache(maxsize=256)
def _secret_pins(store: Store, user_id: str, graph_id: str, version: int) -> SecretPins:
    # Graph versions never change, so what is secret in one is read once.
    try:
        return SecretPins.of(Graph.from_json(store.get_graph(user_id, graph_id, version)))
    except NotFound:
        return SecretPins()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return ""  # too common to mask by value
    return json.dumps(value, default=str)


def _masked_keys(values: Any, names: frozenset[str]) -> Any:
    if not isinstance(values, dict):
        return values
    return {k: (_mask_all(v) if k in names else v) for k, v in values.items()}


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK for k in value}
    if isinstance(value, list):
        return [MASK for _ in value]
    return MASK

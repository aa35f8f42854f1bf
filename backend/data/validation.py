"""Graph validation: every problem a user can act on, each naming its node and pin.

Nothing here raises for a bad graph: callers get the full list and decide.
"""

from __future__ import annotations

import functools
import types
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from backend.blocks import get_block
from backend.blocks.base import Block, BlockType
from backend.blocks.pin_names import DICT_SPLIT, LIST_SPLIT, base_pin, is_tool_link
from backend.data.graph import Graph, Link, Node, NodeOptions
from backend.data.pins import (
    dynamic_pin_problem,
    output_selector_problem,
    parse_path,
)
from backend.errors import InvalidInput

# The database columns a graph's name and its node ids are kept in hold no more.
MAX_GRAPH_NAME_LENGTH = 255
MAX_NODE_ID_LENGTH = 64


@dataclass(frozen=True)
class GraphError:
    node_id: str | None
    pin: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.node_id is not None:
            where.append(f"node {self.node_id}")
        if self.pin is not None:
            where.append(f"pin {self.pin}")
        return f"{' '.join(where)}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "pin": self.pin, "message": self.message}


def raise_if_invalid(message: str, errors: list[GraphError]) -> None:
    """One InvalidInput carrying every problem (the API answers 422 with them)."""
    if errors:
        raise InvalidInput(
            f"{message}: " + "; ".join(str(e) for e in errors),
            details=[e.to_dict() for e in errors],
        )


def validate_graph(graph: Graph, *, for_run: bool = False) -> list[GraphError]:
    """All problems of ``graph``; ``for_run`` adds the checks only a run needs.

    Loops are allowed. NOTE nodes only need a known block: they never run.
    """
    errors: list[GraphError] = []
    if len(graph.name) > MAX_GRAPH_NAME_LENGTH:
        errors.append(GraphError(None, None, f"name is over {MAX_GRAPH_NAME_LENGTH} characters"))
    counts = Counter(node.id for node in graph.nodes)
    for node_id, count in counts.items():
        if count > 1:
            errors.append(GraphError(node_id, None, f"duplicate node id ({count} nodes share it)"))
        if len(node_id) > MAX_NODE_ID_LENGTH:
            errors.append(GraphError(node_id, None, f"id is over {MAX_NODE_ID_LENGTH} characters"))

    blocks: dict[str, Block] = {}
    for node in graph.nodes:
        block = get_block(node.block_id)
        if block is None:
            errors.append(GraphError(node.id, None, f"unknown block id {node.block_id}"))
        elif node.id not in blocks:
            blocks[node.id] = block

    for link in graph.links:
        errors.extend(_link_errors(graph, link, blocks))

    checked: set[str] = set()
    for node in graph.nodes:
        block = blocks.get(node.id)
        if block is None or block.block_type == BlockType.NOTE or node.id in checked:
            continue  # a duplicate id is reported once, above; its first node is checked
        checked.add(node.id)
        errors.extend(_option_errors(node))
        errors.extend(_default_errors(node, block))
        errors.extend(_input_link_errors(graph, node, block, blocks))
        if for_run:
            errors.extend(_missing_input_errors(graph, node, block))
    return errors


def _option_errors(node: Node) -> list[GraphError]:
    try:
        NodeOptions.model_validate(node.metadata)
    except ValidationError as exc:
        return [
            GraphError(node.id, None, f"metadata {e['loc'][0]}: {e['msg']}") for e in exc.errors()
        ]
    return []


def _input_link_errors(
    graph: Graph, node: Node, block: Block, blocks: dict[str, Block]
) -> list[GraphError]:
    linked: dict[str, bool] = {}
    for link in graph.links_to(node.id):
        source = blocks.get(link.source_id)
        static = link.is_static or (source is not None and source.static_output)
        pin = base_pin(link.sink_name)
        linked[pin] = linked.get(pin, False) or static
    problem = block.input_links_problem(linked) if linked else None
    return [GraphError(node.id, None, problem)] if problem else []


def validate_limits(graph: Graph, max_node_timeout_seconds: float) -> list[GraphError]:
    """Node options above the operator's bounds (BACKEND_MAX_NODE_TIMEOUT_SECONDS)."""
    errors = []
    for node in graph.nodes:
        try:
            timeout = node.options().timeout_seconds
        except ValidationError:
            continue  # reported by validate_graph
        if timeout is not None and timeout > max_node_timeout_seconds:
            errors.append(
                GraphError(
                    node.id,
                    None,
                    f"metadata timeout_seconds {timeout:g} is above the limit of "
                    f"{max_node_timeout_seconds:g} s (BACKEND_MAX_NODE_TIMEOUT_SECONDS)",
                )
            )
    return errors


def validate_run_inputs(graph: Graph, inputs: dict[str, Any]) -> list[GraphError]:
    """Every run input must name one of the graph's agent inputs (or trigger nodes, by
    id) and fit its ``value`` type, and every required agent input must be given.

    Required is decided as AutoGPT does: an agent input whose node has no default
    ``value`` (none in ``input_default``, none from its block, or null) must come with
    the run. An input node whose ``value`` pin is linked is fed by its link instead.
    """
    known = sorted(agent_input_names(graph) | {node.id for node in graph.trigger_nodes()})
    known_text = ", ".join(known) if known else "none (this graph takes no inputs)"
    errors = [
        GraphError(None, name, f"unknown run input {name!r}; known inputs: {known_text}")
        for name in inputs
        if name not in known
    ]
    reported: set[str] = set()
    for node, block, name in _agent_inputs(graph):
        fed_by_link = any(base_pin(li.sink_name) == "value" for li in graph.links_to(node.id))
        if name in reported or fed_by_link:
            continue
        if (problem := _run_input_problem(node, block, name, inputs)) is not None:
            reported.add(name)
            errors.append(GraphError(None, name, problem))
    return errors


def _run_input_problem(node: Node, block: Block, name: str, inputs: dict[str, Any]) -> str | None:
    given = inputs.get(name)
    if given is None and _default_value(node, block) is None:
        return f"required run input {name!r} is missing (agent input node {node.id} has no default)"
    adapter = _adapter_for(block.Input, "value") if name in inputs else None
    if adapter is None:
        return None
    try:
        adapter.validate_python(given)
    except ValidationError as exc:
        return f"run input {name!r} ({_shown(given)}) does not fit {block.name}: {_detail(exc)}"
    return None


def _agent_inputs(graph: Graph) -> list[tuple[Node, Block, str]]:
    """The graph's INPUT nodes that name an input, with their blocks and names."""
    found = []
    for node in graph.nodes:
        block = get_block(node.block_id)
        name = node.input_default.get("name")
        if block is not None and block.block_type == BlockType.INPUT and isinstance(name, str):
            found.append((node, block, name))
    return found


def _default_value(node: Node, block: Block) -> Any:
    if "value" in node.input_default:
        return node.input_default["value"]
    field = block.Input.model_fields.get("value")
    return None if field is None else field.get_default(call_default_factory=True)


def agent_input_names(graph: Graph) -> set[str]:
    """The ``name`` defaults of the graph's INPUT nodes (what a run's inputs may set)."""
    return {name for _, _, name in _agent_inputs(graph)}


# -- links ------------------------------------------------------------------------------


def _describe(link: Link) -> str:
    return f"link {link.source_id}.{link.source_name} -> {link.sink_id}.{link.sink_name}"


def _link_errors(graph: Graph, link: Link, blocks: dict[str, Block]) -> list[GraphError]:
    errors = []
    for node_id, pin, role in (
        (link.source_id, link.source_name, "source"),
        (link.sink_id, link.sink_name, "sink"),
    ):
        if not graph.has_node(node_id):
            errors.append(
                GraphError(node_id, pin, f"{_describe(link)}: its {role} node does not exist")
            )
    if errors:
        return errors

    source = blocks.get(link.source_id)
    if source is not None and source.block_type != BlockType.NOTE:
        outputs = source.output_pins_for(graph.node(link.source_id).input_default)
        if source.uses_tools and is_tool_link(link.source_name):
            pass  # a tool link: the block yields on names made from the link's sink
        elif link.source_name not in outputs and base_pin(link.source_name) not in outputs:
            errors.append(
                GraphError(
                    link.source_id,
                    link.source_name,
                    f"{_describe(link)}: {source.name} has no output pin "
                    f"{base_pin(link.source_name)!r} (outputs: {', '.join(sorted(outputs))})",
                )
            )
        elif problem := output_selector_problem(link.source_name):
            errors.append(
                GraphError(link.source_id, link.source_name, f"{_describe(link)}: {problem}")
            )

    sink = blocks.get(link.sink_id)
    if sink is not None and sink.block_type != BlockType.NOTE:
        inputs = sink.input_pins_for(graph.node(link.sink_id).input_default)
        # A pin the node's own defaults declare (a sub-agent's input name) is taken as
        # written: such names may hold anything, delimiters included.
        declared = link.sink_name in inputs - sink.input_pins()
        if not declared and base_pin(link.sink_name) not in inputs:
            errors.append(
                GraphError(
                    link.sink_id,
                    link.sink_name,
                    f"{_describe(link)}: {sink.name} has no input pin "
                    f"{base_pin(link.sink_name)!r} (inputs: {', '.join(sorted(inputs))})",
                )
            )
        elif not declared and (problem := dynamic_pin_problem(link.sink_name)):
            errors.append(GraphError(link.sink_id, link.sink_name, f"{_describe(link)}: {problem}"))
    return errors


# -- defaults ---------------------------------------------------------------------------


def _default_errors(node: Node, block: Block) -> list[GraphError]:
    errors = []
    fields = block.Input.model_fields
    for key, value in node.input_default.items():
        base = base_pin(key)
        # Checked for every key: the engine merges dynamic keys before the block's
        # schema drops the ones it does not know.
        if key != base and (problem := dynamic_pin_problem(key)):
            errors.append(GraphError(node.id, key, problem))
            continue
        if base not in fields:
            continue  # AutoGPT exports carry extra keys; the block ignores them
        adapter = _adapter_for(block.Input, key)
        if adapter is None:
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            errors.append(GraphError(node.id, key, _type_problem(value, exc)))
    return errors


def _type_problem(value: Any, exc: ValidationError) -> str:
    return f"default {_shown(value)} has the wrong type: {_detail(exc)}"


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _detail(exc: ValidationError) -> str:
    first = exc.errors()[0]
    place = ".".join(str(p) for p in first["loc"])
    return f"{place}: {first['msg']}" if place else first["msg"]


@functools.lru_cache(maxsize=1024)
def _adapter_for(schema: type[Any], pin: str) -> TypeAdapter[Any] | None:
    """A validator for one (possibly dynamic) pin; None when its type cannot be known."""
    base = base_pin(pin)
    info = schema.model_fields[base]
    annotation: Any = info.annotation
    if pin != base:
        steps = parse_path(pin[len(base) :]) or []
        for delim, _ in steps:
            annotation = _element_type(annotation, delim)
            if annotation is None:
                return None
        return TypeAdapter(annotation)
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    return TypeAdapter(annotation)


def _element_type(annotation: Any, delim: str) -> Any | None:
    """The type of one entry of a dict/list annotation; None when not statically known."""
    annotation = _strip_optional(annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is Any:
        return Any
    if delim == DICT_SPLIT and origin is dict:
        return args[1] if len(args) == 2 else Any
    if delim == LIST_SPLIT and origin is list:
        return args[0] if args else Any
    return None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


# -- required inputs (for a run) ----------------------------------------------------------


def _missing_input_errors(graph: Graph, node: Node, block: Block) -> list[GraphError]:
    errors = []
    defaulted = {base_pin(key) for key in node.input_default}
    linked = {base_pin(link.sink_name) for link in graph.links_to(node.id)}
    required = block.Input.required_pins()
    if block.block_type == BlockType.INPUT:
        # The run feeds `value`; `name` is how the run's inputs find this node.
        required = required - {"value", "name"}
        name = node.input_default.get("name")
        if "name" in block.input_pins() and not (isinstance(name, str) and name.strip()):
            errors.append(GraphError(node.id, "name", "an agent input needs a name"))
    for pin in sorted(required):
        if pin not in defaulted and pin not in linked:
            errors.append(
                GraphError(
                    node.id, pin, f"required input of {block.name} is neither set nor linked"
                )
            )
    return errors

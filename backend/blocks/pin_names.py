"""AutoGPT's pin names: the dynamic-pin suffixes and the tool pins.

Dynamic pins carry a path after their base name: ``name_#_key`` (dict entry),
``name_$_3`` (list element), ``name_@_attr`` (object attribute). How values are merged
and selected along such paths is the engine's business (``backend.data.pins``); the
names alone are shared with blocks that describe pins (the Orchestrator's tools).

Tool pins: a link from a tool-calling node to a tool is named either ``tools`` or, as
older AutoGPT exports write it, ``tools_^_{tool name}_~_{argument}``. The block yields
each argument of a chosen tool on ``tools_^_{sink node id}_~_{sink pin}``: the value
travels along the one tool link whose sink node and pin those are, whatever the link's
own name says (AutoGPT routes the same way, so renamed tools and old exports work).
"""

from __future__ import annotations

LIST_SPLIT = "_$_"
DICT_SPLIT = "_#_"
OBJC_SPLIT = "_@_"
DELIMITERS = (LIST_SPLIT, DICT_SPLIT, OBJC_SPLIT)

TOOLS_PIN = "tools"
TOOL_PREFIX = "tools_^_"
TOOL_FIELD_SPLIT = "_~_"


def first_delimiter(text: str) -> tuple[str | None, int]:
    """The dynamic-pin delimiter that comes first in ``text`` and its position (-1: none)."""
    best: str | None = None
    best_pos = -1
    for delim in DELIMITERS:
        pos = text.find(delim)
        if pos != -1 and (best_pos == -1 or pos < best_pos):
            best, best_pos = delim, pos
    return best, best_pos


def base_pin(name: str) -> str:
    """The pin a (possibly dynamic) pin name belongs to: ``values_#_a`` -> ``values``."""
    _, pos = first_delimiter(name)
    return name if pos == -1 else name[:pos]


def is_dynamic_pin(name: str) -> bool:
    return first_delimiter(name)[1] != -1


# -- tool pins ---------------------------------------------------------------------------


def _split_tool(name: str) -> tuple[str, str] | None:
    if not name.startswith(TOOL_PREFIX):
        return None
    head, sep, tail = name[len(TOOL_PREFIX) :].partition(TOOL_FIELD_SPLIT)
    return (head, tail) if sep and head and tail else None


def is_tool_link(source_name: str) -> bool:
    """Whether a link's source name is one of AutoGPT's tool link names."""
    return source_name == TOOLS_PIN or _split_tool(source_name) is not None


def tool_pin(sink_node_id: str, sink_pin: str) -> str:
    """The output pin name that delivers an argument to ``sink_pin`` of ``sink_node_id``."""
    return f"{TOOL_PREFIX}{sink_node_id}{TOOL_FIELD_SPLIT}{sink_pin}"


def tool_target(pin: str) -> tuple[str, str] | None:
    """(sink node id, sink pin) of a yielded tool pin; None for any other pin."""
    return _split_tool(pin)


def link_tool_name(source_name: str) -> str:
    """The tool name an old-style link records (``tools_^_{name}_~_{arg}``), else ""."""
    parts = _split_tool(source_name)
    return parts[0] if parts else ""

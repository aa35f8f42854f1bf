"""AutoGPT's dynamic pin conventions.

A pin name may carry a path after its base name, built from three delimiters:

* ``name_#_key``  -> ``name["key"]``  (dict entry)
* ``name_$_3``    -> ``name[3]``      (list element)
* ``name_@_attr`` -> ``name.attr``    (object attribute)

Paths nest (``values_#_a_$_0`` is ``values["a"][0]``). On a node's input side the
suffixed entries are merged into the base pin before the block sees its input; on
the output side a link whose source name carries a path receives only that part of
the yielded value.

Deliberate differences from AutoGPT (its observable behaviour is kept otherwise):

* Objects are built as :class:`types.SimpleNamespace` (AutoGPT uses its own mock object).
* Merging never mutates its argument and does not depend on key order: a plain
  ``name`` entry (e.g. from ``input_default``) is always the starting container that
  suffixed entries add to; AutoGPT let a plain entry listed *after* them overwrite
  the merged value.
* List indices on the input side must be non-negative decimal integers up to
  :data:`MAX_LIST_INDEX`; AutoGPT accepted anything ``int()`` parses and would pad a
  list to any length.
* Attribute selection refuses names starting with ``_`` and callable attributes, so
  a link cannot reach interpreter internals or ship a bound method downstream; graph
  validation refuses attribute pins that are not plain identifiers or start with ``_``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from backend.blocks.pin_names import (
    DELIMITERS,
    DICT_SPLIT,
    LIST_SPLIT,
    OBJC_SPLIT,
    first_delimiter,
    is_tool_link,
    tool_target,
)

# Bounds the padding a single `name_$_i` entry can cause.
MAX_LIST_INDEX = 10_000

PathStep = tuple[str, str]  # (delimiter, key/index/attribute)


def parse_path(path: str) -> list[PathStep] | None:
    """Split a suffix such as ``_#_a_$_0`` into steps; None when it is malformed.

    A path must start with a delimiter and every step needs a non-empty identifier.
    """
    steps: list[PathStep] = []
    rest = path
    while rest:
        delim = next((d for d in DELIMITERS if rest.startswith(d)), None)
        if delim is None:
            return None
        rest = rest[len(delim) :]
        _, pos = first_delimiter(rest)
        ident, rest = (rest, "") if pos == -1 else (rest[:pos], rest[pos:])
        if not ident:
            return None
        steps.append((delim, ident))
    return steps


def _list_index(ident: str) -> int:
    if not (ident.isascii() and ident.isdigit()):
        raise ValueError(f"list index {ident!r} must be a non-negative integer")
    index = int(ident)
    if index > MAX_LIST_INDEX:
        raise ValueError(f"list index {index} exceeds the limit of {MAX_LIST_INDEX}")
    return index


def attribute_problem(ident: str) -> str | None:
    """Why ``ident`` may not name an object attribute (``name_@_ident``), or None."""
    if ident.startswith("_"):
        return f"attribute {ident!r} starts with an underscore"
    if not ident.isidentifier():
        return f"attribute {ident!r} is not an identifier"
    return None


def dynamic_pin_problem(name: str) -> str | None:
    """Why a dynamic input pin name cannot be merged, or None when it is fine."""
    delim, pos = first_delimiter(name)
    if delim is None:
        return None
    steps = parse_path(name[pos:])
    if steps is None:
        return f"malformed dynamic pin name {name!r}"
    for step_delim, ident in steps:
        if step_delim == LIST_SPLIT:
            try:
                _list_index(ident)
            except ValueError as exc:
                return str(exc)
        elif step_delim == OBJC_SPLIT and (problem := attribute_problem(ident)):
            return problem
    return None


def output_selector_problem(name: str) -> str | None:
    """Why a link's source name can never select a part of an output, or None.

    Only attribute steps are judged: a list index or dict key that is missing at run
    time just selects nothing, as in AutoGPT.
    """
    _, pos = first_delimiter(name)
    if pos == -1:
        return None
    for step_delim, ident in parse_path(name[pos:]) or []:
        if step_delim == OBJC_SPLIT and (problem := attribute_problem(ident)):
            return problem
    return None


def _assign(container: Any, steps: list[PathStep], value: Any) -> Any:
    """Return ``container`` (copied, never mutated) with ``value`` stored along ``steps``."""
    if not steps:
        return value
    (delim, ident), rest = steps[0], steps[1:]
    if delim == LIST_SPLIT:
        index = _list_index(ident)
        items = list(container) if isinstance(container, list | tuple) else []
        if len(items) <= index:
            items.extend([None] * (index + 1 - len(items)))
        items[index] = _assign(items[index], rest, value)
        return items
    if delim == DICT_SPLIT:
        entries = dict(container) if isinstance(container, Mapping) else {}
        entries[ident] = _assign(entries.get(ident), rest, value)
        return entries
    obj = _copy_object(container)
    setattr(obj, ident, _assign(getattr(obj, ident, None), rest, value))
    return obj


def _copy_object(container: Any) -> Any:
    if container is None or isinstance(container, Mapping | list | tuple | str | bytes):
        return SimpleNamespace()
    if not hasattr(container, "__dict__"):
        return SimpleNamespace()
    try:
        return copy.copy(container)
    except Exception:  # an uncopyable object: keep its attributes, not its class
        return SimpleNamespace(**vars(container))


def merge_dynamic_pins(data: dict[str, Any]) -> dict[str, Any]:
    """Merge ``name_#_key`` / ``name_$_i`` / ``name_@_attr`` entries into ``name``.

    The suffixed entries stay in the result as AutoGPT keeps them (the block's schema
    ignores them). Malformed suffixes are left as plain keys. Raises ValueError for a
    list index that is not a non-negative integer within :data:`MAX_LIST_INDEX`.
    """
    merged = dict(data)
    for key, value in data.items():
        delim, pos = first_delimiter(key)
        if delim is None:
            continue
        steps = parse_path(key[pos:])
        if steps is None:
            continue
        base = key[:pos]
        merged[base] = _assign(merged.get(base), steps, value)
    return merged


def _step_into(current: Any, delim: str, ident: str) -> tuple[bool, Any]:
    if delim == LIST_SPLIT:
        try:
            index = int(ident)
        except ValueError:
            return False, None
        if not isinstance(current, list) or not -len(current) <= index < len(current):
            return False, None
        return True, current[index]
    if delim == DICT_SPLIT:
        if not isinstance(current, dict) or ident not in current:
            return False, None
        return True, current[ident]
    if ident.startswith("_") or not hasattr(current, ident):
        return False, None
    attr = getattr(current, ident)
    if callable(attr):
        return False, None
    return True, attr


def select_output(
    pin_name: str, value: Any, link_source_name: str, sink: tuple[str, str] = ("", "")
) -> tuple[bool, Any]:
    """What a link named ``link_source_name`` into ``sink`` (node id, pin) receives when
    ``pin_name`` yields ``value``.

    Returns ``(travels, data)``. The exact pin name carries the whole value (even
    None); a path selects a part, and a part that is missing or None does not travel,
    like AutoGPT's ``parse_execution_output``. A tool pin (``tools_^_{node}_~_{pin}``)
    travels only along a tool link into that node and pin, and never as None.
    """
    target = tool_target(pin_name)
    if target is not None and is_tool_link(link_source_name):
        return (target == sink and value is not None), value
    if link_source_name == pin_name:
        return True, value
    if not link_source_name.startswith(pin_name):
        return False, None
    steps = parse_path(link_source_name[len(pin_name) :])
    if not steps:
        return False, None
    current = value
    for delim, ident in steps:
        found, current = _step_into(current, delim, ident)
        if not found:
            return False, None
    if current is None:
        return False, None
    return True, current

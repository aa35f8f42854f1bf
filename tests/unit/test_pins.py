"""Dynamic pins: merging `name_#_key` / `name_$_i` / `name_@_attr` and selecting outputs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.blocks.pin_names import base_pin
from backend.data.pins import (
    MAX_LIST_INDEX,
    dynamic_pin_problem,
    merge_dynamic_pins,
    output_selector_problem,
    parse_path,
    select_output,
)

# Pin names as blocks declare them: identifiers that never contain a delimiter.
pin_names = st.from_regex(r"[a-z][a-z0-9]{0,7}(_[a-z0-9]{1,5}){0,2}", fullmatch=True)
dict_keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .-]{0,9}", fullmatch=True)
values = st.one_of(
    st.integers(), st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=3)
)
any_names = st.text(alphabet="ab_#$@", max_size=16)


# -- examples ---------------------------------------------------------------------------


def test_merge_builds_dict_list_and_object() -> None:
    merged = merge_dynamic_pins(
        {
            "values_#_a": "Hello",
            "values_#_b": "World",
            "items_$_1": "second",
            "items_$_0": "first",
            "obj_@_colour": "red",
        }
    )
    assert merged["values"] == {"a": "Hello", "b": "World"}
    assert merged["items"] == ["first", "second"]
    assert isinstance(merged["obj"], SimpleNamespace)
    assert merged["obj"].colour == "red"
    # AutoGPT keeps the suffixed entries next to the merged pin.
    assert merged["values_#_a"] == "Hello"


def test_merge_adds_to_an_existing_default_without_mutating_it() -> None:
    default = {"a": 1}
    data = {"values": default, "values_#_b": 2}
    merged = merge_dynamic_pins(data)
    assert merged["values"] == {"a": 1, "b": 2}
    assert default == {"a": 1}
    assert data == {"values": {"a": 1}, "values_#_b": 2}


def test_merge_does_not_depend_on_where_the_plain_pin_is_listed() -> None:
    merged = merge_dynamic_pins({"values_#_b": 2, "values": {"a": 1}})
    assert merged["values"] == {"a": 1, "b": 2}


def test_merge_pads_list_gaps_with_none_and_overwrites_existing_index() -> None:
    merged = merge_dynamic_pins({"items": ["x", "y"], "items_$_1": "Y", "items_$_3": "w"})
    assert merged["items"] == ["x", "Y", None, "w"]


def test_merge_follows_nested_paths() -> None:
    merged = merge_dynamic_pins({"cfg_#_servers_$_0": "alpha", "cfg_#_servers_$_1": "beta"})
    assert merged["cfg"] == {"servers": ["alpha", "beta"]}


def test_merge_keeps_malformed_names_as_plain_keys() -> None:
    merged = merge_dynamic_pins({"values_#_": 1, "values_#_a_$_": 2})
    assert merged == {"values_#_": 1, "values_#_a_$_": 2}


@pytest.mark.parametrize("key", ["items_$_x", "items_$_-1", f"items_$_{MAX_LIST_INDEX + 1}"])
def test_merge_rejects_bad_list_indices(key: str) -> None:
    with pytest.raises(ValueError, match="index"):
        merge_dynamic_pins({key: 1})
    assert dynamic_pin_problem(key) is not None


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("values_@___class__", "starts with an underscore"),
        ("values_@__private", "starts with an underscore"),
        ("values_#_a_@___dict__", "starts with an underscore"),
        ("values_@_a-b", "not an identifier"),
        ("values_@_1st", "not an identifier"),
    ],
)
def test_unsafe_attribute_pins_are_a_problem(key: str, problem: str) -> None:
    assert problem in (dynamic_pin_problem(key) or "")
    assert problem in (output_selector_problem(key) or "")


@pytest.mark.parametrize("key", ["values_@_name", "values_#___class__", "values_$_0", "values"])
def test_safe_pins_are_no_problem(key: str) -> None:
    # A dict key is data, not an attribute: "__class__" is a fine key.
    assert dynamic_pin_problem(key) is None
    assert output_selector_problem(key) is None


def test_output_selector_accepts_what_selection_accepts_at_run_time() -> None:
    # Negative indices select from the end on the output side.
    assert output_selector_problem("result_$_-1") is None
    assert output_selector_problem("result_@_a_$_x") is None


def test_select_output_examples() -> None:
    assert select_output("result", [10, 20, 30], "result_$_1") == (True, 20)
    assert select_output("result", [10, 20, 30], "result_$_-1") == (True, 30)
    assert select_output("config", {"k": "v"}, "config_#_k") == (True, "v")
    assert select_output("obj", SimpleNamespace(a=1), "obj_@_a") == (True, 1)
    assert select_output("output", None, "output") == (True, None)


@pytest.mark.parametrize(
    ("pin", "value", "link"),
    [
        ("result", [1], "result_$_5"),  # out of range
        ("result", [1], "result_$_x"),  # not an index
        ("result", {"a": 1}, "result_$_0"),  # not a list
        ("config", {"k": "v"}, "config_#_missing"),
        ("config", {"k": None}, "config_#_k"),  # a selected None does not travel
        ("config", "text", "config_#_k"),
        ("obj", {"a": 1}, "obj_@_keys"),  # methods never travel
        ("obj", SimpleNamespace(a=1), "obj_@___class__"),  # nor private attributes
        ("result", 1, "results"),
        ("result", 1, "other"),
        ("result", 1, "result_#_"),
    ],
)
def test_select_output_that_does_not_travel(pin: str, value: Any, link: str) -> None:
    assert select_output(pin, value, link) == (False, None)


# -- properties -------------------------------------------------------------------------


@given(name=pin_names, entries=st.dictionaries(dict_keys, values, max_size=6))
def test_dict_entries_round_trip(name: str, entries: dict[str, Any]) -> None:
    merged = merge_dynamic_pins({f"{name}_#_{k}": v for k, v in entries.items()})
    for key, value in entries.items():
        assert select_output(name, merged[name], f"{name}_#_{key}") == (True, value)


@given(name=pin_names, items=st.lists(values, min_size=1, max_size=6))
def test_list_items_round_trip(name: str, items: list[Any]) -> None:
    # Listed in reverse: the index, not the order of keys, decides the position.
    data = {f"{name}_$_{i}": v for i, v in reversed(list(enumerate(items)))}
    merged = merge_dynamic_pins(data)
    assert merged[name] == items
    for i, value in enumerate(items):
        assert select_output(name, merged[name], f"{name}_$_{i}") == (True, value)


@given(data=st.dictionaries(st.text(alphabet="ab_#$@0", max_size=10), values, max_size=6))
def test_merge_never_loses_a_key(data: dict[str, Any]) -> None:
    try:
        merged = merge_dynamic_pins(data)
    except ValueError:
        return  # a malformed list index is refused as a whole
    # Merging takes every well-formed path; validation refuses more (see below).
    mergeable = [k for k in data if base_pin(k) != k and parse_path(k[len(base_pin(k)) :])]
    merged_bases = {base_pin(k) for k in mergeable}
    for key, value in data.items():
        if key not in merged_bases:
            assert merged[key] == value
    for key in mergeable:
        assert base_pin(key) in merged


@given(pin=pin_names, other=pin_names, value=values, suffix=st.sampled_from(["", "_#_k", "_$_0"]))
def test_a_link_of_another_pin_never_receives_anything(
    pin: str, other: str, value: Any, suffix: str
) -> None:
    link = other + suffix
    if base_pin(link) == pin:
        return
    assert select_output(pin, value, link) == (False, None)


@given(name=any_names)
def test_base_pin_is_idempotent_and_a_prefix(name: str) -> None:
    base = base_pin(name)
    assert base_pin(base) == base
    assert name.startswith(base)


@given(name=pin_names, key=dict_keys)
def test_base_pin_strips_each_kind_of_suffix(name: str, key: str) -> None:
    for delim in ("_#_", "_$_", "_@_"):
        assert base_pin(f"{name}{delim}{key}") == name
    assert base_pin(name) == name


@given(pin=pin_names, value=values)
def test_the_exact_pin_name_carries_the_whole_value(pin: str, value: Any) -> None:
    assert select_output(pin, value, pin) == (True, value)

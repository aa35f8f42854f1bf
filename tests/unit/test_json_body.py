"""What a request body may hold: refused with the place named, or read as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.errors import BackendError, InvalidInput
from backend.server.errors import MalformedJson
from backend.server.json_body import MAX_DEPTH, parse_json, shown, text_problem


def refused(raw: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_json(raw)
    assert caught.value.http_status == 422
    return caught.value


def loc(error: BackendError) -> list[str]:
    [detail] = error.details
    return list(detail["loc"])


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"inputs": {"x": "\\ud800"}}', ["body", "inputs", "x"]),
        (b'{"inputs": {"x": "ok \\udfff"}}', ["body", "inputs", "x"]),
        (b'{"nodes": [{"id": "a"}, {"id": "\\ud83d"}]}', ["body", "nodes", "1", "id"]),
        (b'["\\u0000"]', ["body", "0"]),
        (b'"a\\u0000b"', ["body"]),
        # A lone half before or after a full pair is still lone.
        (b'{"x": "\\ud83d\\ude00\\ude00"}', ["body", "x"]),
    ],
)
def test_lone_surrogates_and_nul_are_refused_where_they_are(raw: bytes, where: list[str]) -> None:
    error = refused(raw)
    assert loc(error) == where
    assert "cannot be stored" in error.message


def test_a_bad_key_is_named_by_its_escaped_form() -> None:
    error = refused(b'{"inputs": {"\\ud800": 1}}')
    assert loc(error) == ["body", "inputs", "\\ud800"]
    assert error.message.startswith("body.inputs.\\ud800: key: lone surrogate \\ud800")
    # The error itself can be encoded: it is what the API answers.
    json.dumps(error.details, ensure_ascii=False).encode("utf-8")


def test_surrogate_pairs_are_characters() -> None:
    assert parse_json(b'{"mood": "\\ud83d\\ude00"}') == {"mood": "\U0001f600"}
    assert parse_json('{"mood": "\U0001f600"}'.encode()) == {"mood": "\U0001f600"}
    # A backslash followed by text that looks like an escape is just text.
    assert parse_json(b'["\\\\ud800"]') == ["\\ud800"]


@pytest.mark.parametrize(
    "number",
    [b"1e400", b"-1e400", b"1" * 310, b"-" + b"9" * 400, str(10**400).encode(), b"1" * 5000],
)
def test_numbers_outside_the_float_range_are_refused(number: bytes) -> None:
    error = refused(b'{"inputs": {"n": ' + number + b"}}")
    assert loc(error) == ["body", "inputs", "n"]
    assert "out of range" in error.message


def test_numbers_inside_the_float_range_are_kept_exactly() -> None:
    big = 10**300
    assert parse_json(f"[{big}, 1e308, -1e-400, 0.5]".encode()) == [big, 1e308, -0.0, 0.5]
    assert parse_json(str(int(1.7976931348623157e308)).encode()) == int(1.7976931348623157e308)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_literals_are_not_json(literal: bytes) -> None:
    with pytest.raises(MalformedJson, match=r"not a JSON number") as caught:
        parse_json(b'{"inputs": {"n": ' + literal + b"}}")
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "Expecting property name"),
        (b"{'a': 1}", "Expecting property name"),
        (b"  ", "Expecting value"),
        (b'{"a": 1} x', "Extra data"),
        (b"\xff", "byte 0xff at position 0 is not UTF-8"),
        (b'{"a": "\xed\xa0\x80"}', "is not UTF-8"),  # a surrogate written out as UTF-8
        ('{"a": 1}'.encode("utf-16"), "is not UTF-8"),
        (b'\xef\xbb\xbf{"a": 1}', "BOM"),
        (b'{"a": "line\nbreak"}', "Invalid control character"),
    ],
)
def test_what_is_not_json_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedJson, match=message) as caught:
        parse_json(raw)
    assert caught.value.code == "malformed_json"
    assert loc(caught.value) == ["body"]


def nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_nesting_is_bounded() -> None:
    assert parse_json(nested(MAX_DEPTH)) is not None
    error = refused(nested(MAX_DEPTH + 1))
    assert f"nested deeper than {MAX_DEPTH} levels" in error.message
    assert loc(error)[:3] == ["body", "a", "0"]
    # Deeper than the parser's own stack: the same answer, not a RecursionError.
    assert "nested deeper" in refused(b"[" * 200_000 + b"]" * 200_000).message


def test_text_problem_and_shown() -> None:
    assert text_problem("plain \U0001f600 text") is None
    assert text_problem("a\x00") == "NUL character (\\u0000) at position 1 cannot be stored"
    assert (text_problem("ab\udc00") or "").startswith("lone surrogate \\udc00 at position 2")
    assert shown("a\x00b\ud800") == "a\\u0000b\\ud800"
    assert shown("fine") == "fine"


# Any JSON text Python would write, including what it should not (lone surrogates,
# NaN, huge integers): accepted values survive the trip back out as UTF-8 JSON.
texts = st.sampled_from(["\ud800", "a\udfff", "\x00", "\U0001f600", "\ud83d\ude00"]) | st.text(
    st.characters(codec=None, max_codepoint=0xE000), max_size=8
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**320), max_value=10**320)
    | st.floats()
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True, database=None)
@given(value=json_values)
def test_accepted_bodies_can_always_be_answered(value: Any) -> None:
    raw = json.dumps(value).encode()
    try:
        parsed = parse_json(raw)
    except BackendError as exc:
        assert exc.http_status in (400, 422)
        json.dumps(exc.details, ensure_ascii=False, allow_nan=False).encode("utf-8")
        return
    assert parsed == json.loads(raw)
    json.dumps(parsed, ensure_ascii=False, allow_nan=False).encode("utf-8")

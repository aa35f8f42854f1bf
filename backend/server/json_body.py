"""What a JSON request body may hold, decided once for every body and every route.

Python's ``json`` reads more than JSON, and hands back values that the databases and
the response encoder cannot take: a lone UTF-16 surrogate (``"\\ud800"``) is accepted
here but cannot be encoded as UTF-8 later, so the run would be stored and every read
of it fail. Such bodies are refused before any route sees them:

* not JSON (400 ``malformed_json``): bad syntax, bytes that are not UTF-8, the
  ``NaN``/``Infinity`` literals;
* JSON we cannot keep (422 ``invalid_input``, ``details`` naming where): a number
  outside the range of a 64-bit float (``1e400``, a 400-digit integer), nesting deeper
  than :data:`MAX_DEPTH`, a lone surrogate or a NUL character in any string or key.

Surrogate *pairs* (``"\\ud83d\\ude00"``) decode to one character and are fine.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, NoReturn

from backend.errors import InvalidInput
from backend.server.errors import MalformedJson

# Far above what graphs and run inputs need (an AutoGPT export nests about 15 levels),
# far below where the JSON encoder and the validators run out of stack.
MAX_DEPTH = 64

# Characters no database text column and no UTF-8 encoder accepts.
_UNSAFE_CHAR = re.compile("[\x00\ud800-\udfff]")
# The only way either can appear in decoded JSON text is through a \u escape.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

_FLOAT_DIGITS = len(str(int(sys.float_info.max)))
_FLOAT_MAX = int(sys.float_info.max)
_LONG_DIGITS = re.compile(rf"\d{{{_FLOAT_DIGITS + 1}}}")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent back, or None when it is fine."""
    found = _UNSAFE_CHAR.search(text)
    if found is None:
        return None
    char = found.group()
    position = found.start()
    if char == "\x00":
        return f"NUL character (\\u0000) at position {position} cannot be stored"
    return (
        f"lone surrogate \\u{ord(char):04x} at position {position} cannot be stored "
        "(write the character itself, or both halves of its surrogate pair)"
    )


def shown(text: str) -> str:
    """``text`` safe to put in an error message: unsafe characters as escapes."""
    if _UNSAFE_CHAR.search(text) is None:
        return text
    return _UNSAFE_CHAR.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _OutOfRange:
    """An integer too long to read; reported with its place."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _OutOfRange:
    # Judged on the text: int() of a long digit string costs quadratic time (and
    # Python refuses one over 4300 digits without saying where it was).
    if len(text.lstrip("-")) > _FLOAT_DIGITS:
        return _OutOfRange(text)
    return int(text)


def _refuse_constant(name: str) -> NoReturn:
    raise MalformedJson(
        f"the request body is not valid JSON: {name} is not a JSON number",
        details=[{"loc": ["body"], "message": f"{name} is not JSON"}],
    )


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body, or MalformedJson / InvalidInput saying why not."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"byte 0x{raw[exc.start]:02x} at position {exc.start} is not UTF-8"
        raise MalformedJson(
            f"the request body is not valid JSON: {message}",
            details=[{"loc": ["body"], "message": message}],
        ) from None
    # A hook per number is slow; it is only needed where a long digit run is.
    parse_int = _parse_int if _LONG_DIGITS.search(text) else None
    try:
        value = json.loads(text, parse_int=parse_int, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        message = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise MalformedJson(
            f"the request body is not valid JSON: {message}",
            details=[{"loc": ["body"], "message": message}],
        ) from None
    except RecursionError:
        _refuse([], f"nested deeper than {MAX_DEPTH} levels")
    checker = _Checker(check_text=_UNSAFE_ESCAPE.search(text) is not None)
    if isinstance(value, dict | list):
        checker.check(value, [], 0)
    elif problem := checker.scalar_problem(value):
        _refuse([], problem)
    return value


def invalid_at(loc: list[str], problem: str) -> InvalidInput:
    """The 422 for one refused value; ``loc`` as in request validation errors."""
    return InvalidInput(f"{'.'.join(loc)}: {problem}", details=[{"loc": loc, "message": problem}])


def _refuse(path: list[str], problem: str) -> NoReturn:
    raise invalid_at(["body", *path], problem)


class _Checker:
    """One walk over the decoded containers: depth, numbers, and (when an escape could
    have produced one) unsafe characters. ``path`` names the place for the error."""

    def __init__(self, check_text: bool) -> None:
        self.check_text = check_text

    def check(self, value: dict[str, Any] | list[Any], path: list[str], depth: int) -> None:
        if depth >= MAX_DEPTH:
            _refuse([shown(p) for p in path], f"nested deeper than {MAX_DEPTH} levels")
        entries: Any
        if isinstance(value, dict):
            if self.check_text:
                for key in value:
                    if problem := text_problem(key):
                        _refuse([*map(shown, path), shown(key)], f"key: {problem}")
            entries = value.items()
        else:
            entries = enumerate(value)
        for key, item in entries:
            kind = type(item)
            # The common cases first and inline: a 1 MiB body holds ~500k values.
            if kind is dict or kind is list:
                if not item and depth + 1 < MAX_DEPTH:
                    continue
                path.append(str(key))
                self.check(item, path, depth + 1)
                path.pop()
            elif (
                (kind is int and -_FLOAT_MAX <= item <= _FLOAT_MAX)
                or (kind is str and not self.check_text)
                or kind is bool
                or item is None
            ):
                continue
            elif problem := self.scalar_problem(item):
                _refuse([*map(shown, path), shown(str(key))], problem)

    def scalar_problem(self, item: Any) -> str | None:
        if isinstance(item, str):
            return text_problem(item) if self.check_text else None
        if isinstance(item, _OutOfRange) or (isinstance(item, int) and abs(item) > _FLOAT_MAX):
            return _out_of_range(item.text if isinstance(item, _OutOfRange) else str(item))
        if isinstance(item, float) and not math.isfinite(item):
            # float() reads 1e400 as inf, which cannot be written back as JSON.
            return _out_of_range(None)
        return None


def _out_of_range(number: str | None) -> str:
    if number is None:
        return "number is out of range (JSON numbers must fit a 64-bit float)"
    number = number if len(number) <= 20 else f"{number[:17]}..."
    return f"number {number} is out of range (JSON numbers must fit a 64-bit float)"

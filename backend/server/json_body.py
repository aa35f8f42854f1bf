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
    """A number the hooks below could not represent; reported with its place."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _OutOfRange:
    value = float(text)
    # float() turns 1e400 into inf, which cannot be written back as JSON.
    return value if math.isfinite(value) else _OutOfRange(text)


def _parse_int(text: str) -> int | _OutOfRange:
    # Checked on the text first: int() of a long digit string costs quadratic time.
    if len(text.lstrip("-")) > _FLOAT_DIGITS:
        return _OutOfRange(text)
    value = int(text)
    return value if abs(value) <= _FLOAT_MAX else _OutOfRange(text)


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
    try:
        value = json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        message = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise MalformedJson(
            f"the request body is not valid JSON: {message}",
            details=[{"loc": ["body"], "message": message}],
        ) from None
    except RecursionError:
        _refuse([], f"nested deeper than {MAX_DEPTH} levels")
    _Checker(check_text=_UNSAFE_ESCAPE.search(text) is not None).check(value, [], 0)
    return value


def invalid_at(loc: list[str], problem: str) -> InvalidInput:
    """The 422 for one refused value; ``loc`` as in request validation errors."""
    return InvalidInput(f"{'.'.join(loc)}: {problem}", details=[{"loc": loc, "message": problem}])


def _refuse(path: list[str], problem: str) -> NoReturn:
    raise invalid_at(["body", *path], problem)


class _Checker:
    """One walk over the decoded value: depth, numbers, and (when an escape could have
    produced one) unsafe characters. ``path`` names the place for the error."""

    def __init__(self, check_text: bool) -> None:
        self.check_text = check_text

    def check(self, value: Any, path: list[str], depth: int) -> None:
        if isinstance(value, dict):
            self._enter(path, depth)
            for key, item in value.items():
                if self.check_text and (problem := text_problem(key)):
                    _refuse([*path, shown(key)], f"key: {problem}")
                path.append(key)
                self.check(item, path, depth + 1)
                path.pop()
        elif isinstance(value, list):
            self._enter(path, depth)
            for index, item in enumerate(value):
                path.append(str(index))
                self.check(item, path, depth + 1)
                path.pop()
        elif isinstance(value, str):
            if self.check_text and (problem := text_problem(value)):
                _refuse([shown(p) for p in path], problem)
        elif isinstance(value, _OutOfRange):
            number = value.text if len(value.text) <= 20 else f"{value.text[:17]}..."
            _refuse(
                [shown(p) for p in path],
                f"number {number} is out of range (JSON numbers must fit a 64-bit float)",
            )

    @staticmethod
    def _enter(path: list[str], depth: int) -> None:
        if depth >= MAX_DEPTH:
            _refuse([shown(p) for p in path], f"nested deeper than {MAX_DEPTH} levels")

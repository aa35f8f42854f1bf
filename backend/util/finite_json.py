"""JSON with one spelling for the numbers JSON has none for: NaN, Infinity and -Infinity
(a Calculator dividing by zero, a block returning float("inf")) become null.

Python's json writes them as bare literals that no JSON parser but Python's and
JavaScript's reads, and PostgreSQL's json type refuses; pydantic sends them as null.
Every surface uses this one rule: both stores write null, so REST answers, the event
stream and the database all agree (docs/api.md, "Numbers").
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def finite(value: Any) -> Any:
    """``value`` with every non-finite float inside it replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` that writes non-finite numbers as null; ``default=str`` keeps the
    text form of objects JSON cannot express."""
    options.setdefault("default", str)
    try:
        # The common case walks the value once: only a value that holds one pays again.
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **options)


# orjson writes NaN and the infinities as null already, and hands what it cannot express
# to ``default``; dates and dataclasses are passed there too, so they keep the text form
# ``dumps`` gives them (str and int subclasses it writes as their base type, as json does).
_COMPACT_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def compact_dumps(value: Any) -> str:
    """What ``dumps`` writes, without spaces or ASCII escapes, several times faster: the
    stores' JSON columns, written on every step of every run. A value the fast encoder
    refuses (an integer wider than 64 bits, a lone surrogate, an odd key) goes through
    ``dumps``. Parsed back, a value reads as ``dumps`` would have stored it, but for an
    enum member, stored as its value rather than its name."""
    try:
        return orjson.dumps(value, default=str, option=_COMPACT_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return dumps(value)

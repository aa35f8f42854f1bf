"""The W3C Trace Context ``traceparent`` an API caller sends, carried onto the runs its
request starts.

The API reads the header once per request (access.py) and keeps a valid one in a
contextvar for the request's duration, as it keeps the request id in the log context; a
run submitted while serving the request stores it, and with tracing on its executor
makes the run's span a child of the caller's span, so the caller's trace shows the run.

Only a value of the form the W3C recommendation defines is kept: a version of 2 lower-case
hex digits (not ``ff``), a 32-digit trace id and a 16-digit parent id (neither all zeros),
and 2 digits of flags. Version 00 must be exactly that; a later version may add fields
after a ``-``, which are dropped: what is stored is the version-00 form of the first four.
Anything else is ignored, as the recommendation asks, never an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator

HEADER = "traceparent"
LENGTH = 55  # of a version-00 value: 2 + 1 + 32 + 1 + 16 + 1 + 2
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

_incoming: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)


def parse(value: str) -> str | None:
    """``value`` in its version-00 form, or None when it is no valid traceparent."""
    value = value.strip(" \t")
    match = _FIELDS.fullmatch(value[:LENGTH])
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    if len(value) > LENGTH and (version == "00" or value[LENGTH] != "-"):
        return None
    return f"00-{trace_id}-{parent_id}-{flags}"


def from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The request's valid traceparent; None without one, or with more than one."""
    values = [value for name, value in headers if name == b"traceparent"]
    if len(values) != 1:
        return None
    return parse(values[0].decode("latin-1"))


def incoming() -> str | None:
    """The traceparent of the API request being served, if it sent a valid one."""
    return _incoming.get()


@contextlib.contextmanager
def carried(value: str | None) -> Iterator[None]:
    """``incoming()`` is ``value`` inside the block."""
    token = _incoming.set(value)
    try:
        yield
    finally:
        _incoming.reset(token)


def ids(value: str) -> tuple[int, int, int]:
    """A stored (version-00) value's trace id, parent span id and flags, as numbers."""
    _, trace_id, parent_id, flags = value.split("-")
    return int(trace_id, 16), int(parent_id, 16), int(flags, 16)

"""Which traceparent values are kept, per the W3C Trace Context format, and in what form."""

from __future__ import annotations

import pytest

from backend.util.traceparent import from_headers, ids, parse

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
V00 = f"00-{TRACE}-{SPAN}-01"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (V00, V00),
        (f"00-{TRACE}-{SPAN}-00", f"00-{TRACE}-{SPAN}-00"),
        (f" {V00}\t", V00),  # optional whitespace around a header value
        # A later version: its first four fields, in the version-00 form.
        (f"cc-{TRACE}-{SPAN}-01", V00),
        (f"cc-{TRACE}-{SPAN}-01-what-the-future-adds", V00),
        (f"cc-{TRACE}-{SPAN}-01x", None),  # more must follow a dash
        (f"00-{TRACE}-{SPAN}-01-", None),
        (f"ff-{TRACE}-{SPAN}-01", None),
        (f"00-{TRACE.upper()}-{SPAN}-01", None),
        (f"00-{'0' * 32}-{SPAN}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE}-{SPAN}-1", None),
        (f"0-{TRACE}-{SPAN}-01", None),
        (f"00_{TRACE}_{SPAN}_01", None),
        ("", None),
    ],
)
def test_parse(value: str, kept: str | None) -> None:
    assert parse(value) == kept


def test_one_header_or_none() -> None:
    header = (b"traceparent", V00.encode())
    assert from_headers([(b"x-request-id", b"r"), header]) == V00
    assert from_headers([header, header]) is None  # repeated: ambiguous
    assert from_headers([]) is None


def test_ids() -> None:
    assert ids(V00) == (int(TRACE, 16), int(SPAN, 16), 1)

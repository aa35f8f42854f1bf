"""The one Jinja2 environment every block renders user templates with.

Templates come from graph authors, so they run in Jinja2's sandbox: no access to
dunder attributes or unsafe callables. Two additions on top of the stock sandbox:
an unsafe attribute fails the render at once (the stock sandbox quietly renders
an empty string), and ``*`` / ``**`` refuse results large enough to exhaust memory.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_SEQUENCE_LENGTH = 1_000_000  # longest string or list `*` may build
MAX_INT_EXPONENT = 10_000  # larger integer powers take seconds and megabytes

__all__ = ["SecurityError", "render_template"]


class _GuardedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            return operator.mul(left, right)
        if (
            operator_ == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > MAX_INT_EXPONENT
        ):
            raise SecurityError(f"exponent {right} is too large (limit {MAX_INT_EXPONENT})")
        return super().call_binop(context, operator_, left, right)


def _check_repeat(sequence: Any, times: Any) -> None:
    if (
        isinstance(sequence, str | list | tuple)
        and isinstance(times, int)
        and len(sequence) * times > MAX_SEQUENCE_LENGTH
    ):
        raise SecurityError(f"result of '*' would exceed {MAX_SEQUENCE_LENGTH} items")


_ENV = _GuardedSandbox(autoescape=False)


@lru_cache(maxsize=512)
def _compile(source: str, escape_html: bool) -> Template:
    if escape_html:
        # Turning autoescape on per template keeps one shared environment; the
        # wrapper adds no newline, so error line numbers still match the source.
        source = "{% autoescape true %}" + source + "{% endautoescape %}"
    return _ENV.from_string(source)


def render_template(source: str, values: Mapping[str, Any], *, escape_html: bool = False) -> str:
    """Render ``source`` with ``values`` as its variables.

    Raises ``jinja2.TemplateError`` (``SecurityError`` for sandbox violations) or the
    error the template itself caused (e.g. ``ZeroDivisionError``).
    """
    return str(_compile(source, escape_html).render(dict(values)))

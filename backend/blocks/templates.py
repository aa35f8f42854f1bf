"""The Jinja2 environment every block renders user templates with.

Templates come from graph authors, so they render in Jinja2's immutable sandbox: no
dunder attributes, no unsafe callables, and no changing the lists and dicts they are
given. On top of the stock sandbox:

* an unsafe attribute fails the render at once (the stock sandbox renders nothing);
* rendering stops as soon as the text passes the output limit, and the operations that
  can build a huge string in one step (``*``, ``+``, ``%``, ``str.format`` widths,
  ``ljust``/``rjust``/``center``/``zfill``/``expandtabs``, ``replace`` and ``join``, the
  ``center``/``indent``/``format``/``replace``/``join`` filters) refuse a result over the
  limit before building it;
* ``**`` refuses integer powers large enough to take seconds and megabytes.

Rendering runs in a block worker process, whose memory limit stops anything left over.
"""

from __future__ import annotations

import operator
import re
import string
from collections.abc import Callable, Mapping, Sized
from functools import lru_cache
from typing import Any

from jinja2 import Template, filters
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_INT_EXPONENT = 10_000  # larger integer powers take seconds and megabytes
DEFAULT_MAX_CHARS = 4 * 1024 * 1024

__all__ = ["SecurityError", "check_size", "render_template"]

# printf-style conversions: an optional mapping key, flags, width and precision.
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def check_size(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise SecurityError(f"{what} would be {size} characters, over the limit of {limit}")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, Sized) else len(str(value))


def _replaced_size(text: str, old: str, new: str, count: int = -1) -> int:
    found = text.count(old) if old else len(text) + 1
    if count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _joined_size(separator: str, items: Any) -> int:
    if not isinstance(items, list | tuple | str | dict):
        return 0  # an iterator: the output limit catches what it builds
    return len(separator) * max(len(items) - 1, 0) + sum(_length(i) for i in items)


def _printf_size(fmt: str, args: Any) -> int:
    """A bound of what ``fmt % args`` builds: the text plus every width and precision."""
    numbers = [a for a in (args if isinstance(args, tuple) else (args,)) if isinstance(a, int)]
    size = len(fmt) + sum(_length(a) for a in (args if isinstance(args, tuple) else (args,)))
    for width, precision in _PRINTF.findall(fmt):
        for part in (width, precision):
            if part == "*":
                size += max(numbers, default=0)
            elif part:
                size += int(part)
    return size


def _format_spec_size(fmt: str) -> int:
    """A bound of the widths ``fmt.format(...)`` pads to (nested specs count as refused)."""
    size = len(fmt)
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise SecurityError("format widths taken from arguments are not allowed")
        size += sum(int(n) for n in re.findall(r"\d+", spec or ""))
    return size


class _GuardedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_chars: int) -> None:
        super().__init__(autoescape=False)
        self.max_chars = max_chars
        self.filters.update(
            center=self._guard(filters.do_center, lambda v, w=80, *_: max(_length(v), w)),
            indent=self._guard(
                filters.do_indent,
                lambda v, w=4, *_: _length(v) * (1 + (w if isinstance(w, int) else len(w))),
            ),
            format=self._guard(filters.do_format, lambda v, *a, **k: _printf_size(v, a or k)),
            replace=self._guard(
                filters.do_replace,
                lambda ec, v, old, new, count=None: _replaced_size(
                    str(v), str(old), str(new), -1 if count is None else count
                ),
            ),
            join=self._guard(filters.sync_do_join, lambda ec, v, d="", *_: _joined_size(str(d), v)),
        )

    def _guard(self, fn: Callable[..., Any], size: Callable[..., int]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check_size(size(*args, **kwargs), self.max_chars, f"the {fn.__name__} result")
            return fn(*args, **kwargs)

        # Jinja passes the eval context to the filters marked as asking for it.
        if hasattr(fn, "jinja_pass_arg"):
            guarded.jinja_pass_arg = fn.jinja_pass_arg  # type: ignore[attr-defined]
        return guarded

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    check_size(len(seq) * times, self.max_chars, "the result of '*'")
            return operator.mul(left, right)
        if operator_ == "+":
            if isinstance(left, Sized) and isinstance(right, Sized):
                check_size(len(left) + len(right), self.max_chars, "the result of '+'")
            return operator.add(left, right)
        if operator_ == "%" and isinstance(left, str):
            check_size(_printf_size(left, right), self.max_chars, "the result of '%'")
            return operator.mod(left, right)
        if (
            operator_ == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right > MAX_INT_EXPONENT
        ):
            raise SecurityError(f"exponent {right} is too large (limit {MAX_INT_EXPONENT})")
        return super().call_binop(context, operator_, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(__obj, "__wrapped__", __obj)
        text = getattr(target, "__self__", None)
        if isinstance(text, str):
            __self._check_str_method(text, getattr(target, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def _check_str_method(
        self, text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        values = [*args, *kwargs.values()]
        if name in _WIDTH_METHODS and values and isinstance(values[0], int):
            size = max(len(text), values[0])
        elif name == "expandtabs":
            tab = values[0] if values and isinstance(values[0], int) else 8
            size = len(text) * max(tab, 1)
        elif name == "replace" and len(values) >= 2:
            count = values[2] if len(values) > 2 and isinstance(values[2], int) else -1
            size = _replaced_size(text, str(values[0]), str(values[1]), count)
        elif name == "join" and values:
            size = _joined_size(text, values[0])
        elif name in ("format", "format_map"):
            size = _format_spec_size(text) + sum(_length(v) for v in values)
        else:
            return
        check_size(size, self.max_chars, f"the result of str.{name}")


@lru_cache(maxsize=8)
def _environment(max_chars: int) -> _GuardedSandbox:
    return _GuardedSandbox(max_chars)


@lru_cache(maxsize=512)
def _compile(source: str, escape_html: bool, max_chars: int) -> Template:
    if escape_html:
        # Turning autoescape on per template keeps one shared environment; the
        # wrapper adds no newline, so error line numbers still match the source.
        source = "{% autoescape true %}" + source + "{% endautoescape %}"
    return _environment(max_chars).from_string(source)


def render_template(
    source: str,
    values: Mapping[str, Any],
    escape_html: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """Render ``source`` with ``values`` as its variables, at most ``max_chars`` long.

    Raises ``jinja2.TemplateError`` (``SecurityError`` for sandbox violations and for
    output over the limit) or the error the template itself caused.
    """
    parts: list[str] = []
    size = 0
    for chunk in _compile(source, escape_html, max_chars).generate(dict(values)):
        size += len(chunk)
        check_size(size, max_chars, "the rendered text")
        parts.append(chunk)
    return "".join(parts)

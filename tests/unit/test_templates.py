"""The template sandbox: what a graph author's Jinja2 template may not do."""

from __future__ import annotations

from typing import Any

import pytest

from backend.blocks.templates import SecurityError, render_template

LIMIT = 10_000


def render(source: str, values: dict[str, Any] | None = None) -> str:
    return render_template(source, values or {}, False, LIMIT)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a'.ljust(1500000000)|length }}",
        "{{ 'a'.rjust(20000) }}",
        "{{ 'a'.center(20000) }}",
        "{{ '1'.zfill(20000) }}",
        "{{ 'a\tb'.expandtabs(20000) }}",
        "{{ '%020000d' % 1 }}",
        "{{ '%0*d' % (20000, 1) }}",
        "{{ '%s' | format('x' * 9999) ~ ('%09999d' | format(1)) }}",
        "{{ '{:>20000}'.format(1) }}",
        "{{ '{:{w}}'.format(1, w=5) }}",
        "{{ 'a' | center(20000) }}",
        "{{ ('ab' * 4000) | indent(10) }}",
        "{{ ('a' * 5000).replace('a', 'bbb') }}",
        "{{ ('a' * 5000) | replace('a', 'bbb') }}",
        "{{ ('x' * 5000).join(['a', 'b', 'c']) }}",
        "{{ ['a', 'b', 'c'] | join('x' * 5000) }}",
        "{{ 'a' * 20000 }}",
        "{{ ('a' * 6000) + ('b' * 6000) }}",
        "{% for i in range(20000) %}x{% endfor %}",
        "{{ 2 ** 100000 }}",
    ],
)
def test_output_over_the_limit_is_refused_before_it_is_built(source: str) -> None:
    with pytest.raises(SecurityError):
        render(source)


def test_output_up_to_the_limit_renders() -> None:
    assert len(render("{{ 'a'.ljust(9000) }}")) == 9000
    assert render("{{ '%05d' % 42 }}") == "00042"
    assert render("{{ '{:>4}'.format(7) }}") == "   7"
    assert render("{{ ['a', 'b'] | join(', ') }}") == "a, b"


def test_templates_cannot_change_their_inputs() -> None:
    values = {"items": [1, 2], "d": {"k": 1}}
    for source in ("{{ items.append(3) }}", "{{ d.update({'x': 1}) }}", "{{ items.pop() }}"):
        with pytest.raises(SecurityError):
            render(source, values)
    assert values == {"items": [1, 2], "d": {"k": 1}}


def test_dunder_access_fails_the_render() -> None:
    with pytest.raises(SecurityError, match="__class__"):
        render("{{ x.__class__ }}", {"x": 1})

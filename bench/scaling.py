"""Cost per item as runs grow: a fan-out and a chain at several sizes, durable.

Each size is one run through the durable executor, all of them one after the other
through one executor (modes.durable_seconds_each: claim to end as the store recorded
them), on the database the caller opened. The figure is node
executions per second at each size; the target compares the cost per item at the
largest size with the cost at the smallest (the fan's StepThroughItems emits one item
per StoreValue and AddToList execution, so its node executions are 2 * items + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.data.graph import Graph
from backend.settings import Settings
from bench import modes, workloads

FULL_SIZES = (1000, 10_000, 50_000)
SMOKE_SIZES = (10, 40)
# Per-item cost at the largest size over the cost at the smallest, at most this.
MAX_GROWTH = 1.5

_SHAPES: dict[str, tuple[Callable[[int], Graph], Callable[[int], int]]] = {
    "chain": (workloads.chain, lambda size: size),
    "fan": (workloads.fan, workloads.fan_executions),
}


def nps_by_size(settings: Settings, sizes: tuple[int, ...]) -> dict[str, dict[str, float]]:
    """{shape: {size: node executions per second of one run of that shape and size}}."""
    plan = [(shape, size) for shape in _SHAPES for size in sizes]
    seconds = modes.durable_seconds_each(settings, [_SHAPES[s][0](n) for s, n in plan])
    out: dict[str, dict[str, float]] = {shape: {} for shape in _SHAPES}
    for (shape, size), took in zip(plan, seconds, strict=True):
        executions = _SHAPES[shape][1](size)
        out[shape][str(size)] = executions / took if took > 0 else float("inf")
    return out


def growth(by_size: dict[str, float]) -> float:
    """Cost per node execution at the largest size over the cost at the smallest."""
    ordered = sorted(by_size, key=int)
    return by_size[ordered[0]] / by_size[ordered[-1]]


def scaling_figures(settings: Settings, database: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    """``{chain,fan}_nps_by_size_<database>`` and their ``*_growth_<database>``."""
    out: dict[str, Any] = {}
    for shape, by_size in nps_by_size(settings, sizes).items():
        out[f"{shape}_nps_by_size_{database}"] = by_size
        out[f"{shape}_growth_{database}"] = growth(by_size)
    return out


def targets(sizes: tuple[int, ...]) -> list[tuple[str, str, float]]:
    """(label, figure, most): each growth figure must be at most its bound."""
    small, large = f"{sizes[0]:,}", f"{sizes[-1]:,}"
    return [
        (
            f"{shape} per-item cost at {large} / at {small} <= {MAX_GROWTH} ({name})",
            f"{shape}_growth_{database}",
            MAX_GROWTH,
        )
        for database, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
        for shape in _SHAPES
    ]

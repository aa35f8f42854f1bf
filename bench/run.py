"""`make bench`: throughput, latency, memory and scaling, as ratios measured in one run.

Writes bench/results/latest.json and prints a markdown table. `--smoke` uses tiny sizes
so CI keeps the harness working; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import modes, reads, scaling, side_by_side, workloads
from bench.load import load_figures
from bench.memory import rss_growth_mb

RESULTS = Path(__file__).parent / "results" / "latest.json"


@dataclass(frozen=True)
class Sizes:
    chain: int
    fan: int
    repeats: int
    scaling: tuple[int, ...]
    load_runs: int
    rss_runs: tuple[int, int]  # chain runs before the first and the second RSS reading
    rss_chain: int
    side_by_side: side_by_side.Shape
    reads: reads.ReadSizes


# RSS from 10k to 300k node executions, not to 1M: 1M takes well over 5 minutes here.
FULL = Sizes(
    1000,
    1000,
    3,
    scaling.FULL_SIZES,
    200,
    (10, 300),
    1000,
    side_by_side.FULL_SHAPE,
    reads.FULL_READS,
)
SMOKE = Sizes(
    20, 20, 1, scaling.SMOKE_SIZES, 10, (1, 2), 20, side_by_side.SMOKE_SHAPE, reads.SMOKE_READS
)


def median(measure: Callable[[], float], repeats: int) -> float:
    return statistics.median(measure() for _ in range(repeats))


def nps(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure(sizes: Sizes, with_postgres: bool) -> dict[str, Any]:
    databases = ["sqlite", "postgres"] if with_postgres else ["sqlite"]
    # First, while the machine is quiet: these compare the executor with the database alone.
    out: dict[str, Any] = side_by_side.side_by_side(sizes.side_by_side, with_postgres)
    chain, fan = workloads.chain(sizes.chain), workloads.fan(sizes.fan)
    out["chain_nps_memory"] = nps(
        sizes.chain, median(lambda: modes.memory_seconds(chain), sizes.repeats)
    )
    out["fan_nps_memory"] = nps(
        workloads.fan_executions(sizes.fan),
        median(lambda: modes.memory_seconds(fan), sizes.repeats),
    )
    for name in databases:
        with modes.database_settings(name) as settings:
            out[f"chain_nps_{name}"] = nps(
                sizes.chain,
                median(lambda s=settings: modes.durable_seconds(s, chain)[0], sizes.repeats),
            )
            out[f"fan_nps_{name}"] = nps(
                workloads.fan_executions(sizes.fan),
                median(lambda s=settings: modes.durable_seconds(s, fan)[0], sizes.repeats),
            )
    for name in databases:
        with modes.database_settings(name) as settings:
            out |= scaling.scaling_figures(settings, name, sizes.scaling)
        out |= reads.read_figures(name, sizes.reads)
    for name in databases:
        for key, value in load_figures(name, sizes.load_runs).items():
            out[f"{key}_{name}"] = value
    with modes.database_settings("sqlite") as settings:
        out["rss_growth_mb"] = rss_growth_mb(settings, sizes.rss_chain, sizes.rss_runs)
    return out


Target = tuple[str, str, Callable[[dict[str, Any]], bool]]


def targets(sizes: Sizes) -> list[Target]:
    """(label, figure, check) for every target, labelled with the sizes measured."""
    low, high = sizes.rss_runs[0] * sizes.rss_chain, sizes.rss_runs[1] * sizes.rss_chain
    at_least = [
        ("durable SQLite chain >= 2,000 nodes/s", "chain_nps_sqlite", 2000.0),
        ("SQLite / in-memory chain >= 0.3", "chain_ratio_sqlite", 0.3),
        *side_by_side.TARGETS,
    ]
    at_most = [
        ("p50 submit-to-start <= 50 ms (SQLite)", "start_ms_p50_sqlite", 50.0),
        ("p50 submit-to-start <= 20 ms (PostgreSQL)", "start_ms_p50_postgres", 20.0),
        *scaling.targets(sizes.scaling),
        *reads.targets(sizes.reads),
        (
            f"RSS growth {low:,} -> {high:,} node executions <= 20 MB "
            "(the issue asks 10k -> 1M, which takes over 5 minutes here)",
            "rss_growth_mb",
            20.0,
        ),
    ]
    return [
        *[(label, key, lambda r, k=key, v=most: r[k] >= v) for label, key, most in at_least],
        *[(label, key, lambda r, k=key, v=most: r[k] <= v) for label, key, most in at_most],
    ]


def add_ratios(results: dict[str, Any]) -> None:
    for name in ("sqlite", "postgres"):
        if f"chain_nps_{name}" in results:
            results[f"chain_ratio_{name}"] = (
                results[f"chain_nps_{name}"] / results["chain_nps_memory"]
            )
        if f"fan_nps_{name}" in results:
            results[f"fan_ratio_{name}"] = results[f"fan_nps_{name}"] / results["fan_nps_memory"]


def table(results: dict[str, Any], sizes: Sizes) -> str:
    lines = ["| figure | value |", "| --- | --- |"]
    for key, value in results.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,.0f}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:,.2f}"
        lines.append(f"| {key} | {value} |")
    lines += ["", "| target | measured | met |", "| --- | --- | --- |"]
    for label, key, check in targets(sizes):
        if key not in results:
            lines.append(f"| {label} | not measured | - |")
            continue
        met = "yes" if check(results) else "NO"
        lines.append(f"| {label} | {results[key]:,.2f} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite and memory only")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with_postgres = not args.no_postgres and postgres_available()
    sizes = SMOKE if args.smoke else FULL
    results = measure(sizes, with_postgres)
    add_ratios(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(table(results, sizes))


def postgres_available() -> bool:
    from tests.pg import _unreachable_reason

    return _unreachable_reason() is None


if __name__ == "__main__":
    sys.exit(main())

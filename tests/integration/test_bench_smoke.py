"""The benchmark harness keeps working: `make bench-smoke` in miniature."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_fixtures import REPO_ROOT

pytestmark = pytest.mark.supervisord

NUMERIC_KEYS = [
    "chain_nps_memory",
    "chain_nps_sqlite",
    "fan_nps_sqlite",
    "load_rps_sqlite",
    "start_ms_p50_sqlite",
    "start_ms_p99_sqlite",
    "done_ms_p50_sqlite",
    "rss_growth_mb",
    "sbs_sqlite_limit_sps",
    "sbs_sqlite_chain_sps",
    "sbs_sqlite_100x10_sps",
    "sbs_sqlite_chain_ratio",
    "sbs_sqlite_100x10_ratio",
    "chain_growth_sqlite",
    "fan_growth_sqlite",
    "read_run_ratio_sqlite",
    "read_nodes_ratio_sqlite",
    "metrics_ratio_sqlite",
    "sse_latency_ratio_sqlite",
    "sse_idle_cpu_pct_streams_sqlite",
]


def test_smoke_bench_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--no-postgres", "--output", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(output.read_text())
    for key in NUMERIC_KEYS:
        assert isinstance(results[key], float) and math.isfinite(results[key]), key
    for shape in ("chain", "fan"):
        assert set(results[f"{shape}_nps_by_size_sqlite"]) == {"10", "40"}
    # The database was filled past the smoke size's node executions before /metrics.
    assert results["metrics_node_rows_sqlite"] >= 100
    assert "| target | measured | met |" in done.stdout

"""Reads that must not grow with the database: a big run's view, /metrics, idle streams.

One fresh database and one REST API process (``python -m backend.rest``), in this order:

1. an otherwise empty database holding one finished run of one page of nodes: the
   median latency of GET /executions/{id}, of the first page of its /nodes, and of
   /metrics (the baseline);
2. idle streams: runs queued while no executor runs, so their event streams stay open
   and quiet. Latency of GET /executions/{id}, and the API process's CPU time per
   request (its CPU over the whole timed window: what the streams cost meanwhile is
   counted), with ``streams`` streams open against none; also the idle process's CPU;
3. a finished run of ``big_run`` nodes, really executed: its view and its first page
   of nodes against the baseline;
4. the database filled to ``node_rows`` node executions by SQL (copies of the big run's
   run and node rows, ``INSERT ... SELECT``; the counter triggers keep the per-run
   counts, as the executor's writes would; PostgreSQL is then ANALYZEd, as autovacuum
   would): /metrics against the baseline.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from backend.data import schema as t
from backend.data.api_keys import hash_key, new_key, shown_prefix
from backend.data.open import open_store
from backend.data.sqlbase import SQLBase
from backend.data.store import Store
from backend.executor.submit import save_graph, submit_run
from backend.settings import Settings
from bench import modes, workloads

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60.0
# Each of the three reads of a big database may take at most this over the baseline.
MAX_RATIO = 2.0


@dataclass(frozen=True)
class ReadSizes:
    page: int  # node executions per /nodes page, and in the baseline run
    big_run: int  # node executions of the big finished run
    node_rows: int  # node executions in the database for /metrics
    streams: int  # idle event streams
    requests: int  # requests per timed figure (the median is kept)
    idle_seconds: float  # window for the idle CPU figure


FULL_READS = ReadSizes(100, 50_000, 1_000_000, 200, 100, 5.0)
SMOKE_READS = ReadSizes(5, 30, 100, 3, 3, 0.2)


@dataclass(frozen=True)
class Api:
    url: str
    pid: int


def read_figures(database: str, sizes: ReadSizes) -> dict[str, float]:
    """Every figure of this module for ``database`` ("sqlite" or "postgres"), each
    named ``<figure>_<database>``."""
    out: dict[str, float] = {}
    with modes.database_settings(database) as settings, ExitStack() as stack:
        store = open_store(settings)
        stack.callback(store.close)
        small = modes.durable_runs(settings, store, workloads.chain(sizes.page))[0]
        key = new_key()
        store.create_api_key(modes.USER, hash_key(key), shown_prefix(key), time.time())
        api = stack.enter_context(api_process(settings))
        client = stack.enter_context(
            httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        )
        base = _run_reads(client, small, sizes)
        base["metrics"] = _median_ms(client, "/metrics", sizes.requests)
        out |= _idle_streams(client, store, api, small, key, sizes)
        big = modes.durable_runs(settings, store, workloads.chain(sizes.big_run))[0]
        for name, ms in _run_reads(client, big, sizes).items():
            out[f"read_{name}_ms"] = ms
            out[f"read_{name}_ms_empty"] = base[name]
            out[f"read_{name}_ratio"] = ms / base[name]
        out["metrics_node_rows"] = float(fill(store, big, sizes.node_rows))
        ms = _median_ms(client, "/metrics", sizes.requests)
        out["metrics_ms"] = ms
        out["metrics_ms_empty"] = base["metrics"]
        out["metrics_ratio"] = ms / base["metrics"]
    return {f"{name}_{database}": value for name, value in out.items()}


def _run_reads(client: httpx.Client, run_id: str, sizes: ReadSizes) -> dict[str, float]:
    return {
        "run": _median_ms(client, f"/api/v1/executions/{run_id}", sizes.requests),
        "nodes": _median_ms(
            client, f"/api/v1/executions/{run_id}/nodes?limit={sizes.page}", sizes.requests
        ),
    }


def _median_ms(client: httpx.Client, path: str, requests: int) -> float:
    client.get(path).raise_for_status()  # warm: connection, caches, first-use imports
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# -- idle streams ----------------------------------------------------------------------


def _idle_streams(
    client: httpx.Client, store: Store, api: Api, probe_run: str, key: str, sizes: ReadSizes
) -> dict[str, float]:
    pid = api.pid
    graph = save_graph(store, modes.USER, workloads.chain(1))
    # No executor runs now: these stay queued and their streams quiet.
    queued = [submit_run(store, modes.USER, graph.id, {}).id for _ in range(sizes.streams)]
    path = f"/api/v1/executions/{probe_run}"

    def window() -> tuple[float, float, float]:
        idle = _cpu_seconds(pid)
        time.sleep(sizes.idle_seconds)
        idle_pct = (_cpu_seconds(pid) - idle) / sizes.idle_seconds * 100
        before = _cpu_seconds(pid)
        ms = _median_ms(client, path, sizes.requests)
        per_request = (_cpu_seconds(pid) - before) / (sizes.requests + 1)
        return ms, per_request, idle_pct

    none_ms, none_cpu, none_idle = window()
    with _open_streams(api.url, key, queued):
        time.sleep(min(1.0, sizes.idle_seconds))  # let the hub's poller settle
        some_ms, some_cpu, some_idle = window()
    return {
        "sse_latency_ms_no_streams": none_ms,
        "sse_latency_ms_streams": some_ms,
        "sse_latency_ratio": some_ms / none_ms,
        "sse_cpu_ms_per_request_no_streams": none_cpu * 1000,
        "sse_cpu_ms_per_request_streams": some_cpu * 1000,
        "sse_cpu_ratio": some_cpu / none_cpu if none_cpu > 0 else float("inf"),
        "sse_idle_cpu_pct_no_streams": none_idle,
        "sse_idle_cpu_pct_streams": some_idle,
    }


@contextmanager
def _open_streams(url: str, key: str, run_ids: list[str]) -> Iterator[None]:
    """One raw socket per run, each past its stream's first line: cheap for this
    process, so the API process's figures are not the client's."""
    host, port = url.removeprefix("http://").split(":")
    sockets: list[socket.socket] = []
    try:
        for run_id in run_ids:
            sock = socket.create_connection((host, int(port)), timeout=30)
            sockets.append(sock)
            sock.sendall(
                f"GET /api/v1/executions/{run_id}/events HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
        for sock in sockets:
            _read_until(sock, b"retry:")
        yield
    finally:
        for sock in sockets:
            sock.close()


def _read_until(sock: socket.socket, marker: bytes) -> None:
    seen = b""
    while marker not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"an event stream closed before it started: {seen[:300]!r}")
        seen += chunk
        if seen.startswith(b"HTTP/1.1 ") and not seen.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"an event stream was refused: {seen[:300]!r}")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the API process -------------------------------------------------------------------


@contextmanager
def api_process(settings: Settings) -> Iterator[Api]:
    """``python -m backend.rest`` on ``settings``' database and a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env |= {
        "BACKEND_DATA_DIR": str(settings.data_dir),
        "BACKEND_DATABASE_URL": settings.database_url,
        "BACKEND_API_HOST": "127.0.0.1",
        "BACKEND_API_PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
    }
    log = settings.data_dir / "rest.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.rest"],
            cwd=settings.data_dir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield Api(url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the REST API exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the REST API did not answer in {START_SECONDS:g} s")


# -- filling the database --------------------------------------------------------------


def fill(store: Store, source_run: str, node_rows: int) -> int:
    """Copy ``source_run`` (its run row and node rows) until the database holds at least
    ``node_rows`` node executions; how many it holds then."""
    if not isinstance(store, SQLBase):
        raise TypeError("filling needs an SQL store")
    ge, ne = t.graph_executions, t.node_executions
    held, per_copy = _node_rows(store), _node_rows(store, source_run)
    copy = 0
    while held < node_rows:
        copy += 1
        suffix = f"-c{copy}"
        new_run = f"{source_run[: 64 - len(suffix)]}{suffix}"
        renamed: dict[str, Any] = {"id": sa.literal(new_run)}
        with store.write() as conn:
            conn.execute(ge.insert().from_select(ge.c.keys(), _copy(ge, source_run, renamed)))
            renamed = {"id": ne.c.id + sa.literal(suffix), "run_id": sa.literal(new_run)}
            conn.execute(ne.insert().from_select(ne.c.keys(), _copy(ne, source_run, renamed)))
        held += per_copy
    if store.engine.dialect.name == "postgresql":
        # What autovacuum would do after a million new rows: the planner sees them.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    return _node_rows(store)


def _node_rows(store: SQLBase, run_id: str | None = None) -> int:
    ne = t.node_executions
    query = sa.select(sa.func.count()).select_from(ne)
    if run_id is not None:
        query = query.where(ne.c.run_id == run_id)
    with store.read() as conn:
        return int(conn.execute(query).scalar_one())


def _copy(table: sa.Table, source_run: str, renamed: dict[str, Any]) -> sa.Select[Any]:
    """The rows of ``source_run`` in ``table``, with the ``renamed`` columns replaced."""
    key = table.c.id if table is t.graph_executions else table.c.run_id
    columns = [renamed[c.name].label(c.name) if c.name in renamed else c for c in table.c]
    return sa.select(*columns).where(key == source_run)


def targets(sizes: ReadSizes) -> list[tuple[str, str, float]]:
    """(label, figure, most): each ratio must be at most its bound."""
    big, rows, streams = f"{sizes.big_run:,}", f"{sizes.node_rows:,}", sizes.streams
    checks = [
        ("read_run", f"GET run of {big} nodes / of {sizes.page} nodes, empty database"),
        ("read_nodes", f"first /nodes page, {big}-node run / {sizes.page}-node run"),
        ("metrics", f"/metrics with {rows} node executions / empty database"),
        ("sse_latency", f"GET latency, {streams} idle event streams / none"),
        ("sse_cpu", f"API CPU per request, {streams} idle event streams / none"),
    ]
    return [
        (f"{label} <= {MAX_RATIO:g} ({name})", f"{figure}_ratio_{database}", MAX_RATIO)
        for database, name in (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
        for figure, label in checks
    ]

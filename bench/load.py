"""Load through the real stack: supervisord's group (rest + 2 executors), the REST API.

* start latency: runs submitted one at a time to idle executors, from just before the
  POST to the first node's start (same clock: one machine);
* throughput and completion latency: `runs` runs submitted at once from 16 threads.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from backend.client import ApiClient
from backend.data.api_keys import hash_key, new_key, shown_prefix
from backend.data.open import open_store
from backend.data.store import Store
from backend.settings import Settings
from bench import workloads
from tests.pg import create_database, drop_database
from tests.supervisor_helpers import running_supervisord, wait_for

IDLE_SAMPLES = 20
SUBMITTERS = 16


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def _database_env(database: str) -> Iterator[dict[str, str]]:
    if database == "sqlite":
        yield {}
        return
    url = create_database("load")
    try:
        yield {"BACKEND_DATABASE_URL": url}
    finally:
        drop_database(url)


def load_figures(database: str, runs: int) -> dict[str, float]:
    with _database_env(database) as env, running_supervisord(env=env) as sup:
        sup.wait_all("RUNNING", 30)
        url = sup.env.get("BACKEND_DATABASE_URL") or f"sqlite:///{sup.data_dir / 'backend.db'}"
        store = open_store(Settings(database_url=url))
        try:
            # RUNNING means up for startsecs; on a loaded machine the programs may still
            # be migrating the schema, and the API not yet listening.
            wait_for(lambda: store.schema_is_current() or None, 60, "the schema migration")
            api = f"http://127.0.0.1:{sup.env['BACKEND_API_PORT']}"
            sup.wait_api(60)
            key = new_key()
            store.create_api_key("bench", hash_key(key), shown_prefix(key), time.time())
            with ApiClient(api, key) as client:
                graph_id = client.create_graph(workloads.ten_nodes().to_json())["id"]
                starts = [_idle_start_ms(client, store, graph_id) for _ in range(IDLE_SAMPLES)]
                rps, done = _burst(api, key, store, graph_id, runs)
        finally:
            store.close()
    return {
        "load_rps": rps,
        "start_ms_p50": statistics.median(starts),
        "start_ms_p99": percentile(starts, 0.99),
        "done_ms_p50": statistics.median(done),
    }


def _idle_start_ms(client: ApiClient, store: Store, graph_id: str) -> float:
    submitted = time.time()
    run_id = client.execute(graph_id, {"x": 1})["id"]
    _wait_final(store, [run_id])
    return (_first_start(store, run_id) - submitted) * 1000


def _burst(api: str, key: str, store: Store, graph_id: str, runs: int) -> tuple[float, list[float]]:
    def submit(i: int) -> tuple[str, float]:
        with ApiClient(api, key) as client:
            submitted = time.time()
            return client.execute(graph_id, {"x": i})["id"], submitted

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        submitted = dict(pool.map(submit, range(runs)))
    _wait_final(store, list(submitted))
    ended = {run_id: store.get_run(run_id).ended_at or 0.0 for run_id in submitted}
    span = max(ended.values()) - min(submitted.values())
    return runs / span, [(ended[r] - submitted[r]) * 1000 for r in submitted]


def _first_start(store: Store, run_id: str) -> float:
    return min(n.started_at or float("inf") for n in store.node_executions(run_id))


def _wait_final(store: Store, run_ids: list[str]) -> None:
    def finished() -> bool | None:
        return all(store.get_run(r).status.is_final for r in run_ids) or None

    wait_for(finished, 300, "the runs to end")

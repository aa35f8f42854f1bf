"""deploy/alerts.yml and deploy/grafana-dashboard.json query only metrics we export.

The exported set is what the code renders: an executor's registry (what its metrics port
serves) and the API's /metrics text over a fresh database, both parsed with Prometheus'
parser. A renamed metric breaks this test instead of silently emptying a panel or an alert.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from backend.data.open import open_store
from backend.executor.metrics import REGISTRY
from backend.server.metrics import render_metrics
from tests.graphs import fast_settings
from tests.process_fixtures import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
# Series Prometheus makes itself for every target; not ours to export.
PROMETHEUS_OWN = {"up"}
# What a PromQL expression may name besides series: functions, keywords, label names.
_METRIC = re.compile(r"\b((?:agent_server|process)_[a-z0-9_]+)\b")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def series_names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    settings = fast_settings(tmp_path_factory.mktemp("metrics"))
    store = open_store(settings)
    try:
        store.prepare(auto_migrate=True)
        api = render_metrics(store, settings)
    finally:
        store.close()
    return series_names(api) | series_names(generate_latest(REGISTRY).decode())


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_exprs() -> Iterator[str]:
    doc = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    for panel in doc["panels"]:
        for target in panel["targets"]:
            yield target["expr"]


def referenced(expr: str) -> set[str]:
    return set(_METRIC.findall(expr))


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_referenced_is_exported(source: str, exported: set[str]) -> None:
    exprs = [r["expr"] for r in alert_rules()] if source == "alerts" else list(dashboard_exprs())
    names = set().union(*(referenced(expr) for expr in exprs))
    assert len(names) >= 5
    assert names - exported == set()
    for expr in exprs:
        # Every expression queries something: one of ours, or Prometheus' own `up`.
        assert referenced(expr) or any(re.search(rf"\b{n}\b", expr) for n in PROMETHEUS_OWN)


def test_alerts_cover_queue_age_executors_down_and_failure_rate() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    by_metric = {name: rule for rule in rules.values() for name in referenced(rule["expr"])}
    assert "agent_server_executor_oldest_queued_run_age_seconds" in by_metric
    assert "agent_server_executors_alive" in by_metric
    assert "agent_server_executor_runs_finished_total" in by_metric
    assert any('up{job="agent-server-executor"}' in rule["expr"] for rule in rules.values())
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]


def test_dashboard_panels_have_unique_ids_and_a_datasource() -> None:
    doc = json.loads(Path(DEPLOY / "grafana-dashboard.json").read_text())
    ids = [panel["id"] for panel in doc["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in doc["panels"])

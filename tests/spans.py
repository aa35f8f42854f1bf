"""Tracing into memory for tests: the spans a test's runs and requests produced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from backend.util import tracing


@contextmanager
def collecting() -> Iterator[Callable[[], list[Any]]]:
    """Trace into memory while inside; yields a function that returns the spans ended so
    far (it flushes the batch first)."""
    exporter = InMemorySpanExporter()
    provider = tracing.install(exporter, "agent-server-test")

    def finished() -> list[Any]:
        assert provider.force_flush(10_000)
        return list(exporter.get_finished_spans())

    try:
        yield finished
    finally:
        tracing.stop()


def by_name(spans: list[Any], name: str) -> list[Any]:
    return [span for span in spans if span.name == name]

"""Parsed graph versions, kept per store for submits.

A saved graph version never changes: its row is written once and only its active and
deleted flags move later. So the version a submit names can be parsed once, and the
checks that depend on the graph alone done once, instead of on every submit. Which
version is active, and whether the graph is deleted, is still read from the store on
each submit: that part does change.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.data.graph import Graph
from backend.data.store import Store

# Bounds on what one process keeps: a number of versions, and their nodes and links
# together (graph authors decide how large a graph is).
MAX_ENTRIES = 256
MAX_WEIGHT = 50_000
# The distinct node-timeout bounds a version is remembered as runnable under.
MAX_TIMEOUT_BOUNDS = 4

Key = tuple[str, str, int]


@dataclass
class _Entry:
    graph: Graph
    weight: int
    # The block instances the graph's nodes resolved to when it was found runnable: a
    # block registered or removed since then makes the check run again.
    blocks: tuple[Any, ...] | None = None
    timeout_bounds: set[float] = field(default_factory=set)


class GraphCache:
    """A bounded, thread-safe LRU of parsed graph versions by (user, graph id, version)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_weight: int = MAX_WEIGHT) -> None:
        self._max_entries = max_entries
        self._max_weight = max_weight
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, user_id: str, graph_id: str, version: int) -> Graph | None:
        key = (user_id, graph_id, version)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.graph

    def put(self, user_id: str, graph_id: str, version: int, graph: Graph) -> Graph:
        """Keep ``graph`` (unless too large); returns the instance now cached for the key,
        so concurrent loads of one version share one instance."""
        weight = len(graph.nodes) + len(graph.links) + 1
        if weight > self._max_weight or (graph.id, graph.version) != (graph_id, version):
            return graph
        key = (user_id, graph_id, version)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry.graph
            self._entries[key] = _Entry(graph, weight)
            self._weight += weight
            while len(self._entries) > self._max_entries or self._weight > self._max_weight:
                _, old = self._entries.popitem(last=False)
                self._weight -= old.weight
            return graph

    def is_runnable(
        self, user_id: str, graph: Graph, blocks: Sequence[Any], timeout_bound: float
    ) -> bool:
        """Whether ``graph`` (this cached instance) passed the graph-only run checks under
        ``timeout_bound`` with these same block instances."""
        with self._lock:
            entry = self._entry_of(user_id, graph)
            return (
                entry is not None
                and entry.blocks is not None
                and _same(entry.blocks, blocks)
                and timeout_bound in entry.timeout_bounds
            )

    def mark_runnable(
        self, user_id: str, graph: Graph, blocks: Sequence[Any], timeout_bound: float
    ) -> None:
        with self._lock:
            entry = self._entry_of(user_id, graph)
            if entry is None:
                return  # not a cached instance (or evicted): nothing to remember it by
            if entry.blocks is None or not _same(entry.blocks, blocks):
                entry.blocks, entry.timeout_bounds = tuple(blocks), set()
            if len(entry.timeout_bounds) >= MAX_TIMEOUT_BOUNDS:
                entry.timeout_bounds.clear()
            entry.timeout_bounds.add(timeout_bound)

    def _entry_of(self, user_id: str, graph: Graph) -> _Entry | None:
        entry = self._entries.get((user_id, graph.id, graph.version))
        return entry if entry is not None and entry.graph is graph else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


_caches: weakref.WeakKeyDictionary[Store, GraphCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def load_graph(store: Store, user_id: str, graph_id: str, version: int | None = None) -> Graph:
    """The graph (``version``, or the active one); NotFound as ``Store.get_graph``. The
    instance is shared with other loads of the same version: do not change it."""
    if version is None:
        # Which version is active changes, so it is read each time; a version does not.
        version = store.graph_version(user_id, graph_id)
    cache = graph_cache(store)
    graph = cache.get(user_id, graph_id, version)
    if graph is None:
        graph = Graph.from_json(store.get_graph(user_id, graph_id, version))
        graph = cache.put(user_id, graph_id, version, graph)
    return graph


def graph_cache(store: Store) -> GraphCache:
    """The cache of ``store`` (one per store object: a graph id names a version of one
    database only)."""
    with _caches_lock:
        cache = _caches.get(store)
        if cache is None:
            cache = _caches[store] = GraphCache()
        return cache

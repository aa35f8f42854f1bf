"""Submits reuse a parsed and checked graph version; what changes is still read each time.

Run on SQLite and PostgreSQL: the active-version read and the direct-to-driver inserts
of a submit are per driver.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
import sqlalchemy as sa

from backend.blocks import register_block, unregister_block
from backend.blocks.basic import StoreValueBlock
from backend.data.execution import Event
from backend.data.graph import Graph, Node
from backend.data.graph_cache import GraphCache, graph_cache
from backend.data.open import open_store
from backend.data.store import Store
from backend.errors import InvalidInput, NotFound
from backend.executor.limits import Limits
from backend.executor.submit import load_graph, load_live_graph, save_graph, submit_run
from backend.settings import Settings
from bench.workloads import chain
from tests.blocks_for_tests import FlakyBlock


def test_a_submit_queues_the_run_its_nodes_and_its_event(store: Store) -> None:
    graph = save_graph(store, "alice", chain(3))
    run = submit_run(store, "alice", graph.id, {})
    assert store.get_run(run.id).graph_version == graph.version
    assert [ne.node_id for ne in store.node_executions(run.id)] == ["n0"]
    assert [e.type for e in store.events(run.id)] == ["run_status"]


def test_a_new_version_is_run_once_saved(store: Store) -> None:
    first = save_graph(store, "alice", chain(2))
    submit_run(store, "alice", first.id, {})
    second = save_graph(store, "alice", chain(3).model_copy(update={"id": first.id}))
    run = submit_run(store, "alice", first.id, {})
    assert run.graph_version == second.version == first.version + 1
    assert len(load_graph(store, "alice", first.id).nodes) == 3
    assert len(load_graph(store, "alice", first.id, first.version).nodes) == 2


def test_a_deleted_graph_cannot_start_runs_after_it_was_cached(store: Store) -> None:
    graph = save_graph(store, "alice", chain(2))
    submit_run(store, "alice", graph.id, {})
    store.delete_graph("alice", graph.id)
    with pytest.raises(NotFound, match=f"graph {graph.id} not found"):
        submit_run(store, "alice", graph.id, {})
    with pytest.raises(NotFound):
        load_live_graph(store, "alice", graph.id, graph.version)
    # Its runs still find their pinned version.
    assert load_graph(store, "alice", graph.id, graph.version).version == graph.version


def test_another_user_does_not_get_a_cached_graph(store: Store) -> None:
    graph = save_graph(store, "alice", chain(2))
    submit_run(store, "alice", graph.id, {})
    with pytest.raises(NotFound):
        submit_run(store, "bob", graph.id, {})
    with pytest.raises(NotFound):
        load_graph(store, "bob", graph.id, graph.version)


def test_loads_of_a_version_share_one_instance(store: Store) -> None:
    graph = save_graph(store, "alice", chain(2))
    assert load_graph(store, "alice", graph.id) is load_graph(store, "alice", graph.id, 1)


def test_bad_inputs_get_the_same_error_after_a_cached_check(store: Store) -> None:
    graph = save_graph(store, "alice", chain(2))
    with pytest.raises(InvalidInput) as before:
        submit_run(store, "alice", graph.id, {"nope": 1})
    submit_run(store, "alice", graph.id, {})
    with pytest.raises(InvalidInput) as after:
        submit_run(store, "alice", graph.id, {"nope": 1})
    assert str(after.value) == str(before.value)
    assert after.value.details == before.value.details


def test_a_lower_node_timeout_bound_is_checked_again(store: Store) -> None:
    node = Node(id="a", block_id=StoreValueBlock.id, input_default={"input": 1})
    node.metadata = {"timeout_seconds": 60}
    graph = save_graph(store, "alice", Graph(name="slow", nodes=[node]))
    submit_run(store, "alice", graph.id, {}, limits=Limits(max_node_timeout_seconds=120))
    with pytest.raises(InvalidInput, match="timeout_seconds 60 is above the limit of 30"):
        submit_run(store, "alice", graph.id, {}, limits=Limits(max_node_timeout_seconds=30))


def test_a_removed_block_is_found_again(store: Store) -> None:
    register_block(FlakyBlock)
    try:
        node = Node(id="f", block_id=FlakyBlock.id, input_default={"token": "t"})
        graph = save_graph(store, "alice", Graph(name="flaky", nodes=[node]))
        submit_run(store, "alice", graph.id, {})
    finally:
        unregister_block(FlakyBlock.id)
    with pytest.raises(InvalidInput, match=f"unknown block id {FlakyBlock.id}"):
        submit_run(store, "alice", graph.id, {})


def test_the_active_version_read_names_what_is_missing(store: Store) -> None:
    with pytest.raises(NotFound, match="graph nothing not found"):
        store.graph_version("alice", "nothing")
    graph = save_graph(store, "alice", chain(1))
    assert store.graph_version("alice", graph.id) == graph.version
    with pytest.raises(NotFound):
        store.graph_version("bob", graph.id)


def test_each_store_has_its_own_cache(store: Store) -> None:
    other = open_store(Settings(database_url="sqlite://"))
    try:
        assert graph_cache(store) is graph_cache(store)
        assert graph_cache(store) is not graph_cache(other)
    finally:
        other.close()


def _graph(gid: str, nodes: int) -> Graph:
    return chain(nodes).model_copy(update={"id": gid})


def test_the_cache_drops_the_least_recently_used_version_past_its_bounds() -> None:
    cache = GraphCache(max_entries=2, max_weight=100)
    a, b, c = _graph("a", 1), _graph("b", 1), _graph("c", 1)
    cache.put("u", "a", 1, a)
    cache.put("u", "b", 1, b)
    assert cache.get("u", "a", 1) is a  # now the most recently used
    cache.put("u", "c", 1, c)
    assert len(cache) == 2
    assert cache.get("u", "b", 1) is None
    assert cache.get("u", "a", 1) is a


def test_the_cache_bounds_the_nodes_it_keeps() -> None:
    cache = GraphCache(max_entries=10, max_weight=25)
    cache.put("u", "a", 1, _graph("a", 10))  # 10 nodes, 9 links, weight 20
    big = _graph("b", 20)
    assert cache.put("u", "b", 1, big) is big  # weight 40: never kept
    assert cache.get("u", "b", 1) is None
    cache.put("u", "c", 1, _graph("c", 3))  # weight 6: the first one goes
    assert cache.get("u", "a", 1) is None
    assert cache.get("u", "c", 1) is not None


def test_the_cache_keeps_the_first_instance_of_a_version() -> None:
    cache = GraphCache()
    first, second = _graph("a", 2), _graph("a", 2)
    assert cache.put("u", "a", 1, first) is first
    assert cache.put("u", "a", 1, second) is first
    # A graph whose id or version is not the key's is returned, never kept.
    assert cache.put("u", "x", 1, second) is second
    assert cache.get("u", "x", 1) is None


def test_a_failed_submit_writes_nothing_and_the_store_goes_on(store: Store) -> None:
    graph = save_graph(store, "alice", chain(2))
    run = submit_run(store, "alice", graph.id, {})
    again = dataclasses.replace(run)
    starting = store.node_executions(run.id)
    fresh = [dataclasses.replace(ne, id=str(uuid.uuid4())) for ne in starting]
    event = Event(run.id, "run_status", {"status": "QUEUED"}, created_at=time.time())
    # The run's id is taken: its insert fails, and the nodes and event after it with it.
    with pytest.raises(sa.exc.IntegrityError):
        store.submit_run(again, fresh, event)
    assert [ne.id for ne in store.node_executions(run.id)] == [ne.id for ne in starting]
    assert len(store.events(run.id)) == 1
    assert submit_run(store, "alice", graph.id, {}).id != run.id

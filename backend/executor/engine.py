"""The dataflow semantics of one run, in memory and storage-agnostic.

``RunState`` holds a run's node executions and decides, when a node finishes, which
downstream executions receive its outputs and which become ready (AutoGPT semantics):

* an output travels along every link whose source pin (or a path into it) matches;
* a value fills the oldest INCOMPLETE execution of the sink that lacks that pin, else a
  new execution is created;
* an execution is QUEUED once every linked input pin has a value (defaults never
  satisfy a linked pin);
* a static link keeps its last value: it fills that pin of every waiting execution
  and of every execution created later;
* one node runs one execution at a time, oldest first, so its outputs leave in the
  order its inputs came (graphs that pair a list with its count rely on it).

Whoever owns the run persists the executions each method returns.
"""

from __future__ import annotations

import heapq
import os
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

from backend.blocks import get_block
from backend.blocks.base import BlockType
from backend.data.execution import NodeExecution, NodeStatus, RunStatus
from backend.data.graph import Graph, Link, Node, trigger_pin
from backend.data.pins import merge_dynamic_pins, select_output
from backend.executor.plan import plan_of

IdFactory = Callable[[], str]


# Random bytes for new ids, per thread. uuid4 reads the OS's random source once per id,
# a system call that hands the GIL to another thread (the store's writer) on every step;
# reading it for 256 ids at once keeps the ids just as random.
_ID_BYTES = 16
_IDS_PER_READ = 256
_random = threading.local()


def _new_id() -> str:
    """A random (version 4) UUID's text, as ``str(uuid.uuid4())`` gives."""
    pool: bytes = getattr(_random, "pool", b"")
    at: int = getattr(_random, "at", 0)
    if at >= len(pool):
        pool, at = os.urandom(_ID_BYTES * _IDS_PER_READ), 0
        _random.pool = pool
    _random.at = at + _ID_BYTES
    return str(uuid.UUID(bytes=pool[at : at + _ID_BYTES], version=4))


class RunState:
    def __init__(
        self,
        run_id: str,
        graph: Graph,
        executions: Iterable[NodeExecution] = (),
        new_id: IdFactory = _new_id,
    ) -> None:
        self.run_id = run_id
        self.graph = graph
        self._plan = plan_of(graph)
        self.new_id = new_id
        self.executions: dict[str, NodeExecution] = {}
        # Indexes that keep every step O(links) however long the run gets.
        self._waiting: dict[str, list[NodeExecution]] = defaultdict(list)  # INCOMPLETE
        self._open: dict[str, NodeExecution] = {}  # QUEUED or RUNNING
        # QUEUED executions ready to start, by creation order; entries whose execution
        # has since left QUEUED are skipped when popped.
        self._ready: list[tuple[int, str]] = []
        # Per node: its RUNNING executions, and ready ones held back until those end.
        self._busy: dict[str, set[str]] = defaultdict(set)
        self._held: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        # Why a queued execution's inputs could not be merged; it fails when it starts.
        self._input_problems: dict[str, str] = {}
        self._static: dict[tuple[str, str], Any] = {}
        self._next_seq = 0
        for ne in sorted(executions, key=lambda e: e.seq):
            self._add(ne)
            if ne.status == NodeStatus.QUEUED:
                self._push_ready(ne)
            # The last value each static link delivered is derivable from the inputs.
            for pin in self._static_input_pins(ne.node_id):
                if pin in ne.input_data:
                    self._static[(ne.node_id, pin)] = ne.input_data[pin]

    # -- building ------------------------------------------------------------------------

    def _add(self, ne: NodeExecution) -> None:
        self.executions[ne.id] = ne
        self._index(ne)
        self._next_seq = max(self._next_seq, ne.seq + 1)

    def _index(self, ne: NodeExecution) -> None:
        busy = self._busy[ne.node_id]
        if ne.status == NodeStatus.RUNNING:
            busy.add(ne.id)
        elif ne.id in busy:
            busy.discard(ne.id)
            if not busy:
                self._release(ne.node_id)
        if ne.status == NodeStatus.INCOMPLETE:
            if ne not in self._waiting[ne.node_id]:
                self._waiting[ne.node_id].append(ne)
            return
        waiting = self._waiting.get(ne.node_id)
        if waiting and ne in waiting:
            waiting.remove(ne)
        if ne.status in (NodeStatus.QUEUED, NodeStatus.RUNNING):
            self._open[ne.id] = ne
        else:
            self._open.pop(ne.id, None)

    def _create(self, node: Node, now: float) -> NodeExecution:
        ne = NodeExecution(
            id=self.new_id(),
            run_id=self.run_id,
            seq=self._next_seq,
            node_id=node.id,
            block_id=node.block_id,
            created_at=now,
        )
        self._add(ne)
        return ne

    def start(self, inputs: dict[str, Any], now: float) -> list[NodeExecution]:
        """The starting executions of a new run, QUEUED (the run's inputs feed INPUT nodes)."""
        started = []
        for node in self._plan.starting:
            ne = self._create(node, now)
            block = get_block(node.block_id)
            name = node.input_default.get("name")
            trigger = trigger_pin(node.block_id)
            if block is not None and block.block_type == BlockType.INPUT and name in inputs:
                ne.input_data = {"value": inputs[name]}
            elif trigger is not None and node.id in inputs:
                ne.input_data = {trigger: inputs[node.id]}
            self._queue(ne, node)
            started.append(ne)
        return started

    # -- queries -------------------------------------------------------------------------

    def with_status(self, *statuses: NodeStatus) -> list[NodeExecution]:
        """In creation order."""
        if set(statuses) <= {NodeStatus.QUEUED, NodeStatus.RUNNING}:
            found = [ne for ne in self._open.values() if ne.status in statuses]
            return sorted(found, key=lambda e: e.seq)
        return [ne for ne in self.executions.values() if ne.status in statuses]

    def take_ready(self, limit: int) -> list[NodeExecution]:
        """Up to ``limit`` QUEUED executions, oldest first, taken off the ready queue
        (the caller starts them, or puts one back with ``requeue``)."""
        taken: list[NodeExecution] = []
        nodes: set[str] = set()
        while self._ready and len(taken) < limit:
            entry = heapq.heappop(self._ready)
            ne = self.executions.get(entry[1])
            if ne is None:
                continue
            if ne.status != NodeStatus.QUEUED:
                # A stale entry (it started, or ended, another way): what its node held
                # back may be free to go.
                if not self._busy[ne.node_id]:
                    self._release(ne.node_id)
                continue
            if self._busy[ne.node_id] or ne.node_id in nodes:
                self._held[ne.node_id].append(entry)
                continue
            taken.append(ne)
            nodes.add(ne.node_id)
        return taken

    def _release(self, node_id: str) -> None:
        held = self._held.get(node_id)
        if held:
            heapq.heappush(self._ready, held.popleft())

    def input_problem(self, ne: NodeExecution) -> str | None:
        return self._input_problems.get(ne.id)

    def is_idle(self) -> bool:
        """Nothing is queued or running: the run is over (INCOMPLETE ones never run)."""
        return not self._open

    def final_status(self) -> RunStatus:
        return RunStatus.FAILED if self.first_error() is not None else RunStatus.COMPLETED

    def first_error(self) -> str | None:
        failed = self.with_status(NodeStatus.FAILED)
        if not failed:
            return None
        ne = min(failed, key=lambda e: (e.ended_at or 0.0, e.seq))
        return f"node {ne.node_id} ({_block_name(ne.block_id)}) failed: {ne.error}"

    def outputs(self) -> dict[str, list[Any]]:
        """Graph outputs: every OUTPUT node's values, keyed by its `name` input."""
        result: dict[str, list[Any]] = {}
        for ne in sorted(self.with_status(NodeStatus.COMPLETED), key=lambda e: e.seq):
            block = get_block(ne.block_id)
            if block is None or block.block_type != BlockType.OUTPUT:
                continue
            name = str(ne.input_data.get("name", ""))
            for pin, value in ne.output_data:
                if pin == "output":
                    result.setdefault(name, []).append(value)
        return result

    # -- transitions -----------------------------------------------------------------------

    def complete(
        self, ne: NodeExecution, outputs: list[tuple[str, Any]], now: float
    ) -> list[NodeExecution]:
        """Record a node's outputs and route them; returns every execution that changed."""
        self._set(ne, NodeStatus.COMPLETED)
        ne.output_data = list(outputs)
        ne.ended_at = now
        changed: dict[str, NodeExecution] = {ne.id: ne}
        links = self._plan.links_from.get(ne.node_id, ())
        for pin, value in outputs:
            for link in links:
                sink = (link.sink_id, link.sink_name)
                travels, data = select_output(pin, value, link.source_name, sink)
                if travels:
                    for target in self._deliver(link, data, now):
                        changed[target.id] = target
        return list(changed.values())

    def reuse(self, ne: NodeExecution, earlier: NodeExecution, now: float) -> list[NodeExecution]:
        """Complete a QUEUED execution with the outputs ``earlier`` (a COMPLETED execution
        of the same node and inputs, in another run) recorded, without running it; its
        outputs are routed as if it had run. Returns every execution that changed."""
        self._set(ne, NodeStatus.RUNNING)
        ne.reused_from = earlier.id
        changed = self.complete(ne, [(pin, value) for pin, value in earlier.output_data], now)
        # It never ran here: no start time, no attempt, so durations and metrics skip it.
        ne.started_at = None
        return changed

    def fail(self, ne: NodeExecution, error: str, now: float) -> list[NodeExecution]:
        """A failed node routes nothing: its downstream never runs."""
        self._set(ne, NodeStatus.FAILED)
        ne.error = error
        ne.ended_at = now
        return [ne]

    def terminate(self, now: float, error: str | None = None) -> list[NodeExecution]:
        """End every unfinished execution (cancel, deadline)."""
        changed = []
        for ne in self.with_status(NodeStatus.INCOMPLETE, NodeStatus.QUEUED, NodeStatus.RUNNING):
            self._set(ne, NodeStatus.TERMINATED)
            ne.error = error
            ne.ended_at = now
            changed.append(ne)
        return changed

    def _deliver(self, link: Link, data: Any, now: float) -> list[NodeExecution]:
        sink = self._plan.node(link.sink_id)
        block = get_block(sink.block_id)
        if block is not None and block.block_type == BlockType.NOTE:
            return []
        pin = link.sink_name
        is_static = self._plan.is_static(link)
        if is_static:
            self._static[(sink.id, pin)] = data
        waiting = list(self._waiting[sink.id])
        target = next((ne for ne in waiting if pin not in ne.input_data), None)
        if target is None:
            target = self._create(sink, now)
        target.input_data[pin] = data
        touched = [target]
        if is_static:
            touched += [ne for ne in waiting if ne is not target]
        for ne in touched:
            self._queue(ne, sink)
        return touched

    def _queue(self, ne: NodeExecution, node: Node) -> None:
        """Fill static pins; queue the execution once every linked pin has a value
        (but those its block lets it start without) and its block waits for nothing."""
        for pin in self._static_input_pins(node.id):
            if pin not in ne.input_data and (node.id, pin) in self._static:
                ne.input_data[pin] = self._static[(node.id, pin)]
        block = get_block(node.block_id)
        if not self._plan.needed_pins.get(node.id, frozenset()) <= ne.input_data.keys():
            return
        merged = {**node.input_default, **ne.input_data}
        try:
            merged = merge_dynamic_pins(merged)
        except Exception as exc:
            # Graph validation rejects bad pin paths; should one slip through (a graph
            # stored before a check existed), the node fails when it starts, alone.
            self._input_problems[ne.id] = f"cannot merge its inputs: {exc}"
        else:
            if block is not None and block.waits_for(merged):
                return  # stays INCOMPLETE: only what arrived is kept, not the defaults
        ne.input_data = merged
        self._set(ne, NodeStatus.QUEUED)
        self._push_ready(ne)

    def _static_input_pins(self, node_id: str) -> frozenset[str]:
        return self._plan.static_pins.get(node_id, frozenset())

    def node(self, node_id: str) -> Node:
        """The run's node with this id (KeyError when the graph has none)."""
        return self._plan.node(node_id)

    def mark_running(self, ne: NodeExecution, now: float) -> None:
        self._set(ne, NodeStatus.RUNNING)
        ne.attempt += 1
        ne.started_at = now
        ne.error = None

    def requeue(self, ne: NodeExecution, ready: bool = True) -> None:
        """A RUNNING execution goes back to the queue (retry, or its executor died).
        With ``ready=False`` it waits (a retry's backoff) until ``make_ready``."""
        self._set(ne, NodeStatus.QUEUED)
        ne.started_at = None
        if ready:
            self._push_ready(ne)

    def make_ready(self, ne: NodeExecution) -> None:
        if ne.status == NodeStatus.QUEUED:
            self._push_ready(ne)

    def _push_ready(self, ne: NodeExecution) -> None:
        heapq.heappush(self._ready, (ne.seq, ne.id))

    def _set(self, ne: NodeExecution, status: NodeStatus) -> None:
        ne.set_status(status)
        self._index(ne)


def _block_name(block_id: str) -> str:
    block = get_block(block_id)
    return block.name if block is not None else block_id

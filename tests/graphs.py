"""Graphs and settings the integration tests share."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from backend.blocks.basic import AgentInputBlock, AgentOutputBlock, StoreValueBlock
from backend.blocks.maths import CalculatorBlock
from backend.blocks.orchestrator import OrchestratorBlock
from backend.blocks.timing import WaitBlock
from backend.data.graph import Graph, Link, Node
from backend.executor.pool import WorkerPool
from backend.settings import Settings

_pool: WorkerPool | None = None


def shared_pool() -> WorkerPool:
    """One block worker pool for the whole test session (tests/conftest.py closes it):
    in-process executors and local runs share it instead of each spawning workers."""
    global _pool
    if _pool is None:
        _pool = WorkerPool(2, 1024 * 1024 * 1024)
    return _pool


def close_shared_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


STORE_VALUE = StoreValueBlock.id
WAIT = WaitBlock.id
CALCULATOR = CalculatorBlock.id
AGENT_INPUT = AgentInputBlock.id
AGENT_OUTPUT = AgentOutputBlock.id


def fast_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Short heartbeats, leases and polls, so recovery happens within a test's patience."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "heartbeat_seconds": 0.1,
        "lease_seconds": 2.0,
        "poll_seconds": 0.02,
        "shutdown_grace_seconds": 2.0,
    }
    return Settings(**{**values, **overrides})


def wait_chain(steps: int, seconds: float, name: str = "waits") -> Graph:
    """AgentInput "x" -> ``steps`` WaitBlocks -> AgentOutput "out": a run returns its x."""
    middle = [
        Node(id=f"w{i}", block_id=WAIT, input_default={"seconds": seconds}) for i in range(steps)
    ]
    return input_output_chain(middle, name)


def input_output_chain(middle: list[Node], name: str) -> Graph:
    """AgentInput "x" -> the ``middle`` nodes in a row (pin ``input`` to pin ``output``) ->
    AgentOutput "out"."""
    nodes = [Node(id="in", block_id=AGENT_INPUT, input_default={"name": "x"}), *middle]
    nodes.append(Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}))
    links = [
        Link(
            source_id=a.id,
            source_name="result" if a.id == "in" else "output",
            sink_id=b.id,
            sink_name="value" if b.id == "out" else "input",
        )
        for a, b in itertools.pairwise(nodes)
    ]
    return Graph(name=name, nodes=nodes, links=links)


def calculator_agent(**orchestrator: Any) -> Graph:
    """An Orchestrator "o" with a CalculatorBlock "calc" as its tool, looping: the run
    input "question" fills its prompt; calc's result comes back on last_tool_output,
    o's conversations on its conversation_history; its answer goes to output "answer".
    ``orchestrator`` adds to (or replaces) the node's defaults."""
    defaults = {"prompt": "Answer with the calculator: {{ question }}", **orchestrator}
    nodes = [
        Node(id="in", block_id=AGENT_INPUT, input_default={"name": "question"}),
        Node(id="o", block_id=OrchestratorBlock.id, input_default=defaults),
        Node(id="calc", block_id=CALCULATOR),
        Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "answer"}),
    ]
    wiring = [
        ("in", "result", "o", "prompt_values_#_question"),
        # Old-style tool link names, as AutoGPT's exports have them, and the current one.
        ("o", "tools_^_calculatorblock_~_a", "calc", "a"),
        ("o", "tools_^_calculatorblock_~_b", "calc", "b"),
        ("o", "tools", "calc", "operation"),
        ("calc", "result", "o", "last_tool_output"),
        ("o", "conversations", "o", "conversation_history"),
        ("o", "finished", "out", "value"),
    ]
    links = [
        Link(source_id=a, source_name=out, sink_id=b, sink_name=into) for a, out, b, into in wiring
    ]
    return Graph(name="calculator agent", nodes=nodes, links=links)

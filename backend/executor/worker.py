"""What runs inside a block worker process (see pool.py): set-up, and one node per task.

A worker imports the blocks and nothing of the executor's state: no database, no event
loop of the executor, no secrets but the credentials of the node it is running. Its
address space is limited (RLIMIT_AS) and each task lowers its CPU limit (RLIMIT_CPU) to
the node's time budget, so even code that never returns to the interpreter (a regex deep
in C, a huge allocation) is stopped by the kernel if the parent's kill came too late.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import inspect
import math
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from backend.blocks import all_blocks, get_block, register_block
from backend.blocks.base import ERROR_PIN, Block, BlockContext, BlockInputError
from backend.executor.limits import LimitExceeded, OutputBudget
from backend.providers.credentials import Credentials
from backend.providers.egress import DIRECT, Egress

_PR_SET_PDEATHSIG = 1
# Extra CPU seconds past the node's budget before the kernel steps in: the parent's own
# kill normally comes first.
_CPU_SLACK_SECONDS = 2


@dataclass(frozen=True)
class NodeTask:
    """One node execution, as sent to a worker (it must pickle)."""

    block_id: str
    # "module:QualifiedName": a block registered at run time (not built in, not an entry
    # point) is imported from there.
    block_class: str
    input_data: dict[str, Any]
    run_id: str
    node_id: str
    node_exec_id: str
    timeout_seconds: float
    max_output_value_bytes: int
    max_node_output_bytes: int
    allow_private_network: bool = False
    egress: Egress = DIRECT
    credentials: dict[str, Credentials] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeOutcome:
    """What a node produced. ``failed`` is final (error pin, bad input, a limit);
    ``raised`` is an exception of the block, which the node's retry policy may retry."""

    outputs: list[tuple[str, Any]]
    stats: dict[str, Any]
    output_bytes: int = 0
    failed: str | None = None
    raised: str | None = None


def initialize(memory_bytes: int) -> None:
    """Pool initializer: runs once in every new worker process."""
    # A process group of its own, first: supervisord's stop signal for the executor's
    # group must not kill nodes the draining executor is letting finish. The executor
    # stops its workers itself, and if it dies they die with it.
    os.setpgid(0, 0)
    _die_with_parent()
    # SIGTERM kills at once, even inside C code (the pool's default handler would wait for
    # the interpreter); SIGINT from a terminal is the executor's business.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The worker needs none of the operator's settings (database URL, keys).
    for name in [n for n in os.environ if n.startswith("BACKEND_")]:
        del os.environ[name]
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    all_blocks()  # import every block now, not during the first node's time budget


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _import_block(path: str) -> Block | None:
    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
        return register_block(found)
    except (ImportError, AttributeError, TypeError, ValueError):
        return None


def _limit_cpu(seconds: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(used + seconds) + _CPU_SLACK_SECONDS
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class _ErrorPin(Exception):
    """The block yielded its error pin."""


def run_node(task: NodeTask) -> NodeOutcome:
    """The pool's task function: validate, run the block, measure every output."""
    _limit_cpu(task.timeout_seconds)
    block = get_block(task.block_id) or _import_block(task.block_class)
    if block is None or block.id != task.block_id:
        return NodeOutcome([], {}, failed=f"unknown block {task.block_id}")
    ctx = BlockContext(
        run_id=task.run_id,
        node_id=task.node_id,
        node_exec_id=task.node_exec_id,
        allow_private_network=task.allow_private_network,
        egress=task.egress,
        credentials=task.credentials,
        max_output_bytes=task.max_output_value_bytes,
    )
    budget = OutputBudget(task.max_output_value_bytes, task.max_node_output_bytes)
    outputs: list[tuple[str, Any]] = []
    try:
        model = block.validate_input(task.input_data)
        produced = block.run(model, ctx)
        if inspect.isasyncgen(produced):
            asyncio.run(
                _collect_async(cast(AsyncIterator[tuple[str, Any]], produced), budget, outputs)
            )
        else:
            _collect(cast(Iterator[tuple[str, Any]], produced), budget, outputs)
    except (BlockInputError, LimitExceeded, _ErrorPin) as exc:
        return NodeOutcome(outputs, ctx.stats, budget.total, failed=str(exc))
    except MemoryError:
        limit = resource.getrlimit(resource.RLIMIT_AS)[0] // (1024 * 1024)
        return NodeOutcome(
            outputs, ctx.stats, budget.total, failed=f"ran out of memory (worker limit {limit} MiB)"
        )
    except RecursionError:
        return NodeOutcome(outputs, ctx.stats, budget.total, failed="recursion too deep")
    except Exception as exc:
        return NodeOutcome(outputs, ctx.stats, budget.total, raised=f"{type(exc).__name__}: {exc}")
    return NodeOutcome(outputs, ctx.stats, budget.total)


def _take(pin: str, value: Any, budget: OutputBudget, outputs: list[tuple[str, Any]]) -> None:
    if pin == ERROR_PIN:
        raise _ErrorPin(str(value))
    budget.add(pin, value)
    outputs.append((pin, value))


def _collect(
    produced: Iterator[tuple[str, Any]], budget: OutputBudget, outputs: list[tuple[str, Any]]
) -> None:
    for pin, value in produced:
        _take(pin, value, budget, outputs)


async def _collect_async(
    produced: AsyncIterator[tuple[str, Any]],
    budget: OutputBudget,
    outputs: list[tuple[str, Any]],
) -> None:
    async for pin, value in produced:
        _take(pin, value, budget, outputs)


def call(fn: Any, args: tuple[Any, ...], timeout_seconds: float) -> Any:
    """The pool's task function for ``BlockContext.compute``: one call under the CPU limit."""
    _limit_cpu(timeout_seconds)
    return fn(*args)

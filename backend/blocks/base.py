"""The Block base class: what every built-in and third-party block implements.

A block is an (async) generator: it receives its validated input and yields
``(output_pin, value)`` pairs. One pin may yield many times; every yield travels
along the node's links. Yielding the ``error`` pin fails the node.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from backend.providers.credentials import Credentials

ERROR_PIN = "error"
# What an async block's `run` returns: (output pin, value) pairs as they are produced.
BlockOutput = AsyncIterator[tuple[str, Any]]


class BlockType(StrEnum):
    STANDARD = "STANDARD"
    INPUT = "INPUT"  # a starting node: the run's inputs[name] feed its `value` pin
    OUTPUT = "OUTPUT"  # its values become the run's outputs[name]
    NOTE = "NOTE"  # a comment on the canvas: never executed


class Isolation(StrEnum):
    """Where a block's ``run`` executes; every block states it.

    WORKER: in one of the executor's worker processes, under memory and CPU limits; a
    timeout or cancel kills the process. For anything whose cost depends on what a graph
    author wrote (templates, regex, text, list and number crunching, parsing).
    INLINE: on the executor's event loop. Only for async blocks whose own work is tiny
    and bounded whatever the input (pass a value on, wait, await a network answer).
    """

    WORKER = "worker"
    INLINE = "inline"


class BlockSchema(BaseModel):
    """Input or output schema of a block; unknown fields are ignored like AutoGPT does."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return cls.model_json_schema()

    @classmethod
    def pin_names(cls) -> set[str]:
        return set(cls.model_fields)

    @classmethod
    def required_pins(cls) -> set[str]:
        return {name for name, f in cls.model_fields.items() if f.is_required()}


class EmptySchema(BlockSchema):
    pass


@dataclass(frozen=True)
class TestVector:
    """One example: this input must produce exactly these outputs, in this order."""

    __test__ = False  # not a pytest class

    input: dict[str, Any]
    output: list[tuple[str, Any]]


async def compute_here(fn: Callable[..., Any], *args: Any) -> Any:
    """The default ``BlockContext.compute``: call ``fn`` right here (tests, tools)."""
    return fn(*args)


@dataclass
class BlockContext:
    """What a running block may know about where it runs (ids for logs, operator policy)."""

    run_id: str = ""
    node_id: str = ""
    node_exec_id: str = ""
    allow_private_network: bool = False
    # Resolved credentials by input field name (see backend.providers.credentials).
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    # How an INLINE block runs user-controlled computation (a template, a regex) off the
    # event loop: ``await ctx.compute(fn, *args)`` with a picklable module-level ``fn``.
    # The executor runs it in a worker process under the node's limits.
    compute: Callable[..., Awaitable[Any]] = compute_here
    # Figures the block reports about its own work (e.g. LLM model, tokens, latency);
    # stored with the node execution and summed per run.
    stats: dict[str, Any] = field(default_factory=dict)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("backend.blocks"))


class BlockInputError(ValueError):
    """The merged input of a node does not validate against the block's input schema."""


class Block:
    """Subclasses set the class attributes and implement ``run``.

    ``run`` may be an async generator or a plain generator; a plain generator runs in
    a worker thread so a blocking block never stalls the event loop.
    """

    id: ClassVar[str]
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    categories: ClassVar[tuple[str, ...]] = ()
    block_type: ClassVar[BlockType] = BlockType.STANDARD
    # Untrusted work by default: a block must opt in to running on the event loop.
    isolation: ClassVar[Isolation] = Isolation.WORKER
    Input: ClassVar[type[BlockSchema]] = EmptySchema
    Output: ClassVar[type[BlockSchema]] = EmptySchema
    static_output: ClassVar[bool] = False
    timeout_seconds: ClassVar[float | None] = None  # None: no block-level limit
    test_vectors: ClassVar[tuple[TestVector, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # a subclass of a block is named after itself
            cls.name = cls.__name__

    def run(
        self, input_data: Any, ctx: BlockContext
    ) -> AsyncIterator[tuple[str, Any]] | Iterator[tuple[str, Any]]:
        raise NotImplementedError

    # -- used by the engine ---------------------------------------------------------

    def validate_input(self, data: dict[str, Any]) -> BlockSchema:
        try:
            return self.Input.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<input>'}: {e['msg']}"
                for e in exc.errors()
            )
            raise BlockInputError(f"invalid input for {self.name}: {problems}") from None

    def output_pins(self) -> set[str]:
        return self.Output.pin_names() | {ERROR_PIN}

    def input_pins(self) -> set[str]:
        return self.Input.pin_names()

    async def execute(
        self, data: dict[str, Any], ctx: BlockContext | None = None
    ) -> AsyncIterator[tuple[str, Any]]:
        """Validate ``data`` and yield the block's outputs."""
        model = self.validate_input(data)
        ctx = ctx or BlockContext()
        produced = self.run(model, ctx)
        # The inspect checks narrow to generators of `object`; the casts restore the
        # element type that `run` declares.
        if inspect.isasyncgen(produced):
            async for pin, value in cast(AsyncIterator[tuple[str, Any]], produced):
                yield pin, value
        elif inspect.isgenerator(produced):
            async for pin, value in _iterate_in_thread(cast(Iterator[tuple[str, Any]], produced)):
                yield pin, value
        else:
            raise TypeError(f"{self.name}.run must be a generator or an async generator")

    def schema(self) -> dict[str, Any]:
        """The public description of the block (the /blocks API)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "categories": list(self.categories),
            "block_type": self.block_type.value,
            "static_output": self.static_output,
            "input_schema": self.Input.json_schema(),
            "output_schema": self.Output.json_schema(),
        }


_DONE = object()


async def _iterate_in_thread(gen: Iterator[tuple[str, Any]]) -> AsyncIterator[tuple[str, Any]]:
    while True:
        item = await asyncio.to_thread(next, gen, _DONE)
        if item is _DONE:
            return
        yield item  # type: ignore[misc]

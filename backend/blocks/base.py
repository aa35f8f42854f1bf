"""The Block base class: what every built-in and third-party block implements.

A block is an (async) generator: it receives its validated input and yields
``(output_pin, value)`` pairs. One pin may yield many times; every yield travels
along the node's links. Yielding the ``error`` pin fails the node.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from backend.providers.credentials import Credentials

from .files import FileSink

if TYPE_CHECKING:
    from backend.providers.llm import LLMClient
    from backend.providers.services import ServiceClients

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
    # The largest output value the node may produce: a block that builds text (a template)
    # stops there instead of building more only to have it refused.
    max_output_bytes: int = 4 * 1024 * 1024
    # Resolved credentials by input field name (see backend.providers.credentials).
    credentials: Mapping[str, Credentials] = field(default_factory=dict)
    # How an INLINE block runs user-controlled computation (a template, a regex) off the
    # event loop: ``await ctx.compute(fn, *args)`` with a picklable module-level ``fn``.
    # The executor runs it in a worker process under the node's limits.
    compute: Callable[..., Awaitable[Any]] = compute_here
    # Figures the block reports about its own work (e.g. LLM model, tokens, latency);
    # stored with the node execution and summed per run.
    stats: dict[str, Any] = field(default_factory=dict)
    # When the node's time limit runs out (``time.monotonic()``); None: no limit known.
    # Blocks that wait on the network end their retries before it.
    deadline: float | None = None
    # The LLM client for LLM blocks; None: the process-wide one built from the settings.
    llm: LLMClient | None = None
    # The clients of the media and code services (Ideogram, Replicate, revid, E2B);
    # None: the process-wide ones built from the settings.
    services: ServiceClients | None = None
    # Where the node stores binary results (see backend.blocks.files); None: nowhere, so
    # a block outputs the provider's own URL instead of a stored copy's.
    files: FileSink | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("backend.blocks"))


class BlockInputError(ValueError):
    """The merged input of a node does not validate against the block's input schema."""


class Block:
    """Subclasses set the class attributes and implement ``run``.

    ``run`` may be an async generator or, for a WORKER block, a plain generator.
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
        if not cls.__dict__.get("name"):  # each class its own name, not its base's
            cls.name = cls.__name__
        if cls.isolation is Isolation.INLINE and not inspect.isasyncgenfunction(cls.run):
            raise TypeError(f"{cls.__name__} runs INLINE, so its run must be an async generator")

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

    def required_credentials(self, input_data: Mapping[str, Any]) -> dict[str, str]:
        """{credentials input field: provider} a node with this input needs resolved.

        The executor resolves each one onto ``BlockContext.credentials``; the submit
        check refuses a run whose credential cannot be found. Most blocks need none.
        """
        return {}

    def output_pins(self) -> set[str]:
        return self.Output.pin_names() | {ERROR_PIN}

    def input_pins(self) -> set[str]:
        return self.Input.pin_names()

    async def execute(
        self, data: dict[str, Any], ctx: BlockContext | None = None
    ) -> AsyncIterator[tuple[str, Any]]:
        """Validate ``data`` and yield the block's outputs, right here.

        The executor calls this only for INLINE blocks; a WORKER block's plain generator
        runs without yielding to the event loop (a worker process has no other work).
        """
        model = self.validate_input(data)
        ctx = ctx or BlockContext()
        produced = self.run(model, ctx)
        # The inspect checks narrow to generators of `object`; the casts restore the
        # element type that `run` declares.
        if inspect.isasyncgen(produced):
            async for pin, value in cast(AsyncIterator[tuple[str, Any]], produced):
                yield pin, value
        elif inspect.isgenerator(produced):
            for pin, value in cast(Iterator[tuple[str, Any]], produced):
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

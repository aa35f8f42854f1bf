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
from backend.providers.egress import DIRECT, Egress

from .files import FileSink

if TYPE_CHECKING:
    from backend.blocks.runtime import KeyValue, SubAgents
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
    AGENT = "AGENT"  # runs another graph as a sub-agent (AgentExecutorBlock)


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


@dataclass(frozen=True)
class ToolSink:
    """One node linked to a tool-calling block's tool pins, as the executor sees it.

    ``links`` are the (source_name, sink_name) pairs of the links from the tool pins to
    this node. A sub-agent sink (an AgentExecutorBlock node) also carries what is known
    of the graph it runs: its name, description and input JSON schema.
    """

    node_id: str
    block_id: str
    block_name: str
    description: str
    input_schema: Mapping[str, Any]
    links: tuple[tuple[str, str], ...]
    customized_name: str = ""  # the node's own title on the canvas (metadata)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # the node's input_default
    graph_name: str = ""
    graph_description: str = ""
    graph_input_schema: Mapping[str, Any] | None = None  # None: not a sub-agent sink


@dataclass
class BlockContext:
    """What a running block may know about where it runs (ids for logs, operator policy)."""

    run_id: str = ""
    node_id: str = ""
    node_exec_id: str = ""
    user_id: str = ""
    graph_id: str = ""
    allow_private_network: bool = False
    # How requests leave the host (the operator's proxy and extra CAs).
    egress: Egress = DIRECT
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
    # Sub-agent runs and the user's key/value store (None where the block cannot have them).
    agents: SubAgents | None = None
    kv: KeyValue | None = None
    # The nodes linked to this node's tool pins; filled only for blocks with ``uses_tools``.
    tools: tuple[ToolSink, ...] = ()
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
    # Calls a language model: the run's token budget applies to it.
    spends_tokens: ClassVar[bool] = False
    Input: ClassVar[type[BlockSchema]] = EmptySchema
    Output: ClassVar[type[BlockSchema]] = EmptySchema
    static_output: ClassVar[bool] = False
    timeout_seconds: ClassVar[float | None] = None  # None: no block-level limit
    # Offers the nodes linked to its tool pins (AutoGPT's ``tools_^_...`` links) as tools:
    # the executor describes them on ``BlockContext.tools`` and graph validation accepts
    # those link names. Only for INLINE blocks.
    uses_tools: ClassVar[bool] = False
    # Linked input pins a node execution may start without (AutoGPT's own readiness rule
    # for them is ``waits_for``).
    optional_links: ClassVar[frozenset[str]] = frozenset()
    test_vectors: ClassVar[tuple[TestVector, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):  # each class its own name, not its base's
            cls.name = cls.__name__
        if cls.isolation is Isolation.INLINE and not inspect.isasyncgenfunction(cls.run):
            raise TypeError(f"{cls.__name__} runs INLINE, so its run must be an async generator")
        if cls.uses_tools and cls.isolation is not Isolation.INLINE:
            raise TypeError(f"{cls.__name__} uses tools, so it must run INLINE")

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

    def waits_for(self, input_data: Mapping[str, Any]) -> set[str]:
        """Pins a ready-looking node execution still waits for, given its merged input.

        Most blocks wait for nothing beyond their linked pins; a block that loops over
        its own outputs (the Orchestrator) decides from what has arrived.
        """
        return set()

    def input_links_problem(self, linked: Mapping[str, bool]) -> str | None:
        """What is wrong with how a node's inputs are linked, or None.

        ``linked`` maps each linked input pin to whether a static link feeds it.
        """
        return None

    def output_pins(self) -> set[str]:
        return self.Output.pin_names() | {ERROR_PIN}

    def input_pins(self) -> set[str]:
        return self.Input.pin_names()

    def output_pins_for(self, input_default: Mapping[str, Any]) -> set[str]:
        """The output pins of a node with these defaults (a sub-agent's vary)."""
        return self.output_pins()

    def input_pins_for(self, input_default: Mapping[str, Any]) -> set[str]:
        return self.input_pins()

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

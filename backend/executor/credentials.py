"""Which credential a node gets, found at submit (checked) and just before it runs (resolved).

A block says which of its inputs take a credential and for which provider
(``Block.required_credentials``). For each, the reference is the node's own input (an
AutoGPT ``CredentialsMetaInput``), else the one the run was started with for that
provider (the execute body's ``credentials``, by the export's field names), else none: the
resolver then falls back to the operator's default. Secrets are decrypted only for the
node about to run and handed to it on its ``BlockContext``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from backend.blocks import get_block
from backend.blocks.base import Block
from backend.data.execution import NodeExecution, Run
from backend.data.graph import Graph
from backend.errors import BackendError, InvalidInput, MissingCredentials
from backend.executor.limits import NodeFailed
from backend.providers.credentials import Credentials, CredentialsMetaInput

T = TypeVar("T")
DbCall = Callable[..., Awaitable[Any]]
CredentialsLookup = Callable[[Run, NodeExecution, Block], Awaitable[Mapping[str, Credentials]]]


class Resolver(Protocol):
    """What backend.data.credentials_manager provides (stored + defaults, or defaults)."""

    def check(
        self, user_id: str, ref: CredentialsMetaInput | None, provider: str, field: str = ...
    ) -> None: ...

    def resolve(
        self, user_id: str, ref: CredentialsMetaInput | None, provider: str, field: str = ...
    ) -> Credentials: ...


def run_references(given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The execute body's ``credentials`` ({field: reference}) validated; InvalidInput."""
    refs = {}
    for name, value in given.items():
        try:
            refs[name] = CredentialsMetaInput.model_validate(value).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidInput(
                f"credentials.{name} is not a credential reference (id, provider, type, "
                f"title): {exc.errors()[0]['msg']}"
            ) from None
    return refs


def references(
    block: Block, input_data: Mapping[str, Any], run_credentials: Mapping[str, Any]
) -> list[tuple[str, str, CredentialsMetaInput | None]]:
    """(field, provider, reference or None) for every credential the node needs."""
    found = []
    for field, provider in block.required_credentials(input_data).items():
        own = input_data.get(field)
        ref = _parse(own, field) if own else None
        if ref is None:
            ref = next(
                (
                    CredentialsMetaInput.model_validate(r)
                    for r in run_credentials.values()
                    if r.get("provider") == provider
                ),
                None,
            )
        found.append((field, provider, ref))
    return found


def _parse(value: Any, field: str) -> CredentialsMetaInput:
    try:
        return CredentialsMetaInput.model_validate(value)
    except ValidationError:
        raise InvalidInput(
            f"input {field!r} is not a credential reference (id, provider, type, title)"
        ) from None


def required_providers(graph: Graph) -> dict[str, list[str]]:
    """{provider: ids of the nodes that need a credential for it}, as the graph stands."""
    needed: dict[str, list[str]] = {}
    for node in graph.nodes:
        block = get_block(node.block_id)
        if block is None:
            continue
        for provider in block.required_credentials(node.input_default).values():
            needed.setdefault(provider, []).append(node.id)
    return needed


def credentials_report(
    graph: Graph, has_credentials: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """What an imported graph needs: one entry per provider, named like the fields of an
    AutoGPT export's ``credentials_input_schema`` and saying whether the user (or the
    operator's default) can provide it."""
    return [
        {
            "field": f"{provider}_api_key_credentials",
            "provider": provider,
            "nodes": nodes,
            "available": has_credentials(provider),
        }
        for provider, nodes in sorted(required_providers(graph).items())
    ]


def check_graph(
    graph: Graph, user_id: str, run_credentials: Mapping[str, Any], resolver: Resolver
) -> None:
    """Refuse (422) a run whose nodes need a credential nobody can give them."""
    problems = []
    for node in graph.nodes:
        block = get_block(node.block_id)
        if block is None:
            continue
        try:
            for field, provider, ref in references(block, node.input_default, run_credentials):
                resolver.check(user_id, ref, provider, field)
        except BackendError as exc:
            problems.append({"node_id": node.id, "pin": None, "message": exc.message})
    if problems:
        first = problems[0]
        raise MissingCredentials(
            f"node {first['node_id']}: {first['message']}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            details=problems,
        )


def lookup(resolver: Resolver, call: DbCall | None = None) -> CredentialsLookup:
    """The NodeExecutor's credentials lookup; ``call`` runs a store read off the loop."""

    async def resolve(run: Run, ne: NodeExecution, block: Block) -> Mapping[str, Credentials]:
        resolved: dict[str, Credentials] = {}
        try:
            for field, provider, ref in references(block, ne.input_data, run.credentials):
                args = (run.user_id, ref, provider, field)
                resolved[field] = (
                    await call(resolver.resolve, *args) if call else (resolver.resolve(*args))
                )
        except BackendError as exc:
            raise NodeFailed(exc.message) from None
        return resolved

    return resolve

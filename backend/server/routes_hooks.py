"""Webhook triggers: hooks on a graph (managed with an API key) and their delivery route
``POST /api/v1/hooks/{hook_id}``, which takes no API key but the hook's secret (see
hook_delivery.py). A delivery that is unsigned or badly signed (401), too large (413),
of an unknown type (415), to a missing or disabled hook (404) or over the hook's rate
(429 with Retry-After) starts nothing; an accepted one answers 202 with the run's id.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from backend.data.graph import Graph
from backend.data.hooks import HookAuth, HookRecord, new_hook_id, new_hook_secret
from backend.data.run_keys import RateLimit, RunKey
from backend.data.schema import INT_MAX
from backend.data.store import Store
from backend.data.validation import agent_input_names
from backend.errors import Conflict, InvalidInput, NotFound
from backend.executor.limits import Limits
from backend.executor.submit import load_live_graph, submit_keyed_run
from backend.server.auth import UserDep
from backend.server.deps import CredentialsDep, SettingsDep, StoreDep
from backend.server.hook_delivery import decode_body, delivery_id, verify
from backend.server.models import Hook, HookList, NewHookAnswer
from backend.server.models_runs import DeliveryAnswer
from backend.server.openapi import errors
from backend.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

# The delivery route reads its body as bytes (the signature is over them) and accepts
# forms and text: the request guard leaves bodies of these paths to it.
RAW_BODY_PATHS = (re.compile(r"^/api/v1/hooks/[^/]+$"),)
MAX_HOOKS_PER_USER = 1000
RATE_WINDOW_SECONDS = 60.0
# The one field of a hook's encrypted secret payload.
_SECRET_FIELD = "secret"

Version = Annotated[int, Field(ge=1, le=INT_MAX)] | Literal["latest"] | None


class NewHook(BaseModel):
    graph_id: str = Field(max_length=64)
    graph_version: Version = Field(None, description='A version, or "latest" (the default).')
    input: str | None = Field(
        None,
        max_length=255,
        description="The run input the body goes to: an AgentInput name, or a webhook "
        "trigger node's id. Default: the graph's only trigger node or only input.",
    )
    auth: HookAuth = Field(HookAuth.HMAC, description="hmac (X-Hub-Signature-256) or bearer.")
    name: str = Field("", max_length=255)


class HookChange(BaseModel):
    name: str | None = Field(None, max_length=255)
    input: str | None = Field(None, max_length=255)
    enabled: bool | None = None


def _target_input(graph: Graph, wanted: str | None) -> str:
    triggers = [node.id for node in graph.trigger_nodes()]
    names = sorted(agent_input_names(graph))
    if wanted is not None:
        if wanted in triggers or wanted in names:
            return wanted
        known = ", ".join(triggers + names) or "none"
        raise InvalidInput(f"graph has no input or trigger node {wanted!r}; known: {known}")
    if len(triggers) == 1:
        return triggers[0]
    if not triggers and len(names) == 1:
        return names[0]
    raise InvalidInput(
        "name the input the delivered body goes to (`input`): the graph has "
        f"{len(triggers)} trigger node(s) and {len(names)} agent input(s)"
    )


@router.post(
    "/hooks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook to a graph; the answer holds its secret, shown this once",
    responses=errors(404, 409),
    response_model=NewHookAnswer,
)
def create_hook(
    body: NewHook, user: UserDep, store: StoreDep, credentials: CredentialsDep
) -> dict[str, Any]:
    version = None if body.graph_version in (None, "latest") else int(body.graph_version)
    graph = load_live_graph(store, user, body.graph_id, version)
    if len(store.list_hooks(user)) >= MAX_HOOKS_PER_USER:
        raise Conflict(f"a user may have at most {MAX_HOOKS_PER_USER} hooks")
    now = time.time()
    record = HookRecord(
        id=new_hook_id(),
        user_id=user,
        graph_id=graph.id,
        graph_version=version,
        input_name=_target_input(graph, body.input),
        auth=body.auth,
        created_at=now,
        updated_at=now,
        name=body.name,
    )
    secret = new_hook_secret()
    store.create_hook(record, credentials.vault.encrypt({_SECRET_FIELD: secret}))
    return {**record.to_dict(), "secret": secret}


@router.get("/hooks", summary="List your webhooks (never their secrets)", response_model=HookList)
def list_hooks(
    user: UserDep, store: StoreDep, graph_id: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    return {"items": [hook.to_dict() for hook in store.list_hooks(user, graph_id)]}


@router.get("/hooks/{hook_id}", summary="One webhook (never its secret)", response_model=Hook)
def get_hook(hook_id: str, user: UserDep, store: StoreDep) -> dict[str, Any]:
    return store.get_hook(user, hook_id).to_dict()


@router.patch(
    "/hooks/{hook_id}",
    summary="Rename, retarget, disable or enable a webhook",
    response_model=Hook,
)
def update_hook(hook_id: str, body: HookChange, user: UserDep, store: StoreDep) -> dict[str, Any]:
    record = store.get_hook(user, hook_id)
    changes: dict[str, Any] = {"updated_at": time.time()}
    if body.name is not None:
        changes["name"] = body.name
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.input is not None:
        graph = load_live_graph(store, user, record.graph_id, record.graph_version)
        changes["input_name"] = _target_input(graph, body.input)
    updated = replace(record, **changes)
    store.update_hook(updated)
    return updated.to_dict()


@router.delete(
    "/hooks/{hook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook"
)
def delete_hook(hook_id: str, user: UserDep, store: StoreDep) -> None:
    store.delete_hook(user, hook_id)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _delivery_key(record: HookRecord, headers: Any, body: bytes, settings: Settings) -> RunKey:
    """The delivery's run key: its delivery id, remembered for the replay window, or a
    fresh one kept as long as the rate limit counts it. Every key counts toward the
    hook's rate."""
    delivered = delivery_id(headers)
    now = time.time()
    window = settings.hook_replay_window_seconds if delivered else RATE_WINDOW_SECONDS
    return RunKey(
        user_id=record.user_id,
        scope=f"hook:{record.id}",
        key=f"delivery:{delivered}" if delivered else f"run:{uuid.uuid4()}",
        fingerprint=hashlib.sha256(body).hexdigest(),
        expires_at=now + window,
        rate=RateLimit(settings.hook_rate_limit_per_minute, RATE_WINDOW_SECONDS),
    )


def _accept(
    store: Store, record: HookRecord, key: RunKey, value: Any, settings: Settings
) -> dict[str, Any]:
    graph = load_live_graph(store, record.user_id, record.graph_id, record.graph_version)
    submitted = submit_keyed_run(
        store,
        record.user_id,
        graph,
        {record.input_name: value},
        deadline_seconds=settings.run_deadline_seconds,
        limits=Limits.from_settings(settings),
        key=key,
    )
    run = submitted.run
    return {"id": run.id, "status": run.status.value, "replayed": submitted.replayed}


@router.post(
    "/hooks/{hook_id}",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Deliver to a webhook (no API key: the hook's signature or bearer secret)",
    openapi_extra={"security": []},
    responses=errors(401, 413, 429),
    response_model=DeliveryAnswer,
)
def deliver_hook(
    hook_id: str,
    request: Request,
    body: Annotated[bytes, Depends(_raw_body)],
    store: StoreDep,
    settings: SettingsDep,
    credentials: CredentialsDep,
) -> dict[str, Any]:
    if len(body) > settings.hook_max_body_bytes:
        raise HTTPException(
            413,
            f"delivery body is larger than {settings.hook_max_body_bytes} bytes "
            "(BACKEND_HOOK_MAX_BODY_BYTES)",
        )
    record, token = store.get_hook_for_delivery(hook_id)
    if not record.enabled:
        raise NotFound(f"hook {hook_id} not found")
    secret = credentials.vault.decrypt(token, "a webhook secret")[_SECRET_FIELD]
    verify(record.auth, secret, body, request.headers)
    value = decode_body(request.headers.get("content-type"), body)
    key = _delivery_key(record, request.headers, body, settings)
    return _accept(store, record, key, value, settings)

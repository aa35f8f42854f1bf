"""The OpenAPI document a generated client can trust: the error envelope as a schema, and
every error status a route can answer documented on it.

Which statuses a route can answer follows from what it is, so they are added here in one
place rather than repeated on every decorator: a path parameter can name something that
is not yours (404), a body can be too large, not JSON or the wrong type (413, 400, 415),
inputs can fail validation (422), the database can be unreachable (503), and every
``/api/v1`` route but a webhook delivery needs a key (401). Statuses only some routes
answer (409, 429) are declared on those routes with ``errors(...)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON (code malformed_json)",
    401: "No API key, or one that is unknown or revoked (code unauthorized)",
    404: "Nothing of yours has that id (code not_found)",
    409: "The request conflicts with the current state (code conflict)",
    413: "The body exceeds the server's limit (code body_too_large)",
    415: "The body is not declared as application/json (code unsupported_media_type)",
    422: "The input is not acceptable; details lists each problem (code invalid_input)",
    429: "Too many requests; retry after the Retry-After header's seconds (code rate_limited)",
    500: "An unexpected server error (code internal_error)",
    503: "The database cannot be reached (code store_error)",
}
# A webhook delivery takes no API key (it is signed instead) and reads its body raw.
_DELIVERY = ("/api/v1/hooks/{hook_id}", "post")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found")
    message: str = Field(description="One human-readable sentence")
    details: Any = Field(None, description="Per-problem details (a list for invalid_input)")


class ErrorEnvelope(BaseModel):
    """The body of every error answer."""

    error: ErrorBody


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can also answer ``statuses``."""
    return {
        status: {"model": ErrorEnvelope, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    found = [500]
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    if path != "/health":  # the one route that never reads the database
        found.append(503)
    if path.startswith("/api/v1") and (path, method) != _DELIVERY:
        found.append(401)
    if "{" in path:
        found.append(404)
    if parameters or body:
        found.append(422)
    if body:
        found += [400, 413, 415]
    return found


def _error_response(status: int) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ErrorEnvelope"}
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": schema}},
    }


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the error statuses each operation can answer; FastAPI's own validation-error
    schemas (a shape this server never sends) are replaced by the envelope."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    envelope.pop("$defs", None)
    schemas["ErrorEnvelope"] = envelope
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                responses[str(status)] = _error_response(status)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the documented OpenAPI document (built once, on first request)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = document_errors(document)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def operation_id(route: APIRoute) -> str:
    """A route's operationId: its name (the function's, or the decorator's ``name``),
    stable across releases so generated clients keep their method names."""
    return route.name

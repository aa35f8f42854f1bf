"""Every error the API answers, in one shape: {"error": {"code", "message", "details"}}.

``BackendError`` subclasses carry their own code and status; FastAPI's request
validation, malformed JSON and the router's own 404/405 are mapped here too, so no
route formats an error itself and bad input never turns into a 500. The request guard
answers before routing with the same functions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.errors import BackendError, RateLimited

logger = logging.getLogger(__name__)

# Codes for statuses the router raises itself (unknown path, wrong method, body too large).
_HTTP_CODES = {
    # FastAPI raises a bare 400 only when it cannot parse a body; the request guard
    # refuses such bodies first, this keeps the code the same should one slip through.
    400: "malformed_json",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


class Unauthorized(BackendError):
    code = "unauthorized"
    http_status = 401


class MalformedJson(BackendError):
    """The body is not JSON: bad syntax, not UTF-8, or NaN/Infinity literals."""

    code = "malformed_json"
    http_status = 400


class UnsupportedMediaType(BackendError):
    """A body declared as something other than JSON (or not declared at all)."""

    code = "unsupported_media_type"
    http_status = 415


def backend_error_response(exc: BackendError) -> JSONResponse:
    headers: dict[str, str] | None = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), None, exc.headers)


def _backend_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BackendError)
    if exc.http_status >= 500:
        logger.error("%s %s: %s", request.method, request.url.path, exc.message)
    return backend_error_response(exc)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [
        {"loc": [str(part) for part in err.get("loc", ())], "message": err.get("msg", "")}
        for err in errors
    ]
    message = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details)
    return error_response(422, "invalid_input", message or "invalid request", details)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return http_error_response(exc)


def internal_error_response(headers: Mapping[str, str] | None = None) -> JSONResponse:
    return error_response(500, "internal_error", "internal server error", None, headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The access middleware answers what is raised inside it; this is starlette's last
    # resort, for a failure outside it. The id is there when the middleware had set it.
    logger.exception("%s %s failed", request.method, request.url.path)
    request_id = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": request_id} if isinstance(request_id, str) else None
    return internal_error_response(headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BackendError, _backend_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

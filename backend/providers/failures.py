"""Readable, secret-free messages for failed provider calls (shared by the SDK mappers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Protocol

import httpx2

from backend.errors import ProviderError

from .http import GAVE_UP

MAX_DETAIL = 300  # characters of a provider's own error text kept in our message
_STATUS_NAMES = {
    400: "bad request",
    401: "unauthorized: check the API key",
    402: "payment required: the account is out of credit or quota",
    403: "forbidden",
    404: "not found: check the model name and base URL",
    407: "proxy authentication required: check the proxy's username and password",
    408: "request timeout",
    413: "request too large",
    422: "unprocessable request",
    429: "rate limited",
    529: "overloaded",
}


class StatusError(Protocol):
    """What both SDKs' ``APIStatusError`` carry."""

    status_code: int
    body: object
    response: httpx2.Response


@contextlib.contextmanager
def sdk_failures(provider: str, sdk: ModuleType, secret: str | None) -> Iterator[None]:
    """Turn what a call through ``sdk`` (``openai`` or ``anthropic``, which share their
    error classes' names) raises into one ``ProviderError`` with a readable message."""
    try:
        yield
    except sdk.APIStatusError as exc:
        raise ProviderError(redact(describe_status(provider, exc), secret)) from None
    except sdk.APITimeoutError:
        raise ProviderError(f"{provider} did not answer in time") from None
    except sdk.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        raise ProviderError(redact(f"cannot reach {provider}: {cause}", secret)) from None
    except (sdk.APIError, ValueError, AttributeError, TypeError) as exc:
        # Bodies that are not JSON, or JSON of another shape than the protocol's.
        raise ProviderError(redact(f"{provider} sent a malformed answer: {exc}", secret)) from None


def describe_status(provider: str, exc: StatusError) -> str:
    """e.g. "openai answered HTTP 429 (rate limited; gave up after 4 attempts): slow down"."""
    status = exc.status_code
    name = _STATUS_NAMES.get(status) or ("server error" if status >= 500 else "error")
    gave_up = exc.response.extensions.get(GAVE_UP)
    note = f"{name}; {gave_up}" if gave_up else name
    detail = _detail(exc.body)
    return f"{provider} answered HTTP {status} ({note})" + (f": {detail}" if detail else "")


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            body = (
                error.get("message")
                or error.get("detail")
                or error.get("status_message")  # DataForSEO's envelope
                or error
            )
        elif isinstance(body.get("message"), str) and body["message"]:
            body = body["message"]  # WordPress.com's {"error": code, "message": text}
        else:
            body = error
    text = "" if body is None else str(body).strip()
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every occurrence of each secret masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text

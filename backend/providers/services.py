"""The media and code services' shared plumbing: settings, one HTTP pool, JSON calls.

Ideogram and revid.ai have no client library worth the name, so their modules call
them with plain HTTP through ``ServiceCall``: the shared retrying client of
``backend.providers.http`` (timeouts, Retry-After, the node's time budget), answers
read as JSON (or as text, for services answering pages), and every failure turned
into one ``ProviderError`` that names the service and never carries the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from backend.errors import ProviderError
from backend.settings import Settings, load_settings

from .credentials import Credentials
from .egress import Egress
from .failures import describe_status, redact
from .http import READ_ONLY, ClientPool, HttpPolicy, remaining_budget


class ServiceClients:
    """The settings the service modules read, and the HTTP pool they send through."""

    def __init__(self, settings: Settings, policy: HttpPolicy | None = None) -> None:
        self.settings = settings
        self.pool = ClientPool(
            policy
            or HttpPolicy(
                connect_timeout=settings.service_connect_timeout_seconds,
                read_timeout=settings.service_read_timeout_seconds,
                max_retries=settings.service_max_retries,
                egress=Egress.from_settings(settings),
            )
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


_default: ServiceClients | None = None


def configure_services(settings: Settings) -> ServiceClients:
    """Make the process-wide service clients follow ``settings``."""
    global _default
    _default = ServiceClients(settings)
    return _default


def default_services() -> ServiceClients:
    return _default or configure_services(load_settings())


def api_key(provider: str, credentials: Credentials | None) -> str:
    """The key of the node's credential for ``provider``; ProviderError without one."""
    if credentials is None or credentials.api_key is None:
        raise ProviderError(
            f"this block needs an API key for provider {provider}: give the node a "
            "credential for it or set the operator's default key"
        )
    if credentials.provider != provider:
        raise ProviderError(
            f"the credential {credentials.title or credentials.id!r} is for "
            f"{credentials.provider}, but this block needs {provider}"
        )
    return credentials.api_key.get_secret_value()


def login(provider: str, credentials: Credentials | None) -> tuple[str, str]:
    """The username and password of the node's credential for ``provider``."""
    if credentials is None or not credentials.username or credentials.password is None:
        raise ProviderError(
            f"this block needs a username and password for provider {provider}: give the "
            "node a credential for it or set the operator's default login"
        )
    if credentials.provider != provider:
        raise ProviderError(
            f"the credential {credentials.title or credentials.id!r} is for "
            f"{credentials.provider}, but this block needs {provider}"
        )
    return credentials.username, credentials.password.get_secret_value()


def access_token(provider: str, credentials: Credentials | None) -> str:
    """The OAuth2 access token of the node's credential for ``provider``."""
    if credentials is None or credentials.access_token is None:
        raise ProviderError(
            f"this block needs a connected {provider} account (an OAuth2 credential): "
            "connect one at /ui/credentials and set the node's credentials input to it"
        )
    if credentials.provider != provider:
        raise ProviderError(
            f"the credential {credentials.title or credentials.id!r} is for "
            f"{credentials.provider}, but this block needs {provider}"
        )
    return credentials.access_token.get_secret_value()


@dataclass
class _Answer:
    """A failed answer in the shape ``describe_status`` reads."""

    status_code: int
    body: object
    response: httpx2.Response


def _body(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


@dataclass(frozen=True)
class ServiceCall:
    """Calls to one service with one key; ``secret`` is masked in every message."""

    provider: str
    base_url: str
    http: httpx2.AsyncClient
    secret: str
    headers: Mapping[str, str] = field(default_factory=dict)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str | list[str]] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        read_only: bool = False,
    ) -> Any:
        """The JSON answer of ``method path``; ProviderError for any failure.

        ``read_only``: a POST that only reads, so it is repeated after a 5xx like a GET.
        """
        response = await self._send(
            method,
            path,
            json=json,
            params=params,
            data=data,
            files=files,
            extensions={READ_ONLY: True} if read_only else None,
        )
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.provider} sent a malformed answer: not JSON") from None

    async def text(self, path: str, *, params: Mapping[str, str] | None = None) -> str:
        """The text answer of ``GET path`` (a page, markdown); ProviderError for any failure."""
        response = await self._send("GET", path, params=params)
        return response.text

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """The successful answer of ``method path``; ProviderError for a failure."""
        try:
            response = await self.http.request(
                method, self.base_url.rstrip("/") + path, headers=dict(self.headers), **kwargs
            )
        except httpx2.TimeoutException:
            raise ProviderError(f"{self.provider} did not answer in time") from None
        except httpx2.InvalidURL as exc:  # e.g. a control character in a path from the graph
            raise ProviderError(
                redact(f"cannot call {self.provider}: {exc}", self.secret)
            ) from None
        except httpx2.HTTPError as exc:
            message = f"cannot reach {self.provider}: {type(exc).__name__}: {exc}"
            raise ProviderError(redact(message, self.secret)) from None
        if response.status_code >= 400:
            answer = _Answer(response.status_code, _body(response), response)
            raise ProviderError(redact(describe_status(self.provider, answer), self.secret))
        return response

    def malformed(self, what: str) -> ProviderError:
        return ProviderError(f"{self.provider} sent a malformed answer: {what}")


def dig(answer: Any, call: ServiceCall, *path: str | int) -> Any:
    """``answer[path[0]][path[1]]...``, or a ProviderError naming what is missing."""
    value = answer
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)
            raise call.malformed(f"no {where.lstrip('.')} in the answer") from None
    return value


async def poll_pause(provider: str, seconds: float, what: str) -> None:
    """Wait ``seconds`` before checking a long job again, unless the wait (and one more
    check) would not fit in the node's time budget: then fail now, saying so."""
    budget = remaining_budget()
    if budget is not None and budget <= seconds:
        raise ProviderError(
            f"{provider}: {what} was not done within the node's time limit; give the node "
            "a longer timeout"
        )
    await asyncio.sleep(seconds)

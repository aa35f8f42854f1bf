"""Running code in an E2B sandbox through E2B's official SDK (``e2b-code-interpreter``).

The SDK speaks three public interfaces: E2B's REST API (create and kill a sandbox), the
sandbox's code interpreter (``POST /execute``, answering JSON lines) and its process
service (Connect RPC, for setup commands). ``BACKEND_E2B_API_URL`` and
``BACKEND_E2B_SANDBOX_URL`` point the first and the other two elsewhere (a proxy, a
test server). The SDK's own transport is used: it takes those URLs, retries the REST
calls on 429/5xx within the request timeout, and closes its streams when cancelled. Every
wait is bounded by what is left of the node's time; a sandbox is killed when the node
stops with it, whatever the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.errors import ProviderError

from .failures import redact
from .services import ServiceClients

PROVIDER = "e2b"
KILL_TIMEOUT_SECONDS = 5.0
# A run of code gets at most this long when the node has no deadline of its own.
DEFAULT_RUN_SECONDS = 300.0
# Result formats the code interpreter reports (besides ``chart`` and ``extra``).
RESULT_FORMATS = (
    "text",
    "html",
    "markdown",
    "svg",
    "png",
    "jpeg",
    "pdf",
    "latex",
    "json",
    "javascript",
    "data",
)


@dataclass(frozen=True)
class CodeRun:
    code: str
    language: str
    template: str = ""
    setup_commands: Sequence[str] = ()
    sandbox_timeout: int = 300  # seconds the sandbox may live
    dispose: bool = True


@dataclass
class CodeResult:
    results: list[dict[str, Any]] = field(default_factory=list)
    main_result: dict[str, Any] | None = None
    text: str = ""
    stdout: str = ""
    stderr: str = ""


def _remaining(deadline: float | None) -> float:
    left = DEFAULT_RUN_SECONDS if deadline is None else deadline - time.monotonic()
    if left <= 0:
        raise ProviderError("no time left in the node's time limit to run the code")
    return left


def _connection(clients: ServiceClients, key: str, deadline: float | None) -> dict[str, Any]:
    settings = clients.settings
    urls = [settings.e2b_api_url, settings.e2b_sandbox_url]
    opts: dict[str, Any] = {
        "api_key": key,
        "api_url": settings.e2b_api_url,
        "request_timeout": min(settings.service_read_timeout_seconds, _remaining(deadline)),
        "retries": settings.service_max_retries,
        # HTTP/2 without TLS is only spoken by servers that expect it; a plain-HTTP
        # endpoint (a local proxy) gets HTTP/1.1.
        "http_version": "1.1" if any(u.startswith("http://") for u in urls) else "2",
    }
    if settings.e2b_sandbox_url:
        opts["sandbox_url"] = settings.e2b_sandbox_url
    # The SDK's transport takes the egress proxy but no extra CAs (see docs/services.md).
    egress = clients.pool.policy.egress
    if egress.proxied(urllib.parse.urlsplit(settings.e2b_api_url).hostname or ""):
        opts["proxy"] = egress.proxy_url
    return opts


async def run_code(
    clients: ServiceClients, key: str, run: CodeRun, deadline: float | None
) -> CodeResult:
    """Create a sandbox, run the setup commands and the code; ProviderError on failure."""
    from e2b import CommandExitException
    from e2b_code_interpreter import AsyncSandbox

    opts = _connection(clients, key, deadline)
    sandbox: Any = None
    failed = True
    try:
        sandbox = await AsyncSandbox.create(
            template=run.template or None, timeout=run.sandbox_timeout, **opts
        )
        for command in run.setup_commands:
            left = _remaining(deadline)
            await sandbox.commands.run(command, timeout=left, request_timeout=left)
        execution = await sandbox.run_code(
            run.code, language=run.language, timeout=_remaining(deadline)
        )
        if execution.error is not None:
            error = execution.error
            raise ProviderError(f"the code raised {error.name}: {error.value}")
        failed = False
        return _result(execution)
    except CommandExitException as exc:
        raise ProviderError(
            redact(f"a setup command exited with code {exc.exit_code}: {exc.stderr}", key)
        ) from None
    except ProviderError:
        raise
    except Exception as exc:  # the SDK's exceptions, and httpx's under it
        raise ProviderError(redact(_describe(exc), key)) from None
    finally:
        # As AutoGPT: a failed sandbox is killed even when it was to be kept.
        if sandbox is not None and (run.dispose or failed):
            await _kill(sandbox)


def _describe(exc: Exception) -> str:
    from e2b import AuthenticationException, RateLimitException, TimeoutException

    if isinstance(exc, AuthenticationException):
        return f"{PROVIDER} refused the API key: {exc}"
    if isinstance(exc, RateLimitException):
        return f"{PROVIDER} is rate limiting: {exc}"
    if isinstance(exc, TimeoutException):
        return f"{PROVIDER} timed out: {exc}"
    return f"{PROVIDER} failed: {type(exc).__name__}: {exc}"


async def _kill(sandbox: Any) -> None:
    """Kill the sandbox; shielded from the node's cancel, never long, never raising."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(sandbox.kill()), KILL_TIMEOUT_SECONDS)


def _result(execution: Any) -> CodeResult:
    results = [_result_dict(r) for r in execution.results]
    main = next((dict(r) for r in results if r.get("is_main_result")), None)
    if main is not None:
        main.pop("is_main_result")
    return CodeResult(
        results=results,
        main_result=main,
        text=execution.text or "",
        stdout="".join(execution.logs.stdout),
        stderr="".join(execution.logs.stderr),
    )


def _result_dict(result: Any) -> dict[str, Any]:
    """One result's non-empty formats, as AutoGPT outputs them."""
    found: dict[str, Any] = {
        name: value for name in RESULT_FORMATS if (value := getattr(result, name, None))
    }
    chart = getattr(result, "chart", None)
    if chart is not None:
        found["chart"] = chart.to_dict()
    if result.extra is not None:
        found["extra"] = result.extra
    found["is_main_result"] = bool(result.is_main_result)
    return found

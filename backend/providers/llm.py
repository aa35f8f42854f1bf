"""LLMClient: from a model name, messages and a credential to one completion.

The one place that knows which provider module and which base URL serve a model, fits
the request to the model (output budget, o-series quirks) and builds SDK clients on the
shared HTTP pool. SDK clients are cheap on top of that pool, so one is made per call.
The SDKs are imported on first use: they take seconds to import, and most commands
never call a model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace

from backend.errors import ProviderError
from backend.settings import Settings, load_settings

from .base import CompletionRequest, CompletionResponse, Message, Provider, Role, ToolSpec
from .credentials import Credentials
from .egress import Egress
from .http import ClientPool, HttpPolicy, time_budget
from .models import ANTHROPIC, OLLAMA, OPEN_ROUTER, OPENAI, ModelInfo, ModelTable

# The host AutoGPT writes into every export's ``ollama_host`` pin.
AUTOGPT_OLLAMA_HOST = "localhost:11434"
# Ollama needs no key, but the OpenAI SDK refuses to send a request without one.
OLLAMA_PLACEHOLDER_KEY = "ollama"
# Rough size of a prompt without a tokenizer: about four characters per token.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
DEFAULT_MAX_OUTPUT = 2**15  # for models whose table row gives no output limit
_O_SERIES = re.compile(r"o\d")  # o1, o3-mini, ...: no parallel_tool_calls parameter


def needs_api_key(info: ModelInfo) -> bool:
    return info.provider != OLLAMA


def ollama_base_url(host: str) -> str:
    """``localhost:11434`` or ``http://gpu-box:11434`` -> that server's OpenAI-compatible API."""
    base = host.rstrip("/") if "://" in host else f"http://{host.rstrip('/')}"
    return base if base.endswith("/v1") else f"{base}/v1"


def estimate_tokens(messages: Sequence[Message]) -> int:
    return sum(len(m.content) // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE for m in messages)


def output_budget(info: ModelInfo, messages: Sequence[Message], requested: int | None) -> int:
    """AutoGPT's rule: the smallest of what is asked, what the model can write and what is
    left of its context window after the prompt."""
    prompt = estimate_tokens(messages)
    if prompt >= info.context_window:
        raise ProviderError(
            f"the prompt (about {prompt} tokens) does not fit the {info.context_window}-token "
            f"context window of {info.name}"
        )
    model_max = info.max_output_tokens or DEFAULT_MAX_OUTPUT
    return max(1, min(info.context_window - prompt, model_max, requested or model_max))


class LLMClient:
    def __init__(self, settings: Settings, policy: HttpPolicy | None = None) -> None:
        self.settings = settings
        self.models = ModelTable.from_settings(settings)
        policy = policy or HttpPolicy(
            connect_timeout=settings.llm_connect_timeout_seconds,
            read_timeout=settings.llm_read_timeout_seconds,
            max_retries=settings.llm_max_retries,
            egress=Egress.from_settings(settings),
        )
        # A completion asked twice costs twice but changes nothing: retried like a GET.
        self.pool = ClientPool(replace(policy, repeat_posts=True))

    async def complete(
        self,
        info: ModelInfo,
        messages: Sequence[Message],
        *,
        credentials: Credentials | None,
        max_tokens: int | None = None,
        json_mode: bool = False,
        tools: Sequence[ToolSpec] = (),
        parallel_tool_calls: bool | None = None,
        ollama_host: str | None = None,
        deadline: float | None = None,
    ) -> CompletionResponse:
        """One completion by the model ``info``; raises ``ProviderError``.

        ``deadline`` (``time.monotonic()``) bounds every attempt and retry wait.
        ``ollama_host`` replaces ``BACKEND_OLLAMA_HOST`` for Ollama models.
        """
        if not info.system_prompt:
            messages = [
                replace(m, role=Role.USER) if m.role is Role.SYSTEM else m for m in messages
            ]
        request = CompletionRequest(
            model=info.sent_name,
            messages=tuple(messages),
            max_tokens=output_budget(info, messages, max_tokens),
            json_mode=json_mode and info.json_mode,
            tools=tuple(tools),
            parallel_tool_calls=(None if _O_SERIES.match(info.sent_name) else parallel_tool_calls),
        )
        provider = self.provider(info, _api_key(info, credentials), ollama_host=ollama_host)
        started = time.monotonic()
        with time_budget(deadline):
            response = await provider.complete(request)
        return replace(response, latency_seconds=time.monotonic() - started)

    def provider(
        self, info: ModelInfo, api_key: str, *, ollama_host: str | None = None
    ) -> Provider:
        http = self.pool.client()
        timeout = self.pool.policy.timeout
        if info.provider == ANTHROPIC:
            import anthropic

            from .anthropic_messages import AnthropicMessages

            client = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=self.settings.anthropic_base_url,
                http_client=http,
                max_retries=0,
                timeout=timeout,
            )
            return AnthropicMessages(client, secret=api_key)
        import openai

        from .openai_chat import OpenAIChat

        if info.provider == OPENAI:
            base_url, max_tokens_param, json_mode = (
                self.settings.openai_base_url,
                "max_completion_tokens",
                True,
            )
        elif info.provider == OPEN_ROUTER:
            # AutoGPT asks OpenRouter for no JSON mode: many of its models refuse it.
            base_url, max_tokens_param, json_mode = (
                self.settings.open_router_base_url,
                "max_tokens",
                False,
            )
        elif info.provider == OLLAMA:
            host = ollama_host or self.settings.ollama_host
            base_url, max_tokens_param, json_mode = ollama_base_url(host), "max_tokens", True
        else:
            raise ProviderError(f"model {info.name} names an unknown provider {info.provider!r}")
        openai_client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, http_client=http, max_retries=0, timeout=timeout
        )
        return OpenAIChat(
            info.provider,
            openai_client,
            max_tokens_param=max_tokens_param,
            json_mode=json_mode,
            secret=None if api_key == OLLAMA_PLACEHOLDER_KEY else api_key,
        )

    async def aclose(self) -> None:
        """Close this event loop's connections (at shutdown)."""
        await self.pool.aclose()


def _api_key(info: ModelInfo, credentials: Credentials | None) -> str:
    if not needs_api_key(info):
        # Ollama takes a key only behind a proxy; never send it another provider's key.
        if credentials and credentials.provider == OLLAMA and credentials.api_key:
            return credentials.api_key.get_secret_value()
        return OLLAMA_PLACEHOLDER_KEY
    if credentials is None or credentials.api_key is None:
        raise ProviderError(
            f"model {info.name} needs an API key for provider {info.provider}: give the "
            "node a credential for it or set the operator's default key"
        )
    if credentials.provider != info.provider:
        raise ProviderError(
            f"the credential {credentials.title or credentials.id!r} is for "
            f"{credentials.provider}, but model {info.name} runs on {info.provider}"
        )
    return credentials.api_key.get_secret_value()


_default: LLMClient | None = None


def preload() -> None:
    """Import both provider SDKs now: the first import takes seconds, which must not happen
    on an executor's event loop in the middle of a node."""
    import anthropic  # noqa: F401
    import openai  # noqa: F401

    from . import anthropic_messages, openai_chat  # noqa: F401


def configure(settings: Settings) -> LLMClient:
    """Make the process-wide client (and model table) follow ``settings``."""
    global _default
    _default = LLMClient(settings)
    return _default


def default_llm() -> LLMClient:
    """The process-wide client; built from the environment's settings on first use."""
    return _default or configure(load_settings())


def check_model(name: str) -> str:
    """Validate a graph's model name (the blocks' ``model`` pin); raises ``UnknownModel``."""
    default_llm().models.resolve(name)
    return name

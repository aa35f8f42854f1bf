"""The model table: every model name a graph may use, its provider and its limits.

The built-in rows are AutoGPT's model names for the providers this server speaks
(OpenAI, Anthropic, OpenRouter, Ollama), with the context window and output limit
AutoGPT records for each, so exported agents validate unchanged. Operators add models
(``BACKEND_LLM_EXTRA_MODELS``) and aliases (``BACKEND_LLM_MODEL_ALIASES``): an alias
sends one name to a model of the table, and ``*`` sends every other name there too
(built-in ones included; added models keep their own), e.g. all of them to a local
Ollama model on a VM without outside access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from backend.errors import ConfigError
from backend.settings import Settings

OPENAI = "openai"
ANTHROPIC = "anthropic"
OPEN_ROUTER = "open_router"
OLLAMA = "ollama"
PROVIDERS = (OPENAI, ANTHROPIC, OPEN_ROUTER, OLLAMA)
CATCH_ALL = "*"
DEFAULT_MODEL = "gpt-4o"


@dataclass(frozen=True)
class ModelInfo:
    name: str  # what graphs write
    provider: str
    context_window: int
    max_output_tokens: int | None  # None: the provider decides
    api_name: str = ""  # what the provider is sent; empty: ``name``
    # o1-mini takes no system turns and no JSON-only mode (AutoGPT works around both).
    system_prompt: bool = True
    json_mode: bool = True

    @property
    def sent_name(self) -> str:
        return self.api_name or self.name


def _rows(provider: str, rows: Iterable[tuple[str, int, int | None]]) -> list[ModelInfo]:
    return [ModelInfo(name, provider, window, output) for name, window, output in rows]


BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    *_rows(
        OPENAI,
        [
            ("o3-2025-04-16", 200_000, 100_000),
            ("o3-mini", 200_000, 100_000),
            ("o1", 200_000, 100_000),
            ("gpt-5.2-2025-12-11", 400_000, 128_000),
            ("gpt-5.1-2025-11-13", 400_000, 128_000),
            ("gpt-5-2025-08-07", 400_000, 128_000),
            ("gpt-5-mini-2025-08-07", 400_000, 128_000),
            ("gpt-5-nano-2025-08-07", 400_000, 128_000),
            ("gpt-5-chat-latest", 400_000, 16_384),
            ("gpt-4.1-2025-04-14", 1_047_576, 32_768),
            ("gpt-4.1-mini-2025-04-14", 1_047_576, 32_768),
            ("gpt-4o-mini", 128_000, 16_384),
            ("gpt-4o", 128_000, 16_384),
            ("gpt-4-turbo", 128_000, 4_096),
            ("gpt-3.5-turbo", 16_385, 4_096),
        ],
    ),
    ModelInfo("o1-mini", OPENAI, 128_000, 65_536, system_prompt=False, json_mode=False),
    *_rows(
        ANTHROPIC,
        [
            ("claude-opus-4-6", 200_000, 128_000),
            ("claude-opus-4-5-20251101", 200_000, 64_000),
            ("claude-sonnet-4-5-20250929", 200_000, 64_000),
            ("claude-haiku-4-5-20251001", 200_000, 64_000),
            ("claude-opus-4-1-20250805", 200_000, 32_000),
            ("claude-opus-4-20250514", 200_000, 32_000),
            ("claude-sonnet-4-20250514", 200_000, 64_000),
            ("claude-3-7-sonnet-20250219", 200_000, 64_000),
            ("claude-3-5-sonnet-latest", 200_000, 8_192),
            ("claude-3-5-haiku-latest", 200_000, 8_192),
            ("claude-3-haiku-20240307", 200_000, 4_096),
        ],
    ),
    *_rows(
        OLLAMA,
        [
            ("llama3.3", 8_192, None),
            ("llama3.2", 8_192, None),
            ("llama3", 8_192, None),
            ("llama3.1:405b", 8_192, None),
            ("dolphin-mistral:latest", 32_768, None),
        ],
    ),
    *_rows(
        OPEN_ROUTER,
        [
            ("openai/gpt-oss-120b", 131_072, 131_072),
            ("openai/gpt-oss-20b", 131_072, 32_768),
            ("google/gemini-2.5-pro-preview-03-25", 1_050_000, 8_192),
            ("google/gemini-3-pro-preview", 1_048_576, 65_535),
            ("google/gemini-2.5-flash", 1_048_576, 65_535),
            ("google/gemini-2.0-flash-001", 1_048_576, 8_192),
            ("google/gemini-2.5-flash-lite-preview-06-17", 1_048_576, 65_535),
            ("google/gemini-2.0-flash-lite-001", 1_048_576, 8_192),
            ("google/gemini-flash-1.5", 1_000_000, 8_192),
            ("mistralai/mistral-nemo", 128_000, 4_096),
            ("cohere/command-r-08-2024", 128_000, 4_096),
            ("cohere/command-r-plus-08-2024", 128_000, 4_096),
            ("deepseek/deepseek-chat", 64_000, 2_048),
            ("deepseek/deepseek-r1-0528", 163_840, 163_840),
            ("perplexity/sonar", 127_000, 8_000),
            ("perplexity/sonar-pro", 200_000, 8_000),
            ("perplexity/sonar-deep-research", 128_000, 16_000),
            ("nousresearch/hermes-3-llama-3.1-405b", 131_000, 4_096),
            ("nousresearch/hermes-3-llama-3.1-70b", 12_288, 12_288),
            ("amazon/nova-lite-v1", 300_000, 5_120),
            ("amazon/nova-micro-v1", 128_000, 5_120),
            ("amazon/nova-pro-v1", 300_000, 5_120),
            ("microsoft/wizardlm-2-8x22b", 65_536, 4_096),
            ("gryphe/mythomax-l2-13b", 4_096, 4_096),
            ("meta-llama/llama-4-scout", 131_072, 131_072),
            ("meta-llama/llama-4-maverick", 1_048_576, 1_000_000),
            ("x-ai/grok-4", 256_000, 256_000),
            ("x-ai/grok-4-fast", 2_000_000, 30_000),
            ("x-ai/grok-4.1-fast", 2_000_000, 30_000),
            ("x-ai/grok-code-fast-1", 256_000, 10_000),
            ("moonshotai/kimi-k2", 131_000, 131_000),
            ("qwen/qwen3-235b-a22b-thinking-2507", 262_144, 262_144),
            ("qwen/qwen3-coder", 262_144, 262_144),
        ],
    ),
)


class UnknownModel(ValueError):
    """A model name that is neither in the table nor an alias (a pin validation error)."""


class ModelTable:
    def __init__(
        self,
        models: Iterable[ModelInfo],
        aliases: Mapping[str, str] | None = None,
        added: Iterable[ModelInfo] = (),
    ) -> None:
        self._added = {model.name: model for model in added}
        self._models = {model.name: model for model in models} | self._added
        self._aliases: dict[str, ModelInfo] = {}
        for alias, target in (aliases or {}).items():
            info = self._models.get(target)
            if info is None:
                raise ConfigError(
                    f"invalid setting BACKEND_LLM_MODEL_ALIASES: {alias!r} points to "
                    f"{target!r}, which is not a known model"
                )
            self._aliases[alias] = replace(info, name=alias, api_name=info.sent_name)

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelTable:
        added = [
            ModelInfo(name, spec.provider, spec.context_window, spec.max_output_tokens)
            for name, spec in settings.llm_extra_models_table.items()
        ]
        return cls(BUILTIN_MODELS, settings.llm_model_aliases_table, added)

    def resolve(self, name: str) -> ModelInfo:
        """The model a graph's ``name`` runs on; raises ``UnknownModel`` listing the names."""
        found = self._aliases.get(name) or self._added.get(name)
        if found is None and CATCH_ALL in self._aliases:
            return replace(self._aliases[CATCH_ALL], name=name)
        found = found or self._models.get(name)
        if found is None:
            raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(self.names())}")
        return found

    def names(self) -> list[str]:
        """Every name a graph may write (the catch-all alias aside)."""
        return sorted((self._models.keys() | self._aliases.keys()) - {CATCH_ALL})

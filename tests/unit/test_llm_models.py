"""The model table, aliases from settings, and the retry arithmetic (no I/O)."""

from __future__ import annotations

import email.utils
import time

import httpx2
import pytest

from backend.errors import ConfigError
from backend.providers.http import HttpPolicy, retry_after
from backend.providers.models import BUILTIN_MODELS, ModelInfo, ModelTable, UnknownModel
from backend.settings import Settings, load_settings

# Every model the shipped AutoGPT agents name.
AGENT_MODELS = {
    "gpt-5-2025-08-07": ("openai", 400_000, 128_000),
    "claude-sonnet-4-5-20250929": ("anthropic", 200_000, 64_000),
    "gpt-4o": ("openai", 128_000, 16_384),
    "claude-sonnet-4-20250514": ("anthropic", 200_000, 64_000),
    "perplexity/sonar-deep-research": ("open_router", 128_000, 16_000),
    "perplexity/sonar-pro": ("open_router", 200_000, 8_000),
    "gpt-5-mini-2025-08-07": ("openai", 400_000, 128_000),
    "gpt-4.1-2025-04-14": ("openai", 1_047_576, 32_768),
    "o3-mini": ("openai", 200_000, 100_000),
    "gpt-4o-mini": ("openai", 128_000, 16_384),
    "o1": ("openai", 200_000, 100_000),
}


def test_the_shipped_agents_models_are_known() -> None:
    table = ModelTable(BUILTIN_MODELS)
    for name, (provider, window, output) in AGENT_MODELS.items():
        info = table.resolve(name)
        assert (info.provider, info.context_window, info.max_output_tokens) == (
            provider,
            window,
            output,
        )
        assert info.sent_name == name
    assert len({m.name for m in BUILTIN_MODELS}) == len(BUILTIN_MODELS)


def test_unknown_names_list_the_known_ones() -> None:
    table = ModelTable(BUILTIN_MODELS, {"fast": "gpt-4o-mini"})
    with pytest.raises(UnknownModel) as caught:
        table.resolve("gpt-9")
    assert str(caught.value).startswith("unknown model 'gpt-9'; known models: ")
    assert ", fast, " in str(caught.value)
    assert table.names() == sorted({m.name for m in BUILTIN_MODELS} | {"fast"})


def test_aliases_added_models_and_the_catch_all() -> None:
    local = ModelInfo("qwen2.5:7b", "ollama", 32_768, None)
    table = ModelTable(BUILTIN_MODELS, {"gpt-4o": "llama3.2", "*": "qwen2.5:7b"}, [local])

    alias = table.resolve("gpt-4o")
    assert (alias.name, alias.sent_name, alias.provider) == ("gpt-4o", "llama3.2", "ollama")
    assert table.resolve("qwen2.5:7b") == local  # added models keep their own name
    caught = table.resolve("claude-opus-4-6")  # built-in names go to the catch-all too
    assert (caught.name, caught.sent_name, caught.provider) == (
        "claude-opus-4-6",
        "qwen2.5:7b",
        "ollama",
    )
    assert table.resolve("anything").sent_name == "qwen2.5:7b"
    assert "*" not in table.names()


def test_an_alias_to_nowhere_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="BACKEND_LLM_MODEL_ALIASES: 'x' points to 'nope'"):
        ModelTable(BUILTIN_MODELS, {"x": "nope"})


def test_settings_carry_aliases_and_extra_models(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BACKEND_LLM_MODEL_ALIASES", '{"*": "phi4"}')
    clean_env.setenv("BACKEND_LLM_EXTRA_MODELS", '{"phi4": {"provider": "ollama"}}')

    table = ModelTable.from_settings(load_settings())

    info = table.resolve("gpt-4o")
    assert (info.sent_name, info.provider, info.context_window) == ("phi4", "ollama", 128_000)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKEND_LLM_MODEL_ALIASES", "{not json"),
        ("BACKEND_LLM_MODEL_ALIASES", '["a"]'),
        ("BACKEND_LLM_EXTRA_MODELS", '{"m": {"provider": "acme"}}'),
        ("BACKEND_LLM_EXTRA_MODELS", '{"m": {"provider": "ollama", "context_window": 0}}'),
        ("BACKEND_LLM_MAX_RETRIES", "11"),
        ("BACKEND_LLM_READ_TIMEOUT_SECONDS", "0"),
    ],
)
def test_bad_llm_settings_name_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_defaults_have_no_aliases(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.llm_model_aliases_table == {} and settings.llm_extra_models_table == {}


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(httpx2.Headers(headers)) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    waited = retry_after(httpx2.Headers({"retry-after": later}))
    assert waited is not None and 0 < waited <= 30


def test_backoff_doubles_up_to_its_cap_with_half_jitter() -> None:
    low = HttpPolicy(jitter=lambda: 0.0)
    high = HttpPolicy(jitter=lambda: 1.0)
    assert [low.backoff(n) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert [high.backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0]

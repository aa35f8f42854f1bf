"""One typed settings object, read from BACKEND_* environment variables and a settings file
(backend/envfile.py picks which: --env-file, BACKEND_ENV_FILE, /etc/agent-server/env, .env).

Every field is documented in docs/settings.md; a test keeps that table in sync. The
third-party providers' settings (OAuth2 clients, service URLs, system credentials) are in
backend/provider_settings.py, mixed in with the same flat variable names.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from backend.envfile import env_file
from backend.errors import ConfigError
from backend.provider_settings import ProviderSettings
from backend.settings_http import OutgoingHttpSettings

ENV_PREFIX = "BACKEND_"


class ExtraModel(BaseModel):
    """One entry of BACKEND_LLM_EXTRA_MODELS: a model name the built-in table lacks."""

    provider: Literal["openai", "anthropic", "open_router", "ollama"]
    context_window: int = Field(128_000, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)


_EXTRA_MODELS = TypeAdapter(dict[str, ExtraModel])
_ALIASES = TypeAdapter(dict[str, str])


# scheme://host[:port], nothing after: what a browser sends in its Origin header.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


# The user:password@ of a URL, masked in error messages.
_USERINFO = re.compile(r"(//)[^/@\s]*@")


def _split_origins(text: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in text.split(",") if origin.strip()]


def _json_object(text: str, adapter: TypeAdapter[Any]) -> Any:
    return adapter.validate_python(json.loads(text)) if text.strip() else {}


class Settings(ProviderSettings, OutgoingHttpSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path("var"), description="Directory for the embedded database.")
    database_url: str = Field(
        "",
        description="sqlite:///PATH or postgresql://...; empty means DATA_DIR/backend.db.",
    )
    auto_migrate: bool = Field(True, description="Upgrade the schema at start.")
    database_wait_seconds: float = Field(
        300.0, ge=0, description="How long a starting process waits for a database server."
    )
    num_graph_workers: int = Field(4, ge=1, le=1024, description="Runs at once per executor.")
    num_node_workers: int = Field(4, ge=1, le=1024, description="Nodes at once per run.")
    lease_seconds: float = Field(
        30.0, gt=0, description="How long a claimed run stays owned without a heartbeat."
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="Heartbeat period; must be under half the lease."
    )
    poll_seconds: float = Field(
        0.05, gt=0, le=60, description="How often an idle executor looks for new work."
    )
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="How long a stopping executor lets running nodes finish."
    )
    node_timeout_seconds: float = Field(
        300.0, gt=0, description="Node time limit when neither block nor node sets one."
    )
    run_deadline_seconds: float = Field(
        3600.0, gt=0, description="A run still unfinished after this long is failed."
    )
    node_max_attempts: int = Field(
        1, ge=1, le=100, description="Attempts for a node whose block raises (1: no retry)."
    )
    retry_backoff_seconds: float = Field(
        1.0, ge=0, description="First retry delay; doubles on each further attempt."
    )
    retry_backoff_max_seconds: float = Field(
        60.0, ge=0, description="Longest delay between two attempts of a node."
    )
    num_block_workers: int = Field(
        2, ge=1, le=256, description="Worker processes per executor for isolated blocks."
    )
    worker_memory_mb: int = Field(
        1024, ge=128, description="Address-space limit of each block worker process, in MiB."
    )
    max_output_value_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest single output value of a node (JSON)."
    )
    max_node_output_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest total output of one node execution."
    )
    max_run_stored_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Most node input and output data one run stores."
    )
    max_node_executions_per_run: int = Field(
        20_000, ge=1, description="Most node executions one run may create."
    )
    max_node_timeout_seconds: float = Field(
        3600.0, gt=0, description="Upper bound of any node's time limit."
    )
    max_run_deadline_seconds: float = Field(
        86400.0, gt=0, description="Upper bound of any run's deadline."
    )
    max_tokens_per_run: int = Field(
        0, ge=0, description="LLM tokens one run may spend (0: no limit unless the run sets one)."
    )
    max_agent_depth: int = Field(
        8, ge=1, le=64, description="How deep sub-agents may nest (an agent calling agents)."
    )
    max_stalled_claims: int = Field(
        5, ge=1, le=1000, description="Claims without progress after which a run is failed."
    )
    max_runs_per_user: int = Field(
        3, ge=1, le=1024, description="Runs of one user that one executor executes at once."
    )
    loop_lag_warn_seconds: float = Field(
        1.0, gt=0, description="Event-loop delay after which the executor logs what ran."
    )
    executor_metrics_port: int = Field(
        0, ge=0, le=65535, description="First port of the executors' /metrics; 0: off."
    )
    executor_metrics_host: str = Field(
        "127.0.0.1", description="Address the executors' /metrics listeners bind to."
    )
    tracing: Literal["off", "otlp"] = Field(
        "off", description="otlp: send OpenTelemetry spans of runs, nodes and requests."
    )
    otel_endpoint: str = Field(
        "http://127.0.0.1:4318/v1/traces",
        description="OTLP/HTTP traces URL spans go to when BACKEND_TRACING=otlp.",
    )
    process_num: int = Field(
        0, ge=0, le=65535, description="This process's number in its supervisord program."
    )
    allow_private_network: bool = Field(
        False, description="Let web-request blocks reach private and loopback addresses."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level logged."
    )
    log_format: Literal["text", "json"] = Field("text", description="One line per event.")
    api_host: str = Field("127.0.0.1", description="Address the REST API binds to.")
    api_port: int = Field(8006, ge=1, le=65535, description="Port the REST API listens on.")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1, description="Largest request body the REST API accepts (413 above)."
    )
    cors_allow_origins: str = Field(
        "",
        description="Comma-separated origins (https://app.example.com) whose pages may call "
        "the REST API from a browser; empty: no cross-origin access.",
    )
    api_url: str = Field(
        "http://127.0.0.1:8006", description="Where the CLI's client commands reach the REST API."
    )
    api_key: str = Field(
        "", description="API key the CLI's client commands send (or pass --api-key)."
    )
    openai_base_url: str = Field(
        "https://api.openai.com/v1", description="OpenAI or any OpenAI-compatible endpoint."
    )
    anthropic_base_url: str = Field(
        "https://api.anthropic.com", description="Where Anthropic models are called."
    )
    open_router_base_url: str = Field(
        "https://openrouter.ai/api/v1", description="Where OpenRouter models are called."
    )
    ollama_host: str = Field(
        "localhost:11434", description="Ollama server (host:port or URL) for Ollama models."
    )
    llm_model_aliases: str = Field(
        "", description='JSON object {"name": "model", "*": "model"} routing model names.'
    )
    llm_extra_models: str = Field(
        "", description='JSON object {"name": {"provider": ..., "context_window": ...}}.'
    )
    llm_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait to connect to an LLM provider."
    )
    llm_read_timeout_seconds: float = Field(
        120.0, gt=0, description="Longest wait for one whole LLM answer once connected."
    )
    llm_max_retries: int = Field(
        3, ge=0, le=10, description="Retries of an LLM call on 429, 5xx and connection resets."
    )

    service_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait to connect to a media or code service."
    )
    service_read_timeout_seconds: float = Field(
        120.0, gt=0, description="Longest wait for one whole answer of a media or code service."
    )
    service_max_retries: int = Field(
        3, ge=0, le=10, description="Retries of a service call on 429, 5xx and connection resets."
    )
    max_file_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest file a block may store (images, videos)."
    )
    max_run_file_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, description="Most bytes of files one run may store."
    )
    file_retention_days: float = Field(
        30.0, ge=0, description="Days a stored file is kept; 0 keeps files forever."
    )
    retention_days: float = Field(
        0.0, ge=0, description="Days an ended run is kept; 0 keeps runs forever."
    )

    @field_validator("llm_model_aliases")
    @classmethod
    def _aliases_parse(cls, text: str) -> str:
        _json_object(text, _ALIASES)
        return text

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins_parse(cls, text: str) -> str:
        for origin in _split_origins(text):
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return text

    @cached_property
    def cors_origins(self) -> list[str]:
        return _split_origins(self.cors_allow_origins)

    @field_validator("llm_extra_models")
    @classmethod
    def _extra_models_parse(cls, text: str) -> str:
        _json_object(text, _EXTRA_MODELS)
        return text

    @cached_property
    def llm_model_aliases_table(self) -> dict[str, str]:
        result: dict[str, str] = _json_object(self.llm_model_aliases, _ALIASES)
        return result

    @cached_property
    def llm_extra_models_table(self) -> dict[str, ExtraModel]:
        result: dict[str, ExtraModel] = _json_object(self.llm_extra_models, _EXTRA_MODELS)
        return result

    scheduler_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="Longest a scheduler sleeps before looking for due slots."
    )
    scheduler_misfire_grace_seconds: float = Field(
        60.0, ge=0, description="How late a slot may fire and still count as on time."
    )
    scheduler_max_catchup: int = Field(
        100, ge=1, le=10_000, description="Most slots one schedule fires at one wake-up."
    )
    idempotency_ttl_seconds: float = Field(
        86400.0, gt=0, description="How long an Idempotency-Key on execute finds its run."
    )
    hook_max_body_bytes: int = Field(
        256 * 1024, ge=1, description="Largest webhook delivery body (413 above)."
    )
    hook_rate_limit_per_minute: int = Field(
        60, ge=1, description="Runs one webhook may start per minute (429 above)."
    )
    hook_replay_window_seconds: float = Field(
        86400.0, gt=0, description="How long a repeated delivery id returns its first run."
    )

    encryption_key: SecretStr = Field(
        SecretStr(""),
        description="Key(s) encrypting stored credentials, comma-separated: the first "
        "encrypts, all decrypt. Empty: DATA_DIR/encryption.key (made on first start).",
    )

    @model_validator(mode="after")
    def _heartbeat_fits_lease(self) -> Settings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"BACKEND_HEARTBEAT_SECONDS ({self.heartbeat_seconds}) must be at most half "
                f"of BACKEND_LEASE_SECONDS ({self.lease_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _defaults_within_bounds(self) -> Settings:
        if self.node_timeout_seconds > self.max_node_timeout_seconds:
            raise ValueError(
                f"BACKEND_NODE_TIMEOUT_SECONDS ({self.node_timeout_seconds}) must not exceed "
                f"BACKEND_MAX_NODE_TIMEOUT_SECONDS ({self.max_node_timeout_seconds})"
            )
        if self.run_deadline_seconds > self.max_run_deadline_seconds:
            raise ValueError(
                f"BACKEND_RUN_DEADLINE_SECONDS ({self.run_deadline_seconds}) must not exceed "
                f"BACKEND_MAX_RUN_DEADLINE_SECONDS ({self.max_run_deadline_seconds})"
            )
        if self.max_output_value_bytes > self.max_node_output_bytes:
            raise ValueError(
                f"BACKEND_MAX_OUTPUT_VALUE_BYTES ({self.max_output_value_bytes}) must not "
                f"exceed BACKEND_MAX_NODE_OUTPUT_BYTES ({self.max_node_output_bytes})"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'backend.db'}"


def load_settings() -> Settings:
    """Read the settings from the environment and the settings file ``env_file()`` picks,
    turning a validation failure into one ConfigError line."""
    try:
        return Settings(_env_file=env_file())
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise ConfigError(f"invalid settings: {message}") from None
        name = f"{ENV_PREFIX}{str(first['loc'][0]).upper()}"
        shown = _USERINFO.sub(r"\1***@", str(first.get("input")))  # a proxy's password
        raise ConfigError(f"invalid setting {name}={shown!r}: {message}") from None

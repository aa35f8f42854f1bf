"""One typed settings object, read from BACKEND_* environment variables and `.env`.

Every field is documented in docs/settings.md; a test keeps that table in sync.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.errors import ConfigError

ENV_PREFIX = "BACKEND_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path("var"), description="Directory for the embedded database.")
    database_url: str = Field(
        "",
        description="sqlite:///PATH or postgresql://...; empty means DATA_DIR/backend.db.",
    )
    auto_migrate: bool = Field(True, description="Upgrade the schema at start.")
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
    api_url: str = Field(
        "http://127.0.0.1:8006", description="Where the CLI's client commands reach the REST API."
    )
    api_key: str = Field(
        "", description="API key the CLI's client commands send (or pass --api-key)."
    )
    encryption_key: SecretStr = Field(
        SecretStr(""),
        description="Key(s) encrypting stored credentials, comma-separated: the first "
        "encrypts, all decrypt. Empty: DATA_DIR/encryption.key (made on first start).",
    )
    # Operator defaults ("system credentials"): used for a provider when a node names no
    # credential of the user's own.
    openai_api_key: SecretStr = Field(SecretStr(""), description="Default OpenAI API key.")
    anthropic_api_key: SecretStr = Field(SecretStr(""), description="Default Anthropic API key.")
    open_router_api_key: SecretStr = Field(SecretStr(""), description="Default OpenRouter API key.")

    @model_validator(mode="after")
    def _heartbeat_fits_lease(self) -> Settings:
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"BACKEND_HEARTBEAT_SECONDS ({self.heartbeat_seconds}) must be at most half "
                f"of BACKEND_LEASE_SECONDS ({self.lease_seconds})"
            )
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.resolve() / 'backend.db'}"


def load_settings() -> Settings:
    """Read the settings, turning a validation failure into one ConfigError line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise ConfigError(f"invalid settings: {message}") from None
        name = f"{ENV_PREFIX}{str(first['loc'][0]).upper()}"
        raise ConfigError(f"invalid setting {name}={first.get('input')!r}: {message}") from None

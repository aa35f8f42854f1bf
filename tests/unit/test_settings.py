"""Settings: the documented table and .env.example match the code, and bad values fail with
one message naming the variable."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from backend.errors import ConfigError
from backend.settings import ENV_PREFIX, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
EMPTY = "(empty)"


def documented_defaults() -> dict[str, str]:
    """{variable: default as written} from the table in docs/settings.md."""
    rows: dict[str, str] = {}
    for line in (REPO_ROOT / "docs" / "settings.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith(f"`{ENV_PREFIX}"):
            name, default = cells[0].strip("`"), cells[1]
            assert name not in rows, f"{name} documented twice"
            rows[name] = "" if default == EMPTY else default.strip("`")
    return rows


def example_defaults() -> dict[str, str]:
    """{variable: value} of the commented lines in .env.example."""
    text = (REPO_ROOT / ".env.example").read_text()
    return dict(re.findall(rf"^#\s*({ENV_PREFIX}[A-Z0-9_]+)=(.*)$", text, re.MULTILINE))


def code_defaults() -> dict[str, Any]:
    return {
        f"{ENV_PREFIX}{name.upper()}": field.default
        for name, field in Settings.model_fields.items()
    }


def parsed(variable: str, text: str) -> Any:
    """``text`` read the way the settings read the variable's value."""
    field = Settings.model_fields[variable.removeprefix(ENV_PREFIX).lower()]
    assert field.annotation is not None
    return TypeAdapter(field.annotation).validate_python(text)


@pytest.mark.parametrize("source", [documented_defaults, example_defaults])
def test_every_setting_is_listed_with_its_default(source: Any) -> None:
    listed: dict[str, str] = source()
    defaults = code_defaults()
    assert sorted(listed) == sorted(defaults)
    for variable, text in listed.items():
        assert parsed(variable, text) == defaults[variable], variable


def test_every_setting_is_described() -> None:
    text = (REPO_ROOT / "docs" / "settings.md").read_text()
    for line in text.splitlines():
        if line.startswith(f"| `{ENV_PREFIX}"):
            assert len(line.rstrip(" |").rsplit("|", 1)[1].strip()) > 10, line


def test_defaults_need_no_configuration(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.resolved_database_url == f"sqlite:///{Path('var').resolve() / 'backend.db'}"


def test_environment_wins_over_dotenv(clean_env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BACKEND_NUM_GRAPH_WORKERS=7\nBACKEND_LOG_LEVEL=DEBUG\n")
    clean_env.setenv("BACKEND_NUM_GRAPH_WORKERS", "9")

    settings = load_settings()

    assert settings.num_graph_workers == 9
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BACKEND_NUM_GRAPH_WORKERS", "abc"),
        ("BACKEND_NUM_NODE_WORKERS", "0"),
        ("BACKEND_LEASE_SECONDS", "-1"),
        ("BACKEND_SHUTDOWN_GRACE_SECONDS", "soon"),
        ("BACKEND_AUTO_MIGRATE", "maybe"),
        ("BACKEND_LOG_LEVEL", "LOUD"),
        ("BACKEND_LOG_FORMAT", "xml"),
        ("BACKEND_API_PORT", "70000"),
    ],
)
def test_bad_value_names_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert variable in caught.value.message
    assert value in caught.value.message
    assert "\n" not in caught.value.message


def test_bad_value_in_dotenv_names_the_variable(clean_env: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("BACKEND_NUM_GRAPH_WORKERS=many\n")

    with pytest.raises(ConfigError, match="BACKEND_NUM_GRAPH_WORKERS"):
        load_settings()


def test_heartbeat_must_fit_the_lease(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BACKEND_LEASE_SECONDS", "10")
    clean_env.setenv("BACKEND_HEARTBEAT_SECONDS", "6")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "BACKEND_HEARTBEAT_SECONDS" in caught.value.message
    assert "BACKEND_LEASE_SECONDS" in caught.value.message


def test_each_oauth_provider_reads_its_own_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BACKEND_GOOGLE_CLIENT_ID", "g-id")
    clean_env.setenv("BACKEND_GOOGLE_TOKEN_URL", "http://127.0.0.1:1/token")
    clean_env.setenv("BACKEND_WORDPRESS_CLIENT_SECRET", "wp-secret")
    apps = load_settings().oauth_apps
    assert sorted(apps) == ["google", "wordpress"]
    google, wordpress = apps["google"], apps["wordpress"]
    assert (google.client_id, google.token_url) == ("g-id", "http://127.0.0.1:1/token")
    assert google.revoke_url == "https://oauth2.googleapis.com/revoke"
    assert wordpress.client_id == "" and wordpress.revoke_url is None
    assert wordpress.client_secret.get_secret_value() == "wp-secret"
    assert "wp-secret" not in repr(apps)

"""Which settings file every entry point reads: one rule for the CLI and the programs.

1. ``--env-file PATH`` (the CLI sets BACKEND_ENV_FILE from it) or BACKEND_ENV_FILE;
2. else ``/etc/agent-server/env``, the documented place on a VM, when this user may read
   it (client commands run by any user need none of it; a database command that finds
   no database names the unreadable file in its refusal);
3. else ``.env`` in the working directory, when it exists;
4. else no file: only the environment and the defaults.

Variables set in the environment win over the file's lines either way.
"""

from __future__ import annotations

import os
from pathlib import Path

from backend.errors import ConfigError

ENV_FILE_VARIABLE = "BACKEND_ENV_FILE"
DEFAULT_ENV_FILE = Path("/etc/agent-server/env")
LOCAL_ENV_FILE = Path(".env")


def env_file() -> Path | None:
    """The settings file to read, or None; an explicit file that cannot be read is a
    ConfigError naming it."""
    explicit = os.environ.get(ENV_FILE_VARIABLE, "").strip()
    if explicit:
        path = Path(explicit)
        _check_readable(path, f"{ENV_FILE_VARIABLE} or --env-file")
        return path
    if DEFAULT_ENV_FILE.is_file() and os.access(DEFAULT_ENV_FILE, os.R_OK):
        return DEFAULT_ENV_FILE
    if LOCAL_ENV_FILE.is_file():
        return LOCAL_ENV_FILE.resolve()
    return None


def describe_env_file() -> str:
    """Where the settings come from, for messages: "settings from PATH" or "no env file"."""
    path = env_file()
    if path is not None:
        return f"settings from {path}"
    if DEFAULT_ENV_FILE.exists():
        return f"{DEFAULT_ENV_FILE} is not readable by this user: run as the service user"
    return "no settings file, environment only"


def _check_readable(path: Path, source: str) -> None:
    try:
        with path.open("rb"):
            pass
    except IsADirectoryError:
        raise ConfigError(f"settings file {path} ({source}) is a directory") from None
    except OSError as exc:
        hint = ""
        if isinstance(exc, PermissionError):
            hint = "; run as the service user (sudo -u agent-server ...)"
        raise ConfigError(
            f"cannot read settings file {path} ({source}): {exc.strerror}{hint}"
        ) from None

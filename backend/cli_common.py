"""What every `agent-server` command module shares: exit codes, usage errors, input and
graph-file parsing, output formatting, the REST client and the database of the settings.

The command modules (cli.py, cli_api.py, cli_credentials.py, ...) import this one and
never each other, except cli.py, which assembles the parser from all of them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.client import ApiClient, ApiError

if TYPE_CHECKING:
    from backend.data.store import Store

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Something the user gave cannot be used; ``problems`` are printed one per line."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


def parse_input_value(text: str) -> Any:
    """JSON when the text parses as JSON (numbers, lists, objects, true), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_inputs(pairs: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """The run inputs given as NAME=VALUE, and a problem line for each malformed one."""
    inputs: dict[str, Any] = {}
    problems = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"--input {pair!r}: expected NAME=VALUE")
        elif name in inputs:
            problems.append(f"--input {name!r} is given more than once")
        elif _non_finite(value):
            # JSON has no NaN or Infinity: the API refuses such a body, and a text input
            # spelled like one would be read as a number by a number pin.
            problems.append(
                f"--input {name}={value}: NaN and Infinity are not JSON numbers; give a "
                f"finite number, or quote it as JSON text: {name}='\"{value}\"'"
            )
        else:
            inputs[name] = parse_input_value(value)
    return inputs, problems


def _non_finite(text: str) -> bool:
    """``text`` is NaN or an infinity, as JSON (``NaN``) or as plain text (``nan``)."""
    try:
        value = float(text.strip())
    except ValueError:
        found: list[str] = []
        try:
            json.loads(text, parse_constant=found.append)
        except ValueError:
            return False
        return bool(found)
    return not math.isfinite(value)


def read_graph_text(path: str) -> str:
    """The text of a graph file (``-`` is stdin)."""
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read graph file {path}: {reason}") from None


def parse_graph_text(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"graph file {path} is not valid JSON: {exc}") from None


def read_graph_json(path: str) -> Any:
    """The JSON document in a graph file (``-`` is stdin)."""
    return parse_graph_text(read_graph_text(path), path)


def format_value(value: Any) -> str:
    # Text prints as-is so templates read naturally; everything else as JSON.
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def print_json(value: Any) -> None:
    print(json.dumps(value, default=str, ensure_ascii=False, indent=None))


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


# -- the REST API ---------------------------------------------------------------------------


def connect(args: argparse.Namespace) -> ApiClient:
    """A client of BACKEND_API_URL (or --api-url) with --api-key or BACKEND_API_KEY."""
    from backend.settings import load_settings

    settings = load_settings()
    key = getattr(args, "api_key", None) or settings.api_key
    if not key:
        raise ApiError(401, "unauthorized", "no API key: pass --api-key or set BACKEND_API_KEY")
    return ApiClient(getattr(args, "api_url", None) or settings.api_url, key)


def client_options(parser: argparse.ArgumentParser) -> None:
    """--api-url and --api-key after a subcommand; the same options before it (global)
    keep their value, since these default to nothing rather than to None."""
    parser.add_argument(
        "--api-url", default=argparse.SUPPRESS, help="REST API address (default: BACKEND_API_URL)"
    )
    parser.add_argument(
        "--api-key", default=argparse.SUPPRESS, help="API key (default: BACKEND_API_KEY)"
    )


def paging_options(parser: argparse.ArgumentParser) -> None:
    """--limit and --cursor on a list; ``print_next_page`` says how to get the next one."""
    parser.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    parser.add_argument("--cursor", help="the page after the one that printed this cursor")


def print_next_page(page: dict[str, Any]) -> None:
    if page.get("next_cursor"):
        print(f"more: --cursor {page['next_cursor']}", file=sys.stderr)


# -- the database ---------------------------------------------------------------------------


def open_database() -> Store:
    """The store of the settings, prepared; a SQLite file that does not exist is refused
    (only `agent-server init` creates a database)."""
    from backend.data.open import open_store
    from backend.settings import load_settings

    settings = load_settings()
    store = open_store(settings, create=False)
    try:
        store.prepare(settings.auto_migrate)
    except BaseException:
        store.close()
        raise
    return store

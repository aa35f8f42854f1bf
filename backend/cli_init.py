"""`agent-server init`: the one command that creates a database.

It makes the data directory and the database of the settings, brings the schema to this
version and creates the first API key, which it prints once with the next step. Every
other database command refuses a SQLite file that does not exist, so a command run from
the wrong directory, or with the wrong settings file, never makes an empty database of
its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from backend.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json

DEFAULT_USER = "admin"


def cmd_init(args: argparse.Namespace) -> int:
    from backend.data.api_keys import hash_key, new_key, shown_prefix
    from backend.data.open import masked_url, open_store
    from backend.envfile import describe_env_file
    from backend.settings import load_settings

    user = args.user.strip()
    if not user or len(user) > 64:
        print("error: --user must be 1 to 64 characters", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    url = masked_url(settings.resolved_database_url)
    # A SQLite database's directory (BACKEND_DATA_DIR by default) is made with it.
    store = open_store(settings, create=True)
    try:
        store.prepare(auto_migrate=True)
        existing = store.list_api_keys(None)
        if existing:
            print(
                f"error: the database at {url} is already set up ({len(existing)} API keys); "
                "add one with: agent-server api-key create --user NAME",
                file=sys.stderr,
            )
            return EXIT_FAILED
        key = new_key()
        record = store.create_api_key(
            user, hash_key(key), shown_prefix(key), time.time(), "created by init"
        )
    finally:
        store.close()
    if args.json:
        print_json({"database": url, "user": user, "key": key, "id": record.id})
        return EXIT_OK
    print(key)
    for line in _next_steps(url, describe_env_file(), user, record.id):
        print(line, file=sys.stderr)
    return EXIT_OK


def _next_steps(url: str, source: str, user: str, key_id: str) -> list[str]:
    return [
        f"database {url} is ready ({source})",
        f"API key {key_id} for user {user!r} is shown only now; store it safely.",
        "next: start the service (sudo systemctl enable --now agent-server, or `make run`),",
        "      then: export BACKEND_API_KEY=<the key above>; agent-server graph list",
    ]


def add_init_command(sub: Any) -> None:
    """Register `init` on ``sub`` (a subparsers action)."""
    init = sub.add_parser(
        "init",
        help="create the data directory, the database and the first API key",
        description="Create the database of the settings (migrated to this version) and "
        "the first API key, printed once. Refuses a database that already has keys.",
    )
    init.add_argument(
        "--user", default=DEFAULT_USER, help=f"the user the first key acts as ({DEFAULT_USER})"
    )
    init.add_argument("--json", action="store_true", help='print {"database", "user", "key", "id"}')
    init.set_defaults(func=cmd_init)

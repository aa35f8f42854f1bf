"""`agent-server credentials` (REST client) and `agent-server encryption-key` (local).

A secret is never an argument, where any user could read it in the process list: it is
asked for without echo, or read from stdin with --secret-stdin. ``encryption-key``
commands work on the key and the database directly, like ``api-key`` and ``migrate``.
Exit codes follow cli.py.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from backend.cli_common import (
    EXIT_OK,
    EXIT_USAGE,
    client_options,
    connect,
    open_database,
    print_json,
)
from backend.cli_render import show_list

_SECRET_FIELD = {"api_key": "api_key", "user_password": "password"}


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _read_secret(args: argparse.Namespace, label: str) -> str | None:
    """The secret from stdin or a no-echo prompt; None when neither can be had."""
    if args.secret_stdin:
        # One line, or the whole input: a trailing newline is never part of the secret.
        return sys.stdin.read().rstrip("\r\n")
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"{label}: ")


def cmd_credentials_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"provider": args.provider, "type": args.type, "title": args.title}
    if args.type == "user_password":
        if not args.username:
            return _usage("--username is needed for user_password credentials")
        body["username"] = args.username
    label = f"{'password' if args.type == 'user_password' else 'API key'} for {args.provider}"
    secret = _read_secret(args, label)
    if secret is None:
        return _usage("no terminal to ask for the secret on: pipe it in with --secret-stdin")
    if not secret.strip():
        return _usage("the secret is empty; nothing was stored")
    body[_SECRET_FIELD[args.type]] = secret
    with connect(args) as client:
        record = client.create_credentials(body)
    if args.json:
        print_json(record)
    else:
        print(record["id"])
        print(
            f"added {record['type']} credentials for {record['provider']} ({record['hint']})",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_credentials_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        items = client.list_credentials(args.provider)
    if args.json:
        print_json(items)
        return EXIT_OK
    rows, lines = [], []
    for item in items:
        # An OAuth2 credential's scopes, by their last part (gmail.readonly, not the URL).
        scopes = " ".join(scope.rsplit("/", 1)[-1] for scope in item.get("scopes") or [])
        row = [item["id"], item["provider"], item["type"], item["hint"], item["title"], scopes]
        rows.append(row)
        title = f"  {item['title']}" if item["title"] else ""
        shown = f"  [{scopes}]" if scopes else ""
        lines.append("  ".join(str(cell) for cell in row[:4]) + title + shown)
    show_list(["id", "provider", "type", "hint", "title", "scopes"], rows, lines)
    return EXIT_OK


def cmd_credentials_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.delete_credentials(args.credentials_id)
    print(f"deleted credentials {args.credentials_id}")
    return EXIT_OK


def cmd_key_generate(args: argparse.Namespace) -> int:
    from backend.data.vault import generate_key

    print(generate_key())
    return EXIT_OK


def cmd_key_rotate(args: argparse.Namespace) -> int:
    from backend.data.vault import open_vault, reencrypt_all
    from backend.settings import load_settings

    store = open_database()
    try:
        vault = open_vault(load_settings(), store)
        count = reencrypt_all(store, vault)
    finally:
        store.close()
    print(f"re-encrypted {count} secrets with the first key of {vault.source}")
    if vault.key_count > 1:
        print("once every process runs with the new key first, the old keys can go")
    return EXIT_OK


def add_credentials_commands(sub: Any) -> None:
    """Register `credentials` and `encryption-key` on ``sub`` (a subparsers action)."""
    creds = sub.add_parser("credentials", help="add, list and delete your provider credentials")
    creds_sub = creds.add_subparsers(dest="credentials_command", metavar="ACTION", required=True)
    add = creds_sub.add_parser(
        "add", help="store a credential; the secret is asked for, never an argument"
    )
    add.add_argument("--provider", required=True, help="e.g. openai, anthropic, open_router")
    add.add_argument("--type", choices=sorted(_SECRET_FIELD), default="api_key")
    add.add_argument("--title", default="", help="a label to tell credentials apart")
    add.add_argument("--username", help="the user name (user_password credentials)")
    add.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the secret (API key or password) from stdin instead of a prompt",
    )
    add.add_argument("--json", action="store_true", help="print the stored record")
    client_options(add)
    add.set_defaults(func=cmd_credentials_add)
    listing = creds_sub.add_parser("list", help="list your credentials (hints, never secrets)")
    listing.add_argument("--provider", help="only this provider's")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    client_options(listing)
    listing.set_defaults(func=cmd_credentials_list)
    delete = creds_sub.add_parser("delete", help="delete one of your credentials")
    delete.add_argument("credentials_id", metavar="CREDENTIALS_ID")
    client_options(delete)
    delete.set_defaults(func=cmd_credentials_delete)

    key = sub.add_parser("encryption-key", help="make a key; re-encrypt secrets after rotation")
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    generate = key_sub.add_parser("generate", help="print a new key for BACKEND_ENCRYPTION_KEY")
    generate.set_defaults(func=cmd_key_generate)
    rotate = key_sub.add_parser(
        "rotate", help="re-encrypt every stored secret with the first configured key (database)"
    )
    rotate.set_defaults(func=cmd_key_rotate)

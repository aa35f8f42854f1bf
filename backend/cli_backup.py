"""`agent-server backup PATH`: a consistent copy of the database while the group runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backend.cli_common import EXIT_FAILED, EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from backend.data.backup import NotSQLite, backup_sqlite, pg_dump_command, sqlite_file
    from backend.data.open import require_sqlite_file
    from backend.data.vault import key_file_path
    from backend.settings import load_settings

    settings = load_settings()
    try:
        source = sqlite_file(settings)
    except NotSQLite:
        command = pg_dump_command(settings.resolved_database_url, args.path)
        print(
            f"error: the database is PostgreSQL; back it up with: {command} "
            "(password from PGPASSWORD or ~/.pgpass)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    require_sqlite_file(settings.resolved_database_url)
    target = Path(args.path)
    size = backup_sqlite(source, target)
    print(f"backed up sqlite:///{source} to {target} ({size} bytes)")
    key_note = (
        "BACKEND_ENCRYPTION_KEY"
        if settings.encryption_key.get_secret_value()
        else str(key_file_path(settings))
    )
    print(
        f"the key of stored credentials ({key_note}) is not in the backup: keep a copy apart",
        file=sys.stderr,
    )
    return EXIT_OK


def add_backup_command(sub: Any) -> None:
    """Register `backup` on ``sub`` (a subparsers action)."""
    backup = sub.add_parser(
        "backup",
        help="copy the SQLite database to a new file, safely while the group runs",
        description="Copy the embedded SQLite database, consistent as of one moment, with "
        "SQLite's online backup API; the programs keep running. For PostgreSQL it prints "
        "the pg_dump command to use instead and exits 1.",
    )
    backup.add_argument("path", metavar="PATH", help="the backup file to create (must not exist)")
    backup.set_defaults(func=cmd_backup)

"""The `agent-server` command: one subcommand per function, each returning its exit code.

Exit codes: 0 success; 1 the work itself failed (a run ended FAILED) or the environment
is unusable (bad settings); 2 the user gave something unusable (bad graph file, bad
inputs). Expected problems print one readable report on stderr, never a traceback.
Commands import the heavier modules when they run, so `--help` stays quick.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from backend.cli_api import add_api_commands, api_error_exit
from backend.cli_backup import add_backup_command
from backend.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    format_value,
    parse_inputs,
    read_graph_json,
)
from backend.cli_credentials import add_credentials_commands
from backend.cli_graphs import add_graph_commands
from backend.cli_init import add_init_command
from backend.cli_schedules import add_schedule_commands
from backend.client import ApiError
from backend.data.graph import Graph
from backend.envfile import ENV_FILE_VARIABLE
from backend.errors import BackendError, InvalidInput

Command = Callable[[argparse.Namespace], int]


# -- helpers --------------------------------------------------------------------------------


def _pydantic_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in err['loc']) or '<graph>'}: {err['msg']}" for err in exc.errors()
    ]


def parse_graph(data: Any, path: str) -> Graph:
    """The graph in ``data``, read from ``path``."""
    try:
        return Graph.from_json(data)
    except ValidationError as exc:
        raise UsageError(
            f"graph file {path} is not a valid graph", _pydantic_problems(exc)
        ) from None
    except ValueError as exc:
        raise UsageError(f"graph file {path} is not a valid graph: {exc}") from None


# -- commands -------------------------------------------------------------------------------


def cmd_run_local(args: argparse.Namespace) -> int:
    from backend.data.credentials_manager import SystemCredentials
    from backend.data.validation import validate_graph, validate_run_inputs
    from backend.executor.exports import parse_sub_graphs
    from backend.executor.limits import Limits
    from backend.executor.local import run_local
    from backend.executor.local_services import LocalServices
    from backend.executor.pool import WorkerPool
    from backend.providers.llm import configure as configure_llm
    from backend.providers.services import configure_services
    from backend.settings import load_settings
    from backend.util.logs import configure_logging

    # Node logs go to stderr; WARNING keeps routine progress out of the user's terminal.
    configure_logging("WARNING")
    data = read_graph_json(args.graph)
    graph = parse_graph(data, args.graph)
    inputs, problems = parse_inputs(args.input)
    errors = validate_graph(graph, for_run=True) + validate_run_inputs(graph, inputs)
    problems += [str(e) for e in errors]
    if problems:
        raise UsageError("graph cannot run", problems)
    settings = load_settings()
    configure_llm(settings)
    configure_services(settings)
    pool = WorkerPool(settings.num_block_workers, settings.worker_memory_mb * 1024 * 1024)
    try:
        limits = Limits.from_settings(settings)
        defaults = SystemCredentials(settings)
        # Sub-agent nodes run the file's own sub-graphs.
        services = LocalServices(
            parse_sub_graphs(read_graph_json(args.graph)), pool, limits, defaults
        )
        result = asyncio.run(run_local(graph, inputs, limits, pool, defaults, services))
    finally:
        pool.close()

    summary = result.to_json()
    if args.json:
        print(json.dumps(summary, default=str, ensure_ascii=False))
    else:
        for name, values in summary["outputs"].items():
            for value in values:
                print(f"{name}: {format_value(value)}")
        print(f"status: {summary['status']} ({summary['node_executions']} node executions)")
        if summary["error"]:
            print(f"error: {summary['error']}")
    return EXIT_OK if summary["status"] == "COMPLETED" else EXIT_FAILED


def cmd_blocks(args: argparse.Namespace) -> int:
    from backend.blocks import all_blocks

    blocks = sorted(all_blocks().values(), key=lambda b: b.name.lower())
    if args.json:
        print(json.dumps([{"id": b.id, "name": b.name} for b in blocks]))
    else:
        for block in blocks:
            print(f"{block.id}  {block.name}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the schema now, for operators who run with BACKEND_AUTO_MIGRATE=false."""
    from backend.data.open import open_store
    from backend.settings import load_settings

    store = open_store(load_settings(), create=False)
    try:
        store.prepare(auto_migrate=True)
    finally:
        store.close()
    print("database schema is current")
    return EXIT_OK


def cmd_purge_files(args: argparse.Namespace) -> int:
    """Delete the stored files older than BACKEND_FILE_RETENTION_DAYS (run it daily)."""
    from backend.data.files import retention_cutoff
    from backend.data.open import open_store
    from backend.settings import load_settings

    settings = load_settings()
    cutoff = retention_cutoff(settings)
    if cutoff is None:
        print("files are kept forever (BACKEND_FILE_RETENTION_DAYS=0): nothing to purge")
        return EXIT_OK
    store = open_store(settings, create=False)
    try:
        store.prepare(auto_migrate=settings.auto_migrate)
        purged = store.purge_files(cutoff)
    finally:
        store.close()
    print(f"{purged} expired files purged")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete ended runs older than --older-than days, as BACKEND_RETENTION_DAYS does."""
    from backend.data.open import open_store
    from backend.data.retention import retention_cutoff
    from backend.schedules.retention import prune
    from backend.settings import load_settings

    cutoff = retention_cutoff(args.older_than)
    if cutoff is None:
        raise UsageError("--older-than must be more than 0 days")
    settings = load_settings()
    store = open_store(settings, create=False)
    try:
        store.prepare(auto_migrate=settings.auto_migrate)
        counts, _ = prune(store, cutoff, dry_run=args.dry_run)
    finally:
        store.close()
    print(f"{'would delete' if args.dry_run else 'deleted'} {counts.describe()}")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-server", description="Self-hosted execution backend for agent graphs."
    )
    parser.add_argument("--version", action="version", version=f"agent-server {_version()}")
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help=f"settings file to read (default: {ENV_FILE_VARIABLE}, else "
        "/etc/agent-server/env if it exists, else .env)",
    )
    # The client options of the subcommands, also accepted before the subcommand.
    parser.add_argument("--api-url", help="REST API address (default: BACKEND_API_URL)")
    parser.add_argument("--api-key", help="API key (default: BACKEND_API_KEY)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run_local = sub.add_parser(
        "run-local",
        help="run a graph in this process, in memory, and print its outputs",
        description="Run a graph file (AutoGPT export JSON accepted) in this process.",
    )
    run_local.add_argument("graph", metavar="GRAPH.json", help="graph file, or - for stdin")
    run_local.add_argument(
        "--input",
        "-i",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a run input; VALUE is parsed as JSON when it parses, else taken as text "
        "(repeat for several inputs)",
    )
    run_local.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object {"status", "outputs", "node_executions", "error"}',
    )
    run_local.set_defaults(func=cmd_run_local)

    blocks = sub.add_parser("blocks", help="list the available blocks (id and name)")
    blocks.add_argument("--json", action="store_true", help="print a JSON list")
    blocks.set_defaults(func=cmd_blocks)

    migrate = sub.add_parser(
        "migrate", help="upgrade the database schema (BACKEND_DATABASE_URL) to this version"
    )
    migrate.set_defaults(func=cmd_migrate)

    purge = sub.add_parser(
        "purge-files", help="delete stored files older than BACKEND_FILE_RETENTION_DAYS"
    )
    purge.set_defaults(func=cmd_purge_files)

    prune_cmd = sub.add_parser(
        "prune",
        help="delete ended runs older than DAYS with their node executions, events and files",
        description="Delete runs that ended more than DAYS days ago (never a queued or "
        "running run, nor one whose parent or sub-agent run is still live), in small "
        "batches, and print how many rows went.",
    )
    prune_cmd.add_argument(
        "--older-than", metavar="DAYS", type=float, required=True, help="age in days"
    )
    prune_cmd.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    prune_cmd.set_defaults(func=cmd_prune)

    add_init_command(sub)
    add_backup_command(sub)
    add_api_commands(sub)
    add_graph_commands(sub)
    add_credentials_commands(sub)
    add_schedule_commands(sub)
    return parser


def run_command(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns its exit code (argparse may exit 2)."""
    args = build_parser().parse_args(argv)
    func: Command = args.func
    previous = os.environ.get(ENV_FILE_VARIABLE)
    if args.env_file:
        # Every settings read of the command (and of anything it starts) uses this file.
        os.environ[ENV_FILE_VARIABLE] = args.env_file
    try:
        return func(args)
    except ApiError as exc:
        return api_error_exit(exc)
    except UsageError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except BackendError as exc:
        # Bad settings, an unusable database: the environment, not the arguments.
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if args.env_file:
            _restore_env(ENV_FILE_VARIABLE, previous)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agent-server")
    except PackageNotFoundError:  # a checkout run without installing it
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run_command(argv))


if __name__ == "__main__":
    main()

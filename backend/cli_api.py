"""`agent-server` subcommands for API keys (database) and runs (the REST API's client).

``api-key`` commands open the database directly (`init` makes the first key), and they
work while the server is down. The run commands (run, watch, nodes, status, cancel, runs)
are clients of the REST API at BACKEND_API_URL with the key from --api-key or
BACKEND_API_KEY; graph commands live in cli_graphs.py.
Exit codes follow cli.py: 0 done (a run COMPLETED), 1 the run FAILED or was TERMINATED,
or the server/environment failed, 2 the user gave something unusable.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from backend.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    client_options,
    connect,
    format_value,
    open_database,
    paging_options,
    parse_inputs,
    print_json,
    print_next_page,
    when,
)
from backend.cli_graphs import import_graph_file, is_graph_file
from backend.cli_render import follow_run, show_list
from backend.client import ApiClient, ApiError

# Answers that mean the request itself was wrong: the user can fix them.
_USAGE_STATUSES = {400, 401, 404, 413, 422}


def api_error_exit(exc: ApiError) -> int:
    """Report an ApiError on stderr; return the exit code it maps to."""
    print(f"error: {exc.message}", file=sys.stderr)
    if isinstance(exc.details, list):
        for detail in exc.details:
            if isinstance(detail, dict) and "message" in detail:
                where = " ".join(
                    f"{k} {detail[k]}" for k in ("node_id", "pin") if detail.get(k) is not None
                )
                print(f"  - {where + ': ' if where else ''}{detail['message']}", file=sys.stderr)
            else:
                print(f"  - {detail}", file=sys.stderr)
    return EXIT_USAGE if exc.status in _USAGE_STATUSES else EXIT_FAILED


# -- api keys (database) -----------------------------------------------------------------


def cmd_api_key_create(args: argparse.Namespace) -> int:
    from backend.data.api_keys import hash_key, new_key, shown_prefix

    user = args.user.strip()
    if not user or len(user) > 64:
        print("error: --user must be 1 to 64 characters", file=sys.stderr)
        return EXIT_USAGE
    store = open_database()
    try:
        key = new_key()
        record = store.create_api_key(
            user, hash_key(key), shown_prefix(key), time.time(), args.name
        )
    finally:
        store.close()
    if args.json:
        print_json({"user": user, "key": key, "id": record.id})
    else:
        print(key)
        print(
            f"API key {record.id} for user {user!r}; it is shown only now, store it safely.",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_api_key_list(args: argparse.Namespace) -> int:
    store = open_database()
    try:
        keys = store.list_api_keys(args.user)
    finally:
        store.close()
    if args.json:
        print_json([key.to_dict() for key in keys])
        return EXIT_OK
    rows, lines = [], []
    for key in keys:
        state = f"revoked {when(key.revoked_at)}" if key.revoked else "active"
        row = [key.id, f"{key.prefix}…", key.user_id, when(key.created_at), state, key.name]
        rows.append(row)
        label = f"  {key.name}" if key.name else ""
        lines.append("  ".join(str(cell) for cell in row[:5]) + label)
    show_list(["id", "prefix", "user", "created", "state", "name"], rows, lines)
    return EXIT_OK


def cmd_api_key_revoke(args: argparse.Namespace) -> int:
    from backend.errors import Conflict, NotFound

    store = open_database()
    try:
        key = store.revoke_api_key(args.key, time.time())
    except (NotFound, Conflict) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    print(f"revoked API key {key.id} ({key.prefix}…) of user {key.user_id!r}")
    return EXIT_OK


# -- API client commands -------------------------------------------------------------------


def _run_exit(status: str) -> int:
    return EXIT_OK if status == "COMPLETED" else EXIT_FAILED


def _print_run(run: dict[str, Any]) -> None:
    for name, values in run["outputs"].items():
        for value in values:
            print(f"{name}: {format_value(value)}")
    stats = run.get("stats", {})
    print(f"status: {run['status']} ({stats.get('node_executions', 0)} node executions)")
    for model, used in stats.get("models", {}).items():
        print(
            f"tokens: {used['input_tokens']} in, {used['output_tokens']} out "
            f"({model}, {used['llm_calls']} calls)"
        )
    for child in run.get("children", []):
        print(f"sub-agent run {child['id']}: {child['status']} (graph {child['graph_id']})")
    if run.get("error"):
        print(f"error: {run['error']}")


def cmd_run(args: argparse.Namespace) -> int:
    inputs, problems = parse_inputs(args.input)
    if problems:
        raise UsageError("bad run inputs", problems)
    with connect(args) as client:
        target = args.graph
        if is_graph_file(target):
            graph = import_graph_file(client, target, reuse=True)
            target = graph["id"]
            how = "reusing graph" if graph["reused"] else "imported it as graph"
            print(f"{args.graph}: {how} {target} v{graph['version']}", file=sys.stderr)
        accepted = client.execute(target, inputs, args.version)
        return report_run(client, args, accepted, f"run {accepted['id']} queued")


def report_run(
    client: ApiClient, args: argparse.Namespace, accepted: dict[str, Any], note: str
) -> int:
    """Print a started run (``accepted``): its id and ``note``, or with --wait its
    progress, outputs and status; the exit code of what was printed."""
    run_id = accepted["id"]
    if not args.wait:
        if args.json:
            print_json(accepted)
        else:
            print(run_id)
            print(note, file=sys.stderr)
        return EXIT_OK
    if args.json:
        # Follow quietly: stdout carries only the final run object.
        for _ in client.follow_events(run_id):
            pass
    else:
        print(note, file=sys.stderr)
        follow_run(client, run_id)
    run = client.run(run_id)
    if args.json:
        print_json(run)
    else:
        _print_run(run)
    return _run_exit(run["status"])


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args) as client:
        run = client.run(args.run_id)
    if args.json:
        print_json(run)
    else:
        print(f"run {run['id']} (graph {run['graph_id']} v{run['graph_version']})")
        print(f"created {when(run['created_at'])}, ended {when(run['ended_at'])}")
        _print_run(run)
    return EXIT_FAILED if run["status"] in ("FAILED", "TERMINATED") else EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    """Attach to a run (running or ended): its progress so far and on, then as `run --wait`."""
    args.wait = True
    with connect(args) as client:
        return report_run(client, args, {"id": args.run_id}, f"watching run {args.run_id}")


def _seconds(node: dict[str, Any]) -> str:
    if node["started_at"] is None:
        return "-"
    if node["ended_at"] is None:
        return "running"
    return f"{node['ended_at'] - node['started_at']:.3f}s"


def cmd_nodes(args: argparse.Namespace) -> int:
    with connect(args) as client:
        nodes = client.node_executions(args.run_id)
        names = {} if args.json else {b["id"]: b["name"] for b in client.blocks()}
    if args.status:
        nodes = [node for node in nodes if node["status"] == args.status]
    if args.json:
        print_json(nodes)
        return EXIT_OK
    rows, lines = [], []
    for node in nodes:
        block = names.get(node["block_id"], node["block_id"])
        error = " ".join(str(node["error"]).split())[:120] if node["error"] else ""
        attempt = f"attempt {node['attempt']}" if node["attempt"] > 1 else ""
        took = _seconds(node)
        rows.append([node["seq"], node["node_id"][:8], block, node["status"], took, attempt, error])
        line = f"{node['seq']:>5}  {node['node_id'][:8]}  {block:<24}  {node['status']:<10}"
        line += f"  {took}"
        if attempt:
            line += f"  {attempt}"
        if error:
            line += f"  {error}"
        lines.append(line)
    show_list(["seq", "node", "block", "status", "time", "attempt", "error"], rows, lines)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with connect(args) as client:
        result = client.cancel(args.run_id)
    print(f"run {result['id']}: cancellation requested ({result['status']})")
    return EXIT_OK


def cmd_runs_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        page = client.list_runs(
            graph_id=args.graph, status=args.status, limit=args.limit, cursor=args.cursor
        )
    if args.json:
        print_json(page["items"])
    else:
        rows = [
            [run["id"], run["status"], when(run["created_at"]), run["graph_id"]]
            for run in page["items"]
        ]
        lines = [f"{r[0]}  {r[1]:<10}  {r[2]}  {r[3]}" for r in rows]
        show_list(["run", "status", "created", "graph"], rows, lines)
    print_next_page(page)
    return EXIT_OK


# -- parser --------------------------------------------------------------------------------


def add_api_commands(sub: Any) -> None:
    """Register the api-key and API client subcommands on ``sub`` (a subparsers action)."""
    keys = sub.add_parser("api-key", help="create, list and revoke API keys (database)")
    key_sub = keys.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    create = key_sub.add_parser("create", help="create a key for a user and print it once")
    create.add_argument("--user", required=True, help="the user the key acts as")
    create.add_argument("--name", help="a label to tell keys apart")
    create.add_argument("--json", action="store_true", help='print {"user", "key", "id"}')
    create.set_defaults(func=cmd_api_key_create)
    listing = key_sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--user", help="only this user's keys")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(func=cmd_api_key_list)
    revoke = key_sub.add_parser("revoke", help="revoke a key by id or shown prefix")
    revoke.add_argument("key", metavar="KEY_ID_OR_PREFIX")
    revoke.set_defaults(func=cmd_api_key_revoke)

    run = sub.add_parser("run", help="start a run on the server (a file is imported first)")
    run.add_argument("graph", metavar="GRAPH_ID_OR_FILE")
    run.add_argument(
        "--input",
        "-i",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="a run input; VALUE is parsed as JSON when it parses, else taken as text",
    )
    run.add_argument("--version", type=int, help="graph version (default: the active one)")
    run.add_argument("--wait", action="store_true", help="follow the run, then print outputs")
    run.add_argument("--json", action="store_true", help="print JSON (the final run with --wait)")
    client_options(run)
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="show a run: status, outputs, error")
    status.add_argument("run_id", metavar="RUN_ID")
    status.add_argument("--json", action="store_true", help="print the run object")
    client_options(status)
    status.set_defaults(func=cmd_status)

    watch = sub.add_parser("watch", help="attach to a run: its progress, then its outputs")
    watch.add_argument("run_id", metavar="RUN_ID")
    watch.add_argument("--json", action="store_true", help="print only the final run object")
    client_options(watch)
    watch.set_defaults(func=cmd_watch)

    nodes = sub.add_parser("nodes", help="list a run's node executions: block, status, time")
    nodes.add_argument("run_id", metavar="RUN_ID")
    nodes.add_argument(
        "--status", choices=["INCOMPLETE", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "TERMINATED"]
    )
    nodes.add_argument("--json", action="store_true", help="print the node executions")
    client_options(nodes)
    nodes.set_defaults(func=cmd_nodes)

    cancel = sub.add_parser("cancel", help="request cancellation of a run")
    cancel.add_argument("run_id", metavar="RUN_ID")
    client_options(cancel)
    cancel.set_defaults(func=cmd_cancel)

    runs = sub.add_parser("runs", help="list runs")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    rlist = runs_sub.add_parser("list", help="list your runs, newest first")
    rlist.add_argument("--graph", help="only runs of this graph id")
    rlist.add_argument(
        "--status", choices=["QUEUED", "RUNNING", "COMPLETED", "FAILED", "TERMINATED"]
    )
    paging_options(rlist)
    rlist.add_argument("--json", action="store_true", help="print a JSON list")
    client_options(rlist)
    rlist.set_defaults(func=cmd_runs_list)

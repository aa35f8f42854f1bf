"""`agent-server graph`: import, list, show, export and delete graphs on the server.

Every command is a client of the REST API (cli_common.connect). ``import_graph_file`` is
shared with `run FILE`, which reuses the graph already imported from the same content.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from backend.cli_common import (
    EXIT_OK,
    UsageError,
    client_options,
    connect,
    paging_options,
    print_json,
    print_next_page,
    read_graph_json,
    when,
)
from backend.cli_render import show_list
from backend.client import ApiClient


def import_graph_file(client: ApiClient, path: str, reuse: bool = False) -> dict[str, Any]:
    """Upload the graph file ``path``; with ``reuse``, the server answers with your live
    graph of the same content when you have one (``reused`` says which)."""
    data = read_graph_json(path)
    # The server validates the graph and reports every problem (422, exit code 2).
    return client.create_graph(data, reuse=reuse)


def is_graph_file(target: str) -> bool:
    """Whether GRAPH_ID_OR_FILE names a file: ``-``, an existing file, or anything that
    looks like a path (a graph id never holds a slash or ends in .json), which must then
    exist: UsageError "no such file"."""
    if target == "-" or Path(target).is_file():
        return True
    if os.sep in target or "/" in target or target.endswith(".json"):
        raise UsageError(f"no such file: {target}")
    return False


def cmd_graph_import(args: argparse.Namespace) -> int:
    with connect(args) as client:
        graph = import_graph_file(client, args.file)
    if args.json:
        print_json(graph)
    else:
        print(graph["id"])
        print(f"imported {graph['name'] or 'graph'} as version {graph['version']}", file=sys.stderr)
        for sub in graph.get("sub_graphs_imported", []):
            how = "reused your unchanged copy" if sub["reused"] else "stored"
            print(
                f"sub-graph {sub['name']!r}: {how} as {sub['id']} v{sub['version']}",
                file=sys.stderr,
            )
        _print_credentials_needed(graph)
        _offer_schedule(graph)
    return EXIT_OK


def _print_credentials_needed(graph: dict[str, Any]) -> None:
    for need in graph.get("credentials_required", []):
        if need["available"]:
            where = "you have one, or the server has a default"
        else:
            where = f"none yet: agent-server credentials add --provider {need['provider']}"
        print(f"needs {need['provider']} credentials ({need['field']}): {where}", file=sys.stderr)


def cmd_graph_export(args: argparse.Namespace) -> int:
    with connect(args) as client:
        export = client.export_graph(args.graph_id)
    export.pop("credentials_required", None)
    print(json.dumps(export, default=str, ensure_ascii=False, indent=2))
    return EXIT_OK


def _offer_schedule(graph: dict[str, Any]) -> None:
    """Tell the user about the schedule an AutoGPT export recommends (never applied)."""
    offer = graph.get("suggested_schedule")
    if not offer:
        return
    if not offer["valid"]:
        print(
            f"its recommended schedule {offer['cron']!r} is unusable: {offer['problem']}",
            file=sys.stderr,
        )
        return
    print(
        f"it recommends running on the schedule {offer['cron']} ({offer['description']}); "
        f"add it with: agent-server schedule add {graph['id']} --cron '{offer['cron']}'",
        file=sys.stderr,
    )


def cmd_graph_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        page = client.list_graphs(limit=args.limit, cursor=args.cursor)
    if args.json:
        print_json(page["items"])
    else:
        rows = [
            [graph["id"], f"v{graph['version']}", when(graph["created_at"]), graph["name"]]
            for graph in page["items"]
        ]
        lines = ["  ".join(str(cell) for cell in row) for row in rows]
        show_list(["graph", "version", "created", "name"], rows, lines)
    print_next_page(page)
    return EXIT_OK


def cmd_graph_show(args: argparse.Namespace) -> int:
    with connect(args) as client:
        graph = client.get_graph(args.graph_id, args.version)
        names = {} if args.json else {b["id"]: b["name"] for b in client.blocks()}
    if args.json:
        print_json(graph)
        return EXIT_OK
    print(f"{graph['id']}  v{graph['version']}  {graph['name']}")
    if graph.get("description"):
        print(f"  {graph['description']}")
    print(f"  {len(graph['nodes'])} nodes, {len(graph['links'])} links")
    for node in graph["nodes"]:
        print(f"  node {node['id']}  {names.get(node['block_id'], node['block_id'])}")
    _print_credentials_needed(graph)
    return EXIT_OK


def cmd_graph_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.delete_graph(args.graph_id)
    print(f"deleted graph {args.graph_id} (its runs keep their history)")
    return EXIT_OK


def add_graph_commands(sub: Any) -> None:
    """Register `graph` and its actions on ``sub`` (a subparsers action)."""
    graph = sub.add_parser(
        "graph", help="import, list, show, export and delete graphs on the server"
    )
    graph_sub = graph.add_subparsers(dest="graph_command", metavar="ACTION", required=True)
    imp = graph_sub.add_parser("import", help="upload a graph file; prints its new id")
    imp.add_argument("file", metavar="FILE.json", help="graph file (AutoGPT export), - for stdin")
    imp.add_argument("--json", action="store_true", help="print the stored graph")
    client_options(imp)
    imp.set_defaults(func=cmd_graph_import)
    export = graph_sub.add_parser(
        "export", help="print a graph as an AutoGPT export, with its sub-graphs"
    )
    export.add_argument("graph_id", metavar="GRAPH_ID")
    client_options(export)
    export.set_defaults(func=cmd_graph_export)
    glist = graph_sub.add_parser("list", help="list your graphs")
    paging_options(glist)
    glist.add_argument("--json", action="store_true", help="print a JSON list")
    client_options(glist)
    glist.set_defaults(func=cmd_graph_list)

    show = graph_sub.add_parser("show", help="a graph: name, version, nodes and their blocks")
    show.add_argument("graph_id", metavar="GRAPH_ID")
    show.add_argument("--version", type=int, help="this version (default: the active one)")
    show.add_argument("--json", action="store_true", help="print the stored graph")
    client_options(show)
    show.set_defaults(func=cmd_graph_show)
    delete = graph_sub.add_parser("delete", help="delete a graph (its runs keep their history)")
    delete.add_argument("graph_id", metavar="GRAPH_ID")
    client_options(delete)
    delete.set_defaults(func=cmd_graph_delete)

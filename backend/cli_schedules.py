"""`agent-server schedule ...`, `rerun` and `resume`: REST clients like cli_api.py.

``schedule add`` takes the cron expression in the user's timezone (the system's local
zone unless --timezone) and prints the next five fire times there, so what will happen
is clear before it does. Exit codes follow cli.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.cli_api import report_run
from backend.cli_common import (
    EXIT_OK,
    UsageError,
    client_options,
    connect,
    parse_inputs,
    print_json,
)
from backend.cli_render import show_list

MISFIRE_POLICIES = ("skip", "once", "each")
_ZONEINFO_MARK = "zoneinfo/"


def local_timezone() -> str:
    """The IANA name of this machine's timezone (TZ, else /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()))
    for candidate in candidates:
        # A path into the zone database names its zone after "zoneinfo/".
        name = candidate.rpartition(_ZONEINFO_MARK)[2]
        with suppress(ValueError, ZoneInfoNotFoundError):
            if name and ZoneInfo(name):
                return name
    return "UTC"


def _print_schedule(schedule: dict[str, Any], with_times: bool = True) -> None:
    state = "enabled" if schedule["enabled"] else "paused"
    label = f"  {schedule['name']}" if schedule["name"] else ""
    print(
        f"{schedule['id']}  {state}  {schedule['cron']}  {schedule['timezone']}  "
        f"graph {schedule['graph_id']}{label}"
    )
    if schedule.get("last_error"):
        print(f"  last error: {schedule['last_error']}")
    if with_times:
        print(f"  {schedule['description']}; next fire times ({schedule['timezone']}):")
        for shown in _fire_times(schedule):
            print(f"    {shown}")


def _fire_times(schedule: dict[str, Any]) -> list[str]:
    """The schedule's next fire times, in its timezone."""
    zone = ZoneInfo(schedule["timezone"])
    return [
        f"{datetime.fromisoformat(when).astimezone(zone):%Y-%m-%d %H:%M:%S %Z (%a)}"
        for when in schedule["next_fire_times"]
    ]


def cmd_schedule_add(args: argparse.Namespace) -> int:
    inputs, problems = parse_inputs(args.input)
    if problems:
        raise UsageError("bad run inputs", problems)
    body: dict[str, Any] = {
        "graph_id": args.graph_id,
        "cron": args.cron,
        "timezone": args.timezone or local_timezone(),
        "inputs": inputs,
        "misfire_policy": args.misfire,
        "name": args.name,
        "enabled": not args.paused,
    }
    if args.version is not None:
        body["graph_version"] = "latest" if args.version == "latest" else int(args.version)
    with connect(args) as client:
        schedule = client.create_schedule(body)
    if args.json:
        print_json(schedule)
    else:
        _print_schedule(schedule)
    return EXIT_OK


def cmd_schedule_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        items = client.list_schedules(args.graph)
    if args.json:
        print_json(items)
        return EXIT_OK
    if sys.stdout.isatty():
        columns = _SCHEDULE_COLUMNS + (["next fire times"] if args.times else [])
        show_list(columns, [_schedule_row(s, args.times) for s in items], [])
        return EXIT_OK
    for schedule in items:
        _print_schedule(schedule, with_times=args.times)
    return EXIT_OK


_SCHEDULE_COLUMNS = ["schedule", "state", "cron", "timezone", "graph", "name", "last error"]


def _schedule_row(schedule: dict[str, Any], with_times: bool) -> list[Any]:
    """A schedule as a table row; with the times, one more cell of its next fire times."""
    state = "enabled" if schedule["enabled"] else "paused"
    row = [schedule["id"], state, schedule["cron"], schedule["timezone"], schedule["graph_id"]]
    row += [schedule["name"], schedule.get("last_error")]
    if with_times:
        row.append("\n".join(_fire_times(schedule)))
    return row


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    with connect(args) as client:
        schedule = client.set_schedule_enabled(args.schedule_id, enabled)
    _print_schedule(schedule, with_times=enabled)
    return EXIT_OK


def cmd_schedule_pause(args: argparse.Namespace) -> int:
    return _set_enabled(args, False)


def cmd_schedule_resume(args: argparse.Namespace) -> int:
    return _set_enabled(args, True)


def cmd_schedule_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        client.delete_schedule(args.schedule_id)
    print(f"deleted schedule {args.schedule_id}")
    return EXIT_OK


def cmd_rerun(args: argparse.Namespace) -> int:
    with connect(args) as client:
        accepted = client.rerun(args.run_id)
        note = f"run {accepted['id']} queued: a rerun of {args.run_id}"
        return report_run(client, args, accepted, note)


def cmd_resume(args: argparse.Namespace) -> int:
    with connect(args) as client:
        accepted = client.resume(args.run_id)
        reused = len(accepted["reused"])
        to_run = ", ".join(accepted["to_run"]) or "nothing"
        note = (
            f"run {accepted['id']} queued: resumes {args.run_id}, reusing {reused} completed "
            f"node execution(s); runs {to_run} and what follows"
        )
        return report_run(client, args, accepted, note)


def _run_command(sub: Any, name: str, help_text: str, func: Any) -> None:
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--wait", action="store_true", help="follow the run, then print outputs")
    parser.add_argument("--json", action="store_true", help="print JSON")
    client_options(parser)
    parser.set_defaults(func=func)


def add_schedule_commands(sub: Any) -> None:
    """Register `schedule`, `rerun` and `resume` on ``sub`` (a subparsers action)."""
    schedule = sub.add_parser("schedule", help="run graphs on a cron schedule")
    actions = schedule.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="schedule a graph; prints the next five fire times in your timezone"
    )
    add.add_argument("graph_id", metavar="GRAPH_ID")
    add.add_argument("--cron", required=True, help="e.g. '*/15 * * * *' (6 fields: seconds first)")
    add.add_argument("--timezone", help="IANA name (default: this machine's, else UTC)")
    add.add_argument(
        "--input", "-i", metavar="NAME=VALUE", action="append", default=[], help="a run input"
    )
    add.add_argument("--version", help="graph version, or latest (the default)")
    add.add_argument(
        "--misfire",
        choices=MISFIRE_POLICIES,
        default="once",
        help="missed slots (the server was down): skip them, run once for all, or each",
    )
    add.add_argument("--name", default="", help="a label")
    add.add_argument("--paused", action="store_true", help="create it paused")
    add.add_argument("--json", action="store_true", help="print the schedule")
    client_options(add)
    add.set_defaults(func=cmd_schedule_add)
    listing = actions.add_parser("list", help="list your schedules")
    listing.add_argument("--graph", help="only this graph's")
    listing.add_argument("--times", action="store_true", help="also the next five fire times")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    client_options(listing)
    listing.set_defaults(func=cmd_schedule_list)
    for name, func, text in (
        ("pause", cmd_schedule_pause, "stop firing (slots while paused never run)"),
        ("resume", cmd_schedule_resume, "fire again from the next slot on"),
        ("delete", cmd_schedule_delete, "delete a schedule"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("schedule_id", metavar="SCHEDULE_ID")
        client_options(action)
        action.set_defaults(func=func)

    _run_command(sub, "rerun", "start a run again (same graph version, same inputs)", cmd_rerun)
    _run_command(
        sub,
        "resume",
        "resume a FAILED or TERMINATED run: reuse what completed, run the rest",
        cmd_resume,
    )

"""How `agent-server` shows a followed run and the lists it prints, terminal or not.

On a terminal (stderr for a run, stdout for a list) output is drawn with rich: one live
progress bar for a run (nodes done/total, the block of the latest node, elapsed time)
and a table for a list. Anywhere else (a pipe, a log, a test) a run prints a few lines
whatever its size: one per status change of the run and a summary at its end, and a
list keeps its plain lines, which scripts read.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from typing import IO, Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from backend.client import ApiClient, ApiError, SseEvent

_ENDS = ("COMPLETED", "FAILED", "TERMINATED")


def stream_console(stream: TextIO) -> Console:
    """A console on ``stream`` that is a terminal exactly when the stream is one (rich
    alone would also believe FORCE_COLOR, and draw a bar into a CI log)."""
    return Console(file=stream, force_terminal=stream.isatty(), highlight=False)


class RunProgress:
    """What a followed run has done so far, fed its events in order (``add``)."""

    def __init__(self, run_id: str, planned: int = 0) -> None:
        self.run_id = run_id
        self.planned = planned  # nodes in the run's graph, when known
        self.ended = dict.fromkeys(_ENDS, 0)
        self.seen: set[str] = set()
        self.block = ""
        self.status: str | None = None
        self.first_failure: str | None = None
        self.started = time.monotonic()

    @property
    def done(self) -> int:
        return sum(self.ended.values())

    @property
    def total(self) -> int:
        # A graph's node count until the run goes further (a loop, a retried node): a
        # bar never shows more done than total.
        return max(self.planned, len(self.seen), self.done)

    def add(self, event: SseEvent) -> str | None:
        """Take one event; the run's new status when it changed, else None."""
        data = event.data
        if event.type == "node_status":
            self.seen.add(str(data.get("node_exec_id", data["node_id"])))
            self.block = data.get("block_name") or data["block_id"]
            status = data["status"]
            if status in self.ended:
                self.ended[status] += 1
            if status == "FAILED" and self.first_failure is None:
                error = " ".join(str(data.get("error") or "").split())[:160]
                self.first_failure = f"node {data['node_id'][:8]} {self.block}: {error}"
            return None
        if event.type == "run_status" and data["status"] != self.status:
            self.status = data["status"]
            return self.status
        return None

    def summary(self) -> list[str]:
        """The lines that end a followed run: first failure, node counts, its status."""
        counts = ", ".join(f"{n} {status}" for status, n in self.ended.items() if n)
        took = time.monotonic() - self.started
        lines = [f"first failure: {self.first_failure}"] if self.first_failure else []
        lines.append(f"nodes: {counts or 'none ended'} ({took:.1f} s watched)")
        return lines


def _planned_nodes(client: ApiClient, run_id: str) -> int:
    """How many nodes the run's graph has; 0 when that cannot be read (a deleted graph)."""
    try:
        run = client.run(run_id)
        graph = client.get_graph(run["graph_id"], run.get("graph_version"))
    except (ApiError, KeyError):
        return 0
    return len(graph.get("nodes", []))


def follow_run(client: ApiClient, run_id: str, console: Console | None = None) -> None:
    """Follow a run to its end, showing its progress on ``console`` (default stderr)."""
    console = console or stream_console(sys.stderr)
    progress = RunProgress(run_id, _planned_nodes(client, run_id))
    events = client.follow_events(run_id)
    if console.is_terminal:
        _follow_live(progress, events, console)
    else:
        _follow_plain(progress, events, console.file)


def _status_line(progress: RunProgress, status: str) -> str:
    return f"run {progress.run_id}: {status}"


def _follow_plain(progress: RunProgress, events: Iterable[SseEvent], out: IO[str]) -> None:
    for event in events:
        status = progress.add(event)
        if status is None:
            continue
        if status in _ENDS:
            for line in progress.summary():
                print(line, file=out)
        print(_status_line(progress, status), file=out, flush=True)


def _follow_live(progress: RunProgress, events: Iterable[SseEvent], console: Console) -> None:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("nodes  {task.fields[block]}"),
        TimeElapsedColumn(),
        console=console,
    )
    with bar:
        task: TaskID = bar.add_task(
            f"run {progress.run_id[:8]}", total=progress.total or None, block=""
        )
        for event in events:
            status = progress.add(event)
            bar.update(task, completed=progress.done, total=progress.total, block=progress.block)
            if status is not None and status not in _ENDS:
                _say(bar.console, _status_line(progress, status))
            elif status is not None:
                bar.update(task, total=progress.done)
    # The bar stays on screen at its last state; the summary goes below it.
    for line in progress.summary():
        _say(console, line)
    if progress.status is not None:
        _say(console, _status_line(progress, progress.status))


def _say(console: Console, line: str) -> None:
    # Plain text: an error message may hold brackets rich would read as markup.
    console.print(line, markup=False, highlight=False)


def show_list(columns: Sequence[str], rows: Sequence[Sequence[Any]], lines: Iterable[str]) -> None:
    """A list on stdout: a table on a terminal, else ``lines`` (the plain output)."""
    if sys.stdout.isatty():
        stream_console(sys.stdout).print(make_table(columns, rows))
        return
    for line in lines:
        print(line)


def make_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for i, column in enumerate(columns):
        # The first column is the id a user copies into the next command: never wrapped.
        table.add_column(column, no_wrap=i == 0)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    return table

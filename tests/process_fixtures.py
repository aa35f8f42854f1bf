"""Small real AppProcess subclasses and process helpers for the process-model tests.

They live in an importable module because run_processes() spawns children: a spawned
interpreter finds the class by its module path.

Each process announces itself on stdout as ``ready <label> <pid>`` so a test driving a
run_processes() script can learn every pid, including the children's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from backend.errors import BackendError
from backend.util.process import AppProcess

REPO_ROOT = Path(__file__).resolve().parent.parent

# Long enough to outlast any test; short enough that a leaked process ends by itself.
_LINGER_SECONDS = 120.0
# Long enough for a signalled child to exit before the foreground finishes draining.
_DRAIN_SECONDS = 1.0


class Announcing(AppProcess):
    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def announce(self) -> None:
        say(f"ready {self.label} {os.getpid()}")


class Idle(Announcing):
    """Serves nothing until asked to stop, then returns at once."""

    def run(self) -> None:
        self.announce()
        self.wait_for_stop()


class SlowStop(Announcing):
    """Acknowledges a stop request but keeps draining far beyond any test's patience."""

    def run(self) -> None:
        self.announce()
        self.wait_for_stop()
        say(f"draining {self.label}")
        threading.Event().wait(_LINGER_SECONDS)


class Draining(Announcing):
    """Takes a moment to wind down, like an executor handing back its runs."""

    def run(self) -> None:
        self.announce()
        self.wait_for_stop()
        time.sleep(_DRAIN_SECONDS)


class Failing(Announcing):
    """Hits an expected error (as a bad database would) after announcing itself."""

    def run(self) -> None:
        self.announce()
        raise BackendError(f"{self.label} cannot continue: fixture failure")


def say(line: str) -> None:
    # One write per line: the processes share one stdout pipe, and a single small write
    # to a pipe is never interleaved with another process's.
    os.write(1, f"{line}\n".encode())


KINDS: dict[str, Callable[[str], AppProcess]] = {
    "idle": Idle,
    "draining": Draining,
    "slow-stop": SlowStop,
    "failing": Failing,
}

# Run with `python -c RUNNER kind:label ...`: the last spec runs in the foreground.
RUNNER = (
    "import sys\n"
    "from backend.app import run_processes\n"
    "from tests.process_fixtures import build\n"
    "run_processes(*build(sys.argv[1:]))\n"
)


def build(specs: list[str]) -> list[AppProcess]:
    processes = []
    for spec in specs:
        kind, _, label = spec.partition(":")
        processes.append(KINDS[kind](label or kind))
    return processes


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs; a zombie (dead, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

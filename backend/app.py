"""run_processes(): start services, supervise them, stop them all together.

Every process but the last runs as a child; the last runs in the foreground. If a child
dies while the foreground runs, the foreground is stopped and the call exits non-zero so
the process manager restarts the whole group (fail fast, nothing half-alive). On every
exit the children get SIGTERM, then SIGKILL after their grace period.
"""

from __future__ import annotations

import logging
import sys
import threading
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import NoReturn

from backend.util.process import EXIT_FAILURE, AppProcess, block_stop_signals

logger = logging.getLogger(__name__)

# Children get their own shutdown grace, plus this margin to exit after it.
_EXIT_MARGIN_SECONDS = 5.0
_REAP_SECONDS = 1.0


def run_processes(*processes: AppProcess) -> NoReturn:
    sys.exit(supervise(*processes))


def supervise(*processes: AppProcess) -> int:
    if not processes:
        raise ValueError("run_processes needs at least one process")
    *background, foreground = processes
    children: list[BaseProcess] = []
    died: list[BaseProcess] = []
    finished = threading.Event()

    def watch() -> None:
        block_stop_signals()
        ready = wait([child.sentinel for child in children])
        ended = [child for child in children if child.sentinel in ready]
        for child in ended:
            # The sentinel closes a moment before the child can be reaped; join so
            # its exit code is known.
            child.join(_REAP_SECONDS)
        if finished.is_set():
            return
        # supervisord's stopasgroup signals every process at once: a child that ends
        # cleanly while the foreground is stopping is part of that stop, not a crash.
        if foreground.stopping and all(child.exitcode == 0 for child in ended):
            return
        died.extend(ended)
        for child in died:
            logger.error("child %s (pid %s) exited with %s", child.name, child.pid, child.exitcode)
        foreground.stop()

    try:
        for process in background:
            child = process.start(background=True)
            assert isinstance(child, BaseProcess)
            children.append(child)
        if children:
            threading.Thread(target=watch, name="child-watch", daemon=True).start()
        code = foreground.start()
        assert isinstance(code, int)
    finally:
        finished.set()
        _stop_children(children, _grace_seconds(foreground))
    return EXIT_FAILURE if died else code


def _grace_seconds(process: AppProcess) -> float:
    return process.settings.shutdown_grace_seconds + _EXIT_MARGIN_SECONDS


def _stop_children(children: list[BaseProcess], grace: float) -> None:
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join(grace)
        if child.is_alive():
            logger.warning("child %s (pid %s) ignored SIGTERM; killing it", child.name, child.pid)
            child.kill()
            child.join()


def main() -> None:
    """Development: every service in one process tree (executor and scheduler children,
    the API here)."""
    from backend.executor.manager import ExecutionManager
    from backend.schedules.process import Scheduler
    from backend.server.process import AgentServer

    run_processes(ExecutionManager(), Scheduler(), AgentServer())


if __name__ == "__main__":
    main()

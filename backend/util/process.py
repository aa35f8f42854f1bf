"""AppProcess: the lifecycle every long-running service of the backend shares.

A process runs in the foreground (``start()``) or as a child (``start(background=True)``).
Its ``_main`` is the only place that turns outcomes into exit codes:

* ``run()`` returns          -> exit 0 (graceful stop)
* a ``BackendError`` escapes -> ONE log line naming the problem, exit 1 (fail fast)
* anything else escapes      -> a traceback, exit 1 (a bug)

Signal handlers only set flags: the first SIGTERM/SIGINT asks ``run()`` to wind down
(two-phase shutdown is the subclass's business), a second one ends the process at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, ClassVar

from backend.errors import BackendError
from backend.settings import Settings, load_settings
from backend.util.logs import configure_logging

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
# Children are spawned, not forked: a fresh interpreter inherits no locks, threads or
# open database connections from the parent.
_mp = multiprocessing.get_context("spawn")
_SIGNAL_SLICE_SECONDS = 1.0


class AppProcess(ABC):
    name: ClassVar[str] = "process"

    def __init__(self, settings: Settings | None = None) -> None:
        self._given_settings = settings
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._stop_requested = threading.Event()
        self._stop_callbacks: list[Callable[[], None]] = []
        self.settings: Settings = self._given_settings or Settings.model_construct()

    # Configuration (constructor arguments, subclasses' included) crosses to a spawned
    # child; runtime state (flags, callbacks, loaded settings) is rebuilt there.
    _RUNTIME_ATTRS: ClassVar[frozenset[str]] = frozenset(
        {"_stop_requested", "_stop_callbacks", "settings"}
    )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._RUNTIME_ATTRS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    # -- what subclasses implement --------------------------------------------------

    @abstractmethod
    def run(self) -> None:
        """Serve until ``stopping`` becomes true, then wind down and return."""

    def cleanup(self) -> None:  # noqa: B027 - optional hook
        """Release resources; runs after ``run`` however it ended."""

    # -- stop requests (thread- and signal-safe: they only set flags) ---------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def stop(self) -> None:
        self._stop_requested.set()
        for callback in list(self._stop_callbacks):
            callback()

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a stop is requested (e.g. to wake an event loop)."""
        self._stop_callbacks.append(callback)
        if self.stopping:
            callback()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Wait until a stop is requested (True) or ``timeout`` passes (False).

        The wait wakes every ``_SIGNAL_SLICE_SECONDS``: a signal that lands just before
        the thread blocks interrupts nothing, and its handler runs only on the next wake.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _SIGNAL_SLICE_SECONDS if deadline is None else deadline - time.monotonic()
            if self._stop_requested.wait(min(left, _SIGNAL_SLICE_SECONDS)):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    # -- starting ---------------------------------------------------------------------

    def start(self, background: bool = False) -> BaseProcess | int:
        """Run in a spawned child (returns the process) or here (returns the exit code)."""
        if background:
            child = _mp.Process(target=_child_main, args=(self,), name=self.name)
            child.start()
            return child
        return self._main()

    def _main(self) -> int:
        multiprocessing.current_process().name = self.name
        configure_logging()
        self._install_signal_handlers()
        try:
            self.settings = self._given_settings or load_settings()
            configure_logging(self.settings.log_level, self.settings.log_format)
            self.run()
            return EXIT_OK
        except BackendError as exc:
            logger.error("%s: %s", self.name, exc.message)
            return EXIT_FAILURE
        except Exception:
            logger.exception("%s crashed", self.name)
            return EXIT_FAILURE
        finally:
            try:
                self.cleanup()
            except Exception:
                logger.exception("%s cleanup failed", self.name)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The operator who signals again insists: no more grace. The kernel's default
        # action ends the process at once; a Python-level handler could not, as it runs
        # only when the main thread wakes, and a wait the signal raced with sleeps on.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.stop()


def settings_or_exit(name: str) -> Settings:
    """The settings, or exit 1 with one line naming the bad one.

    Entrypoints call this before their slow imports, so a bad setting ends a start well
    inside supervisord's startsecs: every try then counts as a failed start, and the
    program ends FATAL instead of restarting for ever on a loaded machine.
    """
    multiprocessing.current_process().name = name
    configure_logging()
    try:
        return load_settings()
    except BackendError as exc:
        logger.error("%s: %s", name, exc.message)
        raise SystemExit(EXIT_FAILURE) from None


def block_stop_signals() -> None:
    """Call first in every helper thread: SIGTERM/SIGINT then always reach the main thread.

    The kernel hands a process-wide signal to any thread that does not block it; Python
    runs the handler in the main thread, but if another thread received the signal, a main
    thread blocked in a wait is not woken and the stop waits for its next wake-up.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def _child_main(process: AppProcess) -> None:
    # A parent that ends without stopping its children (SIGKILL, or a second signal that
    # exits at once) must not leave them behind: they stop as if signalled.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_stop_when_parent_exits, args=(process, parent), name="parent-watch", daemon=True
        ).start()
    raise SystemExit(process._main())


def _stop_when_parent_exits(process: AppProcess, parent: BaseProcess) -> None:
    block_stop_signals()
    parent.join()
    process.stop()

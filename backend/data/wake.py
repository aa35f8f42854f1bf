"""Waking idle executors on one host without a database that pushes (SQLite).

Every listening executor binds a unix datagram socket in one directory next to the
database file; whoever commits new work sends one datagram to every socket there. A send
is best effort: a socket whose executor is gone (stale file), a full queue or a missing
directory is skipped, and executors still poll every BACKEND_POLL_SECONDS, so a lost
wake-up costs latency, never a run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

# How often the receiving thread looks whether it was stopped.
_STOP_CHECK_SECONDS = 0.5
# sun_path holds 108 bytes on Linux, the terminating NUL included.
_MAX_PATH_BYTES = 107


def wake_dir(database: Path) -> Path:
    return database.parent / "wake"


def wake_all(directory: Path) -> None:
    """One datagram to every socket in ``directory``; never raises."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return  # no listener has ever started here: polling it is
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for entry in entries:
            if not entry.name.endswith(".sock"):
                continue
            # Refused: its executor died and left the file; would block: it has wake-ups
            # queued already. Either way there is nothing to add.
            with contextlib.suppress(OSError):
                sender.sendto(b"w", entry.path)


class WakeListener:
    """A socket of this process in the wake directory, and a thread calling back on every
    datagram that arrives."""

    def __init__(self, directory: Path, on_wakeup: Callable[[], None]) -> None:
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        self._on_wakeup = on_wakeup
        self._stopped = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._receive, name="wake-listener", daemon=True)

    def start(self) -> bool:
        """False (and a warning) where the socket cannot be made: callers poll instead."""
        if len(os.fsencode(self.path)) > _MAX_PATH_BYTES:
            logger.warning("wake socket path %s is too long; polling only", self.path)
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(self.path))
        except OSError as exc:
            logger.warning("cannot listen on %s (%s); polling only", self.path, exc.strerror)
            return False
        sock.settimeout(_STOP_CHECK_SECONDS)
        self._socket = sock
        self._thread.start()
        return True

    def _receive(self) -> None:
        assert self._socket is not None
        while not self._stopped.is_set():
            try:
                self._socket.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            self._on_wakeup()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(_STOP_CHECK_SECONDS * 4)
        if self._socket is not None:
            self._socket.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

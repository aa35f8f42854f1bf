"""A dead side task stops the executor with exit code 1, so supervisord restarts it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from backend.data.sqlite import SQLiteStore


def test_executor_exits_1_when_its_heartbeat_dies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env.update(
        BACKEND_DATA_DIR=str(tmp_path),
        BACKEND_HEARTBEAT_SECONDS="0.1",
        BACKEND_LEASE_SECONDS="1",
    )
    executor = subprocess.Popen(
        [sys.executable, "-m", "backend.exec"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        database = tmp_path / "backend.db"
        deadline = time.monotonic() + 20
        while not (database.exists() and _registered(database)):
            assert executor.poll() is None, executor.stderr.read() if executor.stderr else ""
            assert time.monotonic() < deadline, "the executor never registered"
            time.sleep(0.05)
        # The heartbeat's table disappears under it (a broken or foreign schema).
        with sqlite3.connect(database) as conn:
            conn.execute("DROP TABLE executors")
        code = executor.wait(timeout=20)
        log = executor.stderr.read() if executor.stderr else ""
    finally:
        if executor.poll() is None:
            executor.kill()
            executor.wait()
    assert code == 1
    assert "side task heartbeat ended" in log
    assert "Traceback" not in log


def _registered(database: Path) -> bool:
    store = SQLiteStore(f"sqlite:///{database}")
    try:
        return bool(store.list_executors())
    except Exception:
        return False
    finally:
        store.close()

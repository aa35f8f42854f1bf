"""`python -m backend.rest`: serves on BACKEND_API_PORT, stops on SIGTERM with exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.data.api_keys import hash_key, new_key, shown_prefix
from backend.data.open import open_store
from backend.server.events import RETRY_MILLISECONDS
from backend.settings import Settings
from tests.api.conftest import wait_graph

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(tmp_path: Path, port: int, **settings: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env.update(BACKEND_DATA_DIR=str(tmp_path), BACKEND_API_PORT=str(port), PYTHONUNBUFFERED="1")
    env.update(settings)
    return subprocess.Popen(
        [sys.executable, "-m", "backend.rest"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("the REST API did not come up")


def test_serves_and_stops_gracefully_on_sigterm_even_with_an_open_stream(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = start(tmp_path, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        assert httpx.get(f"{url}/ready").status_code == 200
        store = open_store(Settings(data_dir=tmp_path))
        key = new_key()
        store.create_api_key("alice", hash_key(key), shown_prefix(key), time.time())
        store.close()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            graph = client.post("/api/v1/graphs", json=wait_graph(30)).json()
            run = client.post(
                f"/api/v1/graphs/{graph['id']}/execute", json={"inputs": {"x": 1}}
            ).json()
            # No executor runs: the stream stays open until the server stops.
            with client.stream("GET", f"/api/v1/executions/{run['id']}/events") as stream:
                lines = stream.iter_lines()
                # The reconnection delay, then the run's first event.
                assert [next(lines), next(lines)] == [f"retry: {RETRY_MILLISECONDS}", ""]
                assert next(lines).startswith("id: ")
                process.send_signal(signal.SIGTERM)
                list(lines)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "REST API stopped" in output
    assert "Traceback" not in output


def test_a_busy_port_fails_the_start_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = start(tmp_path, busy.getsockname()[1])
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "cannot listen on 127.0.0.1" in output
    assert "Traceback" not in output

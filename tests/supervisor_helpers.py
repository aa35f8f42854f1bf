"""Run the real supervisord.conf under a throw-away var/ directory and drive it over XML-RPC.

The test config is derived from the checkout's supervisord.conf by text substitution:
every runtime path (``%(here)s/var``) moves to a temporary directory, while ``command``
and ``directory`` keep pointing at the checkout. ``overrides`` change single keys of a
section the way an operator would edit the file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from supervisor.xmlrpc import SupervisorTransport

from backend.data.sqlite import SQLiteStore
from tests.process_fixtures import REPO_ROOT, pid_alive, wait_until

T = TypeVar("T")

REAL_CONF = REPO_ROOT / "supervisord.conf"
BIN_DIR = Path(sys.executable).parent
# How long supervisord may take to come up and to shut down its programs.
SOCKET_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 40.0

ProcessInfo = dict[str, Any]


Overrides = Mapping[str, Mapping[str, str] | None]


def derive_conf(var_dir: Path, overrides: Overrides | None = None) -> str:
    """The real config with runtime files under ``var_dir`` and ``overrides`` applied
    (a section overridden with None is left out: that program does not run)."""
    text = REAL_CONF.read_text()
    text = text.replace("%(here)s/var", str(var_dir)).replace("%(here)s", str(REPO_ROOT))
    for section, values in (overrides or {}).items():
        text = _drop_section(text, section) if values is None else set_keys(text, section, values)
    return text


def process_name(name: str) -> str:
    """The full supervisor name of a process: every program is a group of its own, named
    after the program (executor_01 is executor:executor_01, rest is rest:rest)."""
    return f"{re.sub(r'_[0-9]+$', '', name)}:{name}"


def _section_bounds(lines: list[str], section: str) -> tuple[int, int]:
    start = lines.index(f"[{section}]")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return start, end


def _drop_section(text: str, section: str) -> str:
    lines = text.splitlines()
    start, end = _section_bounds(lines, section)
    return "\n".join(lines[:start] + lines[end:]) + "\n"


def set_keys(text: str, section: str, values: Mapping[str, str]) -> str:
    lines = text.splitlines()
    start, end = _section_bounds(lines, section)
    pending = dict(values)
    for i in range(start + 1, end):
        match = re.match(r"([A-Za-z_]+)\s*=", lines[i])
        if match and match.group(1) in pending:
            key = match.group(1)
            lines[i] = f"{key}={pending.pop(key)}"
    lines[end:end] = [f"{key}={value}" for key, value in pending.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Supervisor:
    rpc: Any  # the ``supervisor`` namespace of the XML-RPC proxy
    conf: Path
    var_dir: Path
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    known_pids: set[int] = field(default_factory=set)

    # -- process information ---------------------------------------------------------

    def info(self, name: str) -> ProcessInfo:
        info: ProcessInfo = self.rpc.getProcessInfo(process_name(name))
        self._remember(info)
        return info

    def all_info(self) -> list[ProcessInfo]:
        infos: list[ProcessInfo] = self.rpc.getAllProcessInfo()
        for info in infos:
            self._remember(info)
        return infos

    def _remember(self, info: ProcessInfo) -> None:
        if info["pid"]:
            self.known_pids.add(info["pid"])

    def wait_state(self, name: str, state: str, timeout: float) -> ProcessInfo:
        def probe() -> ProcessInfo | None:
            info = self.info(name)
            return info if info["statename"] == state else None

        return wait_for(probe, timeout, f"{name} to reach {state}")

    def wait_all(self, state: str, timeout: float, prefix: str = "") -> list[ProcessInfo]:
        """Wait until every process whose name starts with ``prefix`` is in ``state``."""

        def probe() -> list[ProcessInfo] | None:
            infos = [i for i in self.all_info() if i["name"].startswith(prefix)]
            return infos if infos and all(i["statename"] == state for i in infos) else None

        return wait_for(probe, timeout, f"every {prefix or 'process'} to reach {state}")

    def wait_api(self, timeout: float) -> None:
        """Wait until the REST API answers /health: RUNNING only means up for startsecs,
        and on a loaded machine it may still be starting to listen."""
        url = f"http://127.0.0.1:{self.env['BACKEND_API_PORT']}/health"

        def probe() -> bool | None:
            try:
                return httpx.get(url, timeout=5).status_code == 200 or None
            except httpx.TransportError:
                return None

        wait_for(probe, timeout, "the REST API to listen")

    def log_path(self, name: str) -> Path:
        """The program's log: what it writes on stderr (its stdout goes to ``.out``)."""
        return self.var_dir / f"{name}.log"

    def stop(self, name: str) -> bool:
        """Stop one process and wait until it has stopped."""
        return bool(self.rpc.stopProcess(process_name(name), True))

    def start(self, name: str) -> bool:
        """Start one process and wait until it is RUNNING (up for startsecs)."""
        return bool(self.rpc.startProcess(process_name(name), True))

    # -- the database the programs share ---------------------------------------------------

    @contextmanager
    def store(self) -> Iterator[SQLiteStore]:
        """The programs' database, once they have migrated it (RUNNING only means a program
        stayed up for startsecs; on a loaded machine it may still be importing)."""
        store = SQLiteStore(f"sqlite:///{self.data_dir / 'backend.db'}")
        try:
            wait_for(lambda: store.schema_is_current() or None, 60, "the schema migration")
            yield store
        finally:
            store.close()

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN_DIR / "supervisorctl"), "-c", str(self.conf), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=SOCKET_TIMEOUT,
        )


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something other than None (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def supervisord_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without BACKEND_* settings, plus the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env["BACKEND_DATA_DIR"] = str(data_dir)
    # A stopping executor has nothing to drain here; keep stops quick.
    env["BACKEND_SHUTDOWN_GRACE_SECONDS"] = "2"
    # Test instances run side by side: each REST API gets a port of its own.
    env["BACKEND_API_HOST"] = "127.0.0.1"
    env["BACKEND_API_PORT"] = str(free_port())
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_supervisord(
    env: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
) -> Iterator[Supervisor]:
    """Start supervisord in the foreground on a derived config; stop everything on exit."""
    # A short base path: unix socket paths are limited to ~100 bytes.
    base = Path(tempfile.mkdtemp(prefix="agsv-"))
    var_dir, data_dir = base / "var", base / "data"
    var_dir.mkdir()
    conf = base / "supervisord.conf"
    conf.write_text(derive_conf(var_dir, overrides))
    full_env = supervisord_env(data_dir, env)
    output = open(base / "supervisord.out", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [str(BIN_DIR / "supervisord"), "-n", "-c", str(conf)],
        cwd=REPO_ROOT,
        env=full_env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    sock = var_dir / "supervisor.sock"
    sup: Supervisor | None = None
    try:
        wait_for(
            lambda: supervisord_ready(sock, process, base), SOCKET_TIMEOUT, "the supervisord socket"
        )
        sup = Supervisor(rpc_proxy(sock), conf, var_dir, data_dir, full_env, process)
        yield sup
    finally:
        _shutdown(sup, process)
        output.close()
        shutil.rmtree(base, ignore_errors=True)


def rpc_proxy(sock: Path) -> Any:
    transport = SupervisorTransport("", "", f"unix://{sock}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def supervisord_ready(sock: Path, process: subprocess.Popen[bytes], base: Path) -> bool | None:
    if process.poll() is not None:
        out = (base / "supervisord.out").read_text(errors="replace")
        raise AssertionError(f"supervisord exited with {process.returncode}: {out}")
    if not sock.exists():
        return None
    # A fresh connection per probe: a failed request leaves the transport unusable.
    try:
        return rpc_proxy(sock).getState()["statename"] == "RUNNING" or None
    except (OSError, xmlrpc.client.Error):
        return None


def _shutdown(sup: Supervisor | None, process: subprocess.Popen[bytes]) -> None:
    # Every pid supervisord knew about: from XML-RPC if it still answers, else from /proc.
    known = set(sup.known_pids) if sup is not None else set()
    known |= _children_of(process.pid)
    if sup is not None:
        with suppress(Exception):
            known |= {info["pid"] for info in sup.all_info() if info["pid"]}
        with suppress(Exception):
            sup.rpc.shutdown()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        known |= _children_of(process.pid)
        process.kill()
        process.wait()
    # supervisord made each program a process-group leader; take the groups down with
    # them, but only if the pid still runs our code (pids get reused).
    leftover = [pid for pid in known if pid_alive(pid) and _runs_backend(pid)]
    for pid in leftover:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(pid) for pid in leftover), SOCKET_TIMEOUT)


def _children_of(parent: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                children.add(int(stat.parent.name))
    return children


def _runs_backend(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"backend" in cmdline


def api_key(sup: Supervisor, user: str) -> str:
    """A new API key of ``user``, made by the CLI against the group's database."""
    created = subprocess.run(
        [str(BIN_DIR / "agent-server"), "api-key", "create", "--user", user, "--json"],
        env=sup.env,
        cwd=sup.var_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    return str(json.loads(created.stdout)["key"])

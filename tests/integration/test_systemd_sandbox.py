"""deploy/agent-server.service starts the group under its own restrictions, without systemd.

The unit is parsed (tests/systemd_sandbox.py) and its ExecStart, WorkingDirectory,
Environment, ReadWritePaths and UMask are used as written, with its paths mapped into a
temporary tree laid out as deploy/README.md installs it: a root-owned copy of the release
(``backend/``, ``supervisord.conf``, ``.venv``, compiled as root) for /opt/agent-server,
its ``var/`` and the data directory owned by the service user, the settings file from
deploy/env.example (root, the user's group, 0640). ``nobody`` stands in for User=.

Emulated, in a private mount namespace entered as root:

- ProtectSystem=strict: every mount is remounted read-only (bind remounts) except /proc,
  /dev, the private /tmp and /var/tmp and the mapped ReadWritePaths, which are bind
  mounts of their own left writable. /sys is read-only too where the kernel allows it.
- PrivateTmp=true: a fresh tmpfs on /tmp and /var/tmp (the mapped tree, kept in a
  temporary directory, is bound back at its own path inside the new /tmp).
- ProtectHome=true: an empty tmpfs on /root, /home and /run/user. Not as systemd does it:
  they are traversable (mode 0711, not 000) because this machine's interpreter and
  virtualenv may live under /root; those directories alone are bound back.
- User=/Group=, NoNewPrivileges=true, CapabilityBoundingSet= and AmbientCapabilities=:
  ``setpriv --reuid --regid --init-groups --no-new-privs --inh-caps=-all
  --bounding-set=-all``; the test checks each program's uid, NoNewPrivs and capability sets.
- UMask=0027 and a systemd-like clean environment (PATH, LANG, USER, LOGNAME, HOME, SHELL
  plus Environment=).
- KillMode=mixed with KillSignal=SIGTERM: SIGTERM to supervisord only.

Not emulated: SystemCallFilter/SystemCallArchitectures (seccomp), RestrictAddressFamilies,
RestrictNamespaces, RestrictSUIDSGID, RestrictRealtime, LockPersonality,
ProtectProc/ProcSubset (other users' processes stay visible in /proc), PrivateDevices/
DevicePolicy (the host's /dev), ProtectKernel*/ProtectControlGroups/ProtectClock/
ProtectHostname beyond a read-only /sys, KeyringMode, RemoveIPC, the control group and
TimeoutStopSec's final SIGKILL. tests/unit/test_systemd_unit.py rates those settings offline.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.integration.test_first_hour import CALCULATOR, agent_server
from tests.process_fixtures import REPO_ROOT, pid_alive, wait_until
from tests.supervisor_helpers import (
    Supervisor,
    free_port,
    rpc_proxy,
    supervisord_ready,
    wait_for,
)
from tests.systemd_sandbox import (
    HOME_DIRS,
    Service,
    is_under,
    map_path,
    read_unit,
    sandbox_command,
    service_of,
)

pytestmark = pytest.mark.supervisord

UNIT = REPO_ROOT / "deploy" / "agent-server.service"
USER = "nobody"
# Bounds, not expectations.
UP_TIMEOUT = 60.0
STOP_TIMEOUT = 45.0  # the unit's TimeoutStopSec


@dataclasses.dataclass
class Layout:
    base: Path
    install: Path
    var: Path
    data: Path
    env_file: Path
    api_port: int


def _skip_unless_possible() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: mount namespaces and setpriv to another user")
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=10
    )
    if probe.returncode != 0:
        pytest.skip(f"unshare -m not permitted here: {probe.stderr.decode().strip()}")


def _install(base: Path) -> Layout:
    """deploy/README.md's layout under ``base``: root owns the release, the user var/ and
    the data directory, the settings file is root's with the user's group, 0640."""
    user = pwd.getpwnam(USER)
    install = base / "opt" / "agent-server"
    install.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "backend", install / "backend")
    shutil.copy2(REPO_ROOT / "supervisord.conf", install / "supervisord.conf")
    (install / ".venv").symlink_to(Path(sys.prefix).resolve())
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(install / "backend")],
        capture_output=True,
        timeout=120,
    )
    assert compiled.returncode == 0, compiled.stderr
    var, data = install / "var", base / "var" / "lib" / "agent-server"
    for own in (var, data):
        own.mkdir(parents=True, mode=0o750)
        os.chown(own, user.pw_uid, user.pw_gid)
    etc = base / "etc" / "agent-server"
    etc.mkdir(parents=True)
    api_port = free_port()
    settings = {
        "BACKEND_API_PORT": str(api_port),
        # executor_01 takes the next port.
        "BACKEND_EXECUTOR_METRICS_PORT": str(free_port()),
        # Nothing to drain here: keep the stop quick.
        "BACKEND_SHUTDOWN_GRACE_SECONDS": "2",
    }
    lines = []
    for line in (REPO_ROOT / "deploy" / "env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            line = f"{name}={settings.pop(name, map_path(value, _mapping(base)))}"
        lines.append(line)
    lines += [f"{name}={value}" for name, value in settings.items()]
    env_file = etc / "env"
    env_file.write_text("\n".join(lines) + "\n")
    os.chown(env_file, 0, user.pw_gid)
    env_file.chmod(0o640)
    return Layout(base, install, var, data, env_file, api_port)


def _mapping(base: Path) -> dict[str, str]:
    return {
        "/opt/agent-server": str(base / "opt" / "agent-server"),
        "/etc/agent-server": str(base / "etc" / "agent-server"),
        "/var/lib/agent-server": str(base / "var" / "lib" / "agent-server"),
    }


def _service(layout: Layout) -> Service:
    service = service_of(read_unit(UNIT), _mapping(layout.base), USER, layout.base)
    # This machine's interpreter and virtualenv may live under a home directory.
    hidden = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    service.reveal = sorted(str(p) for p in hidden if is_under(str(p), HOME_DIRS))
    return service


def _snapshot(layout: Layout) -> dict[str, tuple[int, int, int]]:
    """Every file and directory outside the writable paths: size, mtime, mode."""
    seen = {}
    for path in layout.base.rglob("*"):
        if path == layout.var or layout.var in path.parents or layout.data in (path, *path.parents):
            continue
        st = path.lstat()
        seen[str(path.relative_to(layout.base))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return seen


def _sandboxed(service: Service, *argv: str) -> subprocess.CompletedProcess[str]:
    command = sandbox_command(dataclasses.replace(service, argv=list(argv)))
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _logs(layout: Layout) -> str:
    """The end of every log in var/: why a program did not come up in the sandbox."""
    return "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
        for log in sorted(layout.var.glob("*.log"))
    )


def _ours(base: Path) -> set[int]:
    """Processes whose command line names the sandbox's tree."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with suppress(OSError):
            if str(base).encode() in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
    return found - {os.getpid()}


@pytest.fixture
def layout() -> Iterator[Layout]:
    _skip_unless_possible()
    # Under /tmp on purpose: the sandbox's fresh /tmp would hide it, so this also checks
    # that the mapped tree is bound back (short, too: the socket path is limited).
    base = Path(tempfile.mkdtemp(prefix="agsb-"))
    base.chmod(0o755)
    try:
        yield _install(base)
    finally:
        for pid in _ours(base):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _ours(base), 10)
        shutil.rmtree(base, ignore_errors=True)


def test_the_unit_starts_and_stops_the_group_in_its_sandbox(layout: Layout, tmp_path: Path) -> None:
    service = _service(layout)
    python = f"{layout.install}/.venv/bin/python"
    usable = _sandboxed(service, python, "-c", "import supervisor, uvicorn")
    # A sandbox that cannot be set up is a failure; an interpreter it cannot run, a skip.
    assert "sandbox:" not in usable.stderr, usable.stderr
    if usable.returncode != 0:
        pytest.skip(f"the virtualenv is not usable by {USER}: {usable.stderr.strip()[-300:]}")
    before = _snapshot(layout)

    # deploy/README.md: `sudo -u agent-server agent-server init`, from the release.
    init = _sandboxed(
        service, python, "-m", "backend.cli", "--env-file", str(layout.env_file), "init"
    )
    assert init.returncode == 0, init.stderr
    key = init.stdout.strip()

    output = tmp_path / "supervisord.out"
    with output.open("wb") as out:
        process = subprocess.Popen(sandbox_command(service), stdout=out, stderr=subprocess.STDOUT)
    try:
        sock = layout.var / "supervisor.sock"
        wait_for(lambda: supervisord_ready(sock, process, tmp_path), 30, "the supervisord socket")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
        env["BACKEND_API_PORT"] = str(layout.api_port)
        conf = layout.install / "supervisord.conf"
        group = Supervisor(rpc_proxy(sock), conf, layout.var, layout.data, env, process)
        try:
            programs = group.wait_all("RUNNING", UP_TIMEOUT)
            group.wait_api(UP_TIMEOUT)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{_logs(layout)}") from None
        status = group.ctl("status")
        assert status.returncode == 0, status.stdout + status.stderr

        nobody = pwd.getpwnam(USER)
        for pid in [process.pid, *(info["pid"] for info in programs)]:
            fields = _status(pid)
            assert fields["Uid"].split()[0] == str(nobody.pw_uid), fields["Uid"]
            assert fields["NoNewPrivs"] == "1"
            assert int(fields["CapBnd"], 16) == 0 and int(fields["CapEff"], 16) == 0

        client = {"BACKEND_API_URL": f"http://127.0.0.1:{layout.api_port}", "BACKEND_API_KEY": key}
        done = agent_server(
            tmp_path, "run", str(CALCULATOR), "--input", "Input=8", "--wait", **client
        )
        assert done.returncode == 0, done.stderr + output.read_text(errors="replace")
        assert "Output: 42.0" in done.stdout.splitlines()

        # KillMode=mixed: SIGTERM to supervisord alone; it stops its programs.
        pids = {info["pid"] for info in group.all_info()} | {process.pid}
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT) == 0
        assert wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10)
        assert not _ours(layout.base)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    # UMask=0027: nothing the service made is readable by others.
    made = [p for p in (*layout.var.rglob("*"), *layout.data.rglob("*")) if not p.is_socket()]
    assert (layout.data / "backend.db").is_file() and (layout.var / "supervisord.log").is_file()
    assert [str(p) for p in made if p.stat().st_mode & 0o007] == []
    assert {p.stat().st_uid for p in made} == {nobody.pw_uid}
    # Nothing was written outside ReadWritePaths (the release, the settings file).
    assert _snapshot(layout) == before

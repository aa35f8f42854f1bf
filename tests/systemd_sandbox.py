"""Start a command the way deploy/agent-server.service starts supervisord, without systemd.

Two halves, standard library only:

- ``read_unit`` and ``service_of`` parse the unit file (repeated keys such as
  SystemCallFilter keep every value) and rewrite its absolute paths through a mapping, so
  a test can put the install directory, the settings file and the data directory anywhere.
- Run as a script (as root, inside ``unshare -m --propagation private``), it sets up the
  mount namespace the unit asks for, then becomes the command as the unprivileged user
  through ``setpriv``. What it emulates and what it does not is listed in
  tests/integration/test_systemd_sandbox.py.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

Unit = dict[str, dict[str, list[str]]]

# What systemd mounts over for ProtectHome=true and PrivateTmp=true.
HOME_DIRS = ("/root", "/home", "/run/user")
TMP_DIRS = ("/tmp", "/var/tmp")
# API file systems ProtectSystem=strict leaves alone (PrivateDevices and ProtectProc,
# which would narrow them, are not emulated).
API_TREES = ("/proc", "/dev")
SETPRIV = "/usr/bin/setpriv"


def read_unit(path: Path) -> Unit:
    """The unit's sections, each key with every value it is given, in order."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        if section is None or "=" not in line:
            raise ValueError(f"{path}: not a unit line: {raw!r}")
        key, value = line.split("=", 1)
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def map_path(value: str, mapping: Mapping[str, str]) -> str:
    """``value`` with a leading mapped directory replaced (the longest match wins)."""
    for old in sorted(mapping, key=len, reverse=True):
        if value == old or value.startswith(old + "/"):
            return mapping[old] + value[len(old) :]
    return value


@dataclass
class Service:
    """What the sandbox needs to know to start one command as the unit would."""

    argv: list[str]
    user: str
    working_directory: str
    environment: dict[str, str]
    read_write_paths: list[str]
    umask: int
    # Directories the mount namespace must make visible again under a hidden home
    # directory: the test machine's interpreter may live there (a real install's does not).
    reveal: list[str]
    # The directory holding every mapped path; it lives under /tmp, which PrivateTmp hides.
    base: str


def service_of(unit: Unit, mapping: Mapping[str, str], user: str, base: Path) -> Service:
    """The unit's [Service] with its paths mapped; ``user`` replaces User=/Group=."""
    svc = unit["Service"]

    def one(key: str) -> str:
        (value,) = svc[key]
        return value

    environment: dict[str, str] = {}
    for line in svc.get("Environment", []):
        for item in line.split():
            name, value = item.split("=", 1)
            environment[name] = map_path(value, mapping)
    return Service(
        argv=[map_path(word, mapping) for word in one("ExecStart").split()],
        user=user,
        working_directory=map_path(one("WorkingDirectory"), mapping),
        environment=environment,
        read_write_paths=[
            map_path(p, mapping) for line in svc["ReadWritePaths"] for p in line.split()
        ],
        umask=int(one("UMask"), 8),
        reveal=[],
        base=str(base),
    )


def sandbox_command(service: Service) -> list[str]:
    """The command line that runs ``service`` in its sandbox (run it as root)."""
    spec = json.dumps(asdict(service))
    return ["unshare", "-m", "--propagation", "private", "--", sys.executable, __file__, spec]


# -- inside the namespace ------------------------------------------------------------------


def _mount(*args: str, pass_fds: tuple[int, ...] = ()) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, pass_fds=pass_fds)
    if done.returncode != 0:
        raise SystemExit(f"sandbox: mount {' '.join(args)}: {done.stderr.strip()}")


def _bind_handle(handle: int, target: str) -> None:
    # --no-canonicalize: resolved, the descriptor's path would name the new, empty mount.
    source = f"/proc/{os.getpid()}/fd/{handle}"
    _mount("--no-canonicalize", "--bind", source, target, pass_fds=(handle,))


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # The fifth field is the mount point, with spaces and the like octal-escaped.
        points.append(line.split()[4].encode().decode("unicode_escape"))
    return points


def is_under(path: str, roots: tuple[str, ...] | list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _private_tmp(base: str) -> None:
    # Keep a handle on the mapped tree before a fresh /tmp hides it, then put it back at
    # the same path inside the new /tmp.
    handle = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for tmp in TMP_DIRS:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            _mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", tmp)
    os.makedirs(base, mode=0o755)
    _bind_handle(handle, base)
    os.close(handle)


def _protect_home(reveal: list[str]) -> None:
    # Handles on what to reveal before the empty home directories hide it.
    handles = {kept: os.open(kept, os.O_RDONLY | os.O_DIRECTORY) for kept in reveal}
    for home in HOME_DIRS:
        if os.path.isdir(home):
            # Empty; traversable but not listable, so a revealed directory can be reached.
            _mount("-t", "tmpfs", "-o", "mode=0711,nosuid,nodev", "tmpfs", home)
    for kept, handle in handles.items():
        os.makedirs(kept, mode=0o711, exist_ok=True)
        _bind_handle(handle, kept)
        os.close(handle)


def _protect_system_strict(writable: list[str]) -> None:
    for path in writable:
        _mount("--bind", path, path)
    for point in _mount_points():
        # The fresh /tmp and /var/tmp stay writable, not what is mounted below them.
        if point in TMP_DIRS or is_under(point, [*API_TREES, *writable]):
            continue
        done = subprocess.run(
            ["mount", "-o", "remount,bind,ro", point], capture_output=True, text=True
        )
        # A few kernel file systems below /sys refuse a remount; every other mount must
        # become read-only, or the sandbox would prove nothing.
        if done.returncode != 0 and not is_under(point, ("/sys",)):
            raise SystemExit(f"sandbox: cannot make {point} read-only: {done.stderr.strip()}")


def _enter(service: Service) -> None:
    # The home directories first: their originals (the interpreter) are still visible.
    _protect_home(service.reveal)
    _private_tmp(service.base)
    _protect_system_strict(service.read_write_paths)
    user = pwd.getpwnam(service.user)
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "HOME": user.pw_dir,
        "SHELL": user.pw_shell,
        **service.environment,
    }
    os.chdir(service.working_directory)
    os.umask(service.umask)
    argv = [
        SETPRIV,
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
        *service.argv,
    ]
    # exec: the sandboxed command keeps this pid, so the caller's pid is supervisord's.
    os.execve(SETPRIV, argv, env)


if __name__ == "__main__":
    _enter(Service(**json.loads(sys.argv[1])))

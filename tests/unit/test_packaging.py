"""Packaging: every package the code imports is declared; PostgreSQL and tracing are extras."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def declared(*extras: str) -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    names = {re.split(r"[\[<>=;! ]", req, maxsplit=1)[0] for req in requirements}
    return {name.lower().replace("_", "-") for name in names}


def imported_distributions(*folders: str) -> set[str]:
    """The distributions of every module the files under ``folders`` import."""
    modules: set[str] = set()
    for folder in folders:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module)
    owners = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in {"backend", "tests", "bench"}:
            continue
        found |= {name.lower().replace("_", "-") for name in _owners(module, owners)}
    return found


def _owners(module: str, owners: Mapping[str, list[str]]) -> list[str]:
    """The distributions that hold ``module``: of a namespace package that several
    distributions share (``opentelemetry``), the ones whose files go deepest into it."""
    parts = module.split(".")
    names = owners.get(parts[0], [parts[0]])
    if len(names) < 2:
        return list(names)
    depth = {name: _depth(name, parts) for name in names}
    deepest = max(depth.values())
    return [name for name in names if depth[name] == deepest]


def _depth(distribution: str, parts: list[str]) -> int:
    files = [str(f) for f in importlib.metadata.distribution(distribution).files or []]
    for depth in range(len(parts), 0, -1):
        prefix = "/".join(parts[:depth])
        if any(f.startswith(f"{prefix}/") or f == f"{prefix}.py" for f in files):
            return depth
    return 0


def test_every_imported_package_is_declared() -> None:
    assert imported_distributions("backend") - declared("postgres", "tracing") == set()
    dev = declared("postgres", "tracing", "dev") | {"agent-server"}
    assert imported_distributions("backend", "tests", "bench") - dev <= {"psycopg-binary"}


def test_postgresql_is_an_extra_and_fast_movers_are_bounded() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert not any(req.startswith("psycopg") for req in project["dependencies"])
    assert project["optional-dependencies"]["postgres"] == ["psycopg[binary]>=3.1,<4"]
    for name in ("fastapi", "uvicorn", "httpx", "pydantic", "sqlalchemy", "starlette"):
        (req,) = [r for r in project["dependencies"] if re.match(rf"{name}[<>=]", r)]
        assert "<" in req, req
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License")


WITHOUT_PSYCOPG = """
import sys, importlib.abc

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "psycopg":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


def test_sqlite_needs_no_postgresql_driver(tmp_path: Path) -> None:
    script = (
        WITHOUT_PSYCOPG
        + f"""
import backend.cli, backend.server.process, backend.executor.manager
import backend.schedules.process
from backend.data.open import open_store
from backend.errors import ConfigError
from backend.settings import Settings
store = open_store(Settings(data_dir={str(tmp_path)!r}))
store.prepare(auto_migrate=True)
store.close()
try:
    open_store(Settings(database_url="postgresql://u:secret@127.0.0.1:1/db"))
except ConfigError as exc:
    print(exc.message)
"""
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert "needs the PostgreSQL driver" in line
    assert "pip install 'agent-server[postgres]'" in line
    assert "secret" not in line


def test_the_lock_pins_every_declared_package() -> None:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, line
            pins[name.lower().replace("_", "-")] = version
    assert declared("postgres", "tracing", "dev") - {"agent-server"} <= set(pins)
    assert "agent-server" not in pins

"""The shipped systemd unit: hardened to an exposure of 2.5 or lower, and consistent with
the deploy guide's paths."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT = REPO_ROOT / "deploy" / "agent-server.service"
MAX_EXPOSURE = 2.5


def test_the_unit_scores_at_most_2_5_in_systemd_analyze_security(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text())
    done = subprocess.run(
        [analyze, "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {done.stderr}")
    assert float(match.group(1)) <= MAX_EXPOSURE, done.stdout


def test_the_unit_names_the_settings_file_and_the_writable_paths() -> None:
    text = UNIT.read_text()
    assert "Environment=BACKEND_ENV_FILE=/etc/agent-server/env" in text
    assert "EnvironmentFile=" not in text  # one parser for the settings: the programs'
    (writable,) = re.findall(r"^ReadWritePaths=(.*)$", text, re.MULTILINE)
    env_example = (REPO_ROOT / "deploy" / "env.example").read_text()
    (data_dir,) = re.findall(r"^BACKEND_DATA_DIR=(.*)$", env_example, re.MULTILINE)
    assert set(writable.split()) == {"/opt/agent-server/var", data_dir}

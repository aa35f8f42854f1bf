"""Where AutoGPT's agents and block vectors are: ``../shared/autogpt`` beside the project
root (CI's layout), or the folder ``AUTOGPT_DATA_DIR`` names (a checkout elsewhere).
Tests that read them skip when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AUTOGPT_DIR = Path(os.environ.get("AUTOGPT_DATA_DIR") or ROOT.parent / "shared" / "autogpt")
AGENTS_DIR = AUTOGPT_DIR / "agents"
VECTORS_DIR = AUTOGPT_DIR / "vectors"

needs_autogpt_data = pytest.mark.skipif(
    not AUTOGPT_DIR.is_dir(), reason="AutoGPT's agents and vectors (../shared/autogpt) are absent"
)

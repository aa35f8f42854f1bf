"""`agent-server schedule`, `rerun` and `resume`, and the import note, against a live API."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from backend.blocks import register_block, unregister_block
from backend.cli import run_command
from backend.cli_schedules import local_timezone
from backend.data.store import Store
from backend.schedules.process import Scheduler
from backend.settings import Settings
from tests.api.conftest import calculator_graph, drain
from tests.api.test_cli_client import CALCULATOR, env, key  # noqa: F401 - fixtures
from tests.api.test_run_lifecycle import trace_chain
from tests.blocks_for_tests import TraceBlock

Capture = pytest.CaptureFixture[str]
# Every test runs as alice with a key, against a live API (test_cli_client's fixtures).
pytestmark = pytest.mark.usefixtures("key")


def imported(capsys: Capture, path: str = CALCULATOR) -> str:
    assert run_command(["graph", "import", path]) == 0
    return capsys.readouterr().out.strip()


def test_schedule_add_shows_the_next_five_fire_times_in_the_timezone(capsys: Capture) -> None:
    graph_id = imported(capsys)
    code = run_command(
        [
            "schedule",
            "add",
            graph_id,
            "--cron",
            "0 8 * * *",
            "--timezone",
            "Asia/Tokyo",
            "-i",
            "Input=8",
            "--name",
            "mornings",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    schedule_id = out[0].split()[0]
    assert "enabled  0 8 * * *  Asia/Tokyo" in out[0] and "mornings" in out[0]
    times = out[2:]
    assert len(times) == 5
    assert all(line.strip().split()[1] == "08:00:00" and "JST" in line for line in times)

    assert run_command(["schedule", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == schedule_id and listed["inputs"] == {"Input": 8}
    assert run_command(["schedule", "pause", schedule_id]) == 0
    assert "paused" in capsys.readouterr().out
    assert run_command(["schedule", "resume", schedule_id]) == 0
    assert "enabled" in capsys.readouterr().out
    assert run_command(["schedule", "delete", schedule_id]) == 0
    capsys.readouterr()
    assert run_command(["schedule", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_schedule_add_defaults_to_this_machines_timezone(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    assert local_timezone() == "America/Sao_Paulo"
    graph_id = imported(capsys)
    assert run_command(["schedule", "add", graph_id, "--cron", "*/10 * * * *", "--json"]) == 0
    schedule = json.loads(capsys.readouterr().out)
    assert schedule["timezone"] == "America/Sao_Paulo"
    offsets = {datetime.fromisoformat(t).utcoffset() for t in schedule["next_fire_times"]}
    assert len(offsets) == 1


def test_a_bad_cron_is_a_usage_error(capsys: Capture) -> None:
    graph_id = imported(capsys)
    assert run_command(["schedule", "add", graph_id, "--cron", "61 * * * *"]) == 2
    assert "invalid" in capsys.readouterr().err


def test_import_tells_of_the_recommended_schedule(capsys: Capture, tmp_path: Path) -> None:
    export = tmp_path / "agent.json"
    export.write_text(
        json.dumps({**calculator_graph(), "recommended_schedule_cron": "*/15 * * * *"})
    )
    graph_id = imported(capsys, str(export))
    assert run_command(["graph", "import", str(export)]) == 0
    err = capsys.readouterr().err
    assert "recommends running on the schedule */15 * * * *" in err
    assert "agent-server schedule add" in err and "--cron '*/15 * * * *'" in err
    assert run_command(["schedule", "list"]) == 0
    assert capsys.readouterr().out == "", graph_id


def test_rerun_and_resume(capsys: Capture, settings: Settings, store: Store) -> None:
    graph_id = imported(capsys)
    assert run_command(["run", graph_id, "-i", "Input=8"]) == 0
    first = capsys.readouterr().out.strip()
    drain(settings)
    assert run_command(["rerun", first]) == 0
    out = capsys.readouterr()
    again = out.out.strip()
    assert again != first and f"a rerun of {first}" in out.err
    drain(settings)
    assert store.get_run(again).outputs == {"Output": [42.0]}
    # Only a failed or cancelled run resumes: this one completed (409, exit 1).
    assert run_command(["resume", again]) == 1
    assert "only a FAILED or TERMINATED run" in capsys.readouterr().err


def test_a_scheduled_slot_from_the_cli_fires(
    capsys: Capture, settings: Settings, store: Store
) -> None:
    graph_id = imported(capsys)
    assert (
        run_command(["schedule", "add", graph_id, "--cron", "* * * * *", "-i", "Input=8", "--json"])
        == 0
    )
    schedule = json.loads(capsys.readouterr().out)
    fired = Scheduler(settings, clock=lambda: schedule["next_fire_at"], store=store).serve(True)
    assert fired == 1


def test_resume_of_a_failed_run_reuses_what_completed(
    capsys: Capture, settings: Settings, store: Store, tmp_path: Path
) -> None:
    register_block(TraceBlock)
    try:
        export = tmp_path / "trace.json"
        export.write_text(json.dumps(trace_chain(tmp_path / "trace", tmp_path / "marker")))
        graph_id = imported(capsys, str(export))
        assert run_command(["run", graph_id, "-i", "x=x"]) == 0
        failed = capsys.readouterr().out.strip()
        drain(settings)
        assert run_command(["resume", failed]) == 0
        out = capsys.readouterr()
        assert "reusing 3 completed node execution(s); runs n3 and what follows" in out.err
        drain(settings)
        assert store.get_run(out.out.strip()).outputs == {"out": ["x|n1|n2|n3|n4|n5"]}
    finally:
        unregister_block(TraceBlock.id)

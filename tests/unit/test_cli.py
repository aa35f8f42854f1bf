"""`agent-server run-local` and `agent-server blocks`: outputs, exit codes, error reports."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.cli import main
from backend.cli_common import parse_input_value

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REF1 = str(FIXTURES / "ref1_template.json")
REF2 = str(FIXTURES / "ref2_static_link.json")
REF3 = str(FIXTURES / "ref3_linked_pins_wait.json")
REF4 = str(FIXTURES / "ref4_calculator.json")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    # run-local configures the root logger for the process, as a CLI should; a test
    # process must get its own set-up (and pytest's capture handlers) back afterwards.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """run-local honours BACKEND_* settings and .env; keep the developer's out."""
    for name in list(os.environ):
        if name.startswith("BACKEND_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, *argv, "--json")
    return code, json.loads(out)


def write_graph(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(data))
    return str(path)


# -- the reference graphs -------------------------------------------------------------------


def test_run_local_ref1_template(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = cli_json(
        capsys, "run-local", REF1, "--input", "input_1=Hello", "--input", "input_2=World"
    )
    assert code == 0
    assert summary == {
        "status": "COMPLETED",
        "outputs": {},
        "node_executions": 4,
        "error": None,
    }


def test_run_local_ref2_static_link(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = cli_json(capsys, "run-local", REF2)
    assert code == 0
    assert (summary["status"], summary["node_executions"]) == ("COMPLETED", 8)


def test_run_local_ref3_linked_pins(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = cli_json(capsys, "run-local", REF3)
    assert code == 0
    assert (summary["status"], summary["node_executions"]) == ("COMPLETED", 3)


def test_run_local_ref4_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run-local", REF4, "--input", "Input=8")
    assert code == 0
    assert out.splitlines() == ["Output: 42.0", "status: COMPLETED (3 node executions)"]


def test_run_local_console_script_json(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "agent-server"
    done = subprocess.run(
        [str(script), "run-local", REF4, "--input", "Input=8", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["outputs"] == {"Output": [42.0]}
    assert summary["status"] == "COMPLETED"


# -- a run that fails ---------------------------------------------------------------------


def test_failed_run_exits_1_and_reports_the_node(capsys: pytest.CaptureFixture[str]) -> None:
    # Text the calculator cannot add: the run itself fails, the arguments were fine.
    code, out, _ = cli(capsys, "run-local", REF4, "--input", "Input=eight")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "status: FAILED (2 node executions)"
    assert lines[1].startswith("error: node b65064d5-d71e-5653-9707-b79119774f6a (CalculatorBlock)")

    code, summary = cli_json(capsys, "run-local", REF4, "--input", "Input=eight")
    assert code == 1
    assert summary["status"] == "FAILED"
    assert "CalculatorBlock" in summary["error"]


# -- bad arguments exit 2 with a report, never a traceback ------------------------------------


def assert_usage_error(code: int, out: str, err: str, *expected: str) -> None:
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    for text in expected:
        assert text in err


def test_missing_graph_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    assert_usage_error(*cli(capsys, "run-local", missing), "cannot read graph file", missing)


def test_graph_file_that_is_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"nodes": [')
    assert_usage_error(*cli(capsys, "run-local", str(path)), "is not valid JSON")


def test_graph_json_that_is_not_a_graph(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_graph(tmp_path, {"nodes": [{"id": "n1"}]})
    assert_usage_error(*cli(capsys, "run-local", path), "not a valid graph", "block_id")
    path = write_graph(tmp_path, [1, 2])
    assert_usage_error(*cli(capsys, "run-local", path), "not a valid graph")


def test_unknown_block_id_names_node_and_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads(Path(REF4).read_text())
    graph["nodes"][1]["block_id"] = "00000000-0000-0000-0000-000000000000"
    path = write_graph(tmp_path, graph)
    assert_usage_error(
        *cli(capsys, "run-local", path, "--input", "Input=8"),
        "node b65064d5-d71e-5653-9707-b79119774f6a",
        "unknown block id 00000000-0000-0000-0000-000000000000",
    )


def test_unknown_input_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(
        *cli(capsys, "run-local", REF4, "--input", "Inptu=8"),
        "unknown run input 'Inptu'",
        "known inputs: Input",
    )


def test_input_without_equals_sign(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(
        *cli(capsys, "run-local", REF4, "--input", "Input"), "'Input': expected NAME=VALUE"
    )


def test_every_input_problem_is_reported_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(
        *cli(capsys, "run-local", REF4, "--input", "oops", "--input", "Other=1"),
        "'oops': expected NAME=VALUE",
        "unknown run input 'Other'",
    )


# -- input values and the block list ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('["a", 1]', ["a", 1]),
        ('{"k": "v"}', {"k": "v"}),
        ('"quoted"', "quoted"),
        ("Hello", "Hello"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_input_value_is_json_when_it_parses(text: str, value: Any) -> None:
    assert parse_input_value(text) == value


ECHO_GRAPH = {
    "nodes": [
        {
            "id": "in",
            "block_id": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b",
            "input_default": {"name": "text"},
        },
        {
            "id": "out",
            "block_id": "363ae599-353e-4804-937e-b2ee3cef3da4",
            "input_default": {"name": "echo"},
        },
    ],
    "links": [{"source_id": "in", "source_name": "result", "sink_id": "out", "sink_name": "value"}],
}


@pytest.mark.parametrize(
    ("given", "echoed"),
    [("text=a=b", "a=b"), ("text=[1, 2]", [1, 2]), ("text=Hello World", "Hello World")],
)
def test_input_values_reach_the_graph(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, given: str, echoed: Any
) -> None:
    path = write_graph(tmp_path, ECHO_GRAPH)
    code, summary = cli_json(capsys, "run-local", path, "--input", given)
    assert code == 0
    assert summary["outputs"] == {"echo": [echoed]}


def test_blocks_lists_ids_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "blocks")
    assert code == 0
    assert "b1ab9b19-67a6-406d-abf5-2dba76d00c79  CalculatorBlock" in out.splitlines()

    code, out, _ = cli(capsys, "blocks", "--json")
    assert code == 0
    listed = {b["id"]: b["name"] for b in json.loads(out)}
    assert listed["1ff065e9-88e8-4358-9d82-8dc91f622ba9"] == "StoreValueBlock"


def test_migrate_brings_an_empty_database_to_the_current_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.data.sqlite import SQLiteStore

    monkeypatch.setenv("BACKEND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BACKEND_AUTO_MIGRATE", "false")
    url = f"sqlite:///{tmp_path / 'backend.db'}"
    assert SQLiteStore(url).schema_revision() is None
    code, out, _ = cli(capsys, "migrate")
    assert code == 0
    assert "schema is current" in out
    store = SQLiteStore(url)
    store.prepare(auto_migrate=False)  # would raise SchemaError if still behind
    assert store.schema_is_current()

"""ExecuteCodeBlock through the ``e2b-code-interpreter`` SDK, against a fake E2B (its REST
API, the code interpreter and the process service) over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from backend.blocks.code_execution import ExecuteCodeBlock
from tests.e2b_server import KEY, Command, E2BServer, Execution
from tests.services.conftest import Waits, context, run_block, service_clients

BLOCK = ExecuteCodeBlock()


@pytest.fixture
def e2b() -> Iterator[E2BServer]:
    with E2BServer() as server:
        yield server


def run(server: E2BServer, waits: Waits, data: dict[str, Any], **kw: Any) -> list[tuple[str, Any]]:
    settings = {"e2b_api_url": server.url, "e2b_sandbox_url": server.url}
    clients = service_clients(waits, **settings, **kw.pop("settings", {}))
    return run_block(BLOCK, data, context(clients, "e2b", kw.pop("key", KEY), None, **kw))


def test_code_runs_in_a_new_sandbox_that_is_then_killed(e2b: E2BServer, waits: Waits) -> None:
    e2b.executions.append(
        Execution(
            stdout=["Hello World\n"],
            results=[{"text": "2", "png": "iVBORw0KGgo=", "is_main_result": True}],
        )
    )
    outputs = run(e2b, waits, {"code": "print('Hello World'); 1 + 1"})

    assert outputs == [
        ("main_result", {"text": "2", "png": "iVBORw0KGgo="}),
        ("results", [{"text": "2", "png": "iVBORw0KGgo=", "is_main_result": True}]),
        ("response", "2"),
        ("stdout_logs", "Hello World\n"),
    ]
    assert e2b.sandboxes == {
        "sbx1": {"templateID": "code-interpreter-v1", "timeout": 300, "metadata": {}, "envVars": {}}
    }
    [executed] = e2b.executed
    assert (executed["sandbox"], executed["code"], executed["language"]) == (
        "sbx1",
        "print('Hello World'); 1 + 1",
        "python",
    )
    assert e2b.killed == ["sbx1"]


def test_setup_commands_run_first_and_a_kept_sandbox_lives_on(e2b: E2BServer, waits: Waits) -> None:
    data = {
        "code": "console.log(1)",
        "language": "js",
        "setup_commands": ["npm install cowsay", "echo ready"],
        "dispose_sandbox": False,
        "template_id": "my-template",
        "timeout": 60,
    }
    outputs = run(e2b, waits, data)

    assert outputs == [("results", []), ("stdout_logs", "Hello World\n")]
    assert e2b.commands == [["-l", "-c", "npm install cowsay"], ["-l", "-c", "echo ready"]]
    assert e2b.sandboxes["sbx1"]["templateID"] == "my-template"
    assert e2b.sandboxes["sbx1"]["timeout"] == 60
    assert e2b.executed[0]["language"] == "js"
    assert e2b.killed == []


def test_a_failing_setup_command_stops_the_node_and_the_sandbox(
    e2b: E2BServer, waits: Waits
) -> None:
    e2b.command_results.append(Command(exit_code=127, stderr=b"sh: nosuch: not found\n"))
    outputs = run(e2b, waits, {"code": "1", "setup_commands": ["nosuch"], "dispose_sandbox": False})
    assert outputs == [("error", "a setup command exited with code 127: sh: nosuch: not found\n")]
    assert e2b.executed == []
    assert e2b.killed == ["sbx1"]


def test_an_exception_in_the_code_is_the_error(e2b: E2BServer, waits: Waits) -> None:
    error = {"name": "NameError", "value": "name 'x' is not defined", "traceback": "..."}
    e2b.executions.append(Execution(stdout=[], error=error))
    outputs = run(e2b, waits, {"code": "x", "dispose_sandbox": False})
    assert outputs == [("error", "the code raised NameError: name 'x' is not defined")]
    assert e2b.killed == ["sbx1"]  # as AutoGPT: a failed sandbox is killed


def test_a_wrong_key_is_a_clear_error(e2b: E2BServer, waits: Waits) -> None:
    outputs = run(e2b, waits, {"code": "1"}, key="e2b_wrong_key_000000")
    assert outputs == [
        (
            "error",
            "e2b refused the API key: 401: Unauthorized, please check your credentials. - "
            "Invalid API key",
        )
    ]
    assert e2b.sandboxes == {}


def test_a_rate_limited_create_is_retried_after_the_wait_asked(
    e2b: E2BServer, waits: Waits
) -> None:
    e2b.create_replies.append((429, {"code": 429, "message": "slow down"}, {"Retry-After": "1"}))
    outputs = run(e2b, waits, {"code": "1"})
    assert ("stdout_logs", "Hello World\n") in outputs
    assert list(e2b.sandboxes) == ["sbx1"]


def test_a_rate_limit_that_lasts_is_reported(e2b: E2BServer, waits: Waits) -> None:
    e2b.create_replies.append((429, {"code": 429, "message": "slow down"}, {}))
    outputs = run(e2b, waits, {"code": "1"}, settings={"service_max_retries": 0})
    assert outputs == [
        (
            "error",
            "e2b is rate limiting: 429: Rate limit exceeded, please try again later. - slow down",
        )
    ]


def test_code_running_past_the_node_time_is_stopped(e2b: E2BServer, waits: Waits) -> None:
    e2b.executions.append(Execution(hold=True))
    [(pin, message)] = run(e2b, waits, {"code": "while True: pass"}, seconds=1.5)
    assert pin == "error"
    assert message.startswith("e2b timed out:")
    assert e2b.execute_abandoned.wait(5)
    assert e2b.killed == ["sbx1"]


def test_a_broken_interpreter_answer_is_an_error(e2b: E2BServer, waits: Waits) -> None:
    e2b.executions.append(Execution(status=500))
    [(pin, message)] = run(e2b, waits, {"code": "1"})
    assert pin == "error"
    assert message.startswith("e2b failed:") and "kernel died" in message
    assert KEY not in message
    assert e2b.killed == ["sbx1"]


def test_cancelling_the_node_kills_the_sandbox(e2b: E2BServer, waits: Waits) -> None:
    e2b.executions.append(Execution(hold=True))
    settings = {"e2b_api_url": e2b.url, "e2b_sandbox_url": e2b.url}
    ctx = context(service_clients(waits, **settings), "e2b", KEY, None)

    async def main() -> None:
        task = asyncio.create_task(BLOCK.execute({"code": "1"}, ctx).__anext__())
        while not e2b.executed:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 20))
    assert e2b.killed == ["sbx1"]
    assert e2b.execute_abandoned.wait(5)

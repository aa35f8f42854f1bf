"""AutoGPT's three LLM-only agents, imported unchanged and run through the REST API under
supervisord against the scripted LLM server; the users' API keys never show anywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.autogpt_data import AGENTS_DIR
from tests.llm_server import Answer, Hold, LLMServer, Respond
from tests.supervisor_helpers import Supervisor, api_key, running_supervisord, wait_for

pytestmark = pytest.mark.supervisord

AGENTS = AGENTS_DIR
OPENAI_KEY = "sk-live-openai-0123456789abcdefSECRET"
ANTHROPIC_KEY = "sk-ant-live-0123456789abcdefSECRET"
# Each agent's inputs, with values the prompts must be seen to carry.
AGENT_INPUTS = {
    "agent_31d7abc3-e191-5cac-b3be-3e603fc49314.json": {
        "Contact or Segment": "Dana, ops lead at Acme",
        "What Happened": "stopped logging in after the March outage",
        "The Offer": "two free months on the team plan",
        "Sender Name": "Riley",
    },
    "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json": {
        "Function Definition": "def primes(n: int) -> list[int]:",
        "Arguments": "5",
        "Description": "the first n prime numbers",
    },
    "agent_a1af1733-b566-5e2f-ae20-068e2163c4cc.json": {
        "Product": "Ledgerly, bookkeeping for bakeries",
        "Audience": "owners of small bakeries",
        "Sequence Type": "onboarding",
    },
}
OUTPUT_NAMES = {
    "agent_31d7abc3-e191-5cac-b3be-3e603fc49314.json": "Win-back Email",
    "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json": "return",
    "agent_a1af1733-b566-5e2f-ae20-068e2163c4cc.json": "Email Sequence",
}

requires_agents = pytest.mark.skipif(not AGENTS.is_dir(), reason="../shared/autogpt is absent")


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        # Echo a tag of the prompt, so each run's output is the answer to its own prompt.
        server.default = Respond(lambda req: Answer(f"ANSWER[{req.text[:40]}]"))
        yield server


@pytest.fixture
def group(llm: LLMServer) -> Iterator[Supervisor]:
    env = {
        "BACKEND_OPENAI_BASE_URL": f"{llm.url}/v1",
        "BACKEND_ANTHROPIC_BASE_URL": llm.url,
        "BACKEND_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        # Cancels arrive within a heartbeat; nothing here needs a lease to expire.
        "BACKEND_HEARTBEAT_SECONDS": "0.2",
        "BACKEND_LEASE_SECONDS": "10",
        "BACKEND_POLL_SECONDS": "0.02",
    }
    with running_supervisord(env=env) as sup:
        sup.wait_all("RUNNING", 30)
        yield sup


def client(sup: Supervisor, user: str = "alice") -> httpx.Client:
    key = api_key(sup, user)
    base = f"http://127.0.0.1:{sup.env['BACKEND_API_PORT']}/api/v1"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    wait_for(lambda: api.get("/graphs").status_code == 200 or None, 30, "the REST API")
    return api


def add_credentials(api: httpx.Client) -> dict[str, dict[str, Any]]:
    refs = {}
    for provider, secret in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        body = {"provider": provider, "type": "api_key", "title": provider, "api_key": secret}
        made = api.post("/credentials", json=body)
        assert made.status_code == 201, made.text
        record = made.json()
        refs[f"{provider}_api_key_credentials"] = {
            k: record[k] for k in ("id", "provider", "type", "title")
        }
    return refs


def wait_run(api: httpx.Client, run_id: str, timeout: float = 60) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        run: dict[str, Any] = api.get(f"/executions/{run_id}").json()
        return run if run["status"] in ("COMPLETED", "FAILED", "TERMINATED") else None

    return wait_for(ended, timeout, f"run {run_id}")


def sse(api: httpx.Client, run_id: str) -> str:
    with api.stream("GET", f"/executions/{run_id}/events") as response:
        return "".join(response.iter_text())


@requires_agents
def test_the_three_llm_agents_run_end_to_end(group: Supervisor, llm: LLMServer) -> None:
    api = client(group)
    refs = add_credentials(api)
    answers: list[str] = []
    for name, inputs in AGENT_INPUTS.items():
        export = json.loads((AGENTS / name).read_text())
        imported = api.post("/graphs", json=export)
        assert imported.status_code == 201, imported.text
        needed = {
            need["provider"]: need["available"] for need in imported.json()["credentials_required"]
        }
        assert needed and all(needed.values()), needed
        before = len(llm.requests)
        run = api.post(
            f"/graphs/{imported.json()['id']}/execute",
            json={"inputs": inputs, "credentials": refs},
        )
        assert run.status_code == 202, run.text
        done = wait_run(api, run.json()["id"])
        assert done["status"] == "COMPLETED", done["error"]
        # The prompt the provider received has every prompt value filled in.
        [request] = llm.requests[before:]
        prompt = request.text
        assert "{{" not in prompt
        for value in inputs.values():
            assert value in prompt
        model = next(
            n["input_default"]["model"] for n in export["nodes"] if "model" in n["input_default"]
        )
        assert request.body["model"] == model
        secret = ANTHROPIC_KEY if model.startswith("claude") else OPENAI_KEY
        assert secret in json.dumps(request.headers)  # the user's own key was used
        # The answer arrives where the agent routes it: its output node.
        [answer] = done["outputs"][OUTPUT_NAMES[name]]
        assert answer.startswith("ANSWER[")
        assert done["stats"]["input_tokens"] == 11 and done["stats"]["output_tokens"] == 7
        answers.append(json.dumps([done, api.get(f"/executions/{done['id']}/nodes").json()]))
        answers.append(sse(api, done["id"]))
    answers.append(api.get("/credentials").text)
    answers.append(api.get("/executions").text)

    # The secrets are nowhere: not in any answer or event stream, log, or database byte.
    for secret in (OPENAI_KEY, ANTHROPIC_KEY):
        middle = secret[8:-6]
        for text in answers:
            assert middle not in text
        for log in group.var_dir.glob("*.log*"):
            assert middle.encode() not in log.read_bytes(), log
        for db in group.data_dir.glob("backend.db*"):
            assert middle.encode() not in db.read_bytes(), db
    metrics = httpx.get(f"http://127.0.0.1:{group.env['BACKEND_API_PORT']}/metrics").text
    assert (
        'agent_server_llm_tokens_total{provider="anthropic",model="claude-sonnet-4-5-20250929"'
        in metrics
    )


@requires_agents
def test_a_run_without_a_credential_is_refused_at_submit(group: Supervisor) -> None:
    api = client(group, "bob")
    name = "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json"
    graph = api.post("/graphs", json=json.loads((AGENTS / name).read_text())).json()
    assert graph["credentials_required"] == [
        {
            "field": "openai_api_key_credentials",
            "provider": "openai",
            "nodes": [
                next(n["id"] for n in graph["nodes"] if n["block_id"].startswith("1f292d4a"))
            ],
            "available": False,
        }
    ]
    answer = api.post(f"/graphs/{graph['id']}/execute", json={"inputs": AGENT_INPUTS[name]})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "missing_credentials" and "'openai'" in error["message"]
    assert api.get("/executions").json()["items"] == []


def test_cancel_interrupts_an_llm_call_in_flight(group: Supervisor, llm: LLMServer) -> None:
    api = client(group)
    refs = add_credentials(api)
    llm.script(Hold())
    graph = {
        "name": "one question",
        "nodes": [
            {
                "id": "ask",
                "block_id": "1f292d4a-41a4-4977-9684-7c8d560b9f91",
                "input_default": {"prompt": "Say hi", "model": "gpt-4o"},
            }
        ],
        "links": [],
    }
    made = api.post("/graphs", json=graph).json()
    run_id = api.post(f"/graphs/{made['id']}/execute", json={"credentials": refs}).json()["id"]
    llm.wait_for_requests(1, 30)
    asked = time.monotonic()
    assert api.post(f"/executions/{run_id}/cancel").status_code == 202
    assert wait_run(api, run_id, 15)["status"] == "TERMINATED"
    assert llm.disconnected.wait(10)  # the call in flight was dropped, not waited out
    assert time.monotonic() - asked < 10


def test_a_run_stops_at_its_token_budget(group: Supervisor, llm: LLMServer) -> None:
    api = client(group)
    refs = add_credentials(api)
    llm.default = Answer("ok", input_tokens=60, output_tokens=40)
    nodes = [
        {
            "id": f"ask{i}",
            "block_id": "1f292d4a-41a4-4977-9684-7c8d560b9f91",
            "input_default": {"prompt": f"question {i}", "model": "gpt-4o"},
        }
        for i in range(3)
    ]
    links = [
        {
            "source_id": f"ask{i}",
            "source_name": "response",
            "sink_id": f"ask{i + 1}",
            "sink_name": "sys_prompt",
        }
        for i in range(2)
    ]
    made = api.post("/graphs", json={"name": "chain", "nodes": nodes, "links": links}).json()
    run_id = api.post(
        f"/graphs/{made['id']}/execute", json={"credentials": refs, "max_tokens": 150}
    ).json()["id"]
    done = wait_run(api, run_id)
    assert done["status"] == "FAILED"
    assert "token budget is spent: 200 of 150 tokens used" in done["error"]
    assert len(llm.requests) == 2  # the third question was never asked

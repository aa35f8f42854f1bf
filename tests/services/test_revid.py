"""AIShortformVideoCreatorBlock against a fake revid.ai API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks.revid import AIShortformVideoCreatorBlock
from tests.revid_server import KEY, VIDEO, RevidServer
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients, stored_file

BLOCK = AIShortformVideoCreatorBlock()
SCRIPT = "[close-up of a cat] Meow!"


@pytest.fixture
def revid() -> Iterator[RevidServer]:
    with RevidServer() as server:
        yield server


def run(server: RevidServer, waits: Waits, files: Path | None, data: dict[str, Any], **kw: Any):
    clients = service_clients(waits, revid_base_url=server.url, revid_poll_seconds=0.01)
    return run_block(BLOCK, data, context(clients, "revid", kw.pop("key", KEY), files, **kw))


def test_a_video_is_rendered_polled_and_stored(
    revid: RevidServer, waits: Waits, tmp_path: Path
) -> None:
    data = {"script": SCRIPT, "voice": "Brian", "video_style": "movingImage", "frame_rate": 30}
    outputs = run(revid, waits, tmp_path, data)

    assert stored_file(outputs, "video_url") == VIDEO
    assert next(tmp_path.iterdir()).name.endswith(".mp4")
    [payload] = revid.renders
    assert payload["frameRate"] == 30
    assert payload["webhook"] is None
    params = payload["creationParams"]
    assert params["inputText"] == SCRIPT
    assert params["selectedVoice"] == "nPczCjzI2devNBz1zQrb"
    assert params["mediaType"] == "movingImage"
    assert params["hasToGenerateVideos"] is True
    assert params["generationPreset"] == "LEONARDO"
    assert params["selectedAudio"] == "Highway Nocturne"
    assert params["audioUrl"] == "https://cdn.tfrv.xyz/audio/highway-nocturne.mp3"
    status = [r for r in revid.requests if r.path == "/api/public/v2/status"]
    assert [r.query for r in status] == [{"pid": "pid-1"}, {"pid": "pid-1"}]


def test_a_wrong_key_is_a_clear_error(revid: RevidServer, waits: Waits) -> None:
    outputs = run(revid, waits, None, {"script": SCRIPT}, key="revid-wrong-000000")
    assert outputs == [
        ("error", "revid answered HTTP 401 (unauthorized: check the API key): Invalid API key")
    ]


def test_a_rate_limited_status_check_is_retried(
    revid: RevidServer, waits: Waits, tmp_path: Path
) -> None:
    revid.script("/api/public/v2/status", Json({"error": "slow"}, 429, {"Retry-After": "2"}))
    outputs = run(revid, waits, tmp_path, {"script": SCRIPT})
    assert stored_file(outputs, "video_url") == VIDEO
    assert waits == [2.0]


def test_a_failed_render_gives_revids_reason(revid: RevidServer, waits: Waits) -> None:
    revid.final = {"status": "error", "error": "script too long"}
    outputs = run(revid, waits, None, {"script": SCRIPT})
    assert outputs == [("error", "revid could not create video pid-1: script too long")]


def test_a_render_past_the_node_time_fails_clearly(revid: RevidServer, waits: Waits) -> None:
    revid.polls_before_ready = 10**6
    clients = service_clients(waits, revid_base_url=revid.url, revid_poll_seconds=0.2)
    outputs = run_block(BLOCK, {"script": SCRIPT}, context(clients, "revid", KEY, None, seconds=1))
    assert outputs == [
        (
            "error",
            "revid: video pid-1 was not done within the node's time limit; give the node a "
            "longer timeout",
        )
    ]


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Json({"success": 0}), "no project id (pid) for the render"),
        (Raw(b"Bad Gateway", content_type="text/plain"), "not JSON"),
    ],
)
def test_a_malformed_answer_is_named(
    revid: RevidServer, waits: Waits, reply: Any, problem: str
) -> None:
    revid.script("/api/public/v2/render", reply)
    outputs = run(revid, waits, None, {"script": SCRIPT})
    assert outputs == [("error", f"revid sent a malformed answer: {problem}")]


def test_ready_without_a_video_url_is_malformed(revid: RevidServer, waits: Waits) -> None:
    revid.final = {"status": "ready"}
    outputs = run(revid, waits, None, {"script": SCRIPT})
    assert outputs == [
        ("error", "revid sent a malformed answer: video pid-1 is ready but has no videoUrl")
    ]


def test_the_block_allows_itself_autogpts_wait() -> None:
    assert BLOCK.timeout_seconds == 1000


def test_a_service_down_is_reported_without_repeating_the_post(
    revid: RevidServer, waits: Waits
) -> None:
    down = Json({"error": "maintenance"}, 503)
    revid.script("/api/public/v2/render", down)
    outputs = run(revid, waits, None, {"script": SCRIPT})
    assert outputs == [
        ("error", "revid answered HTTP 503 (server error; a POST is not repeated): maintenance")
    ]
    assert waits == [] and len(revid.requests) == 1

"""IdeogramModelBlock against a fake Ideogram API over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.blocks.ideogram import IdeogramModelBlock
from tests.ideogram_server import KEY, UPSCALED, ideogram_server
from tests.service_server import PNG, Hold, Json, Raw, ServiceServer
from tests.services.conftest import Waits, context, run_block, service_clients, stored_file

BLOCK = IdeogramModelBlock()


@pytest.fixture
def ideogram() -> Any:
    with ideogram_server() as server:
        yield server


def run(server: ServiceServer, waits: Waits, files: Path | None, data: dict[str, Any], **kw: Any):
    clients = service_clients(waits, ideogram_base_url=server.url)
    return run_block(BLOCK, data, context(clients, "ideogram", kw.pop("key", KEY), files, **kw))


def test_v3_image_is_generated_and_stored(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    outputs = run(ideogram, waits, tmp_path, {"prompt": "a cat", "aspect_ratio": "ASPECT_16_9"})

    assert stored_file(outputs, "result") == PNG
    [sent] = [r for r in ideogram.requests if r.method == "POST"]
    assert sent.path == "/v1/ideogram-v3/generate"
    assert sent.headers["api-key"] == KEY
    assert sent.json == {
        "prompt": "a cat",
        "aspect_ratio": "16x9",
        "magic_prompt": "AUTO",
        "style_type": "AUTO",
    }


def test_legacy_model_gets_its_palette_and_seed(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    data = {
        "prompt": "a poster",
        "ideogram_model_name": "V_2",
        "seed": 7,
        "negative_prompt": "text",
        "custom_color_palette": ["#000030", "#FFFFFF"],
    }
    run(ideogram, waits, tmp_path, data)

    [sent] = [r for r in ideogram.requests if r.method == "POST"]
    assert sent.path == "/generate"
    assert sent.json == {
        "image_request": {
            "prompt": "a poster",
            "model": "V_2",
            "aspect_ratio": "ASPECT_1_1",
            "magic_prompt_option": "AUTO",
            "style_type": "AUTO",
            "seed": 7,
            "negative_prompt": "text",
            "color_palette": {"members": [{"color_hex": "#000030"}, {"color_hex": "#FFFFFF"}]},
        }
    }


def test_upscale_sends_the_image_and_stores_the_upscaled_one(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x", "upscale": "AI Upscale"})

    assert stored_file(outputs, "result") == UPSCALED
    assert ideogram.paths() == [
        "/v1/ideogram-v3/generate",
        "/files/image.png",
        "/upscale",
        "/files/upscaled.png",
    ]


def test_without_a_file_store_the_providers_url_is_output(
    ideogram: ServiceServer, waits: Waits
) -> None:
    assert run(ideogram, waits, None, {"prompt": "x"}) == [("result", ideogram.file_url())]


def test_a_wrong_key_is_a_clear_error_without_the_key(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    wrong = "ideo-wrong-key-1234567890"
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x"}, key=wrong)
    assert outputs == [
        ("error", "ideogram answered HTTP 401 (unauthorized: check the API key): Invalid API key")
    ]


def test_rate_limit_is_waited_out_as_asked(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    ideogram.script(
        "/v1/ideogram-v3/generate", Json({"detail": "slow down"}, 429, {"Retry-After": "7"})
    )
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x"})
    assert stored_file(outputs, "result") == PNG
    assert waits == [7.0]


def test_a_long_rate_limit_fails_the_node_at_once(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    ideogram.script(
        "/v1/ideogram-v3/generate", Json({"detail": "quota"}, 429, {"Retry-After": "120"})
    )
    [(pin, message)] = run(ideogram, waits, tmp_path, {"prompt": "x"})
    assert pin == "error"
    assert message == (
        "ideogram answered HTTP 429 (rate limited; the server asks to wait 120 s): quota"
    )
    assert waits == []


def test_no_answer_within_the_node_time_is_a_timeout(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    ideogram.script("/v1/ideogram-v3/generate", Hold())
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x"}, seconds=0.5)
    assert outputs == [("error", "ideogram did not answer in time")]
    assert ideogram.disconnected.wait(5)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Raw(b"<html>oops</html>", content_type="text/html"), "not JSON"),
        (Json({"data": []}), "no data[0].url in the answer"),
        (Json({"data": [{"url": 5}]}), "data[0].url is not a URL"),
    ],
)
def test_a_malformed_answer_is_named(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path, reply: Any, problem: str
) -> None:
    ideogram.script("/v1/ideogram-v3/generate", reply)
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x"})
    assert outputs == [("error", f"ideogram sent a malformed answer: {problem}")]


def test_a_result_over_the_file_limit_is_refused(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path
) -> None:
    ideogram.served_files["image.png"] = (b"x" * (2 * 1024 * 1024), "image/png")
    [(pin, message)] = run(ideogram, waits, tmp_path, {"prompt": "x"})
    assert pin == "error"
    assert "is larger than the file limit of 1048576 bytes" in message
    assert list(tmp_path.iterdir()) == []


def test_without_a_credential_the_node_says_what_to_do(tmp_path: Path, waits: Waits) -> None:
    clients = service_clients(waits)
    ctx = context(clients, "ideogram", KEY, tmp_path)
    ctx.credentials = {}
    assert run_block(BLOCK, {"prompt": "x"}, ctx) == list(BLOCK.test_vectors[0].output)
    assert BLOCK.required_credentials({}) == {"credentials": "ideogram"}


def test_the_key_is_never_logged(
    ideogram: ServiceServer, waits: Waits, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    ideogram.script("/v1/ideogram-v3/generate", Json({"detail": KEY}, 429))
    outputs = run(ideogram, waits, tmp_path, {"prompt": "x", "upscale": "AI Upscale"})
    assert stored_file(outputs, "result") == UPSCALED
    assert "HTTP 429; retry 1" in caplog.text
    assert KEY not in caplog.text


def test_a_key_echoed_in_an_error_is_masked(ideogram: ServiceServer, waits: Waits) -> None:
    ideogram.script("/v1/ideogram-v3/generate", Json({"detail": f"bad key {KEY}"}, 403))
    outputs = run(ideogram, waits, None, {"prompt": "x"})
    assert outputs == [("error", "ideogram answered HTTP 403 (forbidden): bad key ***")]

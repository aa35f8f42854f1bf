"""ReplicateFluxAdvancedModelBlock and AIImageGeneratorBlock through the ``replicate``
client library, against a fake Replicate API over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.blocks.replicate_images import AIImageGeneratorBlock, ReplicateFluxAdvancedModelBlock
from tests.replicate_server import KEY, ReplicateServer
from tests.service_server import PNG, Json
from tests.services.conftest import Waits, context, run_block, service_clients, stored_file

FLUX = ReplicateFluxAdvancedModelBlock()
IMAGE = AIImageGeneratorBlock()


@pytest.fixture
def replicate() -> Iterator[ReplicateServer]:
    with ReplicateServer() as server:
        yield server


def ctx_for(server: ReplicateServer, waits: Waits, files: Path | None, **kw: Any) -> Any:
    clients = service_clients(waits, replicate_base_url=server.url, replicate_poll_seconds=0.01)
    return context(clients, "replicate", kw.pop("key", KEY), files, **kw)


def test_flux_runs_the_model_polls_it_and_stores_the_image(
    replicate: ReplicateServer, waits: Waits, tmp_path: Path
) -> None:
    data = {
        "prompt": "dog",
        "replicate_model_name": "Flux Pro 1.1",
        "seed": 42,
        "output_format": "png",
    }
    outputs = run_block(FLUX, data, ctx_for(replicate, waits, tmp_path))

    assert stored_file(outputs, "result") == PNG
    create = replicate.requests[0]
    assert create.path == "/v1/models/black-forest-labs/flux-1.1-pro/predictions"
    assert "prefer" not in create.headers  # polled, not held open
    assert create.json["input"] == {
        "prompt": "dog",
        "seed": 42,
        "steps": 25,
        "guidance": 3.0,
        "interval": 2.0,
        "aspect_ratio": "1:1",
        "output_format": "png",
        "output_quality": 80,
        "safety_tolerance": 2,
    }
    assert replicate.paths("GET")[:2] == ["/v1/predictions/p1", "/v1/predictions/p1"]


def test_flux_without_a_seed_sends_a_random_one(replicate: ReplicateServer, waits: Waits) -> None:
    run_block(FLUX, {"prompt": "dog"}, ctx_for(replicate, waits, None))
    run_block(FLUX, {"prompt": "dog"}, ctx_for(replicate, waits, None))
    seeds = [p["input"]["seed"] for p in replicate.predictions.values()]
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)
    assert seeds[0] != seeds[1]


@pytest.mark.parametrize(
    ("data", "model", "sent"),
    [
        (
            {"prompt": " robots ", "model": "Flux 1.1 Pro Ultra", "size": "landscape"},
            "black-forest-labs/flux-1.1-pro-ultra",
            {
                "prompt": "robots",
                "width": 1365,
                "height": 1024,
                "aspect_ratio": "4:3",
                "output_format": "jpg",
                "output_quality": 90,
            },
        ),
        (
            {"prompt": "robots", "style": "digital_illustration/pixel_art", "size": "tall"},
            "stability-ai/stable-diffusion-3.5-medium",
            {
                "prompt": "pixel art of robots",
                "aspect_ratio": "9:16",
                "output_format": "webp",
                "output_quality": 90,
                "steps": 40,
                "cfg_scale": 7.0,
            },
        ),
        (
            {"prompt": "robots", "model": "Recraft v3", "style": "realistic_image"},
            "recraft-ai/recraft-v3",
            {"prompt": "robots", "size": "1024x1024", "style": "realistic_image"},
        ),
    ],
)
def test_image_generator_sends_what_autogpt_sends(
    replicate: ReplicateServer,
    waits: Waits,
    tmp_path: Path,
    data: dict[str, Any],
    model: str,
    sent: dict[str, Any],
) -> None:
    replicate.output = [replicate.file_url()]  # some models answer a list of URLs
    outputs = run_block(IMAGE, data, ctx_for(replicate, waits, tmp_path))
    assert stored_file(outputs, "image_url") == PNG
    [prediction] = replicate.predictions.values()
    assert (prediction["model"], prediction["input"]) == (model, sent)


def test_a_wrong_key_is_a_clear_error(replicate: ReplicateServer, waits: Waits) -> None:
    outputs = run_block(
        IMAGE, {"prompt": "x"}, ctx_for(replicate, waits, None, key="r8_wrong_0000")
    )
    assert outputs == [
        (
            "error",
            "replicate answered HTTP 401 (unauthorized: check the API key): "
            "You did not pass a valid authentication token",
        )
    ]


def test_out_of_credit_says_so(replicate: ReplicateServer, waits: Waits) -> None:
    replicate.script(r"/v1/models/.*", Json({"title": "Insufficient credit", "status": 402}, 402))
    outputs = run_block(IMAGE, {"prompt": "x"}, ctx_for(replicate, waits, None))
    assert outputs == [
        (
            "error",
            "replicate answered HTTP 402 (payment required: the account is out of credit): "
            "Insufficient credit",
        )
    ]


def test_rate_limits_are_waited_out_as_asked(
    replicate: ReplicateServer, waits: Waits, tmp_path: Path
) -> None:
    limited = Json({"detail": "throttled"}, 429, {"Retry-After": "3"})
    replicate.script(r"/v1/models/.*", limited)
    replicate.script(r"/v1/predictions/p1", limited)
    outputs = run_block(FLUX, {"prompt": "x"}, ctx_for(replicate, waits, tmp_path))
    assert stored_file(outputs, "result") == PNG
    assert waits == [3.0, 3.0]


def test_a_rate_limit_past_the_deadline_fails_at_once(
    replicate: ReplicateServer, waits: Waits
) -> None:
    replicate.script(r"/v1/models/.*", Json({"detail": "throttled"}, 429, {"Retry-After": "30"}))
    outputs = run_block(FLUX, {"prompt": "x"}, ctx_for(replicate, waits, None, seconds=10))
    assert outputs == [
        (
            "error",
            "replicate answered HTTP 429 (rate limited; waiting 30.0 s would pass the node's "
            "time limit)",
        )
    ]
    assert waits == []


def test_a_failed_prediction_gives_the_models_reason(
    replicate: ReplicateServer, waits: Waits
) -> None:
    replicate.outcome, replicate.error = "failed", "NSFW content detected"
    outputs = run_block(FLUX, {"prompt": "x"}, ctx_for(replicate, waits, None))
    assert outputs == [
        ("error", "black-forest-labs/flux-schnell failed on replicate: NSFW content detected")
    ]


def test_a_prediction_past_the_node_time_is_canceled(
    replicate: ReplicateServer, waits: Waits
) -> None:
    replicate.polls_before_done = 10**6
    clients = service_clients(waits, replicate_base_url=replicate.url, replicate_poll_seconds=0.2)
    ctx = context(clients, "replicate", KEY, None, seconds=0.5)
    [(pin, message)] = run_block(FLUX, {"prompt": "x"}, ctx)
    assert pin == "error"
    # Usually the wait before a check no longer fits; on a slow machine the check itself
    # may be what runs out of time.
    assert message in (
        "replicate: prediction black-forest-labs/flux-schnell was not done within the "
        "node's time limit; give the node a longer timeout",
        "replicate did not answer in time",
    )
    assert replicate.canceled.is_set()
    assert replicate.paths("POST")[-1] == "/v1/predictions/p1/cancel"


def test_cancelling_the_node_cancels_the_prediction(
    replicate: ReplicateServer, waits: Waits
) -> None:
    replicate.polls_before_done = 10**6
    ctx = ctx_for(replicate, waits, None)

    async def main() -> None:
        task = asyncio.create_task(FLUX.execute({"prompt": "x"}, ctx).__anext__())
        # Once it polls, the block holds the prediction's id (a cancel while the create is
        # in flight has no id to cancel).
        while not replicate.paths("GET"):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ctx.services.aclose()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert replicate.canceled.is_set()


def test_a_malformed_prediction_is_named(replicate: ReplicateServer, waits: Waits) -> None:
    replicate.script(r"/v1/models/.*", Json({"id": "p9"}, 201))
    [(pin, message)] = run_block(FLUX, {"prompt": "x"}, ctx_for(replicate, waits, None))
    assert pin == "error"
    assert message.startswith("replicate sent a malformed answer:")


def test_an_output_without_a_url_is_an_error(replicate: ReplicateServer, waits: Waits) -> None:
    replicate.output = []
    outputs = run_block(FLUX, {"prompt": "x"}, ctx_for(replicate, waits, None))
    assert outputs == [("error", "replicate returned no image URL (output: '[]')")]

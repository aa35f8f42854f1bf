"""Ideogram's image API over plain HTTP: generate (V3 and the legacy models), upscale.

Shapes follow Ideogram's public API reference: ``POST /v1/ideogram-v3/generate`` for
V_3, ``POST /generate`` with an ``image_request`` for the older models, ``POST
/upscale`` (multipart: the image and an ``image_request``). Every answer carries the
image URL at ``data[0].url``; the key goes in the ``Api-Key`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .http import time_budget
from .services import ServiceCall, ServiceClients, dig

PROVIDER = "ideogram"
V3 = "V_3"
# Models that take a style type, and those that take a colour palette (legacy API).
STYLED_MODELS = frozenset({"V_2", "V_2_TURBO", "V_3"})
PALETTE_MODELS = frozenset({"V_2", "V_2_TURBO"})


@dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    aspect_ratio: str  # the legacy name, e.g. ASPECT_16_9
    magic_prompt: str
    style_type: str
    seed: int | None = None
    negative_prompt: str | None = None
    palette_name: str = "NONE"
    custom_colors: tuple[str, ...] = ()


def v3_aspect_ratio(legacy: str) -> str:
    """ASPECT_16_9 -> 16x9, the V3 endpoint's spelling."""
    return legacy.removeprefix("ASPECT_").replace("_", "x")


def _v3_body(request: ImageRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": v3_aspect_ratio(request.aspect_ratio),
        "magic_prompt": request.magic_prompt,
        "style_type": request.style_type,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    return body


def _legacy_body(request: ImageRequest) -> dict[str, Any]:
    image: dict[str, Any] = {
        "prompt": request.prompt,
        "model": request.model,
        "aspect_ratio": request.aspect_ratio,
        "magic_prompt_option": request.magic_prompt,
    }
    if request.model in STYLED_MODELS:
        image["style_type"] = request.style_type
    if request.seed is not None:
        image["seed"] = request.seed
    if request.negative_prompt:
        image["negative_prompt"] = request.negative_prompt
    if request.model in PALETTE_MODELS:
        if request.palette_name != "NONE":
            image["color_palette"] = {"name": request.palette_name}
        elif request.custom_colors:
            image["color_palette"] = {
                "members": [{"color_hex": color} for color in request.custom_colors]
            }
    return {"image_request": image}


class Ideogram:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.ideogram_base_url,
            clients.pool.client(),
            key,
            {"Api-Key": key},
        )

    async def generate(self, request: ImageRequest) -> str:
        """The URL of the generated image."""
        if request.model == V3:
            path, body = "/v1/ideogram-v3/generate", _v3_body(request)
        else:
            path, body = "/generate", _legacy_body(request)
        with time_budget(self.deadline):
            answer = await self.call.request("POST", path, json=body)
        return self._url(answer)

    async def upscale(self, image: bytes, content_type: str) -> str:
        """The URL of ``image`` upscaled."""
        with time_budget(self.deadline):
            answer = await self.call.request(
                "POST",
                "/upscale",
                data={"image_request": "{}"},
                files={"image_file": ("image.png", image, content_type)},
            )
        return self._url(answer)

    def _url(self, answer: Any) -> str:
        url = dig(answer, self.call, "data", 0, "url")
        if not isinstance(url, str) or not url:
            raise self.call.malformed("data[0].url is not a URL")
        return url

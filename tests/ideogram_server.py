"""A fake Ideogram API: the generate (V3 and legacy) and upscale endpoints, as Ideogram's
public API reference describes them, answering with URLs of images it serves itself."""

from __future__ import annotations

import re
import time

from tests.service_server import PNG, Json, Recorded, ServiceServer

KEY = "ideo-test-key-9f3b2c71d0"
UPSCALED = PNG + b"-upscaled"


def ideogram_server(key: str = KEY) -> ServiceServer:
    server: ServiceServer

    def image(recorded: Recorded, name: str) -> Json:
        if recorded.headers.get("api-key") != key:
            return Json({"detail": "Invalid API key"}, 401)
        return Json(
            {
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "data": [
                    {
                        "url": server.file_url(name),
                        "prompt": "the prompt",
                        "resolution": "1024x1024",
                        "is_image_safe": True,
                        "seed": 12345,
                    }
                ],
            }
        )

    def generate(recorded: Recorded, match: re.Match[str]) -> Json:
        return image(recorded, "image.png")

    def upscale(recorded: Recorded, match: re.Match[str]) -> Json:
        if b'name="image_file"' not in recorded.body or PNG not in recorded.body:
            return Json({"detail": "image_file is required"}, 422)
        return image(recorded, "upscaled.png")

    server = ServiceServer(
        {
            ("POST", "/v1/ideogram-v3/generate"): generate,
            ("POST", "/generate"): generate,
            ("POST", "/upscale"): upscale,
        }
    )
    server.served_files["upscaled.png"] = (UPSCALED, "image/png")
    return server

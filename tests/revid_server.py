"""A fake revid.ai public API: start a render, report its status, serve the video."""

from __future__ import annotations

import re

from tests.service_server import Json, Recorded, ServiceServer

KEY = "revid-test-key-0c7e55a1b2"
VIDEO = b"\x00\x00\x00\x18ftypmp42fake video"


class RevidServer(ServiceServer):
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.polls_before_ready = 2
        self.final: dict[str, object] = {}  # None of its own: ready with the served video
        self.renders: list[dict[str, object]] = []
        self._polls = 0
        super().__init__(
            {
                ("POST", r"/api/public/v2/render"): self.render,
                ("GET", r"/api/public/v2/status"): self.status,
            }
        )
        self.served_files["video.mp4"] = (VIDEO, "video/mp4")

    def render(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if recorded.headers.get("key") != self.key:
            return Json({"error": "Invalid API key"}, 401)
        self.renders.append(recorded.json)
        return Json({"success": 1, "pid": f"pid-{len(self.renders)}"})

    def status(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if recorded.headers.get("key") != self.key:
            return Json({"error": "Invalid API key"}, 401)
        self._polls += 1
        if self._polls < self.polls_before_ready:
            return Json({"status": "generating", "pid": recorded.query.get("pid")})
        return Json(self.final or {"status": "ready", "videoUrl": self.file_url("video.mp4")})

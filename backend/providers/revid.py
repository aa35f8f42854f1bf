"""revid.ai's public API over plain HTTP: start a render, then poll it until ready.

``POST /api/public/v2/render`` answers a project id (``pid``); ``GET
/api/public/v2/status?pid=`` answers its ``status`` and, once ``ready``, the
``videoUrl``. The key goes in the ``key`` header. Polling waits asynchronously, so a
cancelled node stops at once, and gives up before the node's deadline would pass.
"""

from __future__ import annotations

from typing import Any

from backend.errors import ProviderError

from .http import time_budget
from .services import ServiceCall, ServiceClients, poll_pause

PROVIDER = "revid"
FAILED_STATUSES = frozenset({"error", "failed", "canceled", "cancelled"})


class Revid:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.poll_seconds = clients.settings.revid_poll_seconds
        self.call = ServiceCall(
            PROVIDER, clients.settings.revid_base_url, clients.pool.client(), key, {"key": key}
        )

    async def render(self, payload: dict[str, Any]) -> str:
        """Render the video ``payload`` describes; returns its URL once it is ready."""
        with time_budget(self.deadline):
            answer = await self.call.request("POST", "/api/public/v2/render", json=payload)
            pid = answer.get("pid") if isinstance(answer, dict) else None
            if not isinstance(pid, str) or not pid:
                raise self.call.malformed("no project id (pid) for the render")
            while True:
                status = await self.call.request(
                    "GET", "/api/public/v2/status", params={"pid": pid}
                )
                if not isinstance(status, dict):
                    raise self.call.malformed("the status is not an object")
                url = self._ready_url(status, pid)
                if url is not None:
                    return url
                await poll_pause(PROVIDER, self.poll_seconds, f"video {pid}")

    def _ready_url(self, status: dict[str, Any], pid: str) -> str | None:
        state = str(status.get("status", "")).lower()
        if state == "ready":
            url = status.get("videoUrl")
            if not isinstance(url, str) or not url:
                raise self.call.malformed(f"video {pid} is ready but has no videoUrl")
            return url
        if state in FAILED_STATUSES:
            reason = status.get("error") or status.get("message") or "no reason given"
            raise ProviderError(f"revid could not create video {pid}: {reason}")
        return None

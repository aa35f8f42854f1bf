"""A fake YouTube (the watch page, the Android player API, timedtext captions) that is
also the Webshare proxy in front of it: requests arrive in absolute form, carrying
``Proxy-Authorization``, which it checks before answering as YouTube would."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.service_server import Json, Raw, Recorded, ServiceServer

USERNAME = "webshare-user"
PASSWORD = "ws-pass-4e8c1a93f0"
API_KEY = "AIzaInnertubeFake"
VIDEO = "dQw4w9WgXcQ"
CAPTIONS = (
    '<?xml version="1.0" encoding="utf-8" ?><transcript>'
    '<text start="0.5" dur="2.1">Never gonna give you up</text>'
    '<text start="2.6" dur="2.0">Never gonna &lt;i&gt;let&lt;/i&gt; you down &amp;amp; more</text>'
    "</transcript>"
)


def track(language: str, generated: bool = False, base: str = "") -> dict[str, Any]:
    kind = {"kind": "asr"} if generated else {}
    return {
        "baseUrl": f"{base}/api/timedtext?v={VIDEO}&lang={language}&fmt=srv3",
        "name": {"runs": [{"text": language}]},
        "languageCode": language,
        **kind,
    }


class YouTubeServer(ServiceServer):
    def __init__(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        # The login the proxy expects; None: reached directly, no proxy login expected.
        self.proxy_login: str | None = f"{username}-rotate:{password}"
        self.tracks = [track("de"), track("en", generated=True, base="https://www.youtube.com")]
        self.playability: dict[str, Any] = {"status": "OK"}
        self.captions: dict[str, str] = {
            "en": CAPTIONS,
            "de": "<transcript><text>Hallo</text></transcript>",
        }
        super().__init__(
            {
                ("GET", "/watch"): self._watch,
                ("POST", "/youtubei/v1/player"): self._player,
                ("GET", "/api/timedtext"): self._timedtext,
            }
        )

    def _proxy_ok(self, recorded: Recorded) -> bool:
        if self.proxy_login is None:
            return "proxy-authorization" not in recorded.headers
        token = base64.b64encode(self.proxy_login.encode()).decode()
        return recorded.headers.get("proxy-authorization") == f"Basic {token}"

    def _watch(self, recorded: Recorded, match: re.Match[str]) -> Json | Raw:
        if not self._proxy_ok(recorded):
            return Raw(b"Proxy Authentication Required", 407, "text/plain")
        page = f'<html><script>ytcfg.set({{"INNERTUBE_API_KEY": "{API_KEY}"}});</script></html>'
        return Raw(page.encode(), content_type="text/html; charset=utf-8")

    def _player(self, recorded: Recorded, match: re.Match[str]) -> Json | Raw:
        if not self._proxy_ok(recorded):
            return Raw(b"Proxy Authentication Required", 407, "text/plain")
        if recorded.query.get("key") != API_KEY:
            return Json({"error": {"code": 400, "message": "API key not valid."}}, 400)
        answer: dict[str, Any] = {"playabilityStatus": self.playability}
        if self.tracks:
            answer["captions"] = {"playerCaptionsTracklistRenderer": {"captionTracks": self.tracks}}
        return Json(answer)

    def _timedtext(self, recorded: Recorded, match: re.Match[str]) -> Json | Raw:
        if not self._proxy_ok(recorded):
            return Raw(b"Proxy Authentication Required", 407, "text/plain")
        text = self.captions.get(recorded.query.get("lang", ""))
        if text is None or "fmt" in recorded.query:
            return Raw(b"", 404, "text/plain")
        return Raw(text.encode(), content_type="text/xml; charset=UTF-8")

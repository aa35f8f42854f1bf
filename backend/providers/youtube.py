"""A YouTube video's transcript, read the way the public web and app clients read it.

AutoGPT uses the ``youtube-transcript-api`` library. That library cannot be pointed at
another server (its YouTube URLs are module constants), and it blocks on ``requests``.
So this module implements the minimal part of the same public flow over our retrying
HTTP client, with every URL under the ``BACKEND_YOUTUBE_BASE_URL`` setting:

1. ``GET /watch?v=ID``: the video page, which carries the ``INNERTUBE_API_KEY``;
2. ``POST /youtubei/v1/player?key=KEY`` (as the Android app): the playability status
   and the caption tracks, each with a ``baseUrl`` on YouTube;
3. ``GET`` that track's path and query (taken onto the base URL, so nothing but YouTube
   is ever fetched): the captions as XML ``<text start dur>`` lines.

The track is chosen as AutoGPT does: English made by a person, else English generated,
else the first track made by a person, else the first generated. The lines are joined
with newlines, as the library's ``TextFormatter`` does. As AutoGPT, every request goes
through the Webshare proxy (``BACKEND_WEBSHARE_PROXY_URL``, with the credential's
username, rotating, and password), since YouTube refuses most data-centre addresses.
An EU cookie-consent page is accepted (a ``CONSENT`` cookie) and the page read again.
Not implemented: retrying with a fresh proxy IP when YouTube blocks one (the error says
so).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeXml

from backend.errors import ProviderError

from .http import proxied_client, time_budget
from .services import ServiceCall, ServiceClients

PROVIDER = "youtube"
PLAYER_CONTEXT = {"client": {"clientName": "ANDROID", "clientVersion": "20.10.38"}}
_API_KEY = re.compile(r'"INNERTUBE_API_KEY":\s*"([a-zA-Z0-9_-]+)"')
_TAGS = re.compile(r"<[^>]*>")
_CONSENT_FORM = 'action="https://consent.youtube.com/s"'
_CONSENT_VALUE = re.compile(r'name="v" value="([^"]*)"')


def proxy_url(template: str, username: str, password: str) -> str:
    """The Webshare proxy URL with the login in it (a rotating IP per request)."""
    parts = urllib.parse.urlsplit(template)
    user = urllib.parse.quote(f"{username}-rotate", safe="")
    secret = urllib.parse.quote(password, safe="")
    netloc = f"{user}:{secret}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def choose_track(tracks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """English by a person, English generated, any by a person, any generated."""
    made = [t for t in tracks if t.get("kind") != "asr"]
    generated = [t for t in tracks if t.get("kind") == "asr"]
    for group in (made, generated):
        for track in group:
            if track.get("languageCode") == "en":
                return track
    chosen = made or generated
    return chosen[0] if chosen else None


def caption_text(xml: str) -> str:
    """The caption lines of a timedtext document, one per line, markup removed."""
    try:
        root = SafeXml.fromstring(xml)
    except (ParseError, ValueError) as exc:
        raise ProviderError(f"youtube sent malformed captions: {exc}") from None
    lines = []
    for element in root.iter("text"):
        text = html.unescape(_TAGS.sub("", "".join(element.itertext())))
        if text:
            lines.append(text)
    return "\n".join(lines)


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is an object; empty for anything else (a field that is absent)."""
    return value if isinstance(value, dict) else {}


class YouTube:
    def __init__(
        self, clients: ServiceClients, login: tuple[str, str], deadline: float | None
    ) -> None:
        self.clients = clients
        self.login = login
        self.deadline = deadline

    @contextlib.asynccontextmanager
    async def _call(self) -> AsyncIterator[ServiceCall]:
        settings = self.clients.settings
        username, password = self.login
        headers = {"Accept-Language": "en-US"}
        if not settings.webshare_proxy_url:
            http = self.clients.pool.client()
            yield ServiceCall(PROVIDER, settings.youtube_base_url, http, password, headers)
            return
        url = proxy_url(settings.webshare_proxy_url, username, password)
        async with proxied_client(self.clients.pool.policy, url) as http:
            yield ServiceCall(PROVIDER, settings.youtube_base_url, http, password, headers)

    async def transcript(self, video_id: str) -> str:
        """The text of the video's transcript."""
        with time_budget(self.deadline):
            async with self._call() as call:
                track = await self._track(call, video_id)
                parts = urllib.parse.urlsplit(str(track["baseUrl"]).replace("&fmt=srv3", ""))
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                return caption_text(await call.text(path))

    async def _track(self, call: ServiceCall, video_id: str) -> dict[str, Any]:
        page = await call.text("/watch", params={"v": video_id})
        if _CONSENT_FORM in page:  # the EU cookie banner: accept it, then read again
            value = _CONSENT_VALUE.search(page)
            if value is None:
                raise call.malformed("a consent page without its consent value")
            headers = {**call.headers, "Cookie": f"CONSENT=YES+{value[1]}"}
            call = dataclasses.replace(call, headers=headers)
            page = await call.text("/watch", params={"v": video_id})
            if _CONSENT_FORM in page:
                raise ProviderError("youtube keeps asking for cookie consent")
        if 'class="g-recaptcha"' in page:
            raise ProviderError(
                "youtube is blocking requests from this address (a captcha): try again "
                "later or through another proxy IP"
            )
        found = _API_KEY.search(page)
        if found is None:
            raise call.malformed(f"no INNERTUBE_API_KEY on the page of video {video_id}")
        player = await call.request(
            "POST",
            f"/youtubei/v1/player?key={found[1]}",
            json={"context": PLAYER_CONTEXT, "videoId": video_id},
            read_only=True,
        )
        if not isinstance(player, dict):
            raise call.malformed("the player answer is not an object")
        status = _object(player.get("playabilityStatus"))
        if status.get("status", "OK") != "OK":
            reason = status.get("reason") or status.get("status")
            raise ProviderError(f"youtube cannot play video {video_id}: {reason}")
        captions = _object(_object(player.get("captions")).get("playerCaptionsTracklistRenderer"))
        tracks = captions.get("captionTracks", [])
        if not isinstance(tracks, list):
            raise call.malformed("captionTracks is not a list")
        track = choose_track([t for t in tracks if isinstance(t, dict) and t.get("baseUrl")])
        if track is None:
            raise ProviderError(f"video {video_id} has no transcript")
        return track

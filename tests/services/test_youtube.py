"""TranscribeYoutubeVideoBlock against a fake YouTube behind a fake Webshare proxy, over
real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.youtube import TranscribeYoutubeVideoBlock, video_id_of
from backend.data.credentials_manager import SystemCredentials
from backend.errors import MissingCredentials, ProviderError
from backend.providers.credentials import Credentials, CredentialsType
from backend.settings import Settings
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients
from tests.youtube_server import API_KEY, PASSWORD, USERNAME, VIDEO, YouTubeServer, track

BLOCK = TranscribeYoutubeVideoBlock()
URL = f"https://www.youtube.com/watch?v={VIDEO}"
YOUTUBE = "http://www.youtube.test"  # never resolved: the proxy answers for it
TRANSCRIPT = "Never gonna give you up\nNever gonna let you down & more"


@pytest.fixture
def youtube() -> Iterator[YouTubeServer]:
    with YouTubeServer() as server:
        yield server


def run(server: YouTubeServer, waits: Waits, data: dict[str, Any], **kw: Any):
    settings = {"youtube_base_url": YOUTUBE, "webshare_proxy_url": server.url}
    settings.update(kw.pop("settings", {}))
    password = kw.pop("password", PASSWORD)
    ctx = context(service_clients(waits, **settings), "webshare_proxy", "", None, **kw)
    ctx.credentials = {
        "credentials": Credentials(
            "webshare_proxy",
            CredentialsType.USER_PASSWORD,
            id="cred-1",
            title="proxy",
            username=USERNAME,
            password=SecretStr(password),
        )
    }
    return run_block(BLOCK, data, ctx)


def test_the_transcript_is_read_through_the_proxy(youtube: YouTubeServer, waits: Waits) -> None:
    outputs = run(youtube, waits, {"youtube_url": URL})

    assert outputs == [("video_id", VIDEO), ("transcript", TRANSCRIPT)]
    watch, player, captions = youtube.requests
    assert (watch.method, watch.path, watch.query) == ("GET", "/watch", {"v": VIDEO})
    assert watch.headers["host"] == "www.youtube.test"
    assert watch.headers["accept-language"] == "en-US"
    assert (player.method, player.path, player.query) == (
        "POST",
        "/youtubei/v1/player",
        {"key": API_KEY},
    )
    assert player.json == {
        "context": {"client": {"clientName": "ANDROID", "clientVersion": "20.10.38"}},
        "videoId": VIDEO,
    }
    # English (generated) wins over German made by a person; srv3 is not asked for.
    assert (captions.path, captions.query) == ("/api/timedtext", {"v": VIDEO, "lang": "en"})


def test_english_by_a_person_is_preferred(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.tracks = [track("en", generated=True), track("en"), track("de")]
    youtube.captions["en"] = "<transcript><text>By hand</text></transcript>"
    assert run(youtube, waits, {"youtube_url": URL})[1] == ("transcript", "By hand")


def test_another_language_when_there_is_no_english(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.tracks = [track("fr", generated=True), track("de")]
    assert run(youtube, waits, {"youtube_url": URL})[1] == ("transcript", "Hallo")


def test_without_a_proxy_setting_youtube_is_reached_directly(
    youtube: YouTubeServer, waits: Waits
) -> None:
    youtube.proxy_login = None
    settings = {"youtube_base_url": youtube.url, "webshare_proxy_url": ""}
    outputs = run(youtube, waits, {"youtube_url": URL}, settings=settings)
    assert outputs == [("video_id", VIDEO), ("transcript", TRANSCRIPT)]


def test_a_wrong_proxy_password_is_a_clear_error_without_it(
    youtube: YouTubeServer, waits: Waits
) -> None:
    wrong = "ws-wrong-password-000"
    outputs = run(youtube, waits, {"youtube_url": URL}, password=wrong)
    assert outputs == [
        ("video_id", VIDEO),
        (
            "error",
            "youtube answered HTTP 407 (proxy authentication required: check the proxy's "
            "username and password): Proxy Authentication Required",
        ),
    ]
    assert wrong not in str(outputs)


def test_a_rate_limited_page_is_retried(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.script("/watch", Raw(b"Too Many Requests", 429, "text/plain", {"Retry-After": "2"}))
    assert run(youtube, waits, {"youtube_url": URL})[1] == ("transcript", TRANSCRIPT)
    assert waits == [2.0]


def test_a_blocked_address_is_named(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.script("/watch", Raw(b'<div class="g-recaptcha"></div>', content_type="text/html"))
    [_, (pin, message)] = run(youtube, waits, {"youtube_url": URL})
    assert pin == "error"
    assert message.startswith("youtube is blocking requests from this address")


def test_an_unplayable_video_gives_youtubes_reason(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.playability = {"status": "ERROR", "reason": "This video is unavailable"}
    assert run(youtube, waits, {"youtube_url": URL})[1] == (
        "error",
        f"youtube cannot play video {VIDEO}: This video is unavailable",
    )


def test_a_video_without_captions(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.tracks = []
    assert run(youtube, waits, {"youtube_url": URL})[1] == (
        "error",
        f"video {VIDEO} has no transcript",
    )


@pytest.mark.parametrize(
    ("path", "reply", "problem"),
    [
        (
            "/watch",
            Raw(b"<html></html>", content_type="text/html"),
            f"youtube sent a malformed answer: no INNERTUBE_API_KEY on the page of video {VIDEO}",
        ),
        (
            "/youtubei/v1/player",
            Raw(b"oops", content_type="text/plain"),
            "youtube sent a malformed answer: not JSON",
        ),
        (
            "/youtubei/v1/player",
            Json({"captions": {"playerCaptionsTracklistRenderer": {"captionTracks": {}}}}),
            "youtube sent a malformed answer: captionTracks is not a list",
        ),
    ],
)
def test_a_malformed_answer_is_named(
    youtube: YouTubeServer, waits: Waits, path: str, reply: Any, problem: str
) -> None:
    youtube.script(path, reply)
    assert run(youtube, waits, {"youtube_url": URL})[1] == ("error", problem)


def test_malformed_captions_are_named(youtube: YouTubeServer, waits: Waits) -> None:
    youtube.captions["en"] = "<transcript><text>cut off"
    [_, (pin, message)] = run(youtube, waits, {"youtube_url": URL})
    assert (pin, message.split(":")[0]) == ("error", "youtube sent malformed captions")


@pytest.mark.parametrize(
    ("url", "video"),
    [
        ("https://youtu.be/dQw4w9WgXcQ", "dQw4w9WgXcQ"),
        ("https://youtube.com/watch?v=abc_-123&t=4", "abc_-123"),
        ("https://www.youtube.com/embed/xyz", "xyz"),
        ("https://www.youtube.com/v/xyz", "xyz"),
        ("https://www.youtube.com/shorts/short1", "short1"),
    ],
)
def test_video_ids_are_read_from_autogpts_url_forms(url: str, video: str) -> None:
    assert video_id_of(url) == video


@pytest.mark.parametrize(
    "url", ["https://vimeo.com/1", "https://www.youtube.com/watch", "https://youtu.be/a/../b"]
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ProviderError, match="Invalid YouTube URL"):
        video_id_of(url)


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "webshare_proxy", "", None)
    ctx.credentials = {}
    vector = BLOCK.test_vectors[0]
    assert run_block(BLOCK, vector.input, ctx) == list(vector.output)
    assert BLOCK.required_credentials({}) == {"credentials": "webshare_proxy"}


def test_the_operators_default_login_needs_both_settings() -> None:
    both = SystemCredentials(
        Settings(webshare_proxy_username=USERNAME, webshare_proxy_password=PASSWORD)
    )
    found = both.resolve("alice", None, "webshare_proxy")
    assert (found.type, found.username) == (CredentialsType.USER_PASSWORD, USERNAME)
    assert found.password is not None and found.password.get_secret_value() == PASSWORD

    half = SystemCredentials(Settings(webshare_proxy_username=USERNAME))
    with pytest.raises(MissingCredentials) as refused:
        half.resolve("alice", None, "webshare_proxy")
    assert str(refused.value).endswith(
        "or have the operator set BACKEND_WEBSHARE_PROXY_USERNAME and "
        "BACKEND_WEBSHARE_PROXY_PASSWORD"
    )


def test_an_unreachable_proxy_is_reported_without_the_password(
    youtube: YouTubeServer, waits: Waits
) -> None:
    settings = {"webshare_proxy_url": "http://127.0.0.1:9"}  # nothing listens there
    [_, (pin, message)] = run(youtube, waits, {"youtube_url": URL}, settings=settings)
    assert pin == "error"
    assert message.startswith("cannot reach youtube: ")
    assert PASSWORD not in message and youtube.requests == []


def test_the_eu_consent_page_is_accepted(youtube: YouTubeServer, waits: Waits) -> None:
    consent = (
        '<form action="https://consent.youtube.com/s" method="POST">'
        '<input type="hidden" name="v" value="cb.20250101-00-p0"></form>'
    )
    youtube.script("/watch", Raw(consent.encode(), content_type="text/html"))
    assert run(youtube, waits, {"youtube_url": URL})[1] == ("transcript", TRANSCRIPT)
    first, second = [r for r in youtube.requests if r.path == "/watch"]
    assert "cookie" not in first.headers
    assert second.headers["cookie"] == "CONSENT=YES+cb.20250101-00-p0"

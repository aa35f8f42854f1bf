"""TranscribeYoutubeVideoBlock: AutoGPT's YouTube transcript block (same id, pins and
credential: a Webshare proxy username and password)."""

from __future__ import annotations

import re
import urllib.parse

from pydantic import Field

from backend.errors import ProviderError
from backend.providers.services import login
from backend.providers.youtube import YouTube

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CREDENTIALS_FIELD, CredentialsRef, ServiceBlock

NO_LOGIN = (
    "this block needs a username and password for provider webshare_proxy: give the node "
    "a credential for it or set the operator's default login"
)
YOUTUBE_HOSTS = frozenset({"www.youtube.com", "youtube.com", "m.youtube.com"})
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]+")


def video_id_of(url: str) -> str:
    """The video id in a youtu.be, watch, embed, v or shorts URL (AutoGPT's forms)."""
    parts = urllib.parse.urlsplit(url.strip())
    found = ""
    if parts.netloc == "youtu.be":
        found = parts.path[1:]
    elif parts.netloc in YOUTUBE_HOSTS:
        if parts.path == "/watch":
            found = (urllib.parse.parse_qs(parts.query).get("v") or [""])[0]
        elif parts.path.startswith(("/embed/", "/v/", "/shorts/")):
            found = parts.path.split("/")[2]
    if not _VIDEO_ID.fullmatch(found):
        raise ProviderError(f"Invalid YouTube URL: {url}")
    return found


class TranscribeYoutubeVideoBlock(ServiceBlock):
    """Outputs a YouTube video's id, then its transcript as text (one caption per line).

    Prefers English captions made by a person, then generated English, then any other
    language, as AutoGPT does. YouTube is read through the Webshare proxy the
    credential logs in to (see docs/services.md).
    """

    id = "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c"
    description = "Transcribes a YouTube video (its captions), read through a Webshare proxy."
    categories = ("SOCIAL",)
    provider = "webshare_proxy"

    class Input(BlockSchema):
        youtube_url: str = Field(
            title="YouTube URL",
            description="The URL of the YouTube video to transcribe, e.g. "
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ.",
        )
        credentials: CredentialsRef = Field(
            None,
            description="Your Webshare proxy username and password (a credential "
            "reference); without one, the operator's default login.",
        )

    class Output(BlockSchema):
        video_id: str = Field(description="The extracted YouTube video id.")
        transcript: str = Field(description="The transcribed text of the video.")

    test_vectors = (
        TestVector(
            {"youtube_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
            [("video_id", "dQw4w9WgXcQ"), ("error", NO_LOGIN)],
        ),
        TestVector(
            {"youtube_url": "https://vimeo.com/123"},
            [("error", "Invalid YouTube URL: https://vimeo.com/123")],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        video_id = video_id_of(pins.youtube_url)
        yield "video_id", video_id
        credential = login(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))
        youtube = YouTube(self.clients(ctx), credential, ctx.deadline)
        yield "transcript", await youtube.transcript(video_id)

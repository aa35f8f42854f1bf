"""AIShortformVideoCreatorBlock: AutoGPT's short video maker on revid.ai (same id, pins,
defaults and render request)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from backend.providers.revid import Revid

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field, keep_result


class AudioTrack(StrEnum):
    OBSERVER = "Observer"
    FUTURISTIC_BEAT = "Futuristic Beat"
    SCIENCE_DOCUMENTARY = "Science Documentary"
    HOTLINE = "Hotline"
    BLADERUNNER_2049 = "Bladerunner 2049"
    A_FUTURE = "A Future"
    ELYSIAN_EMBERS = "Elysian Embers"
    INSPIRING_CINEMATIC = "Inspiring Cinematic"
    BLADERUNNER_REMIX = "Bladerunner Remix"
    IZZAMUZZIC = "Izzamuzzic"
    NAS = "Nas"
    PARIS_ELSE = "Paris - Else"
    SNOWFALL = "Snowfall"
    BURLESQUE = "Burlesque"
    CORNY_CANDY = "Corny Candy"
    HIGHWAY_NOCTURNE = "Highway Nocturne"
    I_DONT_THINK_SO = "I Don't Think So"
    LOSING_YOUR_MARBLES = "Losing Your Marbles"
    REFRESHER = "Refresher"
    TOURIST = "Tourist"
    TWIN_TYCHES = "Twin Tyches"
    DONT_STOP_ME_ABSTRACT_FUTURE_BASS = "Dont Stop Me Abstract Future Bass"


_CDN = "https://cdn.tfrv.xyz/audio/"
# revid.ai's own files of the tracks, as AutoGPT sends them.
AUDIO_URLS = {
    AudioTrack.OBSERVER: _CDN + "observer.mp3",
    AudioTrack.FUTURISTIC_BEAT: _CDN + "_futuristic-beat.mp3",
    AudioTrack.SCIENCE_DOCUMENTARY: _CDN + "_science-documentary.mp3",
    AudioTrack.HOTLINE: _CDN + "_hotline.mp3",
    AudioTrack.BLADERUNNER_2049: _CDN + "_bladerunner-2049.mp3",
    AudioTrack.A_FUTURE: _CDN + "a-future.mp3",
    AudioTrack.ELYSIAN_EMBERS: _CDN + "elysian-embers.mp3",
    AudioTrack.INSPIRING_CINEMATIC: _CDN + "inspiring-cinematic-ambient.mp3",
    AudioTrack.BLADERUNNER_REMIX: _CDN + "bladerunner-remix.mp3",
    AudioTrack.IZZAMUZZIC: _CDN + "_izzamuzzic.mp3",
    AudioTrack.NAS: _CDN + "_nas.mp3",
    AudioTrack.PARIS_ELSE: _CDN + "_paris-else.mp3",
    AudioTrack.SNOWFALL: _CDN + "_snowfall.mp3",
    AudioTrack.BURLESQUE: _CDN + "burlesque.mp3",
    AudioTrack.CORNY_CANDY: _CDN + "corny-candy.mp3",
    AudioTrack.HIGHWAY_NOCTURNE: _CDN + "highway-nocturne.mp3",
    AudioTrack.I_DONT_THINK_SO: _CDN + "i-dont-think-so.mp3",
    AudioTrack.LOSING_YOUR_MARBLES: _CDN + "losing-your-marbles.mp3",
    AudioTrack.REFRESHER: _CDN + "refresher.mp3",
    AudioTrack.TOURIST: _CDN + "tourist.mp3",
    AudioTrack.TWIN_TYCHES: _CDN + "twin-tynches.mp3",
    AudioTrack.DONT_STOP_ME_ABSTRACT_FUTURE_BASS: (
        "https://cdn.revid.ai/audio/_dont-stop-me-abstract-future-bass.mp3"
    ),
}


class GenerationPreset(StrEnum):
    LEONARDO = "Default"
    ANIME = "Anime"
    REALISM = "Realist"
    ILLUSTRATION = "Illustration"
    SKETCH_COLOR = "Sketch Color"
    SKETCH_BW = "Sketch B&W"
    PIXAR = "Pixar"
    INK = "Japanese Ink"
    RENDER_3D = "3D Render"
    LEGO = "Lego"
    SCIFI = "Sci-Fi"
    RECRO_CARTOON = "Retro Cartoon"
    PIXEL_ART = "Pixel Art"
    CREATIVE = "Creative"
    PHOTOGRAPHY = "Photography"
    RAYTRACED = "Raytraced"
    ENVIRONMENT = "Environment"
    FANTASY = "Fantasy"
    ANIME_SR = "Anime Realism"
    MOVIE = "Movie"
    STYLIZED_ILLUSTRATION = "Stylized Illustration"
    MANGA = "Manga"
    DEFAULT = "DEFAULT"


class Voice(StrEnum):
    LILY = "Lily"
    DANIEL = "Daniel"
    BRIAN = "Brian"
    JESSICA = "Jessica"
    CHARLOTTE = "Charlotte"
    CALLUM = "Callum"
    EVA = "Eva"


# revid.ai's voice ids (ElevenLabs voices).
VOICE_IDS = {
    Voice.LILY: "pFZP5JQG7iQjIQuC4Bku",
    Voice.DANIEL: "onwK4e9ZLuTAKqWW03F9",
    Voice.BRIAN: "nPczCjzI2devNBz1zQrb",
    Voice.JESSICA: "cgSgspJ2msm6clMCkdW9",
    Voice.CHARLOTTE: "XB0fDUnXU5powFXDhCwa",
    Voice.CALLUM: "N2lVS1w4EtoT3dr4eOWO",
    Voice.EVA: "FGY2WhTYpPnrIDTdsKH5",
}


class VisualMediaType(StrEnum):
    STOCK_VIDEOS = "stockVideo"
    MOVING_AI_IMAGES = "movingImage"
    AI_VIDEO = "aiVideo"


NO_KEY = (
    "this block needs an API key for provider revid: give the node a credential for it "
    "or set the operator's default key"
)


class AIShortformVideoCreatorBlock(ServiceBlock):
    """Renders a short text-to-video clip on revid.ai and outputs the video's URL (a
    stored copy, see docs/files.md).

    Rendering takes minutes: the block polls every ``BACKEND_REVID_POLL_SECONDS`` and
    allows itself 1000 s, as AutoGPT. Unlike AutoGPT it creates no webhook.site URL
    (AutoGPT made one and then sent ``webhook: null``).
    """

    id = "361697fb-0c4f-4feb-aed3-8320c88c771b"
    description = "Creates a short-form video from a script with revid.ai."
    categories = ("SOCIAL", "AI")
    provider = "revid"
    timeout_seconds = 1000.0

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("revid.ai")
        script: str = Field(
            description="Short punctuated sentences; a line break starts a new clip; "
            "[text in brackets] guides the visuals instead of being spoken."
        )
        ratio: str = Field("9 / 16", description="Aspect ratio of the video.")
        resolution: str = Field("720p", description="Resolution of the video.")
        frame_rate: int = Field(60, description="Frame rate of the video.")
        generation_preset: GenerationPreset = Field(
            GenerationPreset.LEONARDO,
            description="Visual style of AI-generated visuals.",
        )
        background_music: AudioTrack = Field(
            AudioTrack.HIGHWAY_NOCTURNE, description="Background music track."
        )
        voice: Voice = Field(Voice.LILY, description="AI voice of the narration.")
        video_style: VisualMediaType = Field(
            VisualMediaType.STOCK_VIDEOS, description="Kind of visuals: stock or AI-made."
        )

    class Output(BlockSchema):
        video_url: str = Field(description="URL of the created video.")

    test_vectors = (TestVector({"script": "[close-up of a cat] Meow!"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        revid = Revid(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        url = await revid.render(render_payload(pins))
        yield "video_url", await keep_result(ctx, url, "revid.mp4")


def render_payload(pins: AIShortformVideoCreatorBlock.Input) -> dict[str, Any]:
    """The render request AutoGPT sends for these pins."""
    return {
        "frameRate": pins.frame_rate,
        "resolution": pins.resolution,
        "frameDurationMultiplier": 18,
        "webhook": None,
        "creationParams": {
            "mediaType": pins.video_style.value,
            "captionPresetName": "Wrap 1",
            "selectedVoice": VOICE_IDS[pins.voice],
            "hasEnhancedGeneration": True,
            "generationPreset": pins.generation_preset.name,
            "selectedAudio": pins.background_music.value,
            "origin": "/create",
            "inputText": pins.script,
            "flowType": "text-to-video",
            "slug": "create-tiktok-video",
            "hasToGenerateVoice": True,
            "hasToTranscript": False,
            "hasToSearchMedia": True,
            "hasAvatar": False,
            "hasWebsiteRecorder": False,
            "hasTextSmallAtBottom": False,
            "ratio": pins.ratio,
            "sourceType": "contentScraping",
            "selectedStoryStyle": {"value": "custom", "label": "Custom"},
            "hasToGenerateVideos": pins.video_style is not VisualMediaType.STOCK_VIDEOS,
            "audioUrl": AUDIO_URLS[pins.background_music],
        },
    }

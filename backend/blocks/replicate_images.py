"""AutoGPT's image blocks on Replicate: ReplicateFluxAdvancedModelBlock and
AIImageGeneratorBlock (same ids, pins, defaults and model inputs)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from backend.providers.replicate_models import first_url, run_model

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field, keep_result

NO_KEY = (
    "this block needs an API key for provider replicate: give the node a credential for it "
    "or set the operator's default key"
)


class ReplicateBlock(ServiceBlock):
    provider = "replicate"
    categories: ClassVar[tuple[str, ...]] = ("AI", "MULTIMEDIA")

    async def image(self, ctx: BlockContext, model: str, inputs: dict[str, Any], ext: str) -> str:
        """Run ``model`` and return the URL to output for the image it made."""
        output = await run_model(self.clients(ctx), self.api_key(ctx), model, inputs, ctx.deadline)
        return await keep_result(ctx, first_url(output), f"{model.rsplit('/', 1)[-1]}.{ext}")


class ReplicateFluxModelName(StrEnum):
    FLUX_SCHNELL = "Flux Schnell"
    FLUX_PRO = "Flux Pro"
    FLUX_PRO1_1 = "Flux Pro 1.1"

    @property
    def api_name(self) -> str:
        return FLUX_MODELS[self]


FLUX_MODELS = {
    ReplicateFluxModelName.FLUX_SCHNELL: "black-forest-labs/flux-schnell",
    ReplicateFluxModelName.FLUX_PRO: "black-forest-labs/flux-pro",
    ReplicateFluxModelName.FLUX_PRO1_1: "black-forest-labs/flux-1.1-pro",
}


class ImageType(StrEnum):
    WEBP = "webp"
    JPG = "jpg"
    PNG = "png"


class ReplicateFluxAdvancedModelBlock(ReplicateBlock):
    """Runs a Flux model on Replicate with every setting exposed; outputs the image URL
    (a stored copy, see docs/files.md). Without a seed, a random one is sent."""

    id = "90f8c45e-e983-4644-aa0b-b4ebe2f531bc"
    description = "Generates an image with a Flux model on Replicate, with advanced settings."

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Replicate")
        prompt: str = Field(title="Prompt", description="Text prompt for image generation.")
        replicate_model_name: ReplicateFluxModelName = Field(
            ReplicateFluxModelName.FLUX_SCHNELL,
            title="Image Generation Model",
            description="The Flux model, e.g. Flux Schnell.",
        )
        seed: int | None = Field(None, title="Seed", description="Seed for reproducible images.")
        steps: int = Field(25, title="Steps", description="Number of diffusion steps.")
        guidance: float = Field(
            3, title="Guidance", description="Higher follows the prompt more closely."
        )
        interval: float = Field(
            2, title="Interval", description="Higher gives more varied outputs."
        )
        aspect_ratio: str = Field(
            "1:1",
            title="Aspect Ratio",
            description="One of 1:1, 16:9, 2:3, 3:2, 4:5, 5:4, 9:16.",
        )
        output_format: ImageType = Field(
            ImageType.WEBP, title="Output Format", description="File format of the image."
        )
        output_quality: int = Field(
            80, title="Output Quality", description="Quality from 0 to 100 (not for png)."
        )
        safety_tolerance: int = Field(
            2, title="Safety Tolerance", description="1 is the strictest, 5 the most permissive."
        )

    class Output(BlockSchema):
        result: str = Field(description="URL of the generated image.")

    test_vectors = (TestVector({"prompt": "A serene lake at sunrise"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        seed = pins.seed if pins.seed is not None else secrets.randbits(32)
        inputs = {
            "prompt": pins.prompt,
            "seed": seed,
            "steps": pins.steps,
            "guidance": pins.guidance,
            "interval": pins.interval,
            "aspect_ratio": pins.aspect_ratio,
            "output_format": pins.output_format.value,
            "output_quality": pins.output_quality,
            "safety_tolerance": pins.safety_tolerance,
        }
        model = pins.replicate_model_name.api_name
        yield "result", await self.image(ctx, model, inputs, pins.output_format.value)


class ImageSize(StrEnum):
    SQUARE = "square"
    LANDSCAPE = "landscape"
    PORTRAIT = "portrait"
    WIDE = "wide"
    TALL = "tall"


# The same ratios serve Stable Diffusion and Flux.
SIZE_TO_RATIO = {
    ImageSize.SQUARE: "1:1",
    ImageSize.LANDSCAPE: "4:3",
    ImageSize.PORTRAIT: "3:4",
    ImageSize.WIDE: "16:9",
    ImageSize.TALL: "9:16",
}
# Flux takes at most 1440 pixels a side.
SIZE_TO_FLUX_DIMENSIONS = {
    ImageSize.SQUARE: (1024, 1024),
    ImageSize.LANDSCAPE: (1365, 1024),
    ImageSize.PORTRAIT: (1024, 1365),
    ImageSize.WIDE: (1440, 810),
    ImageSize.TALL: (810, 1440),
}
SIZE_TO_RECRAFT_DIMENSIONS = {
    ImageSize.SQUARE: "1024x1024",
    ImageSize.LANDSCAPE: "1365x1024",
    ImageSize.PORTRAIT: "1024x1365",
    ImageSize.WIDE: "1536x1024",
    ImageSize.TALL: "1024x1536",
}


class ImageStyle(StrEnum):
    ANY = "any"
    REALISTIC = "realistic_image"
    REALISTIC_BW = "realistic_image/b_and_w"
    REALISTIC_HDR = "realistic_image/hdr"
    REALISTIC_NATURAL = "realistic_image/natural_light"
    REALISTIC_STUDIO = "realistic_image/studio_portrait"
    REALISTIC_ENTERPRISE = "realistic_image/enterprise"
    REALISTIC_HARD_FLASH = "realistic_image/hard_flash"
    REALISTIC_MOTION_BLUR = "realistic_image/motion_blur"
    DIGITAL_ART = "digital_illustration"
    PIXEL_ART = "digital_illustration/pixel_art"
    HAND_DRAWN = "digital_illustration/hand_drawn"
    GRAIN = "digital_illustration/grain"
    SKETCH = "digital_illustration/infantile_sketch"
    POSTER = "digital_illustration/2d_art_poster"
    POSTER_2 = "digital_illustration/2d_art_poster_2"
    HANDMADE_3D = "digital_illustration/handmade_3d"
    HAND_DRAWN_OUTLINE = "digital_illustration/hand_drawn_outline"
    ENGRAVING_COLOR = "digital_illustration/engraving_color"


# How a style is said in words, for the models without a style input (all but Recraft).
STYLE_WORDS = {
    ImageStyle.REALISTIC: "photorealistic",
    ImageStyle.REALISTIC_BW: "black and white photograph",
    ImageStyle.REALISTIC_HDR: "HDR photograph",
    ImageStyle.REALISTIC_NATURAL: "natural light photograph",
    ImageStyle.REALISTIC_STUDIO: "studio portrait photograph",
    ImageStyle.REALISTIC_ENTERPRISE: "enterprise photograph",
    ImageStyle.REALISTIC_HARD_FLASH: "hard flash photograph",
    ImageStyle.REALISTIC_MOTION_BLUR: "motion blur photograph",
    ImageStyle.DIGITAL_ART: "digital art",
    ImageStyle.PIXEL_ART: "pixel art",
    ImageStyle.HAND_DRAWN: "hand drawn illustration",
    ImageStyle.GRAIN: "grainy digital illustration",
    ImageStyle.SKETCH: "sketchy illustration",
    ImageStyle.POSTER: "2D art poster",
    ImageStyle.POSTER_2: "alternate 2D art poster",
    ImageStyle.HANDMADE_3D: "handmade 3D illustration",
    ImageStyle.HAND_DRAWN_OUTLINE: "hand drawn outline illustration",
    ImageStyle.ENGRAVING_COLOR: "color engraving illustration",
}


class ImageGenModel(StrEnum):
    FLUX = "Flux 1.1 Pro"
    FLUX_ULTRA = "Flux 1.1 Pro Ultra"
    RECRAFT = "Recraft v3"
    SD3_5 = "Stable Diffusion 3.5 Medium"


def styled_prompt(prompt: str, style: ImageStyle) -> str:
    """The prompt led by the style in words ("pixel art of ..."), stripped as AutoGPT does."""
    words = STYLE_WORDS.get(style)
    return f"{words} of {prompt}".strip() if words else prompt.strip()


def model_request(
    model: ImageGenModel, prompt: str, size: ImageSize, style: ImageStyle
) -> tuple[str, dict[str, Any], str]:
    """The Replicate model, its input and the image's file extension, as AutoGPT sends."""
    inputs: dict[str, Any]
    if model is ImageGenModel.RECRAFT:
        inputs = {"prompt": prompt, "size": SIZE_TO_RECRAFT_DIMENSIONS[size], "style": style.value}
        return "recraft-ai/recraft-v3", inputs, "webp"
    prompt = styled_prompt(prompt, style)
    if model is ImageGenModel.SD3_5:
        inputs = {
            "prompt": prompt,
            "aspect_ratio": SIZE_TO_RATIO[size],
            "output_format": "webp",
            "output_quality": 90,
            "steps": 40,
            "cfg_scale": 7.0,
        }
        return "stability-ai/stable-diffusion-3.5-medium", inputs, "webp"
    width, height = SIZE_TO_FLUX_DIMENSIONS[size]
    inputs = {
        "prompt": prompt,
        "width": width,
        "height": height,
        "aspect_ratio": SIZE_TO_RATIO[size],
        "output_format": "jpg",
        "output_quality": 90,
    }
    name = "flux-1.1-pro-ultra" if model is ImageGenModel.FLUX_ULTRA else "flux-1.1-pro"
    return f"black-forest-labs/{name}", inputs, "jpg"


class AIImageGeneratorBlock(ReplicateBlock):
    """Generates an image with one of four Replicate models from a semantic size and
    style; outputs its URL (a stored copy, see docs/files.md)."""

    id = "ed1ae7a0-b770-4089-b520-1f0005fad19a"
    description = "Generates an image with one of several AI models through one interface."
    categories = ("AI",)

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Replicate")
        prompt: str = Field(title="Prompt", description="Text prompt for image generation.")
        model: ImageGenModel = Field(
            ImageGenModel.SD3_5, title="Model", description="The model that makes the image."
        )
        size: ImageSize = Field(
            ImageSize.SQUARE,
            title="Image Format",
            description="square, landscape (4:3), portrait (3:4), wide (16:9) or tall (9:16).",
        )
        style: ImageStyle = Field(
            ImageStyle.ANY, title="Image Style", description="Visual style of the image."
        )

    class Output(BlockSchema):
        image_url: str = Field(description="URL of the generated image.")

    test_vectors = (TestVector({"prompt": "An octopus using a laptop"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        model, inputs, ext = model_request(pins.model, pins.prompt, pins.size, pins.style)
        yield "image_url", await self.image(ctx, model, inputs, ext)

"""IdeogramModelBlock: AutoGPT's Ideogram image generation (same id, pins and defaults)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from backend.providers.ideogram import Ideogram, ImageRequest

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field, fetch_result, keep_result


class IdeogramModelName(StrEnum):
    V3 = "V_3"
    V2 = "V_2"
    V1 = "V_1"
    V1_TURBO = "V_1_TURBO"
    V2_TURBO = "V_2_TURBO"


class MagicPromptOption(StrEnum):
    AUTO = "AUTO"
    ON = "ON"
    OFF = "OFF"


class StyleType(StrEnum):
    AUTO = "AUTO"
    GENERAL = "GENERAL"
    REALISTIC = "REALISTIC"
    DESIGN = "DESIGN"
    RENDER_3D = "RENDER_3D"
    ANIME = "ANIME"


class ColorPalettePreset(StrEnum):
    NONE = "NONE"
    EMBER = "EMBER"
    FRESH = "FRESH"
    JUNGLE = "JUNGLE"
    MAGIC = "MAGIC"
    MELON = "MELON"
    MOSAIC = "MOSAIC"
    PASTEL = "PASTEL"
    ULTRAMARINE = "ULTRAMARINE"


class AspectRatio(StrEnum):
    ASPECT_10_16 = "ASPECT_10_16"
    ASPECT_16_10 = "ASPECT_16_10"
    ASPECT_9_16 = "ASPECT_9_16"
    ASPECT_16_9 = "ASPECT_16_9"
    ASPECT_3_2 = "ASPECT_3_2"
    ASPECT_2_3 = "ASPECT_2_3"
    ASPECT_4_3 = "ASPECT_4_3"
    ASPECT_3_4 = "ASPECT_3_4"
    ASPECT_1_1 = "ASPECT_1_1"
    ASPECT_1_3 = "ASPECT_1_3"
    ASPECT_3_1 = "ASPECT_3_1"


class UpscaleOption(StrEnum):
    AI_UPSCALE = "AI Upscale"
    NO_UPSCALE = "No Upscale"


NO_KEY = (
    "this block needs an API key for provider ideogram: give the node a credential for it "
    "or set the operator's default key"
)


class IdeogramModelBlock(ServiceBlock):
    """Generates an image with Ideogram, optionally upscaled; outputs its URL.

    The image is stored as a file of the run and the block outputs that file's URL
    (see docs/files.md). V_3 goes to Ideogram's V3 endpoint (no colour palettes there,
    as in AutoGPT); the other models to the legacy one, where a palette applies to V_2
    and V_2_TURBO only.
    """

    id = "6ab085e2-20b3-4055-bc3e-08036e01eca6"
    description = "Generates an image with an Ideogram model, optionally AI-upscaled."
    categories = ("AI", "MULTIMEDIA")
    provider = "ideogram"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Ideogram")
        prompt: str = Field(title="Prompt", description="Text prompt for image generation.")
        ideogram_model_name: IdeogramModelName = Field(
            IdeogramModelName.V3,
            title="Image Generation Model",
            description="The Ideogram model, e.g. V_3.",
        )
        aspect_ratio: AspectRatio = Field(
            AspectRatio.ASPECT_1_1, title="Aspect Ratio", description="Shape of the image."
        )
        upscale: UpscaleOption = Field(
            UpscaleOption.NO_UPSCALE, title="Upscale Image", description="Upscale the image."
        )
        magic_prompt_option: MagicPromptOption = Field(
            MagicPromptOption.AUTO,
            title="Magic Prompt Option",
            description="Let Ideogram enhance the prompt.",
        )
        seed: int | None = Field(None, title="Seed", description="Seed for reproducible images.")
        style_type: StyleType = Field(
            StyleType.AUTO, title="Style Type", description="Style, for V_2 and newer."
        )
        negative_prompt: str | None = Field(
            None, title="Negative Prompt", description="What the image must not show."
        )
        color_palette_name: ColorPalettePreset = Field(
            ColorPalettePreset.NONE,
            title="Color Palette Preset",
            description="A preset palette (V_2 and V_2_TURBO); NONE for none.",
        )
        custom_color_palette: list[str] | None = Field(
            None,
            title="Custom Color Palette",
            description="Hex colours (V_2 and V_2_TURBO), used when no preset is chosen.",
        )

    class Output(BlockSchema):
        result: str = Field(description="URL of the generated image.")

    test_vectors = (TestVector({"prompt": "A futuristic cityscape"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        ideogram = Ideogram(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        url = await ideogram.generate(
            ImageRequest(
                model=pins.ideogram_model_name.value,
                prompt=pins.prompt,
                aspect_ratio=pins.aspect_ratio.value,
                magic_prompt=pins.magic_prompt_option.value,
                style_type=pins.style_type.value,
                seed=pins.seed,
                negative_prompt=pins.negative_prompt,
                palette_name=pins.color_palette_name.value,
                custom_colors=tuple(pins.custom_color_palette or ()),
            )
        )
        if pins.upscale is UpscaleOption.AI_UPSCALE:
            limit = ctx.files.max_bytes if ctx.files else self.clients(ctx).settings.max_file_bytes
            image, content_type = await fetch_result(ctx, url, limit)
            url = await ideogram.upscale(image, content_type)
        yield "result", await keep_result(ctx, url, "ideogram.png")

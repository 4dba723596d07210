"""The brand images: what Home Assistant and HACS take from custom_components/ttn_mqtt/brand/.

scripts/brand renders them from the drawings in brand/. Home Assistant serves a custom
integration's images from that folder since 2026.3 (on older releases the frontend asks
the brands CDN, which has none of ours, and shows a placeholder).
"""

from __future__ import annotations

from http import HTTPStatus
import importlib.util

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image, ImageChops, ImageStat
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ttn_mqtt.const import DOMAIN

from .translation_scan import SOURCE

BRAND = SOURCE / "brand"
DRAWINGS = SOURCE.parent.parent / "brand"

# Each image and its size. The icon reads on dark themes too: no dark_icon, for which
# Home Assistant serves icon.png.
SIZES = {
    "icon.png": (256, 256),
    "icon@2x.png": (512, 512),
    "logo.png": (384, 128),
    "logo@2x.png": (768, 256),
    "dark_logo.png": (384, 128),
    "dark_logo@2x.png": (768, 256),
}
SERVES_BRAND_FOLDER = importlib.util.find_spec("homeassistant.components.brands")


def _open(name: str) -> Image.Image:
    return Image.open(BRAND / name)


def _on_grey(image: Image.Image) -> Image.Image:
    """Return the image as seen on a mid-grey page (transparent pixels' colours vary)."""
    rgba = image.convert("RGBA")
    page = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
    return Image.alpha_composite(page, rgba).convert("RGB")


def _mean_difference(first: Image.Image, second: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(first, second)).mean)


def test_the_folder_holds_the_images_home_assistant_asks_for() -> None:
    """Only the names Home Assistant serves, at least an icon, all drawn in brand/."""
    assert {path.name for path in BRAND.iterdir()} == set(SIZES)
    if SERVES_BRAND_FOLDER:
        from homeassistant.components.brands.const import (  # noqa: PLC0415
            ALLOWED_IMAGES,
        )

        assert set(SIZES) <= ALLOWED_IMAGES
    for drawing in ("icon.svg", "logo.svg", "dark.css"):
        assert (DRAWINGS / drawing).is_file()


@pytest.mark.parametrize(("name", "size"), SIZES.items())
def test_image_size_and_format(name: str, size: tuple[int, int]) -> None:
    """Square icons of 256 and 512; logos 128 to 256 high (256 to 512 for @2x)."""
    image = _open(name)
    assert image.format == "PNG"
    assert image.size == size
    if name.removeprefix("dark_").startswith("logo"):
        low, high = (256, 512) if "@2x" in name else (128, 256)
        assert low <= min(image.size) <= high
        assert image.width >= image.height


@pytest.mark.parametrize("name", SIZES)
def test_transparent_trimmed_and_optimised(name: str) -> None:
    """A transparent background, no empty border, a palette: what the brands rules ask."""
    image = _open(name)
    # Quantised to a palette with an alpha table, as pngquant leaves it.
    assert image.mode == "P"
    assert "transparency" in image.info
    assert (BRAND / name).stat().st_size < 32 * 1024
    alpha = image.convert("RGBA").getchannel("A")
    width, height = image.size
    corners = [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]
    assert all(alpha.getpixel(corner) == 0 for corner in corners)
    # Trimmed: the drawing touches every edge.
    assert alpha.getbbox() == (0, 0, width, height)


@pytest.mark.parametrize(
    ("large", "small"),
    [
        ("icon@2x.png", "icon.png"),
        ("logo@2x.png", "logo.png"),
        ("dark_logo@2x.png", "dark_logo.png"),
    ],
)
def test_hidpi_image_is_the_same_drawing(large: str, small: str) -> None:
    """An @2x image scaled down is its 1x image, give or take the anti-aliasing."""
    reduced = _on_grey(_open(large)).resize(_open(small).size, Image.LANCZOS)
    assert _mean_difference(reduced, _on_grey(_open(small))) < 4


def test_dark_logo_differs_only_in_the_wordmark() -> None:
    """The dark logo has the same icon, and a lighter wordmark."""
    light, dark = _open("logo.png"), _open("dark_logo.png")
    icon = (0, 0, 128, 128)
    assert _mean_difference(_on_grey(light).crop(icon), _on_grey(dark).crop(icon)) < 1
    wordmark = (140, 0, 384, 128)

    def brightness(image: Image.Image) -> float:
        visible = image.convert("RGBA").crop(wordmark)
        return ImageStat.Stat(visible.convert("L"), visible.getchannel("A")).mean[0]

    assert brightness(dark) > 200
    assert brightness(light) < 80


@pytest.mark.skipif(
    not SERVES_BRAND_FOLDER,
    reason="Home Assistant serves a custom integration's brand folder from 2026.3",
)
async def test_home_assistant_serves_our_images(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Home Assistant's brands API answers with our files, and icon.png for dark_icon."""
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    images = {name: (BRAND / name).read_bytes() for name in SIZES}
    served = {**{name: name for name in SIZES}, "dark_icon.png": "icon.png"}
    for name, file in served.items():
        response = await client.get(
            f"/api/brands/integration/{DOMAIN}/{name}", params={"placeholder": "no"}
        )
        assert response.status == HTTPStatus.OK, name
        assert response.content_type == "image/png"
        assert await response.read() == images[file], name

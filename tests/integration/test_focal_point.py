"""The focal point through the real handlers on moto: found at upload, used by gravity
``auto``, and part of the variant's key, so moving it (PATCH) is never answered with a crop
around the old point."""

from __future__ import annotations

import io

from PIL import Image, ImageStat

from tests.integration.conftest import Aws
from tests.integration.test_catalogue import patch, upload
from tests.integration.test_working_copy import variant


def halves() -> bytes:
    """Red on the left, blue on the right, with a textured red subject at the far left that
    attention finds."""
    picture = Image.new("RGB", (800, 400), (20, 40, 200))
    picture.paste((200, 30, 30), (0, 0, 400, 400))
    subject = Image.effect_noise((120, 120), 80).convert("RGB")
    picture.paste(subject, (40, 140))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def mean_colour(body: bytes) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(Image.open(io.BytesIO(body)).convert("RGB")).mean)


def test_auto_crops_around_the_focal_point_and_a_moved_point_is_a_new_variant(aws: Aws) -> None:
    image = upload(halves())
    assert image["focal_point"]["x"] < 0.5  # attention found the subject on the left
    first = variant(image["id"], "crop:200:200:auto.png")
    assert first.status == 200, first.body
    assert first.headers["X-Variant-Cache"] == "miss"
    assert first.headers["Cache-Control"] == "public, max-age=60"
    red, _, blue = mean_colour(first.body)
    assert red > blue
    assert variant(image["id"], "crop:200:200:auto.png").headers["X-Variant-Cache"] == "hit"

    assert patch(image["id"], {"focal_point": {"x": 0.95, "y": 0.5}}).status == 200
    moved = variant(image["id"], "crop:200:200:auto.png")
    assert moved.headers["X-Variant-Cache"] == "miss"
    red, _, blue = mean_colour(moved.body)
    assert blue > 150 > red  # wholly in the blue half
    # a pipeline that does not use the point keeps its variant (and its year-long caching)
    assert variant(image["id"], "crop:200:200.png").headers["Cache-Control"].endswith("immutable")


def test_without_a_focal_point_auto_places_crops_as_smart_does(aws: Aws) -> None:
    image = upload(halves())
    assert patch(image["id"], {"focal_point": None}).status == 200
    auto = variant(image["id"], "resize:200:200:fill:auto.png")
    smart = variant(image["id"], "resize:200:200:fill:smart.png")
    assert auto.status == smart.status == 200
    assert mean_colour(auto.body) == mean_colour(smart.body)

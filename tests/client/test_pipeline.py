"""The client's pipeline builder against the server's own parser: the same canonical strings.

The server's ``parse_ops``/``parse_path`` and ``Pipeline.canonical()`` are the authority; every
pipeline the client builds must print exactly what the server prints for it, and parse back to
itself (a fixed point), in the URL form and in the JSON object form.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from progimage import Pipeline
from progimage._operations import GRAMMAR as CLIENT_GRAMMAR
from progimage.pipeline import MAX_OPERATIONS, OPERATIONS, split_pipeline

from progimage_service.errors import InvalidOperation
from progimage_service.imaging.pipeline import Pipeline as ServerPipeline
from progimage_service.imaging.pipeline import parse_ops, parse_path
from progimage_service.imaging.registry import GRAMMAR, REGISTRY

IMAGE_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"


def server_canonical(spec: Any) -> str:
    return ServerPipeline(parse_ops(spec)).canonical()


def assert_agrees(pipeline: Pipeline) -> None:
    text = pipeline.canonical()
    assert server_canonical(text) == text, "not the server's canonical form"
    assert server_canonical(pipeline.to_json()) == text, "the JSON form differs"
    if text:  # else the pipeline is empty, or only options that change nothing (dpr:1)
        parsed = parse_path(str(pipeline))
        assert parsed.canonical() == text
        fmt = pipeline.output_format
        assert (parsed.format.extension if parsed.format else None) == fmt
        assert Pipeline.parse(str(pipeline)) == pipeline


# --- the issue's example and exact strings -------------------------------------------------


def test_the_issue_example() -> None:
    pipeline = Pipeline().resize(800, 600, fit="fill").rotate(90).format("webp")
    assert pipeline.canonical() == "resize:800:600:fill/rotate:90"
    assert str(pipeline) == "resize:800:600:fill/rotate:90.webp"
    assert pipeline.output_format == "webp"
    assert_agrees(pipeline)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (Pipeline().resize(800, 600), "resize:800:600"),
        (Pipeline().resize(800, 600, "fit"), "resize:800:600"),
        (Pipeline().resize(800, 600, fit="FILL"), "resize:800:600:fill"),  # type: ignore[arg-type]
        (Pipeline().resize(800), "resize:800:0"),
        (Pipeline().resize(height=300, fit="pad"), "resize:0:300:pad"),
        (Pipeline().thumbnail(256, 256), "thumbnail:256"),
        (Pipeline().thumbnail(256, 128), "thumbnail:256:128"),
        (Pipeline().thumbnail(256.0), "thumbnail:256"),
        (Pipeline().crop(100, 50), "crop:100:50"),
        (Pipeline().crop(100, 50, "center"), "crop:100:50"),
        (Pipeline().crop(100, 50, "northeast"), "crop:100:50:northeast"),
        (Pipeline().crop(100, 50, x=10, y=0), "crop:10:0:100:50"),
        (Pipeline().rotate(90), "rotate:90"),
        (Pipeline().rotate(-45.5, "#FFAA00"), "rotate:-45.5:ffaa00"),
        (Pipeline().rotate(30, (255, 0, 0, 128)), "rotate:30:ff000080"),
        (Pipeline().rotate(30, "ff0000ff"), "rotate:30:ff0000"),
        (Pipeline().rotate(1 / 3), "rotate:0.3333333333333333"),
        (Pipeline().blur(1e-7), "blur:1e-07"),
        (Pipeline().flip("h").flip("v"), "flip:h/flip:v"),
        (
            Pipeline().grayscale().sepia().invert().equalize().autocontrast(),
            "grayscale/sepia/invert/equalize/autocontrast",
        ),
        (Pipeline().blur(2), "blur:2"),
        (Pipeline().blur(0.25), "blur:0.25"),
        (Pipeline().sharpen(), "sharpen"),
        (Pipeline().sharpen(1, 2), "sharpen"),
        (Pipeline().sharpen(1.5), "sharpen:1.5"),
        (Pipeline().sharpen(radius=3), "sharpen:1:3"),
        (
            Pipeline().brightness(1.2).contrast(0.8).saturation(0),
            "brightness:1.2/contrast:0.8/saturation:0",
        ),
        (Pipeline().pixelate(8).posterize(4).tint("336699"), "pixelate:8/posterize:4/tint:336699"),
        (Pipeline().mask("circle"), "mask:circle"),
        (Pipeline().mask("Rounded", 24), "mask:rounded:24"),
        (Pipeline().mask("rounded", 0), "mask:rounded"),
        (Pipeline().mask(IMAGE_ID), f"mask:{IMAGE_ID}"),
        (Pipeline().watermark(IMAGE_ID), f"watermark:{IMAGE_ID}"),
        (Pipeline().watermark(IMAGE_ID, opacity=0.5, scale=0.25), f"watermark:{IMAGE_ID}"),
        (Pipeline().watermark(IMAGE_ID, scale=0.1), f"watermark:{IMAGE_ID}:southeast:0.5:0.1"),
        (Pipeline().watermark(IMAGE_ID, "north"), f"watermark:{IMAGE_ID}:north"),
        (Pipeline().background((255, 255, 255)), "background:ffffff"),
        (Pipeline().quality(80).grayscale(), "grayscale/quality:80"),
        (Pipeline().quality(80).maxbytes(5000).quality(60), "grayscale/maxbytes:5000/quality:60"),
    ],
)
def test_exact_canonical_strings(built: Pipeline, expected: str) -> None:
    if expected.startswith("grayscale/maxbytes"):
        built = Pipeline().grayscale() + built
    assert built.canonical() == expected
    assert_agrees(built)


def test_formats_are_canonical_extensions() -> None:
    assert str(Pipeline().thumbnail(64).format("JPEG")) == "thumbnail:64.jpg"
    assert str(Pipeline().thumbnail(64).format(".tif")) == "thumbnail:64.tiff"
    assert str(Pipeline().format("webp")) == ".webp"
    assert Pipeline().format("png").format(None).output_format is None
    with pytest.raises(ValueError, match="unknown format 'svg'"):
        Pipeline().format("svg")


def test_pipelines_are_immutable_and_composable() -> None:
    base = Pipeline().thumbnail(256)
    grey = base.grayscale()
    assert base.canonical() == "thumbnail:256"
    assert grey.canonical() == "thumbnail:256/grayscale"
    both = base.format("png") + Pipeline().sepia().format("webp")
    assert str(both) == "thumbnail:256/sepia.webp"
    assert list(grey) == ["thumbnail:256", "grayscale"]
    assert len(grey) == 2 and bool(Pipeline().format("png")) and not Pipeline()
    assert {Pipeline().blur(1), Pipeline.parse("blur:1.0")} == {Pipeline().blur(1)}
    assert repr(grey) == "Pipeline.parse('thumbnail:256/grayscale')"


def test_split_pipeline() -> None:
    assert split_pipeline("thumbnail:256.jpg") == ("thumbnail:256", "jpg")
    assert split_pipeline("blur:1.5") == ("blur:1.5", None)
    assert split_pipeline("webp") == ("", "webp")
    assert split_pipeline("grayscale", "PNG") == ("grayscale", "png")
    assert split_pipeline(None) == ("", None)
    assert Pipeline.parse("") == Pipeline()
    assert split_pipeline(Pipeline().sepia().format("gif")) == ("sepia", "gif")


# --- the registry mirror -----------------------------------------------------------------------


def test_the_client_knows_exactly_the_servers_operations() -> None:
    assert set(OPERATIONS) == set(REGISTRY)


def test_the_client_table_is_the_servers_registry() -> None:
    assert CLIENT_GRAMMAR.to_json() == GRAMMAR.to_json()


# --- many random pipelines --------------------------------------------------------------------


def _random_value(rng: random.Random, param: Any, decimals: int | None) -> Any:
    """A valid value for a parameter, sometimes spelled unusually."""
    if param.kind == "int":
        low = int(param.low) + (1 if param.low_open else 0)
        high = min(int(param.high), low + 5000)
        return rng.choice([low, high, rng.randint(low, high)])
    if param.kind == "float":
        low, high = float(param.low), float(param.high)
        value = rng.uniform(low, high)
        if decimals is not None:
            value = round(value, decimals)
        if param.low_open and value <= low:
            value = high
        return rng.choice([value, value, high, param.default if param.default else high])
    if param.kind == "choice":
        value = rng.choice(param.choices)
        return value.upper() if rng.random() < 0.2 else value
    if param.kind == "colour":
        rgb = [rng.randrange(256) for _ in range(3)]
        alpha = rng.choice([255, rng.randrange(256)])
        text = "".join(f"{c:02X}" for c in rgb) + ("" if alpha == 255 else f"{alpha:02x}")
        return rng.choice([text, "#" + text, (*rgb, alpha), tuple(rgb)])
    if param.kind == "image":
        return IMAGE_ID
    if param.kind == "shape":
        return rng.choice([*param.choices, IMAGE_ID])
    if param.kind == "name":
        return rng.choice(["card", "Hero-2x", "a", "x" * 64])
    raise AssertionError(param.kind)


def _random_pipeline(rng: random.Random, decimals: int | None) -> tuple[Pipeline, list[str]]:
    """A pipeline built through the public methods, and a raw (non-canonical) URL spelling."""
    pipeline = Pipeline()
    raw: list[str] = []
    for _ in range(rng.randint(1, 8)):
        name = rng.choice(OPERATIONS)
        operation = CLIENT_GRAMMAR.operations[name]
        form_index = rng.randrange(len(operation.forms))
        form = operation.forms[form_index]
        count = rng.randint(sum(p.required for p in form), len(form))
        values = [_random_value(rng, p, decimals) for p in form[:count]]
        if name == "resize" and not values[0] and not values[1]:
            values[0] = 100
        if name == "crop" and form_index == 0:
            pipeline = pipeline.crop(values[2], values[3], x=values[0], y=values[1])
        elif name == "crop":
            pipeline = pipeline.crop(*values)
        elif name == "maxbytes":
            pipeline = pipeline.maxbytes(*values)
        else:
            pipeline = getattr(pipeline, name)(*values)
        raw.append(":".join([name, *(_raw_text(p, v) for p, v in zip(form, values, strict=False))]))
    if rng.random() < 0.5:
        pipeline = pipeline.format(rng.choice(["webp", "png", "jpg", "jpeg", "avif", "gif", "tif"]))
    return pipeline, raw


def _raw_text(param: Any, value: Any) -> str:
    if isinstance(value, tuple):
        return "".join(f"{c:02x}" for c in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


@pytest.mark.parametrize("seed", range(8))
def test_random_pipelines_agree_with_the_server(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        pipeline, _ = _random_pipeline(rng, decimals=None)
        assert_agrees(pipeline)


@pytest.mark.parametrize("seed", range(4))
def test_random_raw_spellings_parse_like_the_server(seed: int) -> None:
    """Any (valid) spelling the client parses prints what the server prints for it."""
    rng = random.Random(1000 + seed)
    for _ in range(100):
        built, raw = _random_pipeline(rng, decimals=rng.choice([None, 0, 1, 2, 3, 6, 9]))
        text = "/".join(raw)
        assert Pipeline.parse(text).canonical() == server_canonical(text) == built.canonical()


# --- what both refuse ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "resize:0:0",
        "resize:800:600:squash",
        "resize:-1:10",
        "resize:16385:10",
        "resize:1.5:10",
        "thumbnail:0",
        "thumbnail",
        "crop:10:20:30",
        "crop:10:20:30:0",
        "rotate:x",
        "rotate:3601",
        "rotate:90:red",
        "flip:x",
        "blur:0",
        "blur:100.5",
        "blur:inf",
        "blur:nan",
        "sharpen:11",
        "sharpen:1:0",
        "brightness:-0.1",
        "pixelate:0",
        "posterize:9",
        "tint:12345",
        "mask:star",
        "mask:rounded:-1",
        "watermark:not-an-id!",
        "watermark:" + IMAGE_ID + ":middle",
        "watermark:" + IMAGE_ID + ":north:1.5",
        "watermark:" + IMAGE_ID + ":north:0.5:0",
        "quality:0",
        "quality:101",
        "maxbytes:99",
        "grayscale:1",
        "unknown",
        "grayscale//sepia",
        "grayscale/",
        "/".join(["grayscale"] * (MAX_OPERATIONS + 1)),
    ],
)
def test_both_refuse(text: str) -> None:
    with pytest.raises(InvalidOperation):
        parse_ops(text.split("/"))
    with pytest.raises(ValueError):
        Pipeline.parse(text)


def test_errors_name_the_operation_and_its_usage() -> None:
    with pytest.raises(
        ValueError, match=r"blur: sigma must be in \(0, 100\], got 0; usage: blur:SIGMA"
    ):
        Pipeline().blur(0)
    with pytest.raises(ValueError, match="resize: fit must be one of fit, fill, stretch, pad"):
        Pipeline().resize(10, 10, fit="squash")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="width and height cannot both be 0"):
        Pipeline().resize()
    with pytest.raises(ValueError, match="unknown operation 'swirl'; valid: autocontrast"):
        Pipeline.parse("swirl:3")
    with pytest.raises(ValueError, match="thumbnail: width must be an integer"):
        Pipeline().thumbnail(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="crop: no form takes exactly height, width, x; usage"):
        Pipeline().crop(10, 10, x=1)
    with pytest.raises(ValueError, match="crop: no form takes exactly gravity, height, width, x"):
        Pipeline().crop(10, 10, "north", x=1, y=1)
    with pytest.raises(ValueError, match=r"a colour tuple is \(r, g, b\[, a\]\)"):
        Pipeline().tint((256, 0, 0))
    with pytest.raises(ValueError, match="at most 20 operations"):
        p = Pipeline()
        for _ in range(21):
            p = p.grayscale()


def test_numbers_print_exactly_as_the_server_reads_them() -> None:
    # Nothing is rounded: a value a hair from a default is not the default.
    assert Pipeline().sharpen(1.0000001).canonical() == "sharpen:1.0000001"
    assert Pipeline().sharpen(1.0).canonical() == "sharpen"
    assert Pipeline().rotate(-0.0).canonical() == server_canonical("rotate:-0.0")
    for pipeline in (
        Pipeline().watermark(IMAGE_ID, opacity=0.50000001),
        Pipeline().sharpen(1, 1e-7),
        Pipeline().brightness(9.999999999),
    ):
        assert_agrees(pipeline)

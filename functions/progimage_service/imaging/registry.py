"""The operation registry: every operation of the API declared once, as data.

Each entry gives an operation's name, argument forms, bounds, defaults and documentation. The
grammar (grammar.py) parses and prints pipelines from it; the pixels are in operations/, one
implementation per pixel-changing entry (checked when that package loads); and the client's
operation table and builder methods, the OpenAPI document's operation table and the API
reference's table are generated from ``GRAMMAR.to_json()`` (``make generate``; a test fails when
a generated file is stale). Adding an operation is one entry here and one implementation.

This module imports no imaging code: a cache hit parses its pipeline with nothing else loaded.
"""

from __future__ import annotations

from typing import Any

from .formats import EXTENSIONS
from .grammar import Grammar, Operation, Param
from .negotiate import AUTO

MAX_OPERATIONS = 20
# Other stored images one pipeline may name: each is read and decoded (reduced) per render.
MAX_IMAGES = 4
# Image ids, as the grammar accepts them in watermark:{id} and mask:{id} (ids.py makes them:
# 25 base62 characters, 62**25 > 2**144).
ID_LENGTH = 25
ID_PATTERN = f"[0-9A-Za-z]{{{ID_LENGTH}}}"
MAX_SIDE = 16384  # the grammar's bound; the configured limit is checked on every output
GRAVITIES = (
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
)
# Where a crop goes besides the compass: by attention (edges, skin, saturation), by entropy, or
# centred on the image's focal point (``auto``; by attention where it has none). Overlays
# (watermark) are placed by the compass only.
FOCAL_GRAVITY = "auto"
SMART_GRAVITIES = ("smart", "entropy", FOCAL_GRAVITY)
CROP_GRAVITIES = GRAVITIES + SMART_GRAVITIES
SHAPES = ("circle", "ellipse", "rounded")
# Preset names (PUT /presets/{name}), read in lower case: they sit in URLs as they are.
PRESET_PATTERN = "[a-z0-9][a-z0-9_-]{0,63}"


def integer(name: str, low: int, high: int, **kw: Any) -> Param:
    return Param(name, "int", low, high, **kw)


def length(name: str, low: int, high: int, **kw: Any) -> Param:
    """A length in pixels: ``dpr`` multiplies it."""
    return Param(name, "int", low, high, pixels=True, **kw)


def number(name: str, low: float, high: float, **kw: Any) -> Param:
    return Param(name, "float", low, high, **kw)


def choice(name: str, choices: tuple[str, ...], **kw: Any) -> Param:
    return Param(name, "choice", choices=choices, **kw)


def colour(name: str, **kw: Any) -> Param:
    return Param(name, "colour", **kw)


def image_id(name: str, **kw: Any) -> Param:
    return Param(name, "image", pattern=ID_PATTERN, **kw)


def optional(default: Any = None, *, default_from: str | None = None) -> dict[str, Any]:
    """Keyword arguments making a parameter optional with this default (or another's value)."""
    return {"required": False, "default": default, "default_from": default_from}


_OPERATIONS = (
    # --- geometry ----------------------------------------------------------------------------
    Operation(
        "resize",
        (
            (
                length("width", 0, MAX_SIDE, doc="0 keeps the aspect from the height"),
                length("height", 0, MAX_SIDE, doc="0 keeps the aspect from the width"),
                choice("fit", ("fit", "fill", "stretch", "pad"), **optional("fit")),
                choice("gravity", CROP_GRAVITIES, **optional("center"), doc="where `fill` crops"),
            ),
        ),
        "resize: fit inside, fill (cover and crop by GRAVITY), stretch, or pad to W×H",
        not_all_zero=("width", "height"),
        only_with=(("gravity", "fit", ("fill",)),),
        notes=(
            "`pad` fills with transparency (flattened for JPEG) and centres the image; the "
            "gravity applies to `fill` only, and is left out of the canonical form otherwise "
            "(see crop for `smart`, `entropy` and `auto`)"
        ),
    ),
    Operation(
        "thumbnail",
        (
            (
                length("width", 1, MAX_SIDE),
                length("height", 1, MAX_SIDE, **optional(default_from="width")),
            ),
        ),
        "shrink to fit inside W×H (H = W), never enlarging",
    ),
    Operation(
        "crop",
        (
            (
                length("x", 0, MAX_SIDE),
                length("y", 0, MAX_SIDE),
                length("width", 1, MAX_SIDE),
                length("height", 1, MAX_SIDE),
            ),
            (
                length("width", 1, MAX_SIDE),
                length("height", 1, MAX_SIDE),
                choice("gravity", CROP_GRAVITIES, **optional("center")),
            ),
        ),
        "crop the box X,Y,W,H, or W×H placed by gravity (compass, smart, entropy, auto)",
        notes=(
            "the box is clipped to the image; one wholly outside it is 422. `smart` centres it "
            "where attention peaks (edges, skin tones, saturation, on a 32×32 reduction, as "
            "libvips' smartcrop); `entropy` cuts away the edge slices of lower entropy; `auto` "
            "centres it on the image's focal point (`smart` where it has none, or after a step "
            "that moves the picture in its frame: crop, trim, rotate, flip, resize's fill or pad)"
        ),
    ),
    Operation(
        "trim",
        (
            (
                integer(
                    "tolerance",
                    0,
                    255,
                    **optional(10),
                    doc="largest difference per channel (0..255) still counted as the border",
                ),
            ),
        ),
        "remove a uniform border: the top-left pixel's colour, within TOLERANCE per channel",
        notes=(
            "as libvips' find_trim (imgproxy's trim) measures it: a pixel is border while no "
            "channel, alpha included, differs from the top-left pixel by more than TOLERANCE "
            "(default 10); a picture that is all border is left as it is"
        ),
    ),
    Operation(
        "rotate",
        (
            (
                number("angle", -3600, 3600, doc="clockwise, in degrees"),
                colour("background", **optional(), doc="fills the corners; default transparent"),
            ),
        ),
        "rotate clockwise by any angle; others than multiples of 90 expand the canvas",
        notes="multiples of 90 are exact transpositions",
    ),
    Operation(
        "flip",
        ((choice("direction", ("h", "v")),),),
        "mirror horizontally (h) or vertically (v)",
    ),
    # --- colour ------------------------------------------------------------------------------
    Operation("grayscale", ((),), "convert to shades of grey"),
    Operation("sepia", ((),), "warm brown tones (the classic sepia matrix)"),
    Operation("invert", ((),), "negative"),
    Operation("equalize", ((),), "equalise the histogram"),
    Operation("autocontrast", ((),), "stretch the histogram to the full range"),
    # --- filters -----------------------------------------------------------------------------
    Operation(
        "blur",
        ((number("sigma", 0, 100, low_open=True, pixels=True, doc="standard deviation"),),),
        "Gaussian blur with standard deviation SIGMA pixels",
        notes=(
            "from 2 up computed at 1/f of the size, f the largest power of two up to SIGMA (at "
            "most 8): a JPEG is decoded at that scale, anything else reduced with a triangle "
            "filter, and the result scaled back up (PSNR 48–53 dB against the full-size "
            "Gaussian on photos)"
        ),
    ),
    Operation(
        "sharpen",
        (
            (
                number("amount", 0, 10, **optional(1.0), doc="1 = 100 %"),
                number("radius", 0, 100, low_open=True, pixels=True, **optional(2.0)),
            ),
        ),
        "unsharp mask: AMOUNT (1 = 100%) at RADIUS pixels",
    ),
    Operation(
        "brightness",
        ((number("factor", 0, 10, doc="1 = unchanged"),),),
        "brightness × F (1 = unchanged)",
    ),
    Operation(
        "contrast",
        ((number("factor", 0, 10, doc="1 = unchanged"),),),
        "contrast × F (1 = unchanged)",
    ),
    Operation(
        "saturation",
        ((number("factor", 0, 10, doc="1 = unchanged, 0 = grey"),),),
        "colour saturation × F (1 = unchanged, 0 = grey)",
    ),
    Operation("pixelate", ((length("size", 1, 1024),),), "blocks of N×N pixels"),
    Operation("posterize", ((integer("bits", 1, 8),),), "keep BITS bits per colour channel"),
    Operation(
        "tint",
        ((colour("colour"),),),
        "multiply by a colour, like a coloured filter",
        notes="white becomes the colour, black stays black",
    ),
    # --- masks, overlays, background -----------------------------------------------------------
    Operation(
        "mask",
        (
            (
                Param(
                    "shape",
                    "shape",
                    choices=SHAPES,
                    pattern=ID_PATTERN,
                    doc="an image's luminance is the mask",
                ),
                length("radius", 0, MAX_SIDE, **optional(0), doc="the corners' (rounded)"),
            ),
        ),
        "make pixels outside a shape (or another image's dark areas) transparent",
        notes=(
            "`circle` is the largest centred circle; `ellipse` fills the image box; "
            "`rounded:R` clamps R to half the shorter side; `mask:{id}` stretches that image's "
            "luminance to the image size"
        ),
    ),
    Operation(
        "watermark",
        (
            (
                image_id("image"),
                choice("gravity", GRAVITIES, **optional("southeast")),
                number("opacity", 0, 1, **optional(0.5)),
                number("scale", 0, 1, low_open=True, **optional(0.25), doc="of the image width"),
            ),
        ),
        "overlay another stored image, SCALE of the width, at GRAVITY (compass), with OPACITY",
        notes="placed with a margin of 2 % of the shorter side",
    ),
    Operation(
        "background",
        ((colour("colour"),),),
        "flatten transparency onto a colour",
        sets="background",
        notes="the last one given is also what the encoder flattens onto for formats without alpha",
    ),
    # --- saved pipelines -------------------------------------------------------------------------
    Operation(
        "preset",
        ((Param("name", "name", pattern=PRESET_PATTERN),),),
        "the steps (and format) of the caller's preset NAME, in its place",
        expands=True,
        notes=(
            "saved with `PUT /presets/{name}`; combinable with other steps (later ones win for "
            "output options); the URL's extension, if any, overrides the preset's format"
        ),
    ),
    # --- output options ------------------------------------------------------------------------
    Operation(
        "quality",
        ((integer("quality", 1, 100, choices=("auto",)),),),
        "compression for lossy formats (JPEG 85, WebP 80, AVIF 60, HEIC 50, JPEG XL 85), or auto",
        output_only=True,
        sets="quality",
        notes=(
            "`auto`: the lowest quality whose output stays within a perceptual target of the "
            "rendered picture (SSIM, measured on the encoded result at output size)"
        ),
    ),
    Operation(
        "maxbytes",
        ((integer("bytes", 100, 1_000_000_000),),),
        "the best quality whose output is at most N bytes (422 if impossible)",
        output_only=True,
        sets="max_bytes",
        notes=(
            "binary search over quality (up to the requested or default quality) for JPEG, "
            "WebP, AVIF, HEIC, JPEG XL"
        ),
    ),
    Operation(
        "dpr",
        ((number("factor", 1, 5, doc="device pixels per CSS pixel"),),),
        "pixel density: every length in pixels × F (thumbnail:100/dpr:2 is 200 px)",
        output_only=True,
        sets="dpr",
        notes=(
            "the canonical form applies it (`thumbnail:100/dpr:2` is `thumbnail:200`: one "
            "cached variant); lengths stay within their bounds; relative sizes (watermark "
            "scale) are unchanged"
        ),
    ),
)

GRAMMAR = Grammar(
    {op.name: op for op in _OPERATIONS},
    {extension: fmt.extension for extension, fmt in EXTENSIONS.items()} | {AUTO: AUTO},
    MAX_OPERATIONS,
    MAX_IMAGES,
)
REGISTRY = GRAMMAR.operations

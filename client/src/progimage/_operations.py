# Generated from the server's operation registry by `make generate`: do not edit.
"""The operation table and builder methods, one per operation of the registry."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from ._grammar import Grammar

GRAMMAR = Grammar.from_json(
    {
        "max_operations": 20,
        "max_images": 4,
        "extensions": {
            "jpg": "jpg",
            "png": "png",
            "webp": "webp",
            "gif": "gif",
            "avif": "avif",
            "tiff": "tiff",
            "bmp": "bmp",
            "heic": "heic",
            "jxl": "jxl",
            "jpeg": "jpg",
            "tif": "tiff",
            "heif": "heic",
            "auto": "auto",
        },
        "operations": [
            {
                "name": "resize",
                "summary": "resize: fit inside, fill (cover and crop by GRAVITY), "
                "stretch, or pad to W×H",
                "usage": "resize:WIDTH:HEIGHT[:FIT][:GRAVITY]",
                "forms": [
                    [
                        {
                            "name": "width",
                            "kind": "int",
                            "low": 0,
                            "high": 16384,
                            "pixels": True,
                            "doc": "0 keeps the aspect from the height",
                        },
                        {
                            "name": "height",
                            "kind": "int",
                            "low": 0,
                            "high": 16384,
                            "pixels": True,
                            "doc": "0 keeps the aspect from the width",
                        },
                        {
                            "name": "fit",
                            "kind": "choice",
                            "choices": ["fit", "fill", "stretch", "pad"],
                            "required": False,
                            "default": "fit",
                        },
                        {
                            "name": "gravity",
                            "kind": "choice",
                            "choices": [
                                "center",
                                "north",
                                "south",
                                "east",
                                "west",
                                "northeast",
                                "northwest",
                                "southeast",
                                "southwest",
                                "smart",
                                "entropy",
                                "auto",
                            ],
                            "required": False,
                            "default": "center",
                            "doc": "where `fill` crops",
                        },
                    ]
                ],
                "not_all_zero": ["width", "height"],
                "only_with": [("gravity", "fit", ("fill",))],
                "notes": "`pad` fills with transparency (flattened for JPEG) and centres "
                "the image; the gravity applies to `fill` only, and is left out "
                "of the canonical form otherwise (see crop for `smart`, "
                "`entropy` and `auto`)",
            },
            {
                "name": "thumbnail",
                "summary": "shrink to fit inside W×H (H = W), never enlarging",
                "usage": "thumbnail:WIDTH[:HEIGHT]",
                "forms": [
                    [
                        {"name": "width", "kind": "int", "low": 1, "high": 16384, "pixels": True},
                        {
                            "name": "height",
                            "kind": "int",
                            "low": 1,
                            "high": 16384,
                            "required": False,
                            "default_from": "width",
                            "pixels": True,
                        },
                    ]
                ],
            },
            {
                "name": "crop",
                "summary": "crop the box X,Y,W,H, or W×H placed by gravity (compass, "
                "smart, entropy, auto)",
                "usage": "crop:X:Y:WIDTH:HEIGHT or crop:WIDTH:HEIGHT[:GRAVITY]",
                "forms": [
                    [
                        {"name": "x", "kind": "int", "low": 0, "high": 16384, "pixels": True},
                        {"name": "y", "kind": "int", "low": 0, "high": 16384, "pixels": True},
                        {"name": "width", "kind": "int", "low": 1, "high": 16384, "pixels": True},
                        {"name": "height", "kind": "int", "low": 1, "high": 16384, "pixels": True},
                    ],
                    [
                        {"name": "width", "kind": "int", "low": 1, "high": 16384, "pixels": True},
                        {"name": "height", "kind": "int", "low": 1, "high": 16384, "pixels": True},
                        {
                            "name": "gravity",
                            "kind": "choice",
                            "choices": [
                                "center",
                                "north",
                                "south",
                                "east",
                                "west",
                                "northeast",
                                "northwest",
                                "southeast",
                                "southwest",
                                "smart",
                                "entropy",
                                "auto",
                            ],
                            "required": False,
                            "default": "center",
                        },
                    ],
                ],
                "notes": "the box is clipped to the image; one wholly outside it is 422. "
                "`smart` centres it where attention peaks (edges, skin tones, "
                "saturation, on a 32×32 reduction, as libvips' smartcrop); "
                "`entropy` cuts away the edge slices of lower entropy; `auto` "
                "centres it on the image's focal point (`smart` where it has "
                "none, or after a step that moves the picture in its frame: "
                "crop, trim, rotate, flip, resize's fill or pad)",
            },
            {
                "name": "trim",
                "summary": "remove a uniform border: the top-left pixel's colour, within "
                "TOLERANCE per channel",
                "usage": "trim[:TOLERANCE]",
                "forms": [
                    [
                        {
                            "name": "tolerance",
                            "kind": "int",
                            "low": 0,
                            "high": 255,
                            "required": False,
                            "default": 10,
                            "doc": "largest difference per channel (0..255) still counted "
                            "as the border",
                        }
                    ]
                ],
                "notes": "as libvips' find_trim (imgproxy's trim) measures it: a pixel is "
                "border while no channel, alpha included, differs from the "
                "top-left pixel by more than TOLERANCE (default 10); a picture "
                "that is all border is left as it is",
            },
            {
                "name": "rotate",
                "summary": "rotate clockwise by any angle; others than multiples of 90 "
                "expand the canvas",
                "usage": "rotate:ANGLE[:BACKGROUND]",
                "forms": [
                    [
                        {
                            "name": "angle",
                            "kind": "float",
                            "low": -3600,
                            "high": 3600,
                            "doc": "clockwise, in degrees",
                        },
                        {
                            "name": "background",
                            "kind": "colour",
                            "required": False,
                            "doc": "fills the corners; default transparent",
                        },
                    ]
                ],
                "notes": "multiples of 90 are exact transpositions",
            },
            {
                "name": "flip",
                "summary": "mirror horizontally (h) or vertically (v)",
                "usage": "flip:DIRECTION",
                "forms": [[{"name": "direction", "kind": "choice", "choices": ["h", "v"]}]],
            },
            {
                "name": "grayscale",
                "summary": "convert to shades of grey",
                "usage": "grayscale",
                "forms": [[]],
            },
            {
                "name": "sepia",
                "summary": "warm brown tones (the classic sepia matrix)",
                "usage": "sepia",
                "forms": [[]],
            },
            {"name": "invert", "summary": "negative", "usage": "invert", "forms": [[]]},
            {
                "name": "equalize",
                "summary": "equalise the histogram",
                "usage": "equalize",
                "forms": [[]],
            },
            {
                "name": "autocontrast",
                "summary": "stretch the histogram to the full range",
                "usage": "autocontrast",
                "forms": [[]],
            },
            {
                "name": "blur",
                "summary": "Gaussian blur with standard deviation SIGMA pixels",
                "usage": "blur:SIGMA",
                "forms": [
                    [
                        {
                            "name": "sigma",
                            "kind": "float",
                            "low": 0,
                            "high": 100,
                            "low_open": True,
                            "pixels": True,
                            "doc": "standard deviation",
                        }
                    ]
                ],
                "notes": "from 2 up computed at 1/f of the size, f the largest power of "
                "two up to SIGMA (at most 8): a JPEG is decoded at that scale, "
                "anything else reduced with a triangle filter, and the result "
                "scaled back up (PSNR 48–53 dB against the full-size Gaussian on "
                "photos)",
            },
            {
                "name": "sharpen",
                "summary": "unsharp mask: AMOUNT (1 = 100%) at RADIUS pixels",
                "usage": "sharpen[:AMOUNT][:RADIUS]",
                "forms": [
                    [
                        {
                            "name": "amount",
                            "kind": "float",
                            "low": 0,
                            "high": 10,
                            "required": False,
                            "default": 1.0,
                            "doc": "1 = 100 %",
                        },
                        {
                            "name": "radius",
                            "kind": "float",
                            "low": 0,
                            "high": 100,
                            "low_open": True,
                            "required": False,
                            "default": 2.0,
                            "pixels": True,
                        },
                    ]
                ],
            },
            {
                "name": "brightness",
                "summary": "brightness × F (1 = unchanged)",
                "usage": "brightness:FACTOR",
                "forms": [
                    [
                        {
                            "name": "factor",
                            "kind": "float",
                            "low": 0,
                            "high": 10,
                            "doc": "1 = unchanged",
                        }
                    ]
                ],
            },
            {
                "name": "contrast",
                "summary": "contrast × F (1 = unchanged)",
                "usage": "contrast:FACTOR",
                "forms": [
                    [
                        {
                            "name": "factor",
                            "kind": "float",
                            "low": 0,
                            "high": 10,
                            "doc": "1 = unchanged",
                        }
                    ]
                ],
            },
            {
                "name": "saturation",
                "summary": "colour saturation × F (1 = unchanged, 0 = grey)",
                "usage": "saturation:FACTOR",
                "forms": [
                    [
                        {
                            "name": "factor",
                            "kind": "float",
                            "low": 0,
                            "high": 10,
                            "doc": "1 = unchanged, 0 = grey",
                        }
                    ]
                ],
            },
            {
                "name": "pixelate",
                "summary": "blocks of N×N pixels",
                "usage": "pixelate:SIZE",
                "forms": [
                    [{"name": "size", "kind": "int", "low": 1, "high": 1024, "pixels": True}]
                ],
            },
            {
                "name": "posterize",
                "summary": "keep BITS bits per colour channel",
                "usage": "posterize:BITS",
                "forms": [[{"name": "bits", "kind": "int", "low": 1, "high": 8}]],
            },
            {
                "name": "tint",
                "summary": "multiply by a colour, like a coloured filter",
                "usage": "tint:COLOUR",
                "forms": [[{"name": "colour", "kind": "colour"}]],
                "notes": "white becomes the colour, black stays black",
            },
            {
                "name": "mask",
                "summary": "make pixels outside a shape (or another image's dark areas) "
                "transparent",
                "usage": "mask:SHAPE[:RADIUS]",
                "forms": [
                    [
                        {
                            "name": "shape",
                            "kind": "shape",
                            "choices": ["circle", "ellipse", "rounded"],
                            "pattern": "[0-9A-Za-z]{25}",
                            "doc": "an image's luminance is the mask",
                        },
                        {
                            "name": "radius",
                            "kind": "int",
                            "low": 0,
                            "high": 16384,
                            "required": False,
                            "default": 0,
                            "pixels": True,
                            "doc": "the corners' (rounded)",
                        },
                    ]
                ],
                "notes": "`circle` is the largest centred circle; `ellipse` fills the "
                "image box; `rounded:R` clamps R to half the shorter side; "
                "`mask:{id}` stretches that image's luminance to the image size",
            },
            {
                "name": "watermark",
                "summary": "overlay another stored image, SCALE of the width, at GRAVITY "
                "(compass), with OPACITY",
                "usage": "watermark:IMAGE[:GRAVITY][:OPACITY][:SCALE]",
                "forms": [
                    [
                        {"name": "image", "kind": "image", "pattern": "[0-9A-Za-z]{25}"},
                        {
                            "name": "gravity",
                            "kind": "choice",
                            "choices": [
                                "center",
                                "north",
                                "south",
                                "east",
                                "west",
                                "northeast",
                                "northwest",
                                "southeast",
                                "southwest",
                            ],
                            "required": False,
                            "default": "southeast",
                        },
                        {
                            "name": "opacity",
                            "kind": "float",
                            "low": 0,
                            "high": 1,
                            "required": False,
                            "default": 0.5,
                        },
                        {
                            "name": "scale",
                            "kind": "float",
                            "low": 0,
                            "high": 1,
                            "low_open": True,
                            "required": False,
                            "default": 0.25,
                            "doc": "of the image width",
                        },
                    ]
                ],
                "notes": "placed with a margin of 2 % of the shorter side",
            },
            {
                "name": "background",
                "summary": "flatten transparency onto a colour",
                "usage": "background:COLOUR",
                "forms": [[{"name": "colour", "kind": "colour"}]],
                "sets": "background",
                "notes": "the last one given is also what the encoder flattens onto for "
                "formats without alpha",
            },
            {
                "name": "preset",
                "summary": "the steps (and format) of the caller's preset NAME, in its place",
                "usage": "preset:NAME",
                "forms": [
                    [{"name": "name", "kind": "name", "pattern": "[a-z0-9][a-z0-9_-]{0,63}"}]
                ],
                "notes": "saved with `PUT /presets/{name}`; combinable with other steps "
                "(later ones win for output options); the URL's extension, if "
                "any, overrides the preset's format",
                "expands": True,
            },
            {
                "name": "quality",
                "summary": "compression for lossy formats (JPEG 85, WebP 80, AVIF 60, "
                "HEIC 50, JPEG XL 85), or auto",
                "usage": "quality:QUALITY",
                "forms": [
                    [{"name": "quality", "kind": "int", "low": 1, "high": 100, "choices": ["auto"]}]
                ],
                "output_only": True,
                "sets": "quality",
                "notes": "`auto`: the lowest quality whose output stays within a "
                "perceptual target of the rendered picture (SSIM, measured on "
                "the encoded result at output size)",
            },
            {
                "name": "maxbytes",
                "summary": "the best quality whose output is at most N bytes (422 if impossible)",
                "usage": "maxbytes:BYTES",
                "forms": [[{"name": "bytes", "kind": "int", "low": 100, "high": 1000000000}]],
                "output_only": True,
                "sets": "max_bytes",
                "notes": "binary search over quality (up to the requested or default "
                "quality) for JPEG, WebP, AVIF, HEIC, JPEG XL",
            },
            {
                "name": "dpr",
                "summary": "pixel density: every length in pixels × F "
                "(thumbnail:100/dpr:2 is 200 px)",
                "usage": "dpr:FACTOR",
                "forms": [
                    [
                        {
                            "name": "factor",
                            "kind": "float",
                            "low": 1,
                            "high": 5,
                            "doc": "device pixels per CSS pixel",
                        }
                    ]
                ],
                "output_only": True,
                "sets": "dpr",
                "notes": "the canonical form applies it (`thumbnail:100/dpr:2` is "
                "`thumbnail:200`: one cached variant); lengths stay within their "
                "bounds; relative sizes (watermark scale) are unchanged",
            },
        ],
    }
)

Colour = str | tuple[int, int, int] | tuple[int, int, int, int]
"""``"ff8800"``, ``"#FF8800"``, ``"ff880080"`` (with alpha), or ``(255, 136, 0[, 128])``."""
Fit = Literal["fit", "fill", "stretch", "pad"]
Gravity = Literal[
    "center",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "smart",
    "entropy",
    "auto",
]
Direction = Literal["h", "v"]
Shape = Literal["circle", "ellipse", "rounded"]
WatermarkGravity = Literal[
    "center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest"
]
Quality = Literal["auto"]

_P = TypeVar("_P", bound="Operations")


class Operations:
    """One method per operation; each returns a new pipeline with that step added."""

    def _then(self: _P, name: str, **args: Any) -> _P:
        raise NotImplementedError

    def resize(
        self: _P, width: int = 0, height: int = 0, fit: Fit = "fit", gravity: Gravity = "center"
    ) -> _P:
        """Resize: fit inside, fill (cover and crop by GRAVITY), stretch, or pad to W×H.

        ``resize:WIDTH:HEIGHT[:FIT][:GRAVITY]``

        - 0 ≤ width ≤ 16384 px (× dpr); 0 keeps the aspect from the height
        - 0 ≤ height ≤ 16384 px (× dpr); 0 keeps the aspect from the width
        - fit: fit, fill, stretch, pad (default fit)
        - gravity: center, north, south, east, west, northeast, northwest, southeast, southwest,
          smart, entropy, auto (default center); where `fill` crops
        """
        return self._then("resize", width=width, height=height, fit=fit, gravity=gravity)

    def thumbnail(self: _P, width: int, height: int | None = None) -> _P:
        """Shrink to fit inside W×H (H = W), never enlarging.

        ``thumbnail:WIDTH[:HEIGHT]``

        - 1 ≤ width ≤ 16384 px (× dpr)
        - 1 ≤ height ≤ 16384 px (× dpr) (default: the width)
        """
        return self._then("thumbnail", width=width, height=height)

    def crop(
        self: _P,
        width: int,
        height: int,
        gravity: Gravity | None = None,
        *,
        x: int | None = None,
        y: int | None = None,
    ) -> _P:
        """Crop the box X,Y,W,H, or W×H placed by gravity (compass, smart, entropy, auto).

        ``crop:X:Y:WIDTH:HEIGHT or crop:WIDTH:HEIGHT[:GRAVITY]``

        - 0 ≤ x ≤ 16384 px (× dpr)
        - 0 ≤ y ≤ 16384 px (× dpr)
        - 1 ≤ width ≤ 16384 px (× dpr)
        - 1 ≤ height ≤ 16384 px (× dpr)
        - gravity: center, north, south, east, west, northeast, northwest, southeast, southwest,
          smart, entropy, auto (default center)
        """
        return self._then("crop", width=width, height=height, gravity=gravity, x=x, y=y)

    def trim(self: _P, tolerance: int = 10) -> _P:
        """Remove a uniform border: the top-left pixel's colour, within TOLERANCE per channel.

        ``trim[:TOLERANCE]``

        - 0 ≤ tolerance ≤ 255 (default 10); largest difference per channel (0..255) still
          counted as the border
        """
        return self._then("trim", tolerance=tolerance)

    def rotate(self: _P, angle: float, background: Colour | None = None) -> _P:
        """Rotate clockwise by any angle; others than multiples of 90 expand the canvas.

        ``rotate:ANGLE[:BACKGROUND]``

        - -3600 ≤ angle ≤ 3600; clockwise, in degrees
        - background: RRGGBB or RRGGBBAA; fills the corners; default transparent
        """
        return self._then("rotate", angle=angle, background=background)

    def flip(self: _P, direction: Direction) -> _P:
        """Mirror horizontally (h) or vertically (v).

        ``flip:DIRECTION``

        - direction: h, v
        """
        return self._then("flip", direction=direction)

    def grayscale(self: _P) -> _P:
        """Convert to shades of grey.

        ``grayscale``
        """
        return self._then("grayscale")

    def sepia(self: _P) -> _P:
        """Warm brown tones (the classic sepia matrix).

        ``sepia``
        """
        return self._then("sepia")

    def invert(self: _P) -> _P:
        """Negative.

        ``invert``
        """
        return self._then("invert")

    def equalize(self: _P) -> _P:
        """Equalise the histogram.

        ``equalize``
        """
        return self._then("equalize")

    def autocontrast(self: _P) -> _P:
        """Stretch the histogram to the full range.

        ``autocontrast``
        """
        return self._then("autocontrast")

    def blur(self: _P, sigma: float) -> _P:
        """Gaussian blur with standard deviation SIGMA pixels.

        ``blur:SIGMA``

        - 0 < sigma ≤ 100 px (× dpr); standard deviation
        """
        return self._then("blur", sigma=sigma)

    def sharpen(self: _P, amount: float = 1.0, radius: float = 2.0) -> _P:
        """Unsharp mask: AMOUNT (1 = 100%) at RADIUS pixels.

        ``sharpen[:AMOUNT][:RADIUS]``

        - 0 ≤ amount ≤ 10 (default 1.0); 1 = 100 %
        - 0 < radius ≤ 100 px (× dpr) (default 2.0)
        """
        return self._then("sharpen", amount=amount, radius=radius)

    def brightness(self: _P, factor: float) -> _P:
        """Brightness × F (1 = unchanged).

        ``brightness:FACTOR``

        - 0 ≤ factor ≤ 10; 1 = unchanged
        """
        return self._then("brightness", factor=factor)

    def contrast(self: _P, factor: float) -> _P:
        """Contrast × F (1 = unchanged).

        ``contrast:FACTOR``

        - 0 ≤ factor ≤ 10; 1 = unchanged
        """
        return self._then("contrast", factor=factor)

    def saturation(self: _P, factor: float) -> _P:
        """Colour saturation × F (1 = unchanged, 0 = grey).

        ``saturation:FACTOR``

        - 0 ≤ factor ≤ 10; 1 = unchanged, 0 = grey
        """
        return self._then("saturation", factor=factor)

    def pixelate(self: _P, size: int) -> _P:
        """Blocks of N×N pixels.

        ``pixelate:SIZE``

        - 1 ≤ size ≤ 1024 px (× dpr)
        """
        return self._then("pixelate", size=size)

    def posterize(self: _P, bits: int) -> _P:
        """Keep BITS bits per colour channel.

        ``posterize:BITS``

        - 1 ≤ bits ≤ 8
        """
        return self._then("posterize", bits=bits)

    def tint(self: _P, colour: Colour) -> _P:
        """Multiply by a colour, like a coloured filter.

        ``tint:COLOUR``

        - colour: RRGGBB or RRGGBBAA
        """
        return self._then("tint", colour=colour)

    def mask(self: _P, shape: Shape | str, radius: int = 0) -> _P:
        """Make pixels outside a shape (or another image's dark areas) transparent.

        ``mask:SHAPE[:RADIUS]``

        - shape: circle, ellipse, rounded or an image id; an image's luminance is the mask
        - 0 ≤ radius ≤ 16384 px (× dpr) (default 0); the corners' (rounded)
        """
        return self._then("mask", shape=shape, radius=radius)

    def watermark(
        self: _P,
        image: str,
        gravity: WatermarkGravity = "southeast",
        opacity: float = 0.5,
        scale: float = 0.25,
    ) -> _P:
        """Overlay another stored image, SCALE of the width, at GRAVITY (compass), with OPACITY.

        ``watermark:IMAGE[:GRAVITY][:OPACITY][:SCALE]``

        - image: an image id
        - gravity: center, north, south, east, west, northeast, northwest, southeast, southwest
          (default southeast)
        - 0 ≤ opacity ≤ 1 (default 0.5)
        - 0 < scale ≤ 1 (default 0.25); of the image width
        """
        return self._then("watermark", image=image, gravity=gravity, opacity=opacity, scale=scale)

    def background(self: _P, colour: Colour) -> _P:
        """Flatten transparency onto a colour.

        ``background:COLOUR``

        - colour: RRGGBB or RRGGBBAA
        """
        return self._then("background", colour=colour)

    def preset(self: _P, name: str) -> _P:
        """The steps (and format) of the caller's preset NAME, in its place.

        ``preset:NAME``

        - name: a preset's name
        """
        return self._then("preset", name=name)

    def quality(self: _P, quality: int | Quality) -> _P:
        """Compression for lossy formats (JPEG 85, WebP 80, AVIF 60, HEIC 50, JPEG XL 85), or auto.

        ``quality:QUALITY``

        - 1 ≤ quality ≤ 100 or auto
        """
        return self._then("quality", quality=quality)

    def maxbytes(self: _P, bytes: int) -> _P:
        """The best quality whose output is at most N bytes (422 if impossible).

        ``maxbytes:BYTES``

        - 100 ≤ bytes ≤ 1000000000
        """
        return self._then("maxbytes", bytes=bytes)

    def dpr(self: _P, factor: float) -> _P:
        """Pixel density: every length in pixels × F (thumbnail:100/dpr:2 is 200 px).

        ``dpr:FACTOR``

        - 1 ≤ factor ≤ 5; device pixels per CSS pixel
        """
        return self._then("dpr", factor=factor)

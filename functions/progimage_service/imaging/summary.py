"""What an image record says about the picture's looks: two placeholders and its colours.

``summarise`` takes a decoded frame, upright (as decode.frames gives it), of any size and mode,
and reads only a reduction of at most REDUCED_SIDE px a side, area-averaged (BOX: every source
pixel counts once, so averages and shares are the picture's, and no filter rings into colours
it does not have), in sRGB (working_mode: an ICC profile applied, 16-bit and palette modes
converted). From it:

- the BlurHash, on the reduction composited over the average colour (the placeholder cannot be
  transparent; ThumbHash composites the same way), with placeholders.blurhash_components(size);
- the average colour and the palette (palette.py), pixels weighted by alpha;
- the ThumbHash, with its alpha, on a further reduction to THUMBHASH_SIDE.

The sizes are measured (docs/ARCHITECTURE.md, "Placeholders and colours"): BlurHash samples its
cosines at pixel corners, not centres, so its terms move with the reduction's size by about half
a pixel's share of the picture; at 64 px the decoded placeholder is within 2.8-4.6 levels (mean
of 8-bit values) of the one from the whole 1024 px picture, a tenth of the placeholder's own
distance from the picture (30-48 levels). ThumbHash samples at centres: at 32 px it decodes to
within 0.4-2.8 levels of the one from 100 px (the reference's limit), for a sixth of the time.
The palette needs the 64 px: at 32 px one column of blended pixels at a boundary between two
colours is 3-5 % of a small picture, taken from both sides' shares.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from PIL import Image

from .colour import working_mode
from .palette import average_colour, hex_colour, palette
from .placeholders import blurhash, blurhash_components, thumbhash

REDUCED_SIDE = 64  # BlurHash, average colour and palette
THUMBHASH_SIDE = 32
SHARE_DECIMALS = 3
_RESAMPLABLE = {"L", "LA", "RGB", "RGBA"}


@dataclass(frozen=True)
class Summary:
    blurhash: str
    thumbhash: str  # base64, standard alphabet, padded
    average_colour: str  # "#rrggbb"
    palette: tuple[tuple[str, float], ...]  # ("#rrggbb", share), largest share first

    def to_json(self) -> dict[str, object]:
        return {
            "blurhash": self.blurhash,
            "thumbhash": self.thumbhash,
            "average_colour": self.average_colour,
            "palette": [
                {"colour": colour, "share": round(share, SHARE_DECIMALS)}
                for colour, share in self.palette
            ],
        }


def summarise(image: Image.Image) -> Summary:
    """The placeholders and colours of an upright decoded frame (the frame is not changed)."""
    reduced = working_mode(_reduce(image, REDUCED_SIDE)).convert("RGBA")
    average = average_colour(reduced)
    opaque = Image.new("RGB", reduced.size, average)
    opaque.paste(reduced, mask=reduced.getchannel("A"))
    small = _reduce(reduced, THUMBHASH_SIDE)
    return Summary(
        blurhash=blurhash(opaque, *blurhash_components(*image.size)),
        thumbhash=base64.b64encode(thumbhash(small)).decode("ascii"),
        average_colour=hex_colour(average),
        palette=tuple((hex_colour(rgb), share) for rgb, share in palette(reduced)),
    )


def _reduce(image: Image.Image, side: int) -> Image.Image:
    """A new image of at most ``side`` px a side, the aspect kept. Modes that Pillow cannot
    average (palette, 1-bit) or that working_mode must scale (16-bit, float) are converted first,
    at full size: a new image too."""
    if image.mode not in _RESAMPLABLE:
        image = working_mode(image)  # a converted copy for every mode outside _RESAMPLABLE
    width, height = image.size
    scale = side / max(width, height)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BOX)

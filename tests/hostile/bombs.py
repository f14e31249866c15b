"""Synthetic decompression bombs: tiny files whose headers declare huge images or many frames.

Each is an otherwise well-formed file, so that only the limits stand between it and its decoder.
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

from .oracle import LIMITS
from .samples import save
from .structure import png_chunks, png_join, riff_chunk, riff_chunks


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


def png(width: int, height: int) -> bytes:
    """An RGB PNG declaring width x height, with one tiny compressed IDAT (a few rows of zeros)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(4096), 9)
    return png_join([(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b"")])


def apng(num_frames: int, fctl_size: tuple[int, int] | None = None) -> bytes:
    """A 1x1 APNG whose acTL declares ``num_frames`` (or whose first fcTL declares a size)."""
    chunks = png_chunks(save(Image.new("RGB", (1, 1)), "PNG"))
    width, height = fctl_size or (1, 1)
    fctl = struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0)
    actl = struct.pack(">II", num_frames, 0)
    return png_join([chunks[0], (b"acTL", actl), (b"fcTL", fctl), *chunks[1:]])


def _gif_frame(left: int, top: int, width: int, height: int) -> bytes:
    """A graphic control extension and a frame whose LZW data encodes a single pixel."""
    return (
        b"!\xf9\x04\x00\x01\x00\x00\x00"
        + b","
        + struct.pack("<HHHHB", left, top, width, height, 0)
        + b"\x02\x02\x44\x01\x00"
    )


def gif(
    screen: tuple[int, int], frames: list[tuple[int, int, int, int]], junk: bytes = b""
) -> bytes:
    """A GIF with a two-colour global table; ``junk`` goes before the last frame."""
    head = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    body = [_gif_frame(*f) for f in frames]
    if junk and body:
        body[-1] = junk + body[-1]
    return head + b"".join(body) + b";"


def _vp8l(width: int, height: int) -> bytes:
    """The smallest VP8L chunk payload we can make: a real 1x1 lossless bitstream, resized."""
    still = save(Image.new("RGBA", (1, 1), (255, 0, 0, 255)), "WEBP", lossless=True)
    payload = dict(riff_chunks(still))[b"VP8L"]
    bits = (width - 1) | ((height - 1) << 14) | (1 << 28)
    return payload[:1] + struct.pack("<I", bits) + payload[5:]


def _riff(chunks: list[bytes]) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_canvas(width: int, height: int) -> bytes:
    """An animated VP8X canvas of width x height holding one 1x1 frame."""
    return webp_animation(width, height, frames=1)


def webp_animation(width: int, height: int, frames: int) -> bytes:
    vp8x = bytes([0x12, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1)  # animation + alpha
    anim = struct.pack("<IH", 0, 0)
    frame = _u24(0) + _u24(0) + _u24(0) + _u24(0) + _u24(10) + b"\x00"
    anmf = riff_chunk(b"ANMF", frame + riff_chunk(b"VP8L", _vp8l(1, 1)))
    return _riff([riff_chunk(b"VP8X", vp8x), riff_chunk(b"ANIM", anim), anmf * frames])


def webp_still_canvas(width: int, height: int) -> bytes:
    """A still VP8X file declaring width x height, its bitstream declaring the same."""
    vp8x = bytes([0x10, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1)
    return _riff([riff_chunk(b"VP8X", vp8x), riff_chunk(b"VP8L", _vp8l(width, height))])


def webp_lossless(width: int, height: int) -> bytes:
    return _riff([riff_chunk(b"VP8L", _vp8l(width, height))])


def jpeg(width: int, height: int) -> bytes:
    data = bytearray(save(Image.new("RGB", (8, 8)), "JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff(width: int, height: int) -> bytes:
    data = bytearray(save(Image.new("L", (1, 1)), "TIFF"))
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for n in range(count):
        at = ifd + 2 + 12 * n
        tag = struct.unpack("<H", data[at : at + 2])[0]
        if tag in (256, 257, 278):
            data[at + 2 : at + 12] = struct.pack("<HII", 4, 1, width if tag == 256 else height)
    return bytes(data)


def bmp(width: int, height: int) -> bytes:
    data = bytearray(save(Image.new("RGB", (1, 1)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def avif(width: int, height: int) -> bytes:
    data = bytearray(save(Image.new("RGB", (8, 8)), "AVIF", quality=50, speed=10))
    at = data.find(b"ispe")
    data[at + 8 : at + 16] = struct.pack(">II", width, height)
    return bytes(data)


# Just over each limit, and far over: the near ones are below Pillow's own guard
# (Image.MAX_IMAGE_PIXELS), so only our checks stand between them and the decoder.
_OVER = 2001  # 2001 x 2000 > LIMITS.max_pixels
_SIDE = LIMITS.max_side + 1
_MANY = LIMITS.max_frames + 1


def bombs() -> dict[str, tuple[bytes, int]]:
    """name: (bytes, the pixels or frames the header declares)."""
    return {
        "png 100000x100000": (png(100_000, 100_000), 100_000 * 100_000),
        "png just over the pixel limit": (png(_OVER, 2000), _OVER * 2000),
        "png just over the side limit": (png(_SIDE, 1), _SIDE),
        "apng acTL 2^31-1 frames": (apng(2**31 - 1), 2**31 - 1),
        "apng acTL just over the frame limit": (apng(_MANY), _MANY),
        "gif screen 65535x65535": (gif((65535, 65535), [(0, 0, 1, 1)]), 65535 * 65535),
        "gif frame beyond its 1x1 screen": (
            gif((1, 1), [(0, 0, 1, 1), (0, 0, 65535, 65535)]),
            65535 * 65535,
        ),
        "gif frame offset beyond the screen": (
            gif((1, 1), [(0, 0, 1, 1), (65000, 65000, 1, 1)]),
            65001 * 65001,
        ),
        "gif frame hidden after stray bytes": (
            gif((1, 1), [(0, 0, 1, 1), (0, 0, 3000, 3000)], junk=b"\x00\x07"),
            3000 * 3000,
        ),
        "gif 100000 tiny frames": (gif((1, 1), [(0, 0, 1, 1)] * 100_000), 100_000),
        "gif just over the frame limit": (gif((1, 1), [(0, 0, 1, 1)] * _MANY), _MANY),
        "webp VP8X canvas 16383x16383, one 1x1 frame": (webp_canvas(16383, 16383), 16383**2),
        "webp VP8X canvas 8000x8000, one 1x1 frame": (webp_canvas(8000, 8000), 8000**2),
        "webp still VP8X 16383x16383": (webp_still_canvas(16383, 16383), 16383**2),
        "webp VP8L 16384x16384": (webp_lossless(16384, 16384), 16384**2),
        "webp 100000 ANMF frames": (webp_animation(1, 1, 100_000), 100_000),
        "webp just over the frame limit": (webp_animation(1, 1, _MANY), _MANY),
        "jpeg SOF 65535x65535": (jpeg(65535, 65535), 65535**2),
        "jpeg SOF just over the side limit": (jpeg(_SIDE, 8), _SIDE * 8),
        "tiff 100000x100000": (tiff(100_000, 100_000), 100_000**2),
        "bmp 100000x100000": (bmp(100_000, 100_000), 100_000**2),
        "bmp just over the pixel limit": (bmp(_OVER, 2000), _OVER * 2000),
        "avif ispe 16000x16000": (avif(16000, 16000), 16000**2),
        "avif ispe just over the pixel limit": (avif(_OVER, 2000), _OVER * 2000),
    }

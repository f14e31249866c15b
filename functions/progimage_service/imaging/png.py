"""Decode a still PNG's pixels with libspng, straight into memory Pillow takes over.

libspng comes from the ``pyspng`` wheel (installed without its dependencies), whose extension
links libspng statically and exports its C API. Its Python module is never imported: it imports
numpy, whose import alone (120 to 200 ms) and size (66 MB) would cost a cold start more than
the decode saves. The library is called through ctypes (imported on the first PNG decoded),
decoding into a bytearray that ``Image.frombuffer`` maps (RGBA, L), or a strip of rows at a
time that Pillow's raw decoder unpacks into the image (RGB, which Pillow holds in 4 bytes a
pixel: a whole buffer would add 3 bytes a pixel to the peak).

libspng decodes to exactly Pillow's pixels 8-bit grey, grey with alpha, RGB and RGBA, and
16-bit RGB and RGBA (Pillow keeps the high byte of each sample, as libspng's 8-bit output does),
interlaced or not (``EXACT``). Palettes, bit depths under 8 and 16-bit greys, which Pillow
decodes into other modes (P, 1, I;16), are Pillow's, as is an animated PNG. The service uses it
only where it is faster end to end by 15 % or more (``make bench-png``): 8-bit RGB and RGBA,
not interlaced (``ADOPTED``); on grey, on 16 bits and interlaced it gains less, or loses.
Neither decoder applies gamma, and no ancillary chunk changes a pixel here: the image's
``info`` (ICC profile, transparency) is the one Pillow read from the header, and a PNG with
chunks after its image data that Pillow would parse is Pillow's (see ``plain_after_pixels``).
Without the library, or on any error it reports, the caller decodes with Pillow, which then
accepts the file or refuses it as before.
"""

from __future__ import annotations

import importlib.util
import os
import struct
from functools import cache
from typing import Any

from PIL import Image, PngImagePlugin

# libspng's output formats (enum spng_format) and flags, from spng.h.
_FMT_RGBA8 = 1
_FMT_RGB8 = 4
_FMT_PNG = 256  # the samples as stored, deinterlaced: an 8-bit image's own layout
_DECODE_PROGRESSIVE = 256  # spng_decode_image only starts: spng_decode_row gives each row
_EOI = 75  # spng_decode_row's "end of image" after the last row
# Each (colour type, bit depth) of the IHDR that libspng decodes to Pillow's pixels: its output
# format, and Pillow's mode (also the raw mode of that output).
EXACT = {
    (0, 8): (_FMT_PNG, "L"),
    (2, 8): (_FMT_PNG, "RGB"),
    (2, 16): (_FMT_RGB8, "RGB"),
    (4, 8): (_FMT_PNG, "LA"),
    (6, 8): (_FMT_PNG, "RGBA"),
    (6, 16): (_FMT_RGBA8, "RGBA"),
}
# Those the service decodes with libspng, not interlaced: where it wins by 15 % (see above).
ADOPTED = {(2, 8), (6, 8)}
# Pillow's modes whose pixels lie in memory as libspng writes them: an image maps the buffer.
_MAPPED = {"L", "RGBA"}
# The rows decoded at a time for the other modes: a buffer small beside the image.
_STRIP_BYTES = 2**20
# The keyword of a text chunk Pillow reads EXIF from.
_EXIF_KEYWORD = b"Raw profile type exif"
# Ancillary chunks libspng keeps in memory while decoding (text, EXIF, ICC): bounded as the
# upload size bounds Pillow's.
_CHUNK_LIMIT = 64 * 2**20


@cache
def _library() -> Any:
    """libspng from the pyspng wheel's extension (a ctypes.CDLL), or None where it is not
    installed or cannot be loaded."""
    spec = importlib.util.find_spec("pyspng")  # finds the package without importing it
    folders = spec.submodule_search_locations if spec is not None else None
    found = sorted(
        os.path.join(folders[0], name)
        for name in (os.listdir(folders[0]) if folders else [])
        if name.startswith("_pyspng_c") and name.endswith(".so")
    )
    if not found:
        return None
    import ctypes

    size_t, pointer = ctypes.c_size_t, ctypes.c_void_p
    try:
        lib = ctypes.CDLL(found[0])
        lib.spng_ctx_new.restype = pointer
        lib.spng_ctx_new.argtypes = [ctypes.c_int]
        lib.spng_ctx_free.argtypes = [pointer]
        lib.spng_set_png_buffer.argtypes = [pointer, ctypes.c_char_p, size_t]
        lib.spng_set_chunk_limits.argtypes = [pointer, size_t, size_t]
        lib.spng_set_image_limits.argtypes = [pointer, ctypes.c_uint32, ctypes.c_uint32]
        lib.spng_decoded_image_size.argtypes = [pointer, ctypes.c_int, ctypes.POINTER(size_t)]
        lib.spng_decode_image.argtypes = [pointer, pointer, size_t, ctypes.c_int, ctypes.c_int]
        lib.spng_decode_row.argtypes = [pointer, pointer, size_t]
    except (OSError, AttributeError):  # not loadable, or a build without libspng's API
        return None
    return lib


def available() -> bool:
    """Whether libspng can be used in this process."""
    return _library() is not None


def _ihdr(data: bytes) -> tuple[int, int, int, int, int] | None:
    """Width, height, bit depth, colour type and interlace method, from the IHDR chunk that
    opens a PNG (Pillow read the same one)."""
    if len(data) < 29 or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return width, height, depth, colour, interlace


def decode_png(data: bytes, image: Image.Image, every_exact: bool = False) -> Image.Image | None:
    """The pixels of ``image`` (opened by Pillow from ``data``, checked against the limits),
    decoded by libspng, with Pillow's ``info``; None where Pillow must decode instead: outside
    ``ADOPTED``, or interlaced, unless ``every_exact`` (the benchmark's comparison) asks for
    anything in ``EXACT``."""
    lib = _library()
    header = _ihdr(data)
    if lib is None or header is None or not _still(image) or not plain_after_pixels(data):
        return None
    width, height, depth, colour, interlace = header
    adopted = (colour, depth) in ADOPTED and not interlace
    if (colour, depth) not in EXACT or not (adopted or every_exact):
        return None
    fmt, mode = EXACT[colour, depth]
    if mode != image.mode or (width, height) != image.size:
        return None
    import ctypes

    # libspng's default checks: each chunk's CRC and the image data's Adler-32. Pillow checks
    # the latter, not the image data's CRC: a file either refuses is decoded by Pillow.
    ctx = lib.spng_ctx_new(0)
    if not ctx:
        return None
    try:
        lib.spng_set_chunk_limits(ctx, _CHUNK_LIMIT, _CHUNK_LIMIT)
        # The limits were checked on the size Pillow read: libspng must find the same one.
        lib.spng_set_image_limits(ctx, width, height)
        length = ctypes.c_size_t()
        if lib.spng_set_png_buffer(ctx, data, len(data)) or lib.spng_decoded_image_size(
            ctx, fmt, ctypes.byref(length)
        ):
            return None
        whole = mode in _MAPPED or interlace
        decoded = (_whole if whole else _in_strips)(lib, ctx, fmt, mode, image.size, length.value)
    finally:
        lib.spng_ctx_free(ctx)
    if decoded is not None:
        decoded.info = dict(image.info)
    return decoded


def _still(image: Image.Image) -> bool:
    """Whether ``image`` is a PNG opened, not yet loaded, and not animated."""
    return (
        isinstance(image, PngImagePlugin.PngImageFile)
        and bool(image.tile)
        and image.custom_mimetype != "image/apng"
    )


def _whole(
    lib: Any, ctx: int, fmt: int, mode: str, size: tuple[int, int], length: int
) -> Image.Image | None:
    """The image decoded into one buffer, which Pillow maps (or copies, for other modes)."""
    import ctypes

    pixels = bytearray(length)
    target = (ctypes.c_char * length).from_buffer(pixels)
    if lib.spng_decode_image(ctx, target, length, fmt, 0):
        return None
    del target  # the bytearray is Pillow's to keep now
    return Image.frombuffer(mode, size, pixels, "raw", mode, 0, 1)


def _in_strips(
    lib: Any, ctx: int, fmt: int, mode: str, size: tuple[int, int], length: int
) -> Image.Image | None:
    """A non-interlaced image decoded row by row, each strip of rows unpacked into the image."""
    import ctypes

    width, height = size
    row = length // height
    rows = min(height, max(1, _STRIP_BYTES // row))
    strip = bytearray(rows * row)
    target = (ctypes.c_char * len(strip)).from_buffer(strip)
    start = ctypes.addressof(target)
    view = memoryview(strip).toreadonly()
    if lib.spng_decode_image(ctx, None, 0, fmt, _DECODE_PROGRESSIVE):
        return None
    decoded = Image.new(mode, size)
    unpack = Image._getdecoder(mode, "raw", (mode, 0, 1))  # as a plugin's load() feeds it
    unpack.setimage(decoded.im, (0, 0, width, height))
    for top in range(0, height, rows):
        count = min(rows, height - top)
        for index in range(count):
            if lib.spng_decode_row(ctx, start + index * row, row) not in (0, _EOI):
                return None
        unpack.decode(view[: count * row])
    return decoded


def plain_after_pixels(data: bytes) -> bool:
    """Whether what follows the image data is only what Pillow reads without fail and without
    finding metadata in it: chunks it skips, and text holding no EXIF, each within the file.

    Pillow reads those chunks only when it decodes the pixels (they may hold EXIF, or end the
    decode with an error); libspng never reads them. Walks the chunk headers only.
    """
    pos, pixels, text = 8, False, 0  # after the signature
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"IEND":
            return pixels
        if pos + 12 + length > len(data) or not kind.isalpha():
            return False
        if kind == b"IDAT":
            pixels = True
        elif pixels and kind == b"tEXt":
            keyword = data[pos + 8 : pos + 8 + min(length, 80)].partition(b"\0")[0]
            text += length
            if keyword == _EXIF_KEYWORD or text > PngImagePlugin.MAX_TEXT_MEMORY:
                return False
        elif pixels and hasattr(PngImagePlugin.PngStream, f"chunk_{kind.decode()}"):
            return False  # parsed by Pillow: EXIF, XMP, or an error of its own
        pos += 12 + length
    return pixels and pos == len(data)

"""Refuse an upload whose data stops short, by walking its structure without decoding it.

Upload decodes the first frame only (a JPEG at 1/8 scale), and the decoders forgive missing data
where they can: a JPEG whose scan stops early but ends in an end-of-image marker decodes with the
rest grey, a PNG needs no IEND, and nothing past the first frame of a GIF or an APNG is read.
Such a file was stored as ready and then failed every variant. Each format's structure is walked
here instead: every length it declares lies inside the file, every frame has its data, and the
format's end follows. Bytes after that end are ignored, as decoders ignore them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InvalidImage
from .formats import Format
from .gif import gif_layout
from .webp import webp_complete


def check_complete(data: bytes, fmt: Format) -> int:
    """Raise InvalidImage ("truncated: ...") unless all of the image's data is in ``data``,
    whose format ``fmt`` sniff() has recognised.

    Returns the number of scans of a JPEG (a progressive one has several, and decoding time
    grows with them), 1 for every other format.
    """
    return _CHECKS[fmt.name](data)


def _truncated(what: str) -> InvalidImage:
    return InvalidImage(f"truncated: {what}")


# --- JPEG -------------------------------------------------------------------------------------

# A marker: 0xFF and a code other than 0x00 (a stuffed 0xFF in entropy-coded data) or 0xFF (fill).
_MARKER = re.compile(rb"\xff[^\x00\xff]")
# The marker that ends a scan's entropy-coded data: any but the restart markers RST0-7 inside it.
_SCAN_END = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")
_RESTART = re.compile(rb"\xff[\xd0-\xd7]")
_EOI, _SOS, _DRI = 0xD9, 0xDA, 0xDD
# Markers without a length: TEM, RST0-7, SOI (and EOI, handled apart).
_STANDALONE = {0x01, *range(0xD0, 0xD9)}
# Start-of-frame markers; DHT (C4), JPG (C8) and DAC (CC) share the range.
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEQUENTIAL_HUFFMAN = {0xC0, 0xC1}
_PROGRESSIVE_HUFFMAN = 0xC2


@dataclass(frozen=True)
class _Frame:
    """What a start-of-frame header says that bounds the size of each scan."""

    marker: int
    width: int
    height: int
    sampling: dict[int, tuple[int, int]]  # component id: (horizontal, vertical) factors

    def scan_size(self, components: list[int]) -> tuple[int, int] | None:
        """The MCUs and 8x8 blocks a scan of these components codes (None if the header's
        factors make no sense, which the decoder refuses on its own)."""
        factors = [self.sampling.get(c, (0, 0)) for c in components]
        h_max = max((h for h, _ in self.sampling.values()), default=0)
        v_max = max((v for _, v in self.sampling.values()), default=0)
        if not factors or min(min(f) for f in factors) < 1:
            return None
        if len(factors) == 1:  # not interleaved: an MCU is one block of that component
            h, v = factors[0]
            columns = _ceil(_ceil(self.width * h, h_max), 8)
            blocks = columns * _ceil(_ceil(self.height * v, v_max), 8)
            return blocks, blocks
        mcus = _ceil(self.width, 8 * h_max) * _ceil(self.height, 8 * v_max)
        return mcus, mcus * sum(h * v for h, v in factors)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _jpeg(data: bytes) -> int:
    """Segments up to each scan; each scan's entropy-coded data, as long as the blocks it codes
    need at the least and with all its restart markers; and the end-of-image marker."""
    frame: _Frame | None = None
    restart_interval = scans = 0
    pos = 2  # after SOI
    while True:
        found = _MARKER.search(data, pos)
        if found is None:
            raise _truncated("the JPEG ends before its end-of-image marker")
        marker, pos = data[found.end() - 1], found.end()
        if marker == _EOI:
            if not scans:
                raise _truncated("the JPEG has no scan before its end-of-image marker")
            return scans
        if marker in _STANDALONE:
            continue
        if pos + 2 > len(data):
            raise _truncated("the JPEG ends inside a segment header")
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2:
            raise InvalidImage(f"the JPEG's segment at byte {pos - 2} has a length of {length}")
        if end > len(data):
            raise _truncated(f"the JPEG's segment at byte {pos - 2} runs past the end of the file")
        body = data[pos + 2 : end]
        if marker in _SOF:
            frame = _frame(marker, body)
        elif marker == _DRI and len(body) >= 2:
            restart_interval = int.from_bytes(body[:2], "big")
        elif marker == _SOS:
            scans += 1
            pos = _scan(data, end, body, frame, restart_interval, scans)
            continue
        pos = end


def _frame(marker: int, body: bytes) -> _Frame | None:
    if len(body) < 6 or len(body) < 6 + 3 * body[5]:
        return None
    height, width = struct.unpack(">HH", body[1:5])
    sampling = {
        body[at]: (body[at + 1] >> 4, body[at + 1] & 15) for at in range(6, 6 + 3 * body[5], 3)
    }
    return _Frame(marker, width, height, sampling)


def _scan(
    data: bytes, start: int, header: bytes, frame: _Frame | None, restart_interval: int, n: int
) -> int:
    """Check scan ``n``'s entropy-coded data, which begins at ``start``; return where it ends."""
    found = _SCAN_END.search(data, start)
    if found is None:
        raise _truncated(f"the JPEG ends inside scan {n}, without its end-of-image marker")
    end = found.start()
    size = frame.scan_size(list(header[1 : 1 + 2 * header[0] : 2])) if frame and header else None
    if frame is None or size is None:
        return end
    mcus, blocks = size
    spectral_start = header[1 + 2 * header[0]] if len(header) > 1 + 2 * header[0] else 0
    # Each block costs a Huffman code for its DC coefficient and one that ends its AC ones, of a
    # bit at the least; a progressive DC scan, one bit. (AC scans of a progressive JPEG may code
    # thousands of empty blocks in a few bits; arithmetic coding has no lower bound at all.)
    if frame.marker in _SEQUENTIAL_HUFFMAN:
        least_bits = 2 * blocks
    elif frame.marker == _PROGRESSIVE_HUFFMAN and spectral_start == 0:
        least_bits = blocks
    else:
        least_bits = 0
    if (end - start) * 8 < least_bits:
        raise _truncated(
            f"scan {n} of the JPEG holds {end - start} bytes, and its {blocks} blocks of "
            f"{frame.width}x{frame.height} need {_ceil(least_bits, 8)} at the least"
        )
    if restart_interval:
        restarts = len(_RESTART.findall(data, start, end))
        expected = _ceil(mcus, restart_interval) - 1
        if restarts < expected:
            raise _truncated(
                f"scan {n} of the JPEG has {restarts} of its {expected} restart markers"
            )
    return end


# --- PNG and APNG -----------------------------------------------------------------------------


def _png(data: bytes) -> int:
    """Every chunk inside the file up to IEND; image data, and for an APNG every frame's."""
    frames_declared = frames = 0
    awaiting_data = image_data = False  # a frame control chunk not yet followed by its data
    pos = 8  # after the signature
    while True:
        if pos + 12 > len(data):
            raise _truncated("the PNG ends before its IEND chunk")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            raise _truncated(f"the PNG's {_name(kind)} chunk runs past the end of the file")
        if kind == b"IEND":
            break
        if kind == b"acTL" and not image_data and length >= 8:
            frames_declared = int.from_bytes(data[pos + 8 : pos + 12], "big")
        elif kind == b"fcTL":
            if awaiting_data:
                raise _truncated(f"frame {frames} of the APNG has no image data")
            frames += 1
            awaiting_data = True
        elif kind in (b"IDAT", b"fdAT"):
            image_data = image_data or kind == b"IDAT"
            awaiting_data = False
        pos += 12 + length
    if awaiting_data:
        raise _truncated(f"frame {frames} of the APNG has no image data")
    if not image_data:
        raise _truncated("the PNG has no image data before its IEND chunk")
    if frames < frames_declared:
        raise _truncated(f"the APNG declares {frames_declared} frames and holds {frames}")
    return 1


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else repr(kind)


# --- GIF and WebP: the walks that count their frames ------------------------------------------


def _gif(data: bytes) -> int:
    layout = gif_layout(data)
    if not layout.complete:
        raise _truncated(f"the GIF ends in or after frame {layout.frames}, before its trailer")
    return 1


def _webp(data: bytes) -> int:
    if not webp_complete(data):
        declared = 8 + int.from_bytes(data[4:8], "little")
        raise _truncated(
            f"the WebP's chunks do not fit the {declared} bytes its header declares "
            f"and the {len(data)} of the file"
        )
    return 1


# --- TIFF: the first page (the only one rendered) ---------------------------------------------

_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _TILE_OFFSETS, _TILE_BYTE_COUNTS = 273, 279, 324, 325
_ARRAY_TYPES = {3: "H", 4: "I"}  # SHORT and LONG, the types offsets and byte counts come in


def _tiff(data: bytes) -> int:
    """The first directory, and the strips or tiles it points to, lie inside the file."""
    if len(data) < 8:
        raise _truncated("the TIFF ends inside its header")
    order = "<" if data[:2] == b"II" else ">"
    (directory,) = struct.unpack(order + "I", data[4:8])
    if directory + 2 > len(data):
        raise _truncated("the TIFF's first directory lies past the end of the file")
    (count,) = struct.unpack(order + "H", data[directory : directory + 2])
    entries = directory + 2
    if entries + 12 * count + 4 > len(data):  # the entries, then the next directory's offset
        raise _truncated("the TIFF's first directory runs past the end of the file")
    arrays: dict[int, tuple[int, ...]] = {}
    for at in range(entries, entries + 12 * count, 12):
        tag, kind, n = struct.unpack(order + "HHI", data[at : at + 8])
        if tag in (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS, _TILE_OFFSETS, _TILE_BYTE_COUNTS):
            arrays[tag] = _tiff_array(data, order, at, kind, n)
    for offsets, counts in (
        (_STRIP_OFFSETS, _STRIP_BYTE_COUNTS),
        (_TILE_OFFSETS, _TILE_BYTE_COUNTS),
    ):
        ends = map(sum, zip(arrays.get(offsets, ()), arrays.get(counts, ()), strict=False))
        if max(ends, default=0) > len(data):
            raise _truncated("the TIFF's image data runs past the end of the file")
    return 1


def _tiff_array(data: bytes, order: str, entry: int, kind: int, n: int) -> tuple[int, ...]:
    """The values of a directory entry of SHORTs or LONGs (none for another type)."""
    code = _ARRAY_TYPES.get(kind)
    if code is None:
        return ()
    size = n * struct.calcsize(code)
    if size <= 4:  # held in the entry itself
        start = entry + 8
    else:
        (start,) = struct.unpack(order + "I", data[entry + 8 : entry + 12])
        if start + size > len(data):
            raise _truncated("a TIFF directory entry's values lie past the end of the file")
    return struct.unpack(f"{order}{n}{code}", data[start : start + size])


# --- BMP, AVIF --------------------------------------------------------------------------------

_BMP_UNCOMPRESSED = {0, 3, 6}  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS
_BMP_RUN_LENGTH = {1, 2}  # BI_RLE8, BI_RLE4


def _bmp(data: bytes) -> int:
    """The pixel array that the headers declare lies inside the file."""
    offset, header = struct.unpack("<II", data[10:18])  # sniff() has seen 26 bytes
    if header == 12:  # OS/2 1.x: 16-bit sides, never compressed
        width, height, _, bits = struct.unpack("<HHHH", data[18:26])
        compression = size = 0
    else:
        if len(data) < 38:
            raise _truncated("the BMP ends inside its header")
        width, height, _, bits, compression, size = struct.unpack("<iiHHII", data[18:38])
    if compression in _BMP_UNCOMPRESSED:
        size = _ceil(max(width, 0) * bits, 32) * 4 * abs(height)  # rows padded to 4 bytes
    elif compression not in _BMP_RUN_LENGTH:
        size = 0
    if offset + size > len(data):
        raise _truncated(
            f"the BMP's pixels take {size} bytes from byte {offset}, and the file has {len(data)}"
        )
    return 1


def _avif(data: bytes) -> int:
    """Nothing to add: libavif checks that every item's and every frame's data lies inside the
    file when it opens it, before this runs (and ISOBMFF has no end marker to look for)."""
    return 1


def _decoded_whole(data: bytes) -> int:
    """HEIC and JPEG XL: nothing to add. They are still images whose one picture (HEIF's
    primary image) the upload decodes whole, and libheif and libjxl refuse data cut short."""
    return 1


_CHECKS: dict[str, Callable[[bytes], int]] = {
    "jpeg": _jpeg,
    "png": _png,
    "gif": _gif,
    "webp": _webp,
    "tiff": _tiff,
    "bmp": _bmp,
    "avif": _avif,
    "heic": _decoded_whole,
    "jxl": _decoded_whole,
}

"""Read a WebP's canvas size and count its animation frames from its chunks, without decoding.

Pillow opens every WebP with libwebp's animation decoder, which indexes every frame and
allocates two canvases of width x height x 4 bytes when it is created, inside ``Image.open`` and
before the size could be checked. Walking the RIFF chunks first costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class WebpLayout:
    frames: int
    width: int  # the VP8X canvas, or the largest bitstream header; 0 if the chunks hold none
    height: int


_PICTURES = (b"ANMF", b"VP8 ", b"VP8L")  # a frame, or a still's bitstream


def webp_layout(data: bytes, stop_after: int) -> WebpLayout:
    """Walk the chunks; stop counting after ``stop_after`` frames or at the first truncation."""
    width = height = frames = 0
    for pos, kind, size in _chunks(data, len(data)):
        if frames > stop_after:
            break
        body = data[pos + 8 : pos + 8 + min(size, 10)]
        w, h = _size(kind, body)
        width, height = max(width, w), max(height, h)
        frames += kind == b"ANMF"
    return WebpLayout(frames=max(frames, 1), width=width, height=height)


def webp_complete(data: bytes) -> bool:
    """Whether the RIFF data that the header declares lies inside the file, every chunk inside
    it, and one of them holds a picture (a frame, or a still's bitstream). Bytes after the RIFF
    data are ignored, as decoders ignore them."""
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data):
        return False
    pictures = 0
    for pos, kind, size in _chunks(data, riff_end):
        if pos + 8 + size > riff_end:
            return False
        pictures += kind in _PICTURES
    return pictures > 0


def _chunks(data: bytes, end: int) -> Iterator[tuple[int, bytes, int]]:
    """Each chunk header before ``end``: its position, kind and declared size."""
    pos = 12  # after "RIFF", the size and "WEBP"
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        yield pos, data[pos : pos + 4], size
        pos += 8 + size + (size & 1)


def _size(kind: bytes, body: bytes) -> tuple[int, int]:
    """The size a VP8X, VP8L or VP8 chunk declares, or (0, 0)."""
    if kind == b"VP8X" and len(body) >= 10:
        return int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(body[6:8], "little") & 0x3FFF,
            int.from_bytes(body[8:10], "little") & 0x3FFF,
        )
    return 0, 0

"""Count a GIF's frames and their extents by walking its blocks, without decoding any pixels.

Pillow can only count GIF frames by seeking, and seeking decodes every earlier frame: a hostile
GIF with thousands of large frames would be decoded in full just to be rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The bytes that start a block; Pillow skips any other byte between blocks, and so must we, or a
# frame after a stray byte would escape the limits and still be decoded.
_BLOCK = re.compile(rb"[!,;]")
# Full sub-blocks looked at in one step: 64 KB of a frame's data. Their size bytes lie 256 apart,
# each read a cache miss, so a step reaches little further than a large frame's data.
_FULL_RUN = 256


@dataclass(frozen=True)
class GifLayout:
    frames: int
    width: int  # the largest extent any frame reaches, or the logical screen if larger
    height: int
    complete: bool  # the trailer was reached, every block before it whole


def gif_layout(data: bytes, stop_after: int | None = None) -> GifLayout:
    """Walk the blocks; stop counting after ``stop_after`` frames or at the first truncation."""
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    packed = data[10] if len(data) > 10 else 0
    pos = 13 + _colour_table_size(packed)
    frames = 0
    complete = False
    while pos < len(data) and (stop_after is None or frames <= stop_after):
        block = data[pos]
        if block == 0x3B:  # trailer
            complete = True
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            if pos + 10 > len(data):
                break
            left, top, w, h = (
                int.from_bytes(data[pos + i : pos + i + 2], "little") for i in (1, 3, 5, 7)
            )
            width, height = max(width, left + w), max(height, top + h)
            frames += 1
            local = data[pos + 9]
            pos += 10 + _colour_table_size(local)
            pos = _skip_sub_blocks(data, pos + 1)  # after the LZW minimum code size
        else:
            found = _BLOCK.search(data, pos + 1)
            if found is None:
                break
            pos = found.start()
    return GifLayout(frames=max(frames, 1), width=width, height=height, complete=complete)


def _colour_table_size(packed: int) -> int:
    """Bytes of the colour table that a descriptor's packed field announces (0 if none)."""
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """The position after the sub-blocks starting at ``pos`` and their terminator (beyond the
    end of ``data`` if they are cut off)."""
    while pos < len(data):
        # A frame's data is mostly full sub-blocks (a size byte of 255, then 255 bytes): a run of
        # them is skipped at once, from their size bytes alone.
        sizes = data[pos : pos + _FULL_RUN * 256 : 256]
        full = len(sizes) - len(sizes.lstrip(b"\xff"))
        pos += 256 * full
        if full < len(sizes):
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
    return pos

"""Format-aware mutations: each takes an image's bytes and a Hypothesis ``draw`` and returns
near-valid bytes, with the checksums and lengths fixed where that gets the change past the
first sanity check (a PNG chunk's CRC, a RIFF chunk's size) and deliberately wrong elsewhere.

A mutation that finds nothing to change in its input returns it unchanged.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from PIL import ImageCms

from tests.images import PNG_SIGNATURE, png_chunk

from .oracle import LIMITS

Draw = Callable[[st.SearchStrategy[Any]], Any]
Mutation = Callable[[bytes, Draw], bytes]

# Side lengths worth trying: tiny, around the limits, at the fields' edges.
_EDGES = sorted(
    {
        0,
        1,
        2,
        3,
        255,
        256,
        2000,
        2001,
        LIMITS.max_side - 1,
        LIMITS.max_side,
        LIMITS.max_side + 1,
        16383,
        16384,
        32767,
        32768,
        65535,
        65536,
        2**24 - 1,
        2**31 - 1,
        2**31,
        2**32 - 1,
    }
)


def side(bits: int = 32) -> st.SearchStrategy[int]:
    top = 2**bits - 1
    return st.one_of(
        st.integers(0, 80),
        st.sampled_from([e for e in _EDGES if e <= top]),
        st.integers(0, top),
    )


def _put(data: bytes, offset: int, value: bytes) -> bytes:
    if offset < 0 or offset + len(value) > len(data):
        return data
    return data[:offset] + value + data[offset + len(value) :]


# --- generic ----------------------------------------------------------------------------------


def flip_bytes(data: bytes, draw: Draw) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


def truncate(data: bytes, draw: Draw) -> bytes:
    return data[: draw(st.integers(0, max(0, len(data) - 1)))]


def insert_bytes(data: bytes, draw: Draw) -> bytes:
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]


def delete_range(data: bytes, draw: Draw) -> bytes:
    start = draw(st.integers(0, len(data)))
    return data[:start] + data[start + draw(st.integers(1, 256)) :]


def repeat_range(data: bytes, draw: Draw) -> bytes:
    start = draw(st.integers(0, len(data)))
    piece = data[start : start + draw(st.integers(1, 512))]
    return data[:start] + piece * draw(st.integers(2, 40)) + data[start:]


GENERIC: list[Mutation] = [flip_bytes, truncate, insert_bytes, delete_range, repeat_range]


# --- PNG (and APNG) ---------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks (type, body) up to the first one that does not fit."""
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if pos + 12 + length > len(data):
            break
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(png_chunk(kind, body) for kind, body in chunks)


def _png_edit(data: bytes, kind: bytes, draw: Draw, edit: Callable[[bytes], bytes]) -> bytes:
    chunks = png_chunks(data)
    found = [i for i, (k, _) in enumerate(chunks) if k == kind]
    if not found:
        return data
    index = draw(st.sampled_from(found))
    chunks[index] = (kind, edit(chunks[index][1]))
    return png_join(chunks)


def png_ihdr_size(data: bytes, draw: Draw) -> bytes:
    w, h = draw(side()), draw(side())
    return _png_edit(data, b"IHDR", draw, lambda b: struct.pack(">II", w, h) + b[8:])


def png_ihdr_fields(data: bytes, draw: Draw) -> bytes:
    depth = draw(st.sampled_from([1, 2, 4, 8, 16, 0, 3, 32, 255]))
    colour = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 5, 7, 255]))
    rest = bytes([depth, colour, draw(st.sampled_from([0, 1])), draw(st.sampled_from([0, 1]))])
    interlace = bytes([draw(st.sampled_from([0, 1, 2]))])
    return _png_edit(data, b"IHDR", draw, lambda b: b[:8] + rest + interlace)


def png_chunk_length(data: bytes, draw: Draw) -> bytes:
    """A wrong length field (the CRC no longer lines up: the reader must notice)."""
    offsets, pos = [], len(PNG_SIGNATURE)
    for _, body in png_chunks(data):
        offsets.append(pos)
        pos += 12 + len(body)
    if not offsets:
        return data
    at = draw(st.sampled_from(offsets))
    return _put(data, at, struct.pack(">I", draw(side())))


def png_chunk_order(data: bytes, draw: Draw) -> bytes:
    chunks = png_chunks(data)
    if len(chunks) < 2:
        return data
    return png_join(draw(st.permutations(chunks)))


def png_drop_or_repeat(data: bytes, draw: Draw) -> bytes:
    chunks = png_chunks(data)
    if not chunks:
        return data
    index = draw(st.integers(0, len(chunks) - 1))
    times = draw(st.sampled_from([0, 2, 3, 60]))
    return png_join(chunks[:index] + [chunks[index]] * times + chunks[index + 1 :])


def png_actl(data: bytes, draw: Draw) -> bytes:
    """Set (or add) the APNG frame count."""
    chunks = png_chunks(data)
    if not chunks:
        return data
    body = struct.pack(">II", draw(side()), draw(st.integers(0, 2**32 - 1)))
    for i, (kind, _) in enumerate(chunks):
        if kind == b"acTL":
            chunks[i] = (kind, body)
            break
    else:
        chunks.insert(1, (b"acTL", body))
    return png_join(chunks)


def png_fctl(data: bytes, draw: Draw) -> bytes:
    """Change one APNG frame's size, offset, delay, disposal or blending."""
    w, h, x, y = draw(side()), draw(side()), draw(side()), draw(side())
    delay = struct.pack(">HH", draw(side(16)), draw(st.sampled_from([0, 1, 10, 100, 1000, 65535])))
    ops = bytes([draw(st.integers(0, 4)), draw(st.integers(0, 3))])
    which = draw(st.sampled_from(["size", "offset", "timing", "all"]))

    def edit(body: bytes) -> bytes:
        if len(body) < 26:
            return body
        sequence, size, offset = body[:4], body[4:12], body[12:20]
        if which in ("size", "all"):
            size = struct.pack(">II", w, h)
        if which in ("offset", "all"):
            offset = struct.pack(">II", x, y)
        timing = delay + ops if which in ("timing", "all") else body[20:26]
        return sequence + size + offset + timing

    return _png_edit(data, b"fcTL", draw, edit)


def png_image_data(data: bytes, draw: Draw) -> bytes:
    """Corrupt the compressed pixels (IDAT or fdAT) but keep the CRC right."""
    kind = draw(st.sampled_from([b"IDAT", b"fdAT"]))
    flips = [(draw(st.integers(0, 2**16)), draw(st.integers(0, 255))) for _ in range(3)]

    def edit(body: bytes) -> bytes:
        out = bytearray(body)
        for at, value in flips:
            if out:
                out[at % len(out)] = value
        return bytes(out[: draw(st.integers(0, len(out)))]) if draw(st.booleans()) else bytes(out)

    return _png_edit(data, kind, draw, edit)


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_icc(data: bytes, draw: Draw) -> bytes:
    """Embed a corrupted colour profile (iCCP), which the colour management then reads."""
    profile = bytearray(_srgb_profile())
    for _ in range(draw(st.integers(0, 12))):
        profile[draw(st.integers(0, len(profile) - 1))] = draw(st.integers(0, 255))
    profile = profile[: draw(st.integers(0, len(profile)))] if draw(st.booleans()) else profile
    chunks = [(k, b) for k, b in png_chunks(data) if k not in (b"iCCP", b"sRGB")]
    if not chunks:
        return data
    chunks.insert(1, (b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(profile))))
    return png_join(chunks)


PNG: list[Mutation] = [
    png_ihdr_size,
    png_ihdr_fields,
    png_chunk_length,
    png_chunk_order,
    png_drop_or_repeat,
    png_actl,
    png_fctl,
    png_image_data,
    png_icc,
]


# --- GIF --------------------------------------------------------------------------------------


def _colour_table(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _sub_blocks_end(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            break
    return min(pos, len(data))


def gif_parse(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(header with the global colour table, blocks, what follows the last block)."""
    if len(data) < 13:
        return data, [], b""
    pos = 13 + _colour_table(data[10])
    head, blocks = data[:pos], []
    while pos < len(data) and data[pos] in (0x21, 0x2C):
        start = pos
        if data[pos] == 0x21:
            pos = _sub_blocks_end(data, pos + 2)
        else:
            if pos + 10 > len(data):
                break
            pos = _sub_blocks_end(data, pos + 10 + _colour_table(data[pos + 9]) + 1)
        blocks.append(data[start:pos])
    return head, blocks, data[pos:]


def gif_screen(data: bytes, draw: Draw) -> bytes:
    return _put(data, 6, struct.pack("<HH", draw(side(16)), draw(side(16))))


def _images(blocks: list[bytes]) -> list[int]:
    return [i for i, b in enumerate(blocks) if b[:1] == b","]


def gif_descriptor(data: bytes, draw: Draw) -> bytes:
    head, blocks, tail = gif_parse(data)
    images = _images(blocks)
    if not images:
        return data
    index = draw(st.sampled_from(images))
    fields = [draw(side(16)) if draw(st.booleans()) else None for _ in range(4)]
    block = bytearray(blocks[index])
    for n, value in enumerate(fields):
        if value is not None:
            block[1 + 2 * n : 3 + 2 * n] = struct.pack("<H", value)
    blocks[index] = bytes(block)
    return head + b"".join(blocks) + tail


def gif_many_frames(data: bytes, draw: Draw) -> bytes:
    """Repeat the last frame (with its control extension) many times: many tiny frames."""
    head, blocks, tail = gif_parse(data)
    images = _images(blocks)
    if not images:
        return data
    last = images[-1]
    start = last - 1 if last and blocks[last - 1][:2] == b"!\xf9" else last
    frame = b"".join(blocks[start : last + 1])
    times = draw(st.sampled_from([2, LIMITS.max_frames - 1, LIMITS.max_frames, 60, 200]))
    return head + b"".join(blocks) + frame * times + tail


def gif_image_data(data: bytes, draw: Draw) -> bytes:
    """Corrupt a frame's LZW minimum code size or its compressed data."""
    head, blocks, tail = gif_parse(data)
    images = _images(blocks)
    if not images:
        return data
    index = draw(st.sampled_from(images))
    block = bytearray(blocks[index])
    start = 10 + _colour_table(block[9])
    if start >= len(block):
        return data
    if draw(st.booleans()):
        block[start] = draw(st.sampled_from([0, 1, 2, 8, 11, 12, 13, 255]))
    else:
        for _ in range(draw(st.integers(1, 6))):
            block[draw(st.integers(start, len(block) - 1))] = draw(st.integers(0, 255))
    blocks[index] = bytes(block)
    return head + b"".join(blocks) + tail


def gif_stray_bytes(data: bytes, draw: Draw) -> bytes:
    """Bytes that are no block between blocks (decoders skip them)."""
    head, blocks, tail = gif_parse(data)
    at = draw(st.integers(0, len(blocks)))
    junk = draw(st.binary(min_size=1, max_size=8).filter(lambda b: b[:1] not in (b",", b"!", b";")))
    return head + b"".join(blocks[:at]) + junk + b"".join(blocks[at:]) + tail


def gif_flags(data: bytes, draw: Draw) -> bytes:
    """The packed fields: colour table present and size, interlacing."""
    head, blocks, tail = gif_parse(data)
    if draw(st.booleans()) or not _images(blocks):
        return _put(data, 10, bytes([draw(st.integers(0, 255))]))
    index = draw(st.sampled_from(_images(blocks)))
    block = bytearray(blocks[index])
    block[9] = draw(st.integers(0, 255))
    blocks[index] = bytes(block)
    return head + b"".join(blocks) + tail


def gif_delay(data: bytes, draw: Draw) -> bytes:
    """Every frame's delay (hundredths of a second, 16 bits), or one frame's."""
    delay = struct.pack("<H", draw(side(16)))
    out = bytearray(data)
    spots = [i for i in range(len(out) - 6) if out[i : i + 3] == b"!\xf9\x04"]
    for at in spots if draw(st.booleans()) else spots[:1]:
        out[at + 4 : at + 6] = delay
    return bytes(out)


def gif_no_trailer(data: bytes, draw: Draw) -> bytes:
    head, blocks, _ = gif_parse(data)
    return head + b"".join(blocks[: draw(st.integers(0, len(blocks)))])


GIF: list[Mutation] = [
    gif_screen,
    gif_descriptor,
    gif_many_frames,
    gif_image_data,
    gif_stray_bytes,
    gif_flags,
    gif_delay,
    gif_no_trailer,
]


# --- WebP -------------------------------------------------------------------------------------


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if pos + 8 + size > len(data):
            break
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def riff_join(chunks: list[tuple[bytes, bytes]]) -> bytes:
    payload = b"WEBP" + b"".join(riff_chunk(k, b) for k, b in chunks)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def _u24(value: int) -> bytes:
    return (value & 0xFFFFFF).to_bytes(3, "little")


def webp_riff_size(data: bytes, draw: Draw) -> bytes:
    return _put(data, 4, struct.pack("<I", draw(side())))


def webp_canvas(data: bytes, draw: Draw) -> bytes:
    """The VP8X canvas size (24 bits each, stored minus one); added if the file has none."""
    chunks = riff_chunks(data)
    if not chunks:
        return data
    w, h = draw(side(24)), draw(side(24))
    canvas = _u24(w - 1) + _u24(h - 1)
    if chunks[0][0] == b"VP8X":
        chunks[0] = (b"VP8X", chunks[0][1][:4] + canvas)
    else:
        flags = draw(st.sampled_from([0, 0x10, 0x02, 0x12, 0x3E]))
        chunks.insert(0, (b"VP8X", bytes([flags, 0, 0, 0]) + canvas))
    return riff_join(chunks)


def webp_flags(data: bytes, draw: Draw) -> bytes:
    chunks = riff_chunks(data)
    if not chunks or chunks[0][0] != b"VP8X":
        return data
    chunks[0] = (b"VP8X", bytes([draw(st.integers(0, 255))]) + chunks[0][1][1:])
    return riff_join(chunks)


def webp_frame(data: bytes, draw: Draw) -> bytes:
    """An animation frame's offset, size, duration or flags (ANMF)."""
    chunks = riff_chunks(data)
    frames = [i for i, (k, _) in enumerate(chunks) if k == b"ANMF"]
    if not frames:
        return data
    index = draw(st.sampled_from(frames))
    body = bytearray(chunks[index][1])
    if len(body) < 16:
        return data
    field = draw(st.integers(0, 5))
    if field == 5:
        body[15] = draw(st.integers(0, 255))
    else:
        value = draw(side(24))
        body[3 * field : 3 * field + 3] = _u24(value - 1 if field in (2, 3) else value)
    chunks[index] = (b"ANMF", bytes(body))
    return riff_join(chunks)


def webp_many_frames(data: bytes, draw: Draw) -> bytes:
    chunks = riff_chunks(data)
    frames = [i for i, (k, _) in enumerate(chunks) if k == b"ANMF"]
    if not frames:
        return data
    times = draw(st.sampled_from([2, LIMITS.max_frames, 60, 300]))
    last = frames[-1]
    return riff_join(chunks[: last + 1] + [chunks[last]] * times + chunks[last + 1 :])


def webp_chunk_size(data: bytes, draw: Draw) -> bytes:
    offsets, pos = [], 12
    for _, body in riff_chunks(data):
        offsets.append(pos + 4)
        pos += 8 + len(body) + (len(body) & 1)
    if not offsets:
        return data
    return _put(data, draw(st.sampled_from(offsets)), struct.pack("<I", draw(side())))


def webp_bitstream_size(data: bytes, draw: Draw) -> bytes:
    """The size inside a VP8 or VP8L bitstream header (also inside animation frames)."""
    w, h = draw(st.integers(1, 16384)), draw(st.integers(1, 16384))
    vp8l = b"/" + struct.pack("<I", (w - 1) | ((h - 1) << 14) | (1 << 28))[:4]
    for at in range(len(data) - 10):
        if data[at : at + 4] == b"VP8L" and draw(st.booleans()):
            return _put(data, at + 8, vp8l)
        if data[at : at + 4] == b"VP8 " and draw(st.booleans()):
            return _put(data, at + 8 + 6, struct.pack("<HH", w, h))
    return data


def webp_chunk_order(data: bytes, draw: Draw) -> bytes:
    chunks = riff_chunks(data)
    if len(chunks) < 2:
        return data
    if draw(st.booleans()):
        return riff_join(draw(st.permutations(chunks)))
    index = draw(st.integers(0, len(chunks) - 1))
    return riff_join(chunks[:index] + chunks[index + 1 :])


WEBP: list[Mutation] = [
    webp_riff_size,
    webp_canvas,
    webp_flags,
    webp_frame,
    webp_many_frames,
    webp_chunk_size,
    webp_bitstream_size,
    webp_chunk_order,
]


# --- JPEG -------------------------------------------------------------------------------------

_STANDALONE = {0x01, *range(0xD0, 0xDA)}
_SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each marker segment, each scan with its entropy-coded data, and EOI."""
    segments, pos = [], 0
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            end = pos + 2
        else:
            if pos + 4 > len(data):
                break
            end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
            if marker == 0xDA:  # the scan runs to the next marker that is not RSTn or a stuffed 0
                while end + 1 < len(data) and not (
                    data[end] == 0xFF and data[end + 1] not in (0, *range(0xD0, 0xD8))
                ):
                    end += 1
        segments.append((pos, min(end, len(data))))
        pos = end
    return segments


def jpeg_sof_size(data: bytes, draw: Draw) -> bytes:
    sofs = [s for s, _ in jpeg_segments(data) if data[s + 1] in _SOF]
    if not sofs:
        return data
    at = draw(st.sampled_from(sofs))
    return _put(data, at + 5, struct.pack(">HH", draw(side(16)), draw(side(16))))


def jpeg_sof_components(data: bytes, draw: Draw) -> bytes:
    """Precision, component count, sampling factors or table numbers in the frame header."""
    sofs = [(s, e) for s, e in jpeg_segments(data) if data[s + 1] in _SOF]
    if not sofs:
        return data
    start, end = draw(st.sampled_from(sofs))
    fields = [start + 4, start + 9, *range(start + 10, end)]
    at = draw(st.sampled_from(fields))
    return _put(
        data, at, bytes([draw(st.sampled_from([0, 1, 2, 3, 4, 8, 12, 16, 0x11, 0x44, 255]))])
    )


def jpeg_truncate_at_segment(data: bytes, draw: Draw) -> bytes:
    ends = [end for _, end in jpeg_segments(data)]
    if not ends:
        return data
    cut = draw(st.sampled_from(ends))
    return data[: cut - draw(st.sampled_from([0, 0, 1, 2]))]


def jpeg_drop_or_repeat(data: bytes, draw: Draw) -> bytes:
    segments = jpeg_segments(data)
    if len(segments) < 2:
        return data
    start, end = draw(st.sampled_from(segments[1:]))
    times = draw(st.sampled_from([0, 2, 3]))
    return data[:start] + data[start:end] * times + data[end:]


def jpeg_segment_bytes(data: bytes, draw: Draw) -> bytes:
    """Corrupt the inside of one segment: a table, the scan header, EXIF, the entropy data."""
    segments = jpeg_segments(data)
    if not segments:
        return data
    start, end = draw(st.sampled_from(segments))
    if end - start <= 4:
        return data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        out[draw(st.integers(start + 4, end - 1))] = draw(st.integers(0, 255))
    return bytes(out)


JPEG: list[Mutation] = [
    jpeg_sof_size,
    jpeg_sof_components,
    jpeg_truncate_at_segment,
    jpeg_drop_or_repeat,
    jpeg_segment_bytes,
]


# --- TIFF -------------------------------------------------------------------------------------

_TIFF_TAGS = {
    256: "ImageWidth",
    257: "ImageLength",
    258: "BitsPerSample",
    259: "Compression",
    262: "Photometric",
    273: "StripOffsets",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    279: "StripByteCounts",
    284: "PlanarConfiguration",
    317: "Predictor",
    320: "ColorMap",
    322: "TileWidth",
    323: "TileLength",
    338: "ExtraSamples",
    339: "SampleFormat",
}


def tiff_ifd(data: bytes) -> tuple[str, int, list[tuple[int, int, int, int]]]:
    """(byte order, IFD0 offset, [(entry offset, tag, type, count)])."""
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return order, 0, []
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return order, ifd, []
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    entries = []
    for n in range(count):
        at = ifd + 2 + 12 * n
        if at + 12 > len(data):
            break
        tag, kind, number = struct.unpack(order + "HHI", data[at : at + 8])
        entries.append((at, tag, kind, number))
    return order, ifd, entries


def tiff_tag_value(data: bytes, draw: Draw) -> bytes:
    """Set one structural tag (dimensions, strips, tiles, samples, compression...) to a value."""
    order, _, entries = tiff_ifd(data)
    known = [e for e in entries if e[1] in _TIFF_TAGS]
    if not known:
        return data
    at, tag, kind, count = draw(st.sampled_from(known))
    value = draw(side() if tag in (256, 257, 273, 278, 279, 322, 323) else side(16))
    if count == 1 or draw(st.booleans()):
        # Inline: a LONG of count 1 (changing the type when the value needs it).
        return _put(data, at + 2, struct.pack(order + "HII", 4, 1, value))
    (offset,) = struct.unpack(order + "I", data[at + 8 : at + 12])
    size = 2 if kind == 3 else 4
    return _put(data, offset, struct.pack(order + ("H" if size == 2 else "I"), value & 0xFFFF))


def tiff_entry_count(data: bytes, draw: Draw) -> bytes:
    """A wrong number of values in one entry (the reader must not trust it)."""
    order, _, entries = tiff_ifd(data)
    if not entries:
        return data
    at, _, _, _ = draw(st.sampled_from(entries))
    return _put(data, at + 4, struct.pack(order + "I", draw(side())))


def tiff_next_ifd(data: bytes, draw: Draw) -> bytes:
    """Chain IFDs: to itself (a loop), to the header, anywhere."""
    order, ifd, entries = tiff_ifd(data)
    if not entries:
        return data
    end = entries[-1][0] + 12
    target = draw(st.sampled_from([ifd, 8, 0, 4, end]) | st.integers(0, 2**32 - 1))
    return _put(data, end, struct.pack(order + "I", target))


def tiff_ifd_offset(data: bytes, draw: Draw) -> bytes:
    order = "<" if data[:2] == b"II" else ">"
    return _put(data, 4, struct.pack(order + "I", draw(st.integers(0, len(data) + 16))))


TIFF: list[Mutation] = [
    tiff_tag_value,
    tiff_tag_value,
    tiff_entry_count,
    tiff_next_ifd,
    tiff_ifd_offset,
]


# --- BMP --------------------------------------------------------------------------------------

# Field offsets and formats in the file header and the BITMAPINFOHEADER.
_BMP_FIELDS = {
    "file_size": (2, "<I"),
    "pixel_offset": (10, "<I"),
    "header_size": (14, "<I"),
    "width": (18, "<i"),
    "height": (22, "<i"),
    "planes": (26, "<H"),
    "bits": (28, "<H"),
    "compression": (30, "<I"),
    "image_size": (34, "<I"),
    "colours_used": (46, "<I"),
}


def bmp_field(data: bytes, draw: Draw) -> bytes:
    name = draw(st.sampled_from(sorted(_BMP_FIELDS)))
    offset, fmt = _BMP_FIELDS[name]
    if name == "header_size":
        value = draw(st.sampled_from([12, 16, 40, 52, 56, 64, 108, 124, 0, 2**31]))
    elif name in ("width", "height"):
        value = draw(st.integers(-(2**31), 2**31 - 1) | side(31) | side(31).map(lambda v: -v))
    elif name == "bits":
        value = draw(st.sampled_from([0, 1, 2, 4, 8, 15, 16, 24, 32, 64, 65535]))
    elif name == "compression":
        value = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 11, 255]))
    elif name == "planes":
        value = draw(st.integers(0, 65535))
    else:
        value = draw(side())
    return _put(data, offset, struct.pack(fmt, value))


BMP: list[Mutation] = [bmp_field, bmp_field]


# --- AVIF (ISO BMFF) --------------------------------------------------------------------------


def avif_ispe(data: bytes, draw: Draw) -> bytes:
    """The image spatial extents property: the declared width and height."""
    at = data.find(b"ispe")
    if at < 0:
        return data
    return _put(data, at + 8, struct.pack(">II", draw(side()), draw(side())))


def avif_box_size(data: bytes, draw: Draw) -> bytes:
    kinds = [b"ftyp", b"meta", b"iloc", b"iinf", b"iprp", b"ipco", b"ispe", b"mdat", b"moov"]
    found = [data.find(k) for k in kinds if data.find(k) >= 4]
    if not found:
        return data
    return _put(data, draw(st.sampled_from(found)) - 4, struct.pack(">I", draw(side())))


AVIF: list[Mutation] = [avif_ispe, avif_box_size]


# --- JPEG XL ------------------------------------------------------------------------------------


def _jxl_codestream_start(data: bytes) -> int:
    """Where the codestream's signature is: at 0, or in the container's first jxlc/jxlp box."""
    for kind, skip in ((b"jxlc", 4), (b"jxlp", 8)):
        at = data.find(kind)
        if at >= 4:
            return at + skip
    return 0


def jxl_header_bits(data: bytes, draw: Draw) -> bytes:
    """The size header and image metadata: any bits in the codestream's first bytes."""
    start = _jxl_codestream_start(data) + 2
    if start >= len(data):
        return data
    at = draw(st.integers(start, min(len(data) - 1, start + 24)))
    return _put(data, at, bytes([draw(st.integers(0, 255))]))


def jxl_declared_size(data: bytes, draw: Draw) -> bytes:
    """A codestream's size header replaced by one declaring any size (U32's widest form)."""
    start = _jxl_codestream_start(data) + 2
    height, width = draw(side(30)), draw(side(30))
    bits = (3 << 1) | ((height - 1) % 2**30) << 3 | 3 << 36 | ((width - 1) % 2**30) << 38
    return data[:start] + bits.to_bytes(9, "little") + data[start + 9 :]


JXL: list[Mutation] = [jxl_header_bits, jxl_declared_size, avif_box_size]


BY_FORMAT: dict[str, list[Mutation]] = {
    "png": PNG,
    "gif": GIF,
    "webp": WEBP,
    "jpeg": JPEG,
    "tiff": TIFF,
    "bmp": BMP,
    "avif": AVIF,
    "heic": AVIF,  # the same boxes (ISO BMFF)
    "jxl": JXL,
}

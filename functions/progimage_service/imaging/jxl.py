"""JPEG XL: the header read without decoding, and a Pillow image that decodes only when loaded.

pillow-jxl-plugin's own image decodes the whole picture inside ``Image.open`` (its decoder has
no header-only call), before the limits could be checked or the cost estimated. The image here
reads the codestream's headers instead (ISO/IEC 18181-1: SizeHeader, then ImageMetadata as far
as the colour encoding) for the size, orientation, alpha and grey, and calls the plugin's
decoder in ``load``. What the decoder returns is checked against the header: a file whose
pictures disagree with it is refused.

Orientation: libjxl applies the codestream's orientation when it decodes pixels, so such an
image is opened at its displayed size and needs nothing more (the EXIF box, which may say the
same again, is ignored). A file that holds a JPEG losslessly (a ``jbrd`` box) decodes to that
JPEG, as stored: its orientation, the codestream's (which the encoder copies from the JPEG's
EXIF), is left to apply as any JPEG's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageFile, JpegImagePlugin

from ..errors import InvalidImage

_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_CODESTREAM = b"\xff\x0a"
# The headers are a few dozen bytes; an extra channel's name may be 1,071 bytes long.
_HEADER_BYTES = 8192
# SizeHeader's aspect ratios: xsize = ysize * numerator // denominator.
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_SWAPS_SIDES = {5, 6, 7, 8}


@dataclass(frozen=True)
class JxlHeader:
    width: int  # as stored in the codestream
    height: int
    orientation: int  # the codestream's, 1 to 8
    alpha: bool
    grey: bool
    animated: bool
    jpeg: bool  # holds a JPEG losslessly (a jbrd box): decodes to it

    @property
    def displayed(self) -> tuple[int, int]:
        """The size libjxl decodes pixels at: the orientation applied."""
        if self.orientation in _SWAPS_SIDES:
            return self.height, self.width
        return self.width, self.height


class _Bits:
    """The codestream's bits, least significant first."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "little")
        self.left = len(data) * 8

    def u(self, count: int) -> int:
        if count > self.left:
            raise InvalidImage("the data is not a valid JXL image: its header is cut short")
        value = self.value & ((1 << count) - 1)
        self.value >>= count
        self.left -= count
        return value

    def bool(self) -> bool:
        return bool(self.u(1))

    def u32(self, *choices: tuple[int, int]) -> int:
        """U32(...): two bits choose one of four (bits, offset) distributions."""
        bits, offset = choices[self.u(2)]
        return self.u(bits) + offset


_SIZE = ((9, 1), (13, 1), (18, 1), (30, 1))
_ENUM = ((0, 0), (0, 1), (4, 2), (6, 18))
_PREVIEW_DIV8 = ((0, 16), (0, 32), (5, 1), (9, 33))
_PREVIEW = ((6, 1), (8, 65), (10, 321), (12, 1345))
_ALPHA = 0  # ExtraChannelInfo's type of an alpha channel
_GREY = 1  # ColourEncoding's colour_space of a grey picture


def _size(bits: _Bits) -> tuple[int, int]:
    """SizeHeader (and its preview's layout): width and height."""
    small = bits.bool()
    height = (bits.u(5) + 1) * 8 if small else bits.u32(*_SIZE)
    ratio = bits.u(3)
    if ratio:
        numerator, denominator = _RATIOS[ratio]
        return height * numerator // denominator, height
    width = (bits.u(5) + 1) * 8 if small else bits.u32(*_SIZE)
    return width, height


def _preview(bits: _Bits) -> None:
    div8 = bits.bool()
    sides = _PREVIEW_DIV8 if div8 else _PREVIEW
    bits.u32(*sides)
    if not bits.u(3):
        bits.u32(*sides)


def _bit_depth(bits: _Bits) -> None:
    if bits.bool():  # floating point samples
        bits.u32((0, 32), (0, 16), (0, 24), (6, 1))
        bits.u(4)
    else:
        bits.u32((0, 8), (0, 10), (0, 12), (6, 1))


def _extra_channel_is_alpha(bits: _Bits) -> bool:
    if bits.bool():  # all default: an 8-bit alpha channel
        return True
    kind = bits.u32(*_ENUM)
    _bit_depth(bits)
    bits.u32((0, 0), (0, 3), (0, 4), (3, 1))  # dim_shift
    for _ in range(bits.u32((0, 0), (4, 0), (5, 16), (10, 48))):  # the name, in UTF-8
        bits.u(8)
    if kind == _ALPHA:
        bits.bool()  # alpha_associated
    elif kind == 2:  # spot colour: four float16
        bits.u(64)
    elif kind == 5:  # colour filter array
        bits.u32((0, 1), (2, 0), (4, 3), (8, 19))
    return kind == _ALPHA


def read_header(data: bytes) -> JxlHeader:
    """Read a JPEG XL file's headers (codestream or container), or raise 400."""
    codestream, jpeg = _codestream(data)
    if not codestream.startswith(_CODESTREAM):
        raise InvalidImage("the data is not a valid JXL image: it has no codestream")
    bits = _Bits(codestream[2:_HEADER_BYTES])
    width, height = _size(bits)
    orientation, alpha, grey, animated = 1, False, False, False
    if not bits.bool():  # ImageMetadata is not all default
        if bits.bool():  # extra fields
            orientation = bits.u(3) + 1
            if bits.bool():
                _size(bits)  # intrinsic size
            if bits.bool():
                _preview(bits)
            animated = bits.bool()
            if animated:
                bits.u32((0, 100), (0, 1000), (10, 1), (30, 1))
                bits.u32((0, 1), (0, 1001), (8, 1), (10, 1))
                bits.u32((0, 0), (3, 0), (16, 0), (32, 0))
                bits.bool()
        _bit_depth(bits)
        bits.bool()  # modular_16_bit_buffer_sufficient
        extra = bits.u32((0, 0), (0, 1), (4, 2), (12, 1))
        for _ in range(extra):
            alpha = _extra_channel_is_alpha(bits) or alpha
        bits.bool()  # xyb_encoded
        if not bits.bool():  # the colour encoding is not all default (sRGB)
            bits.bool()  # want_icc: the colour space is still said
            grey = bits.u32(*_ENUM) == _GREY
    return JxlHeader(width, height, orientation, alpha, grey, animated, jpeg)


def _codestream(data: bytes) -> tuple[bytes, bool]:
    """The start of the codestream (a bare one, or gathered from a container's jxlc or jxlp
    boxes), and whether the container holds a JPEG to reconstruct."""
    if not data.startswith(_CONTAINER):
        return data[:_HEADER_BYTES], False
    parts, jpeg, position = [], False, 0
    while position + 8 <= len(data) and sum(map(len, parts)) < _HEADER_BYTES:
        size = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        start = position + 8
        if size == 1:
            size = int.from_bytes(data[position + 8 : position + 16], "big")
            start = position + 16
        elif size == 0:
            size = len(data) - position
        if size < start - position:
            raise InvalidImage("the data is not a valid JXL image: a box's size is wrong")
        body = data[start : position + size]
        if kind == b"jbrd":
            jpeg = True
        elif kind == b"jxlc":
            parts.append(body)
        elif kind == b"jxlp":
            parts.append(body[4:])  # after the part's index
        position += size
    return b"".join(parts)[:_HEADER_BYTES], jpeg


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(_CODESTREAM) or prefix.startswith(_CONTAINER)


class JxlImageFile(ImageFile.ImageFile):
    """A JPEG XL image opened from its header; ``load`` decodes it with pillow-jxl-plugin."""

    format = "JXL"
    format_description = "JPEG XL (decoded when loaded)"

    def _open(self) -> None:
        assert self.fp is not None
        self._data = self.fp.read()
        header = read_header(self._data)
        self.header = header
        self._size = (header.width, header.height) if header.jpeg else header.displayed
        self._mode = ("L" if header.grey else "RGB") + ("A" if header.alpha else "")
        # What decode.py is left to apply: a reconstructed JPEG comes as stored.
        self.orientation = header.orientation if header.jpeg else 1
        self.n_frames = 1
        self.is_animated = False
        self.tile = []

    def load(self):  # type: ignore[no-untyped-def]
        if self._im is None and self._data:
            decoded = _decoded(self._data, self.size, self.mode)
            self.im = decoded.im
            self.info.update(decoded.info)
            self._data = b""
        return Image.Image.load(self)


def _decoded(data: bytes, size: tuple[int, int], mode: str) -> Image.Image:
    from pillow_jxl import Decoder  # imported with the plugin (see plugins.py)

    jpeg, info, pixels, icc, _ = Decoder()(data)
    if jpeg:
        # Pillow's JPEG plugin, the one JPEG is allowed (no Image.open: nothing else is tried).
        with JpegImagePlugin.JpegImageFile(io.BytesIO(pixels)) as reconstructed:
            reconstructed.load()
            image = reconstructed.copy()
    else:
        decoded = info.mode if info.mode != "F;16" else "F"
        image = Image.frombytes(decoded, (info.width, info.height), pixels)
    if icc:
        image.info["icc_profile"] = bytes(icc)
    if image.size != size:
        raise InvalidImage(
            f"the data is not a valid JXL image: its header says {size[0]}x{size[1]}, its "
            f"picture is {image.size[0]}x{image.size[1]}"
        )
    return _in_mode(image, mode)


def _in_mode(image: Image.Image, mode: str) -> Image.Image:
    """The decoded picture in the mode its header promised (16-bit and float grey scaled)."""
    if image.mode == mode:
        return image
    info = image.info
    if image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif image.mode == "F":
        image = image.point(lambda v: v * 255).convert("L")
    image = image.convert(mode)
    image.info = info
    return image

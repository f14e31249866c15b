"""What the caller hands in as an image: a path, bytes, a file object, a URL or a stored id."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .models import ImageRecord

__all__ = ["Blob", "ImageSource", "RemoteUrl", "StoredImage", "sniff_content_type"]

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | ImageRecord
"""An image to upload or transform: a path, bytes, a binary file object, an ``http(s)://`` URL
(fetched by the server), or for transformations a stored image's id or record."""


@dataclass(frozen=True)
class Blob:
    """Image bytes in hand."""

    data: bytes
    name: str
    content_type: str | None  # sniffed from the bytes; None if not a known image format

    def json_source(self) -> dict[str, str]:
        return {"data": base64.b64encode(self.data).decode()}


@dataclass(frozen=True)
class RemoteUrl:
    """An image the server fetches itself."""

    url: str

    @property
    def name(self) -> str:
        return self.url

    def json_source(self) -> dict[str, str]:
        return {"url": self.url}


@dataclass(frozen=True)
class StoredImage:
    """An image already stored, by id."""

    id: str

    @property
    def name(self) -> str:
        return self.id

    def json_source(self) -> dict[str, str]:
        return {"id": self.id}


def sniff_content_type(data: bytes) -> str | None:
    """The media type of image bytes from their first bytes (the formats the API accepts)."""
    head = bytes(data[:64])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[:2] == b"BM" and len(head) >= 26:
        return "image/bmp"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        brands = head[8:12] + head[16 : min(size, len(head))]
        if any(brands[i : i + 4] in (b"avif", b"avis") for i in range(0, len(brands) - 3, 4)):
            return "image/avif"
    return None


def is_url(value: str) -> bool:
    return value.lower().startswith(("https://", "http://"))


def _blob(data: bytes, name: str) -> Blob:
    return Blob(data, name, sniff_content_type(data))


def read_source(source: Any, *, what: str = "an image") -> Blob | RemoteUrl:
    """An upload source: ``str`` is a URL (``http(s)://``) or a path; bytes; a path; a file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _blob(bytes(source), "bytes")
    if isinstance(source, str):
        if is_url(source):
            return RemoteUrl(source)
        return _from_path(Path(source))
    if isinstance(source, os.PathLike):
        return _from_path(Path(os.fspath(source)))
    read = getattr(source, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            raise TypeError(f"{what} file must be opened in binary mode ('rb')")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"{what} file's read() returned {type(data).__name__}, not bytes")
        name = getattr(source, "name", None)
        return _blob(bytes(data), os.path.basename(name) if isinstance(name, str) else "file")
    raise TypeError(
        f"{what} is a path, bytes, a binary file object or an http(s) URL, "
        f"got {type(source).__name__}"
    )


def _from_path(path: Path) -> Blob:
    return _blob(path.read_bytes(), path.name)


def transform_source(source: Any) -> Blob | RemoteUrl | StoredImage:
    """A transformation source: a stored image (id or record), a URL, bytes, a path, a file.

    A ``str`` is a URL if it starts with ``http(s)://``, else a stored image's id; pass a
    ``pathlib.Path`` (or an open file) to transform a local file.
    """
    if isinstance(source, ImageRecord):
        return StoredImage(source.id)
    if isinstance(source, str):
        if is_url(source):
            return RemoteUrl(source)
        if not source or any(c in source for c in "/\\.?#% \t\n"):
            raise ValueError(
                f"{source!r} is not an image id or an http(s) URL; to transform a local file, "
                "pass pathlib.Path(...) or an open binary file"
            )
        return StoredImage(source)
    return read_source(source, what="a source")

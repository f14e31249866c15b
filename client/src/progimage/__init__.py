"""ProgImage: a Python client for the ProgImage image storage and processing API.

>>> import progimage
>>> with progimage.ProgImage() as client:  # PROGIMAGE_URL, PROGIMAGE_API_KEY  # doctest: +SKIP
...     image = client.upload("photo.jpg")
...     webp = client.get(image.id, format="webp")
...     thumb = client.transform(image.id, progimage.Pipeline().thumbnail(256).format("png"))
"""

from ._async_client import AsyncProgImage
from ._base import Item
from ._client import ProgImage
from ._sources import ImageSource
from ._version import __version__
from .errors import (
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    InternalError,
    InvalidImage,
    InvalidOperation,
    MethodNotAllowed,
    NotFound,
    NotReady,
    ProgImageError,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    Timeout,
    TooLarge,
    TransportError,
    Unauthorized,
    Unprocessable,
    UnsupportedFormat,
    UnsupportedMediaType,
    UploadRejected,
    UpstreamError,
    UrlNotAllowed,
    WaitTimeout,
)
from .models import BatchResult, ImagePage, ImageRecord, Job, Preset, UploadResult
from .pipeline import Pipeline
from .signing import sign_url

__all__ = [
    "APIError",
    "AsyncProgImage",
    "BadRequest",
    "BatchResult",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "ImagePage",
    "ImageRecord",
    "ImageSource",
    "InternalError",
    "InvalidImage",
    "InvalidOperation",
    "Item",
    "Job",
    "MethodNotAllowed",
    "NotFound",
    "NotReady",
    "Pipeline",
    "Preset",
    "ProgImage",
    "ProgImageError",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "Timeout",
    "TooLarge",
    "TransportError",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedFormat",
    "UnsupportedMediaType",
    "UploadRejected",
    "UploadResult",
    "UpstreamError",
    "UrlNotAllowed",
    "WaitTimeout",
    "__version__",
    "sign_url",
]

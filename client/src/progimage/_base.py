"""What the sync and async clients share: configuration, requests, retries and every flow.

Each operation is written once, as a generator that yields what it needs done — one HTTP
exchange (:class:`Send`) or a pause (:class:`Sleep`) — and receives the response. The sync client
runs these generators with blocking calls, the async client with awaits, so retries, redirects,
presigned uploads and job polling behave identically in both.
"""

from __future__ import annotations

import json as jsonlib
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import EllipsisType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from ._sources import (
    Blob,
    ImageSource,
    RemoteUrl,
    StoredImage,
    read_source,
    transform_source,
)
from ._version import __version__
from .errors import (
    APIError,
    Timeout,
    TransportError,
    UploadRejected,
    WaitTimeout,
    error_from_response,
)
from .models import BatchResult, ImagePage, ImageRecord, Job, Preset, PresignedUpload
from .pipeline import FORMATS, Pipeline, PipelineLike, normalize_format, split_pipeline
from .signing import check_tenant, image_path, sign_path, sign_url

T = TypeVar("T")

URL_ENV = "PROGIMAGE_URL"
API_KEY_ENV = "PROGIMAGE_API_KEY"
SIGNING_KEY_ENV = "PROGIMAGE_SIGNING_KEY"
TENANT_ENV = "PROGIMAGE_TENANT"
CDN_URL_ENV = "PROGIMAGE_CDN_URL"

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
TimeoutLike = float | httpx.Timeout | None
"""A per-call timeout: seconds, or an ``httpx.Timeout``; None: the client's."""
DEFAULT_MAX_RETRIES = 3
DEFAULT_PRESIGN_THRESHOLD = 4 * 1024 * 1024
"""Above this many bytes an upload goes straight to storage through a presigned POST: a direct
``POST /images`` travels base64-encoded through API Gateway and Lambda (about 6 MB a request)."""
DEFAULT_INGEST_TIMEOUT = 120.0
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({429, 503})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Send:
    """One HTTP exchange (no retries). With ``sink``, a 200 body is streamed into that file."""

    request: httpx.Request
    sink: Path | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Action = Send | Sleep
Flow = Generator[Action, Any, T]


@dataclass(frozen=True)
class Item:
    """One item of a batch or job: a source, a pipeline, an output format, whether to store.

    ``source`` is a stored image's id (or record), an ``http(s)://`` URL, bytes, a
    ``pathlib.Path`` or a binary file (sent inline, base64: keep those small, or upload them
    first and refer to them by id).
    """

    source: ImageSource
    pipeline: PipelineLike | None = None
    format: str | None = None
    store: bool = False

    def to_json(self) -> dict[str, Any]:
        ops, ext = split_pipeline(self.pipeline, self.format)
        item: dict[str, Any] = {"source": transform_source(self.source).json_source()}
        if ops:
            item["ops"] = ops
        if ext:
            item["format"] = ext
        if self.store:
            item["store"] = True
        return item


def _item_json(item: Item | Mapping[str, Any]) -> Any:
    if isinstance(item, Item):
        return item.to_json()
    if isinstance(item, Mapping):
        return dict(item)
    raise TypeError(f"a batch item is a progimage.Item or a mapping, got {type(item).__name__}")


PresetOps = PipelineLike | Sequence[str | Mapping[str, Any]]
"""A preset's operations: a :class:`~progimage.Pipeline`, its URL form, or the API's JSON list
(of step strings or ``{"op": ...}`` objects)."""


def preset_body(ops: PresetOps, fmt: str | None, eager: bool) -> dict[str, Any]:
    """The JSON of ``PUT /presets/{name}``. A pipeline (or its URL form) is sent in canonical
    form, its extension the format unless ``fmt`` names one; a list is sent as given."""
    if not isinstance(eager, bool):
        raise TypeError("eager must be True or False")
    if isinstance(ops, (Pipeline, str)):
        steps, ext = split_pipeline(ops, fmt)
        body: dict[str, Any] = {"ops": steps}
    elif isinstance(ops, Sequence) and not isinstance(ops, (bytes, bytearray)):
        body, ext = {"ops": list(ops)}, None if fmt is None else normalize_format(fmt)
    else:
        raise TypeError(f"a preset's ops are a Pipeline, a string or a list, got {ops!r}")
    if ext is not None:
        body["format"] = ext
    if eager:
        body["eager"] = True
    return body


def eager_param(names: Sequence[str]) -> str | None:
    """``?eager=a,b``: the presets an upload names to render ahead (None: none). A bare string
    is refused, not split into letters; the server judges the names."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"eager takes a list of preset names, e.g. eager=['card'], got {names!r}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a preset name is a string, got {name!r}")
        if not name or "," in name:
            raise ValueError(f"not a preset name: {name!r}")
    return ",".join(names) or None


def preset_path(name: str) -> str:
    """``/presets/{name}``; the server checks the name (400 for a bad one)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"not a preset name: {name!r}")
    return "/presets/" + quote(name, safe="")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise APIError(
            f"the server answered {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}",
            status=response.status_code,
            code="invalid_response",
            request_id=response.headers.get("x-request-id"),
        ) from None


def _uploaded(response: httpx.Response) -> ImageRecord:
    """The record ``POST /images`` answers, with the job rendering its eager presets."""
    record = ImageRecord.from_json(_json(response))
    return replace(record, eager_job=response.headers.get("x-eager-job") or None)


_S3_CODE = re.compile(r"<Code>([^<]*)</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def _raise_for_status(response: httpx.Response) -> httpx.Response:
    if response.status_code < 300 or response.status_code == 304:
        return response
    retry = retry_after_seconds(response.headers.get("retry-after"))
    error = error_from_response(
        response.status_code, response.content, response.headers, retry_after=retry
    )
    raise error


def _raise_for_storage(response: httpx.Response) -> httpx.Response:
    """Errors of the storage service (S3 answers XML) as API errors of the same status."""
    if response.status_code < 300:
        return response
    text = response.text
    code, message = _S3_CODE.search(text), _S3_MESSAGE.search(text)
    error = error_from_response(response.status_code, b"", response.headers)
    error.message = "the storage service refused the upload: " + (
        f"{code.group(1)}: {message.group(1) if message else ''}" if code else text[:300]
    )
    raise error


def partial_path(path: Path) -> Path:
    """Where a download is written before it is complete (then renamed over ``path``)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")


def write_atomically(chunks: Iterable[bytes], path: Path) -> None:
    partial = partial_path(path)
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


class BaseClient:
    """Configuration and the operations as flows; :class:`ProgImage` and
    :class:`AsyncProgImage` run them."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_factor: float = 0.5,
        max_backoff: float = 8.0,
        signing_key: str | bytes | None = None,
        tenant: str | None = None,
        presign_threshold: int = DEFAULT_PRESIGN_THRESHOLD,
        ingest_timeout: float = DEFAULT_INGEST_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        cdn_url: str | None = None,
    ) -> None:
        url = base_url or os.environ.get(URL_ENV)
        if not url:
            raise ValueError(
                f"no ProgImage URL: pass base_url=... (--url) or set the environment variable "
                f"{URL_ENV}"
            )
        if auth is not None and api_key is not None:
            raise ValueError("give api_key or auth, not both: both would set Authorization")
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {url!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if presign_threshold < 0:
            raise ValueError("presign_threshold must be 0 or more")
        self.base_url = url.rstrip("/")
        # With auth (SigV4), requests carry no API key: not even one from the environment.
        self.auth = auth
        self.api_key = (
            api_key if api_key is not None or auth is not None else os.environ.get(API_KEY_ENV)
        ) or None
        key = signing_key if signing_key is not None else os.environ.get(SIGNING_KEY_ENV) or None
        self.signing_key: bytes | None = key.encode() if isinstance(key, str) else key
        # The tenant whose key signing_key is (None: "default", whose URLs name no tenant).
        named = tenant if tenant is not None else os.environ.get(TENANT_ENV) or None
        self.tenant = None if named is None else check_tenant(named)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self.presign_threshold = presign_threshold
        self.ingest_timeout = ingest_timeout
        self._headers = {"User-Agent": f"progimage-python/{__version__}", **(headers or {})}
        self._origin = httpx.URL(self.base_url)
        # Image and variant GETs go to the CDN when there is one (the same paths, so signed
        # URLs verify); every other call goes to the API.
        cdn = (cdn_url if cdn_url is not None else os.environ.get(CDN_URL_ENV)) or None
        if cdn is not None:
            cdn = cdn.rstrip("/")
            parsed = httpx.URL(cdn)
            if (
                parsed.scheme not in ("http", "https")
                or not parsed.host
                or parsed.path not in ("", "/")
                or parsed.query
            ):
                raise ValueError(
                    f"cdn_url must be a scheme and host such as https://cdn.example, got {cdn!r}"
                )
        self.cdn_url = cdn
        self._images_base = cdn or self.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- URLs ----------------------------------------------------------------------------------

    def url(
        self,
        image_id: str,
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        expires_in: float | None = None,
    ) -> str:
        """The URL of an image, a converted image or a variant; signed if the client has a
        signing key (then valid for ``expires_in`` seconds, or without expiry)."""
        if self.signing_key:
            return self.signed_url(image_id, pipeline, expires_in, format=format)
        if expires_in is not None:
            raise ValueError("expires_in needs a signing key")
        return self._images_base + image_path(image_id, pipeline, format)

    def signed_url(
        self,
        image_id: str,
        pipeline_or_format: PipelineLike | None = None,
        expires_in: float | None = None,
        *,
        format: str | None = None,
    ) -> str:
        """A signed URL of an image or variant: ``pipeline_or_format`` is a
        :class:`~progimage.Pipeline`, a pipeline string (``"thumbnail:256.jpg"``) or just a
        format (``"webp"``). Signed with the client's key for its ``tenant``; valid for
        ``expires_in`` seconds, or without it until the server's key changes. Pages can embed
        it: it carries no credentials."""
        if not self.signing_key:
            raise ValueError("no signing key: pass signing_key=... or set PROGIMAGE_SIGNING_KEY")
        return sign_url(
            self._images_base,
            image_id,
            pipeline_or_format,
            key=self.signing_key,
            tenant=self.tenant,
            expires_in=expires_in,
            format=format,
        )

    def srcset(
        self,
        image_id: str,
        widths: Iterable[int] = (),
        pipeline: PipelineLike | None = None,
        *,
        densities: Iterable[float] = (),
        format: str | None = None,
        expires_in: float | None = None,
    ) -> str:
        """An HTML ``srcset`` of the image through ``pipeline``: one URL per width in pixels
        (``resize:W`` after the pipeline, described ``Ww``), or per pixel density (``dpr:D``,
        described ``Dx``). URLs are signed as :meth:`url` signs them; ``format="auto"`` lets
        each browser get the best format it accepts.

        >>> client.srcset(image_id, [320, 640], "grayscale", format="auto")  # doctest: +SKIP
        '…/grayscale/resize:320:0.auto 320w, …/grayscale/resize:640:0.auto 640w'
        """
        widths, densities = list(widths), list(densities)
        if bool(widths) == bool(densities):
            raise ValueError("give widths or densities, one of them")
        base = pipeline if isinstance(pipeline, Pipeline) else Pipeline.parse(pipeline or "")
        base = base.format(format) if format is not None else base
        candidates = [(base.resize(width), f"{width}w") for width in widths] + [
            (base.dpr(density), f"{density:g}x") for density in densities
        ]
        return ", ".join(
            f"{self.url(image_id, variant, expires_in=expires_in)} {descriptor}"
            for variant, descriptor in candidates
        )

    # -- requests --------------------------------------------------------------------------

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        raise NotImplementedError  # the sync and async clients build with their httpx client

    def _prepare(self, action: Send, timeout: TimeoutLike) -> httpx.Auth | None:
        """Apply a per-call ``timeout`` (None: the client's) to the action's request, and say
        which auth signs it: the client's for the API's origin, none for a storage URL."""
        if timeout is not None:
            action.request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        if self.auth is not None and _same_origin(action.request.url, self._origin):
            return self.auth
        return None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        files: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Request:
        """A request to the API: credentials, and an Idempotency-Key on every POST."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.api_key:
            all_headers["Authorization"] = f"Bearer {self.api_key}"
        if method == "POST":
            all_headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        kwargs: dict[str, Any] = {"headers": all_headers}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if json is not None:
            kwargs["content"] = jsonlib.dumps(json, separators=(",", ":")).encode()
            all_headers["Content-Type"] = "application/json"
        elif content is not None:
            kwargs["content"] = content
        if files is not None:
            kwargs["files"] = files
            kwargs["data"] = data
        request = self._build(method, self.base_url + path, **kwargs)
        request.read()  # the same bytes on every attempt (a multipart boundary included)
        return request

    def _image_path(self, image_id: str, pipeline: PipelineLike | None, fmt: str | None) -> str:
        return self._signed(image_path(image_id, pipeline, fmt))

    def _signed(self, path: str) -> str:
        """An image path signed with the client's key, for its tenant (as it is without a key)."""
        if not self.signing_key:
            return path
        return sign_path(path, self.signing_key, tenant=self.tenant)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.backoff_factor * (2**attempt))
        return float(delay * random.uniform(0.5, 1.0))

    def _exchange(self, request: httpx.Request, sink: Path | None = None) -> Flow[httpx.Response]:
        """Send with retries: 429 and 503 (honouring Retry-After), a request still in progress
        under its Idempotency-Key, and connection failures.

        A failure after the request may have reached the server is retried only when repeating
        it is safe: GET, DELETE, or a POST with an Idempotency-Key.
        """
        safe = request.method in ("GET", "HEAD", "DELETE") or "idempotency-key" in request.headers
        attempt = 0
        while True:
            try:
                response = yield from self._follow(request, sink)
            except httpx.TransportError as error:
                unsent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
                if attempt >= self.max_retries or not (safe or unsent):
                    raise self._transport_error(error, request, attempt) from error
                delay = self._backoff(attempt)
            else:
                if not self._retryable(response) or attempt >= self.max_retries:
                    return response
                after = retry_after_seconds(response.headers.get("retry-after"))
                delay = self._backoff(attempt) if after is None else min(after, MAX_RETRY_AFTER)
            attempt += 1
            yield Sleep(delay)

    @staticmethod
    def _retryable(response: httpx.Response) -> bool:
        if response.status_code in RETRY_STATUSES:
            return True
        if response.status_code == 409 and "idempotency-key" in response.request.headers:
            try:
                return bool(response.json()["error"]["code"] == "idempotency_in_progress")
            except (ValueError, KeyError, TypeError):
                return False
        return False

    @staticmethod
    def _transport_error(
        error: httpx.TransportError, request: httpx.Request, retries: int
    ) -> TransportError:
        cls = Timeout if isinstance(error, httpx.TimeoutException) else TransportError
        what = "timed out" if cls is Timeout else "failed"
        tries = f" after {retries + 1} attempts" if retries else ""
        detail = str(error) or type(error).__name__
        return cls(f"{request.method} {request.url.copy_with(query=None)} {what}{tries}: {detail}")

    def _follow(self, request: httpx.Request, sink: Path | None) -> Flow[httpx.Response]:
        """Send, following redirects of GETs (a 307 to a presigned storage URL); credentials
        never leave the API's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            response: httpx.Response = yield Send(request, sink)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location or request.method != "GET":
                return response
            url = request.url.join(location)
            headers = {"Accept": request.headers.get("accept", "*/*")}
            if "authorization" in request.headers and _same_origin(url, self._origin):
                headers["Authorization"] = request.headers["authorization"]
            request = self._build("GET", str(url), headers=headers)
        raise TransportError(f"more than {MAX_REDIRECTS} redirects from {request.url}")

    def _call(self, request: httpx.Request, sink: Path | None = None) -> Flow[httpx.Response]:
        response = yield from self._exchange(request, sink)
        return _raise_for_status(response)

    def _external(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """A request outside the API (a presigned storage URL): never with credentials."""
        request = self._build(method, url, **kwargs)
        request.read()
        return request

    # -- images ------------------------------------------------------------------------------

    def _upload_flow(
        self,
        source: Any,
        *,
        content_type: str | None,
        idempotency_key: str | None,
        presigned: bool | None,
        wait: bool,
        dedupe: bool = False,
        eager: Sequence[str] = (),
    ) -> Flow[ImageRecord]:
        named = eager_param(eager)
        blob = read_source(source)
        params = {"dedupe": "true" if dedupe else None, "eager": named}
        if isinstance(blob, RemoteUrl):
            request = self._request(
                "POST",
                "/images",
                params=params,
                json={"url": blob.url},
                idempotency_key=idempotency_key,
            )
            return _uploaded((yield from self._call(request)))
        ctype = content_type or blob.content_type
        use_presigned = presigned
        if dedupe or named:  # the server compares direct uploads; a presigned one has no query
            if presigned:
                option = "dedupe=True" if dedupe else "eager"
                raise ValueError(f"{option} needs a direct upload, not a presigned one")
            use_presigned = False
        if use_presigned is None:
            # Bytes of unknown type go direct, so the server names what is wrong with them.
            use_presigned = ctype is not None and len(blob.data) > self.presign_threshold
        if use_presigned:
            if ctype is None:
                raise ValueError(
                    f"{blob.name}: not a known image format; pass content_type=... to upload it "
                    "through a presigned URL"
                )
            return (yield from self._presigned_flow(blob, ctype, idempotency_key, wait=wait))
        request = self._request(
            "POST",
            "/images",
            params=params,
            content=blob.data,
            headers={"Content-Type": ctype or "application/octet-stream"},
            idempotency_key=idempotency_key,
        )
        return _uploaded((yield from self._call(request)))

    def _presigned_flow(
        self, blob: Blob, content_type: str, idempotency_key: str | None, *, wait: bool
    ) -> Flow[ImageRecord]:
        request = self._request(
            "POST",
            "/uploads",
            json={"count": 1, "content_type": content_type},
            idempotency_key=idempotency_key,
        )
        answer = _json((yield from self._call(request)))
        upload = PresignedUpload.from_json(answer["uploads"][0])
        # The form's fields first, the file last, and no credentials: S3 checks the policy.
        post = self._external(
            "POST",
            upload.url,
            data=dict(upload.fields),
            files={"file": (blob.name, blob.data, content_type)},
        )
        _raise_for_storage((yield from self._exchange(post)))
        if not wait:
            return ImageRecord(upload.id, "pending", raw={"id": upload.id, "status": "pending"})
        return (yield from self._wait_ingested(upload.id))

    def _wait_ingested(self, image_id: str) -> Flow[ImageRecord]:
        deadline = time.monotonic() + self.ingest_timeout
        delay = 0.1
        while True:
            record = yield from self._info_flow(image_id)
            if record.status == "ready":
                return record
            if record.status == "rejected":
                raise UploadRejected(record.reason or "the upload was rejected", image_id=image_id)
            if time.monotonic() + delay > deadline:
                raise WaitTimeout(
                    f"image {image_id} is still {record.status} after {self.ingest_timeout:g} s"
                )
            yield Sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _get_flow(
        self,
        image_id: str,
        pipeline: PipelineLike | None,
        fmt: str | None,
        sink: Path | None = None,
    ) -> Flow[httpx.Response]:
        path = self._image_path(image_id, pipeline, fmt)
        if self.cdn_url:  # a public or signed URL: no credentials to the CDN
            request = self._external("GET", self.cdn_url + path, headers={"Accept": "*/*"})
        else:
            request = self._request("GET", path, headers={"Accept": "*/*"})
        return (yield from self._call(request, sink))

    def _info_flow(self, image_id: str) -> Flow[ImageRecord]:
        path = image_path(image_id) + "/info"
        response = yield from self._call(self._request("GET", path))
        return ImageRecord.from_json(_json(response))

    def _page_flow(
        self,
        limit: int | None,
        cursor: str | None,
        tag: str | None = None,
        similar_to: str | None = None,
        distance: int | None = None,
    ) -> Flow[ImagePage]:
        params = {
            "limit": limit,
            "cursor": cursor,
            "tag": tag,
            "similar_to": similar_to,
            "distance": distance,
        }
        request = self._request("GET", "/images", params=params)
        return ImagePage.from_json(_json((yield from self._call(request))))

    def _patch_flow(
        self,
        image_id: str,
        tags: Iterable[str] | None,
        metadata: Mapping[str, str] | None,
        focal_point: tuple[float, float] | EllipsisType | None,
    ) -> Flow[ImageRecord]:
        body: dict[str, Any] = {}
        if tags is not None:
            body["tags"] = list(tags)
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if focal_point is not ...:
            body["focal_point"] = (
                None if focal_point is None else {"x": focal_point[0], "y": focal_point[1]}
            )
        request = self._request("PATCH", image_path(image_id), json=body)
        return ImageRecord.from_json(_json((yield from self._call(request))))

    def _delete_flow(self, image_id: str) -> Flow[None]:
        yield from self._call(self._request("DELETE", image_path(image_id)))

    def _fetch_flow(self, url: str, sink: Path | None = None) -> Flow[httpx.Response]:
        absolute = httpx.URL(self._images_base).join(url) if url.startswith("/") else httpx.URL(url)
        cdn = httpx.URL(self.cdn_url) if self.cdn_url else None
        if cdn is not None and _same_origin(absolute, cdn):
            path = absolute.raw_path.decode()
            if "?" not in path and path.startswith("/images/"):
                path = self._signed(path)  # a variant path from a batch result
            request = self._external("GET", self.cdn_url + path, headers={"Accept": "*/*"})
        elif _same_origin(absolute, self._origin):
            path = absolute.raw_path.decode()
            prefix = self._origin.raw_path.decode().rstrip("/")
            if prefix and path.startswith(prefix + "/"):
                path = path[len(prefix) :]
            if "?" not in path and path.startswith("/images/"):
                path = self._signed(path)  # a variant path from a batch result
            request = self._request("GET", path, headers={"Accept": "*/*"})
        else:
            request = self._external("GET", str(absolute))
        return (yield from self._call(request, sink))

    # -- presets -----------------------------------------------------------------------------

    def _save_preset_flow(
        self, name: str, ops: PresetOps, fmt: str | None, eager: bool
    ) -> Flow[Preset]:
        request = self._request("PUT", preset_path(name), json=preset_body(ops, fmt, eager))
        return Preset.from_json(_json((yield from self._call(request))))

    def _preset_flow(self, name: str) -> Flow[Preset]:
        request = self._request("GET", preset_path(name))
        return Preset.from_json(_json((yield from self._call(request))))

    def _presets_flow(self) -> Flow[list[Preset]]:
        answer = _json((yield from self._call(self._request("GET", "/presets"))))
        return [Preset.from_json(item) for item in answer.get("presets") or []]

    def _delete_preset_flow(self, name: str) -> Flow[None]:
        yield from self._call(self._request("DELETE", preset_path(name)))

    # -- transformations -------------------------------------------------------------------

    def _transform_flow(
        self,
        source: Any,
        pipeline: PipelineLike | None,
        fmt: str | None,
        store: bool,
        idempotency_key: str | None,
    ) -> Flow[bytes | ImageRecord]:
        if not isinstance(store, bool):
            raise TypeError("store must be True or False")
        src = transform_source(source)
        ops, ext = split_pipeline(pipeline, fmt)
        if isinstance(src, StoredImage) and not store:
            # A variant of a stored image: a GET, cached by the server (and by any CDN).
            response = yield from self._get_flow(src.id, ops or None, ext)
            return response.content
        if isinstance(src, Blob):
            request = self._request(
                "POST",
                "/transform",
                params={"ops": ops or None, "format": ext, "store": "true" if store else None},
                content=src.data,
                headers={
                    "Content-Type": src.content_type or "application/octet-stream",
                    "Accept": "*/*",
                },
                idempotency_key=idempotency_key,
            )
        else:
            body: dict[str, Any] = {"source": src.json_source(), "store": store}
            if ops:
                body["ops"] = ops
            if ext:
                body["format"] = ext
            request = self._request(
                "POST",
                "/transform",
                json=body,
                headers={"Accept": "*/*"},
                idempotency_key=idempotency_key,
            )
        response = yield from self._call(request)
        if store:
            return ImageRecord.from_json(_json(response))
        return response.content

    def _batch_flow(self, items: Iterable[Item | Mapping[str, Any]]) -> Flow[list[BatchResult]]:
        request = self._request("POST", "/batch", json={"items": [_item_json(i) for i in items]})
        answer = _json((yield from self._call(request)))
        return [BatchResult.from_json(r, self._images_base) for r in answer.get("results", [])]

    def _submit_flow(
        self, items: Iterable[Item | Mapping[str, Any]], idempotency_key: str | None
    ) -> Flow[Job]:
        request = self._request(
            "POST",
            "/jobs",
            json={"items": [_item_json(i) for i in items]},
            idempotency_key=idempotency_key,
        )
        return Job.from_json(_json((yield from self._call(request))), self._images_base)

    def _job_flow(self, job_id: str, limit: int | None, cursor: str | None) -> Flow[Job]:
        if not isinstance(job_id, str) or not job_id or any(c in job_id for c in "/?#%."):
            raise ValueError(f"not a job id: {job_id!r}")
        request = self._request("GET", f"/jobs/{job_id}", params={"limit": limit, "cursor": cursor})
        return Job.from_json(_json((yield from self._call(request))), self._images_base)

    def _wait_job_flow(
        self,
        job_id: str,
        timeout: float | None,
        poll_interval: float,
        on_progress: Callable[[Job], object] | None,
    ) -> Flow[Job]:
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: tuple[str, int] | None = None
        delay = min(0.2, poll_interval)
        while True:
            job = yield from self._job_flow(job_id, 1, None)
            if on_progress is not None and (job.status, job.completed) != seen:
                seen = (job.status, job.completed)
                on_progress(job)
            if job.done:
                return (yield from self._job_flow(job_id, None, None))
            if deadline is not None and time.monotonic() + delay > deadline:
                raise WaitTimeout(
                    f"job {job_id} is still {job.status} ({job.completed} of {job.total} done) "
                    f"after {timeout:g} s"
                )
            yield Sleep(delay)
            delay = min(delay * 2, poll_interval)


def infer_format(dest: str | os.PathLike[str]) -> str | None:
    """The output format a file name asks for (``out.webp`` -> ``webp``), if any."""
    suffix = Path(os.fspath(dest)).suffix.lower().removeprefix(".")
    return FORMATS.get(suffix)


def download_format(path: Path, pipeline: PipelineLike | None) -> str | None:
    """The file's extension chooses the format, unless the pipeline names one."""
    if pipeline is not None and split_pipeline(pipeline)[1] is not None:
        return None
    return infer_format(path)


def source_name(source: Any) -> str:
    """How to show an upload source in results and messages."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else f"<{type(source).__name__}>"

"""The synchronous client, :class:`ProgImage`."""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from types import EllipsisType, TracebackType
from typing import Any, Literal, cast, overload

import httpx

from ._base import (
    DEFAULT_INGEST_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRESIGN_THRESHOLD,
    DEFAULT_TIMEOUT,
    BaseClient,
    Flow,
    Item,
    PresetOps,
    Send,
    T,
    TimeoutLike,
    download_format,
    eager_param,
    source_name,
    write_atomically,
)
from ._sources import ImageSource
from .errors import ProgImageError
from .models import BatchResult, ImagePage, ImageRecord, Job, Preset, UploadResult
from .pipeline import PipelineLike

__all__ = ["ProgImage"]

ProgressCallback = Callable[[int, int, UploadResult], object]


class ProgImage(BaseClient):
    """A client of the ProgImage API.

    >>> with ProgImage("https://images.example.com", api_key="...") as client:  # doctest: +SKIP
    ...     image = client.upload("photo.jpg")
    ...     thumb = client.transform(image.id, Pipeline().thumbnail(256).format("webp"))

    ``base_url`` and ``api_key`` default to the environment variables ``PROGIMAGE_URL`` and
    ``PROGIMAGE_API_KEY``. An API key belongs to one tenant: the client lists, reads the records
    of, transforms and deletes that tenant's images only. For a server that requires signed
    image URLs, ``signing_key`` (``PROGIMAGE_SIGNING_KEY``) is the URL signing key of the
    client's ``tenant`` (``PROGIMAGE_TENANT``; unset: the tenant ``default``), as the service's
    operator gave it.

    Requests are retried ``max_retries`` times, with exponential backoff (``backoff_factor``
    seconds, doubling, at most ``max_backoff``), on 429 and 503 (honouring ``Retry-After``) and
    on connection failures; every POST carries an ``Idempotency-Key`` that its retries reuse,
    so a retried upload is stored once. Uploads larger than ``presign_threshold`` bytes go
    straight to storage through a presigned POST; the client then waits up to
    ``ingest_timeout`` seconds for the server to accept them.

    ``auth`` signs the API's requests instead of an API key, any ``httpx.Auth``: for a stage
    deployed in IAM mode, ``progimage.iam.SigV4Auth()`` (``pip install 'progimage[iam]'``)
    signs them with SigV4 and the standard AWS credentials. It never signs presigned storage
    URLs. ``timeout`` is each request's (``httpx.Timeout`` or seconds; None: none); every
    method also takes a ``timeout=`` for its own requests (None there: the client's).

    A client holds a pool of connections: use it as a context manager, or call :meth:`close`.
    It may be shared between threads.
    """

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            max_backoff=max_backoff,
            signing_key=signing_key,
            tenant=tenant,
            presign_threshold=presign_threshold,
            ingest_timeout=ingest_timeout,
            headers=headers,
            auth=auth,
            cdn_url=cdn_url,
        )
        self._http = httpx.Client(
            headers=self._headers,
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ProgImage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- running flows -----------------------------------------------------------------------

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(method, url, **kwargs)

    def _run(self, flow: Flow[T], timeout: TimeoutLike = None) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                return cast(T, stop.value)
            value, error = None, None
            try:
                if isinstance(action, Send):
                    value = self._send(action, timeout)
                else:
                    time.sleep(action.seconds)
            except httpx.TransportError as transport_error:
                error = transport_error

    def _send(self, action: Send, timeout: TimeoutLike) -> httpx.Response:
        auth = self._prepare(action, timeout)
        response = self._http.send(action.request, stream=True, auth=auth)
        try:
            if action.sink is not None and response.status_code == 200:
                write_atomically(response.iter_bytes(), action.sink)
            else:
                response.read()
        finally:
            response.close()
        return response

    # -- images ------------------------------------------------------------------------------

    def upload(
        self,
        source: ImageSource,
        *,
        content_type: str | None = None,
        idempotency_key: str | None = None,
        presigned: bool | None = None,
        wait: bool = True,
        dedupe: bool = False,
        eager: Sequence[str] = (),
        timeout: TimeoutLike = None,
    ) -> ImageRecord:
        """Store one image and return its record.

        ``source`` is a path (``str`` or ``Path``), bytes, a binary file object, or an
        ``http(s)://`` URL that the server fetches. Files larger than ``presign_threshold`` go
        through a presigned upload (``presigned=True``/``False`` forces the choice); the call
        then waits until the server has checked the image (``wait=False`` returns the
        ``pending`` record at once). Raises :class:`~progimage.errors.UploadRejected` if the
        server refuses a presigned upload, and the API's errors otherwise (``InvalidImage``,
        ``UnsupportedFormat``, ``TooLarge``...).

        ``idempotency_key`` replaces the generated key: a retry with the same key, even from
        another process, returns the first answer instead of storing the image twice.
        ``dedupe=True`` (a direct upload): if the tenant already has these exact bytes, their
        record is returned and nothing is stored. ``eager=["card", "hero"]`` (a direct upload)
        has the server render those presets, besides those saved eager, through a job named by
        the record's ``eager_job`` (follow it with :meth:`wait_for_job`); a preset not saved is a
        ``BadRequest`` and nothing is stored. A bare string is a ``TypeError``, not a list of
        letters.
        """
        return self._run(
            self._upload_flow(
                source,
                content_type=content_type,
                idempotency_key=idempotency_key,
                presigned=presigned,
                wait=wait,
                dedupe=dedupe,
                eager=eager,
            ),
            timeout,
        )

    def upload_many(
        self,
        sources: Iterable[ImageSource],
        *,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
        raise_on_error: bool = False,
        presigned: bool | None = None,
        wait: bool = True,
        dedupe: bool = False,
        eager: Sequence[str] = (),
        timeout: TimeoutLike = None,
    ) -> list[UploadResult]:
        """Upload many images concurrently; one :class:`UploadResult` per source, in order.

        ``on_progress(done, total, result)`` is called in the calling thread after each
        file. One failed file does not stop the others: check ``result.ok``, or pass
        ``raise_on_error=True`` to raise the first failure once all have finished.
        ``presigned``, ``wait``, ``dedupe`` and ``eager`` apply to every file (see
        :meth:`upload`); ``result.eager_job`` names each file's job.
        """
        eager_param(eager)  # a bad list fails the call, not each file
        items = list(sources)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        results: list[UploadResult | None] = [None] * len(items)

        def one(index: int) -> UploadResult:
            source = items[index]
            try:
                return UploadResult(
                    index,
                    source_name(source),
                    image=self.upload(
                        source,
                        presigned=presigned,
                        wait=wait,
                        dedupe=dedupe,
                        eager=eager,
                        timeout=timeout,
                    ),
                )
            except (ProgImageError, OSError, ValueError, TypeError) as error:
                return UploadResult(index, source_name(source), error=error)

        with ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(items)))) as pool:
            futures = [pool.submit(one, index) for index in range(len(items))]
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                results[result.index] = result
                if on_progress is not None:
                    on_progress(done, len(items), result)
        final = [r for r in results if r is not None]
        if raise_on_error:
            for result in final:
                result.raise_for_error()
        return final

    def get(
        self,
        image_id: str,
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        timeout: TimeoutLike = None,
    ) -> bytes:
        """The bytes of an image: the original, converted to ``format``, or a variant.

        ``pipeline`` is a :class:`~progimage.Pipeline` or the URL form
        (``"thumbnail:256.webp"``); variants are made once and then served from the cache.
        """
        return self._run(self._get_flow(image_id, pipeline, format), timeout).content

    def download(
        self,
        image_id: str,
        dest: str | os.PathLike[str],
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Path:
        """Save an image (or a variant) to ``dest``, streaming; the file appears complete or
        not at all. Without a format in ``pipeline`` or ``format``, the extension of ``dest``
        chooses it (``out.webp`` is converted to WebP); an unknown extension keeps the
        original's format."""
        path = Path(os.fspath(dest))
        format = format or download_format(path, pipeline)
        self._run(self._get_flow(image_id, pipeline, format, sink=path), timeout)
        return path

    def info(self, image_id: str, *, timeout: TimeoutLike = None) -> ImageRecord:
        """The image's record: status, format, size, dimensions, checksum, creation time."""
        return self._run(self._info_flow(image_id), timeout)

    def list(
        self,
        *,
        page_size: int = 50,
        limit: int | None = None,
        tag: str | None = None,
        similar_to: str | None = None,
        distance: int | None = None,
        timeout: TimeoutLike = None,
    ) -> Iterator[ImageRecord]:
        """Every stored image, newest first, fetching pages of ``page_size`` as it goes
        (at most ``limit`` images if given). With ``tag``, those tagged so; with
        ``similar_to``, that image's near-duplicates within ``distance`` bits, nearest first."""
        cursor: str | None = None
        count = 0
        while True:
            page = self.list_page(
                limit=page_size,
                cursor=cursor,
                tag=tag,
                similar_to=similar_to,
                distance=distance,
                timeout=timeout,
            )
            for record in page.images:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield record
            cursor = page.next_cursor
            if not cursor:
                return

    def list_page(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        tag: str | None = None,
        similar_to: str | None = None,
        distance: int | None = None,
        timeout: TimeoutLike = None,
    ) -> ImagePage:
        """One page of images (filtered as :meth:`list` is), and the cursor of the next page
        (None: the last page)."""
        return self._run(self._page_flow(limit, cursor, tag, similar_to, distance), timeout)

    def patch(
        self,
        image_id: str,
        *,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, str] | None = None,
        focal_point: tuple[float, float] | EllipsisType | None = ...,
        timeout: TimeoutLike = None,
    ) -> ImageRecord:
        """Set an image's tags (replacing its set), metadata or focal point ((x, y) in 0..1;
        None removes it); what is not given is left as it is. Returns the updated record."""
        flow = self._patch_flow(image_id, tags, metadata, focal_point)
        return self._run(flow, timeout)

    def similar(
        self,
        image_id: str,
        distance: int = 4,
        *,
        page_size: int = 50,
        limit: int | None = None,
        timeout: TimeoutLike = None,
    ) -> Iterator[ImageRecord]:
        """The tenant's other images within ``distance`` (0-8) bits of the image's perceptual
        hash, nearest first, each with its ``distance``: :meth:`list` with ``similar_to``."""
        return self.list(
            page_size=page_size,
            limit=limit,
            similar_to=image_id,
            distance=distance,
            timeout=timeout,
        )

    def delete(self, image_id: str, *, timeout: TimeoutLike = None) -> None:
        """Delete an image, its variants and its record (``NotFound`` if there is none)."""
        self._run(self._delete_flow(image_id), timeout)

    def fetch(self, url: str, *, timeout: TimeoutLike = None) -> bytes:
        """The bytes at a URL from a batch or job result (a variant path or a result link)."""
        return self._run(self._fetch_flow(url), timeout).content

    # -- transformations -------------------------------------------------------------------

    @overload
    def transform(
        self,
        source: ImageSource,
        pipeline: PipelineLike | None = ...,
        *,
        format: str | None = ...,
        store: Literal[False] = ...,
        idempotency_key: str | None = ...,
        timeout: TimeoutLike = ...,
    ) -> bytes: ...

    @overload
    def transform(
        self,
        source: ImageSource,
        pipeline: PipelineLike | None = ...,
        *,
        format: str | None = ...,
        store: Literal[True],
        idempotency_key: str | None = ...,
        timeout: TimeoutLike = ...,
    ) -> ImageRecord: ...

    def transform(
        self,
        source: ImageSource,
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        store: bool = False,
        idempotency_key: str | None = None,
        timeout: TimeoutLike = None,
    ) -> bytes | ImageRecord:
        """Transform an image and return the result's bytes, or with ``store=True`` store the
        result as a new image and return its record.

        ``source`` is a stored image's id (a ``str``) or record, an ``http(s)://`` URL, or a
        local image: bytes, a ``pathlib.Path`` or a binary file. A stored image without
        ``store`` is served as a cached variant.
        """
        return self._run(
            self._transform_flow(source, pipeline, format, store, idempotency_key), timeout
        )

    # -- presets -----------------------------------------------------------------------------

    def save_preset(
        self,
        name: str,
        ops: PresetOps,
        *,
        format: str | None = None,
        eager: bool = False,
        timeout: TimeoutLike = None,
    ) -> Preset:
        """Create or replace the tenant's preset ``name`` and return it as saved (its
        ``version`` one up). ``ops`` is a :class:`~progimage.Pipeline`, its URL form
        (``"resize:800:450:fill.webp"``: the extension is the format) or the API's JSON list;
        ``format`` sets the output format (``"auto"``: negotiated); ``eager=True`` has the
        server render it for every new image after it is stored. Pipelines name it as
        ``Pipeline().preset(name)``. Names are 1-64 of ``a-z 0-9 _ -`` (``BadRequest``
        otherwise)."""
        return self._run(self._save_preset_flow(name, ops, format, eager), timeout)

    def preset(self, name: str, *, timeout: TimeoutLike = None) -> Preset:
        """The tenant's preset ``name`` (``NotFound`` if there is none)."""
        return self._run(self._preset_flow(name), timeout)

    def presets(self, *, timeout: TimeoutLike = None) -> builtins.list[Preset]:
        """The tenant's presets, by name."""
        return self._run(self._presets_flow(), timeout)

    def delete_preset(self, name: str, *, timeout: TimeoutLike = None) -> None:
        """Delete the tenant's preset ``name`` (``NotFound`` if there is none); pipelines
        that name it are refused from then on."""
        self._run(self._delete_preset_flow(name), timeout)

    # -- batches and jobs --------------------------------------------------------------------

    def batch(
        self, items: Iterable[Item | Mapping[str, Any]], *, timeout: TimeoutLike = None
    ) -> builtins.list[BatchResult]:
        """Run up to 100 transformations in one request; one result per item, in order.

        A failed item does not fail the others: check ``result.ok`` or call
        ``result.raise_for_error()``.
        """
        return self._run(self._batch_flow(items), timeout)

    def submit_job(
        self,
        items: Iterable[Item | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Job:
        """Queue up to 10,000 items for asynchronous processing; returns the queued job."""
        return self._run(self._submit_flow(items, idempotency_key), timeout)

    def job(
        self,
        job_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Job:
        """A job's state, with one page of its results."""
        return self._run(self._job_flow(job_id, limit, cursor), timeout)

    def wait_for_job(
        self,
        job_id: str | Job,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: Callable[[Job], object] | None = None,
        request_timeout: TimeoutLike = None,
    ) -> Job:
        """Poll until the job is done and return it; ``on_progress(job)`` is called whenever
        its progress changes. Raises :class:`~progimage.errors.WaitTimeout` after ``timeout``
        seconds (``None``: wait as long as it takes); ``request_timeout`` is each poll's."""
        job_id = job_id.job_id if isinstance(job_id, Job) else job_id
        return self._run(
            self._wait_job_flow(job_id, timeout, poll_interval, on_progress), request_timeout
        )

    def job_results(
        self, job_id: str | Job, *, page_size: int = 100, timeout: TimeoutLike = None
    ) -> Iterator[BatchResult]:
        """Every result of a job so far, in item order, fetching pages as it goes."""
        job_id = job_id.job_id if isinstance(job_id, Job) else job_id
        cursor: str | None = None
        while True:
            job = self.job(job_id, limit=page_size, cursor=cursor, timeout=timeout)
            yield from job.results
            cursor = job.next_cursor
            if not cursor:
                return

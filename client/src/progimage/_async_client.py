"""The asynchronous client, :class:`AsyncProgImage` (asyncio)."""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
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
    partial_path,
    source_name,
)
from ._sources import ImageSource
from .errors import ProgImageError
from .models import BatchResult, ImagePage, ImageRecord, Job, Preset, UploadResult
from .pipeline import PipelineLike

__all__ = ["AsyncProgImage"]

ProgressCallback = Callable[[int, int, UploadResult], object]


class AsyncProgImage(BaseClient):
    """The asynchronous client: the same methods as :class:`~progimage.ProgImage`, awaitable.

    >>> async with AsyncProgImage() as client:  # doctest: +SKIP
    ...     image = await client.upload("photo.jpg")
    ...     async for record in client.list():
    ...         print(record.id)

    Use it as an async context manager, or call :meth:`aclose`. It runs on asyncio.
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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._http = httpx.AsyncClient(
            headers=self._headers,
            timeout=self.timeout,
            transport=transport,
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncProgImage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- running flows -----------------------------------------------------------------------

    def _build(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        return self._http.build_request(method, url, **kwargs)

    async def _run(self, flow: Flow[T], timeout: TimeoutLike = None) -> T:
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
                    value = await self._send(action, timeout)
                else:
                    await asyncio.sleep(action.seconds)
            except httpx.TransportError as transport_error:
                error = transport_error

    async def _send(self, action: Send, timeout: TimeoutLike) -> httpx.Response:
        auth = self._prepare(action, timeout)
        response = await self._http.send(action.request, stream=True, auth=auth)
        try:
            if action.sink is not None and response.status_code == 200:
                partial = partial_path(action.sink)
                try:
                    with partial.open("wb") as out:  # small writes: not worth a thread each
                        async for chunk in response.aiter_bytes():
                            out.write(chunk)
                    os.replace(partial, action.sink)
                finally:
                    partial.unlink(missing_ok=True)
            else:
                await response.aread()
        finally:
            await response.aclose()
        return response

    # -- images ------------------------------------------------------------------------------

    async def upload(
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
        """Store one image and return its record (see :meth:`ProgImage.upload`)."""
        return await self._run(
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

    async def upload_many(
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
        """Upload many images concurrently, at most ``concurrency`` at a time; one
        :class:`UploadResult` per source, in order (see :meth:`ProgImage.upload_many`)."""
        eager_param(eager)  # a bad list fails the call, not each file
        items = list(sources)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        semaphore = asyncio.Semaphore(concurrency)
        done = 0

        async def one(index: int) -> UploadResult:
            nonlocal done
            source = items[index]
            async with semaphore:
                try:
                    result = UploadResult(
                        index,
                        source_name(source),
                        image=await self.upload(
                            source,
                            presigned=presigned,
                            wait=wait,
                            dedupe=dedupe,
                            eager=eager,
                            timeout=timeout,
                        ),
                    )
                except (ProgImageError, OSError, ValueError, TypeError) as error:
                    result = UploadResult(index, source_name(source), error=error)
            done += 1
            if on_progress is not None:
                on_progress(done, len(items), result)
            return result

        results = list(await asyncio.gather(*(one(index) for index in range(len(items)))))
        if raise_on_error:
            for result in results:
                result.raise_for_error()
        return results

    async def get(
        self,
        image_id: str,
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        timeout: TimeoutLike = None,
    ) -> bytes:
        """The bytes of an image: the original, converted to ``format``, or a variant."""
        return (await self._run(self._get_flow(image_id, pipeline, format), timeout)).content

    async def download(
        self,
        image_id: str,
        dest: str | os.PathLike[str],
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Path:
        """Save an image (or a variant) to ``dest`` (see :meth:`ProgImage.download`)."""
        path = Path(os.fspath(dest))
        fmt = format or download_format(path, pipeline)
        await self._run(self._get_flow(image_id, pipeline, fmt, sink=path), timeout)
        return path

    async def info(self, image_id: str, *, timeout: TimeoutLike = None) -> ImageRecord:
        """The image's record."""
        return await self._run(self._info_flow(image_id), timeout)

    async def list(
        self,
        *,
        page_size: int = 50,
        limit: int | None = None,
        tag: str | None = None,
        similar_to: str | None = None,
        distance: int | None = None,
        timeout: TimeoutLike = None,
    ) -> AsyncIterator[ImageRecord]:
        """Every stored image, newest first (``async for``), fetching pages as it goes;
        filtered by ``tag`` or ``similar_to`` as :meth:`ProgImage.list` is."""
        cursor: str | None = None
        count = 0
        while True:
            page = await self.list_page(
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

    async def list_page(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        tag: str | None = None,
        similar_to: str | None = None,
        distance: int | None = None,
        timeout: TimeoutLike = None,
    ) -> ImagePage:
        """One page of images (filtered as :meth:`list` is), and the next page's cursor."""
        return await self._run(self._page_flow(limit, cursor, tag, similar_to, distance), timeout)

    async def patch(
        self,
        image_id: str,
        *,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, str] | None = None,
        focal_point: tuple[float, float] | EllipsisType | None = ...,
        timeout: TimeoutLike = None,
    ) -> ImageRecord:
        """Set an image's tags, metadata or focal point (see :meth:`ProgImage.patch`)."""
        flow = self._patch_flow(image_id, tags, metadata, focal_point)
        return await self._run(flow, timeout)

    def similar(
        self,
        image_id: str,
        distance: int = 4,
        *,
        page_size: int = 50,
        limit: int | None = None,
        timeout: TimeoutLike = None,
    ) -> AsyncIterator[ImageRecord]:
        """The tenant's near-duplicates of the image (``async for``; see
        :meth:`ProgImage.similar`)."""
        return self.list(
            page_size=page_size,
            limit=limit,
            similar_to=image_id,
            distance=distance,
            timeout=timeout,
        )

    async def delete(self, image_id: str, *, timeout: TimeoutLike = None) -> None:
        """Delete an image, its variants and its record."""
        await self._run(self._delete_flow(image_id), timeout)

    async def fetch(self, url: str, *, timeout: TimeoutLike = None) -> bytes:
        """The bytes at a URL from a batch or job result."""
        return (await self._run(self._fetch_flow(url), timeout)).content

    # -- transformations -------------------------------------------------------------------

    @overload
    async def transform(
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
    async def transform(
        self,
        source: ImageSource,
        pipeline: PipelineLike | None = ...,
        *,
        format: str | None = ...,
        store: Literal[True],
        idempotency_key: str | None = ...,
        timeout: TimeoutLike = ...,
    ) -> ImageRecord: ...

    async def transform(
        self,
        source: ImageSource,
        pipeline: PipelineLike | None = None,
        *,
        format: str | None = None,
        store: bool = False,
        idempotency_key: str | None = None,
        timeout: TimeoutLike = None,
    ) -> bytes | ImageRecord:
        """Transform an image (see :meth:`ProgImage.transform`)."""
        return await self._run(
            self._transform_flow(source, pipeline, format, store, idempotency_key), timeout
        )

    # -- presets -----------------------------------------------------------------------------

    async def save_preset(
        self,
        name: str,
        ops: PresetOps,
        *,
        format: str | None = None,
        eager: bool = False,
        timeout: TimeoutLike = None,
    ) -> Preset:
        """Create or replace a preset (see :meth:`ProgImage.save_preset`)."""
        return await self._run(self._save_preset_flow(name, ops, format, eager), timeout)

    async def preset(self, name: str, *, timeout: TimeoutLike = None) -> Preset:
        """The tenant's preset ``name``."""
        return await self._run(self._preset_flow(name), timeout)

    async def presets(self, *, timeout: TimeoutLike = None) -> builtins.list[Preset]:
        """The tenant's presets, by name."""
        return await self._run(self._presets_flow(), timeout)

    async def delete_preset(self, name: str, *, timeout: TimeoutLike = None) -> None:
        """Delete the tenant's preset ``name``."""
        await self._run(self._delete_preset_flow(name), timeout)

    # -- batches and jobs --------------------------------------------------------------------

    async def batch(
        self, items: Iterable[Item | Mapping[str, Any]], *, timeout: TimeoutLike = None
    ) -> builtins.list[BatchResult]:
        """Run up to 100 transformations in one request; one result per item, in order."""
        return await self._run(self._batch_flow(items), timeout)

    async def submit_job(
        self,
        items: Iterable[Item | Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Job:
        """Queue up to 10,000 items for asynchronous processing; returns the queued job."""
        return await self._run(self._submit_flow(items, idempotency_key), timeout)

    async def job(
        self,
        job_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        timeout: TimeoutLike = None,
    ) -> Job:
        """A job's state, with one page of its results."""
        return await self._run(self._job_flow(job_id, limit, cursor), timeout)

    async def wait_for_job(
        self,
        job_id: str | Job,
        *,
        timeout: float | None = None,
        poll_interval: float = 2.0,
        on_progress: Callable[[Job], object] | None = None,
        request_timeout: TimeoutLike = None,
    ) -> Job:
        """Poll until the job is done and return it (see :meth:`ProgImage.wait_for_job`)."""
        job_id = job_id.job_id if isinstance(job_id, Job) else job_id
        return await self._run(
            self._wait_job_flow(job_id, timeout, poll_interval, on_progress), request_timeout
        )

    async def job_results(
        self, job_id: str | Job, *, page_size: int = 100, timeout: TimeoutLike = None
    ) -> AsyncIterator[BatchResult]:
        """Every result of a job so far, in item order (``async for``)."""
        job_id = job_id.job_id if isinstance(job_id, Job) else job_id
        cursor: str | None = None
        while True:
            job = await self.job(job_id, limit=page_size, cursor=cursor, timeout=timeout)
            for result in job.results:
                yield result
            cursor = job.next_cursor
            if not cursor:
                return

"""Every method of the asynchronous client, over HTTP against the local server (no mocks)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import progimage
import pytest
from progimage import AsyncProgImage, Item, Pipeline

from tests.client.conftest import API_KEY, SIGNING_KEY, Reply, Scripted
from tests.images import decode

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def client_for(api: str, **kwargs: object) -> AsyncProgImage:
    return AsyncProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY, **kwargs)  # type: ignore[arg-type]


async def test_upload_get_info_download_delete(api: str, png: bytes, tmp_path: Path) -> None:
    async with client_for(api) as client:
        record = await client.upload(png)
        assert record.ready and record.width == 128
        assert await client.get(record.id) == png  # followed the 307 to storage
        webp = await client.get(record.id, Pipeline().thumbnail(20).format("webp"))
        assert decode(webp).size == (20, 20)
        assert decode(await client.get(record.id, format="gif")).format == "GIF"
        assert await client.info(record.id) == record
        saved = await client.download(record.id, tmp_path / "x.png", "thumbnail:10")
        assert decode(saved.read_bytes()).size == (10, 10)
        assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
        await client.delete(record.id)
        with pytest.raises(progimage.NotFound) as caught:
            await client.info(record.id)
        assert caught.value.request_id


async def test_upload_sources_and_presigned(
    api: str, png: bytes, jpeg: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg)
    async with client_for(api, presign_threshold=10_000) as client:
        from_path = await client.upload(path)
        with path.open("rb") as file:
            from_file = await client.upload(file)
        assert from_path.sha256 == from_file.sha256
        presigned = await client.upload(png)  # over the threshold: presigned, then ingested
        assert presigned.ready and presigned.bytes == len(png)
        pending = await client.upload(png, presigned=True, wait=False)
        assert pending.status == "pending"
        with pytest.raises(progimage.UploadRejected):
            await client.upload(b"GIF89a" + b"\x00" * 50, presigned=True)


async def test_upload_many(api: str, png: bytes, jpeg: bytes) -> None:
    progress: list[int] = []
    async with client_for(api) as client:
        results = await client.upload_many(
            [png, jpeg, b"nope", png],
            concurrency=2,
            on_progress=lambda done, total, result: progress.append(done),
        )
        assert [r.ok for r in results] == [True, True, False, True]
        assert isinstance(results[2].error, progimage.UnsupportedFormat)
        assert sorted(progress) == [1, 2, 3, 4]
        with pytest.raises(progimage.UnsupportedFormat):
            await client.upload_many([b"nope"], raise_on_error=True)


async def test_list_and_pages(api: str, jpeg: bytes) -> None:
    async with client_for(api) as client:
        ids = [(await client.upload(jpeg)).id for _ in range(3)]
        listed = [record.id async for record in client.list(page_size=1, limit=3)]
        assert listed == ids[::-1]
        page = await client.list_page(limit=2)
        assert [r.id for r in page.images] == ids[:0:-1] and page.next_cursor


async def test_transform_every_source(api: str, png: bytes, scripted: Scripted) -> None:
    scripted.script(Reply(200, png, {"Content-Type": "image/png"}))
    async with client_for(api) as client:
        stored = await client.upload(png)
        variant = await client.transform(stored.id, "thumbnail:14", format="png")
        assert decode(variant).size == (14, 14)
        created = await client.transform(stored, Pipeline().sepia().format("jpg"), store=True)
        assert created.format == "jpeg"
        inline = await client.transform(png, Pipeline().thumbnail(9).format("webp"))
        assert decode(inline).size == (9, 9)
        remote = await client.transform(f"{scripted.url}/a.png", "thumbnail:7.png")
        assert decode(remote).size == (7, 7)
        with pytest.raises(progimage.InvalidOperation):
            await client.transform(png, "blur:0")


async def test_batch_jobs_and_fetch(api: str, png: bytes) -> None:
    async with client_for(api) as client:
        stored = await client.upload(png)
        results = await client.batch([Item(stored.id, "thumbnail:6.png"), Item(stored.id, "nope")])
        assert [r.status for r in results] == [200, 400]
        assert decode(await client.fetch(results[0].url or "")).size == (6, 6)
        job = await client.submit_job([Item(stored.id, f"thumbnail:{n}.png") for n in (5, 6, 7)])
        seen: list[int] = []
        done = await client.wait_for_job(
            job.job_id,
            timeout=60,
            poll_interval=0.2,
            on_progress=lambda j: seen.append(j.completed),
        )
        assert done.done and done.succeeded == 3 and seen[-1] == 3
        assert (await client.job(job.job_id)).done
        indexes = [r.index async for r in client.job_results(job, page_size=1)]
        assert indexes == [0, 1, 2]


async def test_urls(api: str, png: bytes) -> None:
    async with client_for(api) as client:
        stored = await client.upload(png)
        url = client.signed_url(stored.id, "thumbnail:11.png", expires_in=30)
        async with httpx.AsyncClient() as http:
            answer = await http.get(url)
        assert decode(answer.content).size == (11, 11)
        assert client.url(stored.id).startswith(api)


async def test_retries_and_connection_errors(scripted: Scripted) -> None:
    scripted.script(
        Reply(
            503, {"error": {"code": "service_unavailable", "message": "busy"}}, {"Retry-After": "0"}
        ),
        Reply(200, {"images": [], "next_cursor": None}),
    )
    async with AsyncProgImage(scripted.url, backoff_factor=0.01) as client:
        assert [r async for r in client.list()] == []
    assert len(scripted.received) == 2
    scripted.stop()
    async with AsyncProgImage(scripted.url, max_retries=1, backoff_factor=0.01) as client:
        with pytest.raises(progimage.TransportError, match="after 2 attempts"):
            await client.info("0Ojp8iUHJrV2bQ4mJmGpV1rNY")


async def test_concurrent_calls_share_one_client(api: str, jpeg: bytes) -> None:
    async with client_for(api) as client:
        records = await asyncio.gather(*(client.upload(jpeg) for _ in range(5)))
        assert len({r.id for r in records}) == 5

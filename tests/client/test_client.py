"""Every method of the synchronous client, over HTTP against the local server (no mocks)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import progimage
import pytest
from progimage import Item, Pipeline, ProgImage
from progimage.signing import sign_path

from tests.client.conftest import API_KEY, SIGNING_KEY, Reply, Scripted
from tests.images import decode, sample

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(api: str) -> Iterator[ProgImage]:
    with ProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        yield client


@pytest.fixture
def stored(client: ProgImage, png: bytes) -> progimage.ImageRecord:
    return client.upload(png)


# --- upload -----------------------------------------------------------------------------------


def test_upload_bytes(client: ProgImage, png: bytes) -> None:
    record = client.upload(png)
    assert record.ready and record.format == "png" and (record.width, record.height) == (128, 128)
    assert record.bytes == len(png) and record.content_type == "image/png"
    assert record.created_at is not None and record.created_at.tzinfo is not None
    assert record.to_dict()["id"] == record.id


def test_upload_a_path_a_str_path_and_a_file(
    client: ProgImage, tmp_path: Path, jpeg: bytes
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg)
    by_path = client.upload(path)
    by_str = client.upload(str(path))
    with path.open("rb") as file:
        by_file = client.upload(file)
    by_buffer = client.upload(io.BytesIO(jpeg))
    assert {r.sha256 for r in (by_path, by_str, by_file, by_buffer)} == {by_path.sha256}
    assert len({r.id for r in (by_path, by_str, by_file, by_buffer)}) == 4


def test_upload_a_file_opened_in_text_mode_is_refused(client: ProgImage, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    with path.open() as text, pytest.raises(TypeError, match="binary mode"):
        client.upload(text)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path, bytes"):
        client.upload(12345)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        client.upload(tmp_path / "missing.png")


def test_upload_with_the_same_idempotency_key_stores_once(client: ProgImage, jpeg: bytes) -> None:
    first = client.upload(jpeg, idempotency_key="client-test-same-key")
    again = client.upload(jpeg, idempotency_key="client-test-same-key")
    assert again.id == first.id


def test_upload_large_files_through_presigned_urls(api: str, png: bytes) -> None:
    options = {"api_key": API_KEY, "signing_key": SIGNING_KEY, "presign_threshold": 10_000}
    with ProgImage(api, **options) as client:
        record = client.upload(png)  # 30 kB > 10 kB: presigned, then ingested by the queue
        assert record.ready and record.sha256 == client.info(record.id).sha256
        assert client.get(record.id) == png
        small = client.upload(sample("formats/hopper.jpg"))  # under the threshold: direct
        assert small.ready and small.format == "jpeg"


def test_upload_presigned_without_waiting(client: ProgImage, png: bytes) -> None:
    record = client.upload(png, presigned=True, wait=False)
    assert record.status == "pending"
    deadline = time.monotonic() + 30
    while client.info(record.id).status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.info(record.id).ready


def test_a_presigned_upload_the_server_rejects(client: ProgImage) -> None:
    junk = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100  # a PNG signature and nothing valid after it
    with pytest.raises(progimage.UploadRejected) as caught:
        client.upload(junk, presigned=True)
    rejected = caught.value
    assert isinstance(rejected, progimage.InvalidImage)
    assert client.info(rejected.image_id).status == "rejected"
    assert rejected.message == client.info(rejected.image_id).reason


def test_presigned_needs_a_known_type(client: ProgImage) -> None:
    with pytest.raises(ValueError, match="content_type"):
        client.upload(b"what is this", presigned=True)


def test_upload_from_a_url(client: ProgImage, scripted: Scripted, png: bytes) -> None:
    scripted.script(Reply(200, png, {"Content-Type": "image/png"}))
    record = client.upload(f"{scripted.url}/photo.png")
    assert record.ready and record.sha256 == client.upload(png).sha256
    assert scripted.received[0].path == "/photo.png"
    with pytest.raises(progimage.UrlNotAllowed):
        client.upload("http://169.254.169.254/latest/meta-data/")


def test_upload_many_with_progress(client: ProgImage, tmp_path: Path, png: bytes) -> None:
    paths = []
    for index in range(5):
        path = tmp_path / f"image-{index}.png"
        path.write_bytes(png)
        paths.append(path)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    sources = [*paths, bad, tmp_path / "missing.png", sample("formats/hopper.webp")]
    calls: list[tuple[int, int]] = []
    results = client.upload_many(
        sources, concurrency=4, on_progress=lambda done, total, _: calls.append((done, total))
    )
    assert [r.index for r in results] == list(range(8))
    assert [r.ok for r in results] == [True] * 5 + [False, False, True]
    assert isinstance(results[5].error, progimage.UnsupportedFormat)
    assert isinstance(results[6].error, FileNotFoundError)
    assert results[0].source == str(paths[0]) and results[7].source.startswith("<")
    assert sorted(calls) == [(n, 8) for n in range(1, 9)]
    assert results[7].raise_for_error().format == "webp"
    assert results[5].to_dict()["error"]["code"] == "unsupported_format"
    with pytest.raises(progimage.UnsupportedFormat):
        client.upload_many([bad, paths[0]], raise_on_error=True)


# --- read ------------------------------------------------------------------------------------


def test_get_original_follows_the_redirect_to_storage(
    client: ProgImage, stored, png: bytes
) -> None:
    assert client.get(stored.id) == png  # 30 kB: over the inline limit, a 307 to storage


def test_get_formats_and_variants(client: ProgImage, stored) -> None:
    assert decode(client.get(stored.id, format="webp")).format == "WEBP"
    assert decode(client.get(stored.id, "webp")).format == "WEBP"
    thumb = decode(client.get(stored.id, Pipeline().thumbnail(32).grayscale().format("png")))
    assert (thumb.format, thumb.size, thumb.mode) == ("PNG", (32, 32), "L")
    assert decode(client.get(stored.id, "resize:64:32:fill.jpg")).size == (64, 32)
    assert decode(client.get(stored.id, "thumbnail:16", format="gif")).format == "GIF"


def test_download(client: ProgImage, stored, tmp_path: Path, png: bytes) -> None:
    original = client.download(stored.id, tmp_path / "same")
    assert original.read_bytes() == png
    webp = client.download(stored.id, tmp_path / "out.webp")
    assert decode(webp.read_bytes()).format == "WEBP"
    thumb = client.download(stored.id, str(tmp_path / "t.png"), Pipeline().thumbnail(20))
    assert decode(thumb.read_bytes()).size == (20, 20) and thumb.suffix == ".png"
    explicit = client.download(stored.id, tmp_path / "x.png", format="jpg")
    assert explicit.read_bytes()[:3] == b"\xff\xd8\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webp", "same", "t.png", "x.png"]


def test_info(client: ProgImage, stored) -> None:
    record = client.info(stored.id)
    assert record == stored
    assert record.sha256 and record.frames == 1


def test_list_iterates_every_page(client: ProgImage, jpeg: bytes) -> None:
    ids = [client.upload(jpeg).id for _ in range(3)]
    newest_first = [record.id for record in client.list(page_size=1, limit=3)]
    assert newest_first == ids[::-1]
    everything = [record.id for record in client.list(page_size=2)]
    assert everything[:3] == ids[::-1] and len(everything) == len(set(everything))
    page = client.list_page(limit=1)
    assert len(page.images) == 1 and page.next_cursor
    second = client.list_page(limit=1, cursor=page.next_cursor)
    assert second.images[0].id == ids[-2]


def test_delete(client: ProgImage, jpeg: bytes) -> None:
    record = client.upload(jpeg)
    client.get(record.id, "thumbnail:8.png")
    client.delete(record.id)
    with pytest.raises(progimage.NotFound):
        client.info(record.id)
    with pytest.raises(progimage.NotFound):
        client.delete(record.id)


# --- transform -------------------------------------------------------------------------------


def test_transform_a_stored_image(client: ProgImage, stored) -> None:
    data = client.transform(stored.id, Pipeline().resize(40, 20, fit="stretch").format("webp"))
    assert decode(data).size == (40, 20)
    again = client.transform(stored, "resize:40:20:stretch", format="webp")  # a record works too
    assert again == data  # the same cached variant


def test_transform_and_store(client: ProgImage, stored) -> None:
    record = client.transform(stored.id, Pipeline().thumbnail(50).format("jpg"), store=True)
    assert record.ready and record.format == "jpeg" and record.width == 50
    assert record.id != stored.id


def test_transform_local_bytes_paths_and_files(
    client: ProgImage, png: bytes, tmp_path: Path
) -> None:
    from_bytes = client.transform(png, Pipeline().thumbnail(24).format("webp"))
    assert decode(from_bytes).size == (24, 24)
    path = tmp_path / "in.png"
    path.write_bytes(png)
    assert decode(client.transform(path, "rotate:90/thumbnail:10.png")).size == (10, 10)
    with path.open("rb") as file:
        stored = client.transform(file, "grayscale", store=True)
    assert stored.ready and stored.format == "png"


def test_transform_a_url(client: ProgImage, scripted: Scripted, png: bytes) -> None:
    scripted.script(Reply(200, png, {"Content-Type": "image/png"}))
    data = client.transform(f"{scripted.url}/photo.png", "thumbnail:12", format="png")
    assert decode(data).size == (12, 12)
    stored = client.transform(f"{scripted.url}/photo.png", "sepia", format="webp", store=True)
    assert stored.format == "webp"
    assert scripted.received[0].path == "/photo.png"


def test_transform_refuses_a_str_that_is_a_path(client: ProgImage) -> None:
    with pytest.raises(ValueError, match=r"pathlib\.Path"):
        client.transform("photos/cat.jpg", "grayscale")


# --- batches and jobs -------------------------------------------------------------------------


def test_batch(client: ProgImage, stored, jpeg: bytes, scripted: Scripted) -> None:
    scripted.script(Reply(200, jpeg, {"Content-Type": "image/jpeg"}))
    results = client.batch(
        [
            Item(stored.id, Pipeline().thumbnail(16).format("png")),
            Item(jpeg, "grayscale", format="webp"),
            Item(f"{scripted.url}/x.jpg", "thumbnail:8", store=True),
            {"source": {"id": stored.id}, "ops": "blur:0"},
            Item("0Ojp8iUHJrV2bQ4mJmGpV1rNY", "grayscale"),
        ]
    )
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.status for r in results] == [200, 200, 201, 400, 404]
    variant, inline, created, invalid, missing = results
    # The server signs the variant paths it hands out when signatures are required, for a day.
    path = f"/images/{stored.id}/thumbnail:16.png"
    assert variant.url.startswith(f"{client.base_url}{path}?exp=")
    expires = int(variant.url.split("exp=")[1].split("&")[0])
    assert 86_000 < expires - time.time() <= 86_400
    assert variant.url.endswith(sign_path(path, SIGNING_KEY, expires).split("?", 1)[1])
    assert decode(httpx.get(variant.url).content).size == (16, 16)
    assert decode(client.fetch(variant.url)).size == (16, 16)
    assert inline.url is not None and decode(client.fetch(inline.url)).format == "WEBP"
    assert created.image is not None and created.image.width == 8
    assert isinstance(invalid.error, progimage.InvalidOperation) and invalid.error.param == "ops[0]"
    assert isinstance(missing.error, progimage.NotFound) and not missing.ok
    with pytest.raises(progimage.InvalidOperation):
        invalid.raise_for_error()
    assert variant.raise_for_error() is variant
    with pytest.raises(TypeError, match="batch item"):
        client.batch([42])  # type: ignore[list-item]


def test_jobs_submit_wait_and_results(client: ProgImage, stored) -> None:
    items = [Item(stored.id, f"thumbnail:{size}", format="png") for size in range(8, 13)]
    items.append(Item(stored.id, "blur:0"))
    job = client.submit_job(items)
    assert job.total == 6 and job.status in ("queued", "running", "done") and job.job_id
    progress: list[progimage.Job] = []
    done = client.wait_for_job(job, timeout=60, poll_interval=0.2, on_progress=progress.append)
    assert done.done and (done.succeeded, done.failed) == (5, 1) and done.progress == 1.0
    assert progress and progress[-1].done
    assert [p.completed for p in progress] == sorted(p.completed for p in progress)
    results = list(client.job_results(job.job_id, page_size=2))
    assert [r.index for r in results] == list(range(6))
    assert decode(client.fetch(results[0].url or "")).size == (8, 8)
    assert isinstance(results[5].error, progimage.InvalidOperation)
    page = client.job(job.job_id, limit=2)
    assert len(page.results) == 2 and page.next_cursor
    assert client.job(job.job_id, limit=2, cursor=page.next_cursor).results[0].index == 2
    assert done.to_dict()["results"][0]["url"].startswith("http")


def test_a_job_id_that_does_not_exist(client: ProgImage) -> None:
    with pytest.raises(progimage.NotFound):
        client.job("0Ojp8iUHJrV2bQ4mJmGpV1rNY")
    with pytest.raises(ValueError, match="job id"):
        client.job("../images")


def test_wait_for_job_gives_up(scripted: Scripted) -> None:
    running = {"job_id": "j" * 25, "status": "running", "total": 3, "succeeded": 1, "failed": 0}
    scripted.script(Reply(200, running))
    with ProgImage(scripted.url) as client, pytest.raises(progimage.WaitTimeout, match="1 of 3"):
        client.wait_for_job("j" * 25, timeout=0.3, poll_interval=0.05)


# --- signed URLs ---------------------------------------------------------------------------


def test_signed_urls_open_in_any_http_client(client: ProgImage, stored) -> None:
    url = client.signed_url(stored.id, Pipeline().thumbnail(30).format("png"), expires_in=60)
    assert "?exp=" in url and "&sig=" in url
    answer = httpx.get(url, follow_redirects=True)
    assert answer.status_code == 200 and decode(answer.content).size == (30, 30)
    converted = httpx.get(client.signed_url(stored.id, "webp"), follow_redirects=True)
    assert converted.headers["content-type"] == "image/webp"
    assert client.url(stored.id, "thumbnail:30.png").startswith(f"{client.base_url}/images/")
    standalone = progimage.sign_url(client.base_url, stored.id, "thumbnail:30.png", key=SIGNING_KEY)
    assert httpx.get(standalone, follow_redirects=True).status_code == 200


def test_unsigned_tampered_and_expired_urls_are_forbidden(
    client: ProgImage, stored, api: str
) -> None:
    unsigned = httpx.get(f"{api}/images/{stored.id}/thumbnail:30.png")
    assert unsigned.status_code == 403 and unsigned.json()["error"]["code"] == "forbidden"
    url = client.signed_url(stored.id, "thumbnail:30.png")
    tampered = url.replace("thumbnail:30", "thumbnail:31")
    assert httpx.get(tampered).status_code == 403
    expired = progimage.sign_url(
        api, stored.id, "thumbnail:30.png", key=SIGNING_KEY, expires_at=int(time.time()) - 1
    )
    assert httpx.get(expired).status_code == 403
    with ProgImage(api) as unsigned_client, pytest.raises(progimage.Forbidden) as caught:
        unsigned_client.get(stored.id)
    assert caught.value.param == "sig" and caught.value.request_id
    with pytest.raises(ValueError, match="signing key"):
        unsigned_client.signed_url(stored.id)


# --- errors -------------------------------------------------------------------------------------


def test_not_found_carries_status_code_message_and_request_id(client: ProgImage) -> None:
    with pytest.raises(progimage.NotFound) as caught:
        client.info("0Ojp8iUHJrV2bQ4mJmGpV1rNY")
    error = caught.value
    assert (error.status, error.code, error.param) == (404, "not_found", "id")
    assert "0Ojp8iUHJrV2bQ4mJmGpV1rNY" in error.message and error.request_id
    assert f"[request id {error.request_id}]" in str(error)
    assert isinstance(error, progimage.APIError) and isinstance(error, progimage.ProgImageError)


def test_invalid_operation_names_the_parameter(client: ProgImage, stored) -> None:
    with pytest.raises(progimage.InvalidOperation) as caught:
        client.get(stored.id, "thumbnail:16/blur:0")
    assert caught.value.param == "ops[1]" and "usage: blur:SIGMA" in caught.value.message
    assert isinstance(caught.value, progimage.BadRequest)


def test_unsupported_and_invalid_images(client: ProgImage) -> None:
    with pytest.raises(progimage.UnsupportedFormat) as caught:
        client.upload(b"just some text")
    assert caught.value.status == 415 and isinstance(caught.value, progimage.UnsupportedMediaType)
    with pytest.raises(progimage.UnsupportedMediaType) as broken:
        client.upload(sample("bad/broken.png"))
    assert broken.value.status == 415


def test_too_large_and_unprocessable(client: ProgImage, stored, png: bytes) -> None:
    with pytest.raises(progimage.TooLarge) as caught:
        client.transform(png, "rotate:1", format="png")  # larger than the inline limit
    assert caught.value.status == 413 and caught.value.param == "store"
    with pytest.raises(progimage.Unprocessable):
        client.get(stored.id, "crop:500:500:10:10.png")


def test_everything_but_image_bytes_needs_the_api_key(api: str, stored, jpeg: bytes) -> None:
    with ProgImage(api, signing_key=SIGNING_KEY) as anonymous:
        assert anonymous.get(stored.id) == anonymous.get(stored.id)  # image bytes are open
        calls = [
            lambda: anonymous.upload(jpeg),
            lambda: anonymous.info(stored.id),
            lambda: list(anonymous.list(limit=1)),
            lambda: anonymous.job(stored.id),
            lambda: anonymous.delete(stored.id),
        ]
        for call in calls:
            with pytest.raises(progimage.Unauthorized) as missing:
                call()
            assert missing.value.status == 401
    with ProgImage(api, api_key="wrong", signing_key=SIGNING_KEY) as wrong:
        with pytest.raises(progimage.Forbidden) as refused:
            wrong.delete(stored.id)
        assert refused.value.status == 403
        with pytest.raises(progimage.Forbidden):
            wrong.info(stored.id)
    with ProgImage(api, api_key=API_KEY) as owner:
        assert owner.info(stored.id).ready  # nothing was deleted

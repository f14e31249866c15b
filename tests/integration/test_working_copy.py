"""The reduced working copy: made at upload, used for variants that fit inside it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageFilter

from get.app import handler as get_handler
from progimage_service.adapters.s3 import StoredObject
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import parse_path
from progimage_service.imaging.render import render
from progimage_service.wiring import dependencies
from tests.images import decode, encode, psnr, sample
from tests.integration.conftest import Aws, call, event, with_body
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler


def photo(width: int, height: int, progressive: bool) -> bytes:
    """A photo-like JPEG: a real photograph enlarged, with fine texture so it compresses
    like one."""
    base = decode(sample("exif-orientation/Landscape_1.jpg")).resize((width, height))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    textured = Image.blend(base, noise, 0.08).filter(ImageFilter.SHARPEN)
    buffer = io.BytesIO()
    textured.save(buffer, "JPEG", quality=90, progressive=progressive)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def large_progressive() -> bytes:
    return photo(4000, 3000, progressive=True)


def upload(data: bytes) -> dict[str, Any]:
    answer = call(upload_handler, with_body(event("post-images-raw"), data, "image/jpeg"))
    assert answer.status == 201, answer.body
    return answer.json()


def variant(image_id: str, pipeline: str, **headers: str) -> Any:
    request = event("get-variant", id=image_id, headers=headers)
    request["pathParameters"]["pipeline"] = pipeline
    return call(transform_handler, request)


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record which objects the functions read the bytes of (one opened and closed unread,
    such as a working copy a miss opens beside the record but cannot use, is not read)."""
    real_read = StoredObject.read
    keys: list[str] = []

    def read(self: StoredObject) -> bytes:
        keys.append(self.key)
        return real_read(self)

    monkeypatch.setattr(StoredObject, "read", read)
    return keys


def test_variants_that_fit_come_from_the_working_copy_without_visible_loss(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, large_progressive: bytes
) -> None:
    record = upload(large_progressive)
    image_id = record["id"]
    small, large = f"work/{image_id}-1024", f"work/{image_id}"
    assert aws.object_keys(f"work/{image_id}") == [large, small]
    assert "work_format" not in record and "work_smallest" not in record

    keys = reads(monkeypatch)
    # The contract's bar is 40 dB. The pixels a pipeline produces (lossless output) clear it
    # with room to spare against the same variant made from the original. Reductions to half
    # the 1024 px copy or less, over a picture of any shape from 2:1 to 1:2, read it; the
    # others the 2048 px copy.
    for pipeline, read in (
        ("thumbnail:256.png", small),
        ("thumbnail:512.png", small),
        ("resize:256:0.png", small),
        ("resize:512:0.png", large),  # 1024 px high, were the picture 1:2
        ("resize:1024:0.png", large),
        ("resize:256:256:fill/sepia.png", small),
        ("resize:500:500:fill/sepia.png", large),
    ):
        keys.clear()
        answer = variant(image_id, pipeline)
        assert answer.status == 200
        assert keys == [read], pipeline
        from_copy = decode(answer.body)
        from_original = decode(render(large_progressive, parse_path(pipeline), Limits()).data)
        assert from_copy.size == from_original.size, pipeline
        assert psnr(from_copy, from_original) >= 42, pipeline

    # As JPEG, both sides carry the encoder's own noise (they differ by 39 dB), so the thumbnail
    # is measured against the ideal one instead: every pixel decoded, a Lanczos reduction, the
    # same encoder. The one made from the working copy is as close to it as the one made from
    # the original (both decode their JPEG at a reduced scale).
    keys.clear()
    from_copy = decode(variant(image_id, "thumbnail:256.jpg").body)
    assert keys == [small]
    reduced = decode(large_progressive).resize(from_copy.size, Image.Resampling.LANCZOS)
    ideal = decode(encode(reduced, "JPEG", quality=85))
    thumbnail = parse_path("thumbnail:256.jpg")
    from_original = decode(render(large_progressive, thumbnail, Limits()).data)
    assert psnr(from_copy, ideal) >= psnr(from_original, ideal) - 0.5

    keys.clear()
    thumbnail = variant(image_id, "thumbnail:256")  # no extension: the source's format
    assert decode(thumbnail.body).format == "JPEG"


def test_variants_that_need_the_original_read_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, large_progressive: bytes
) -> None:
    image_id = upload(large_progressive)["id"]
    keys = reads(monkeypatch)
    for pipeline in ("crop:0:0:300:200.png", "resize:3000:0.jpg", "blur:2/thumbnail:100.jpg"):
        keys.clear()
        assert variant(image_id, pipeline).status == 200
        assert keys == [f"originals/{image_id}"], pipeline
    keys.clear()
    request = event("get-image-webp", id=image_id)
    assert call(get_handler, request).status == 200
    assert keys == [f"originals/{image_id}"]


def test_small_and_animated_images_have_no_working_copy(aws: Aws) -> None:
    upload(sample("formats/hopper.jpg"))
    upload(sample("formats/dispose_bgnd_rgba.gif"))
    assert not aws.object_keys("work/")


def test_delete_and_failed_uploads_leave_no_working_copy(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = photo(2400, 1600, progressive=False)
    image_id = upload(data)["id"]
    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert not aws.object_keys()

    from botocore.exceptions import ClientError

    def throttled(**request: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "PutItem")

    monkeypatch.setattr(dependencies().catalog.db, "put_item", throttled)
    answer = call(upload_handler, with_body(event("post-images-raw"), data, "image/jpeg"))
    assert answer.status == 503
    assert not aws.object_keys()


def stored_before_the_smaller_copy(aws: Aws, image_id: str) -> None:
    """Make a stored image look as one stored before the 1024 px copy: no copy, no mark."""
    aws.s3.delete_object(Bucket=aws.bucket, Key=f"work/{image_id}-1024")
    key = {"pk": {"S": f"IMG#{image_id}"}, "sk": {"S": "META"}}
    aws.dynamodb.update_item(TableName=aws.table, Key=key, UpdateExpression="REMOVE work_smallest")


def test_an_image_stored_before_the_smaller_copy_is_served_from_its_copy(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = upload(photo(2400, 1600, progressive=False))["id"]
    stored_before_the_smaller_copy(aws, image_id)
    keys = reads(monkeypatch)
    assert variant(image_id, "thumbnail:128.png").status == 200
    assert keys == [f"work/{image_id}"]
    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert not aws.object_keys()


def test_a_copy_stored_under_its_former_key_is_still_read_and_deleted(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Working copies stored while their key named the format (work/{id}.jpg) keep serving."""
    image_id = upload(photo(2400, 1600, progressive=False))["id"]
    stored_before_the_smaller_copy(aws, image_id)
    former = f"work/{image_id}.jpg"
    source = {"Bucket": aws.bucket, "Key": f"work/{image_id}"}
    aws.s3.copy_object(Bucket=aws.bucket, Key=former, CopySource=source)
    aws.s3.delete_object(**source)
    keys = reads(monkeypatch)
    assert variant(image_id, "thumbnail:128.png").status == 200
    assert keys == [former]
    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert not aws.object_keys()


def test_a_missing_working_copy_is_made_again_as_the_upload_made_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = upload(photo(2400, 1600, progressive=False))["id"]
    copies = aws.object_keys(f"work/{image_id}")
    before = {k: aws.s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read() for k in copies}
    for key in copies:
        aws.s3.delete_object(Bucket=aws.bucket, Key=key)
    keys = reads(monkeypatch)
    assert variant(image_id, "thumbnail:128.png").status == 200
    assert keys == [f"originals/{image_id}"]
    after = {k: aws.s3.get_object(Bucket=aws.bucket, Key=k)["Body"].read() for k in copies}
    assert after == before


def test_copies_made_again_for_an_image_deleted_meanwhile_go_with_it(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id = upload(photo(2400, 1600, progressive=False))["id"]
    for key in aws.object_keys(f"work/{image_id}"):
        aws.s3.delete_object(Bucket=aws.bucket, Key=key)
    store = dependencies().store
    real_put = store.put

    def put_then_deleted(key: str, *args: Any, **kwargs: Any) -> str | None:
        etag = real_put(key, *args, **kwargs)
        if key == f"work/{image_id}-1024":  # a DELETE lands after the first copy is written
            assert call(get_handler, event("delete-image", id=image_id)).status == 204
        return etag

    monkeypatch.setattr(store, "put", put_then_deleted)
    assert variant(image_id, "thumbnail:128.png").status == 404
    assert aws.object_keys() == []

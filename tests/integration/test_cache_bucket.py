"""A cache bucket of its own (CacheBucket=express): variants and their refs/ markers are read
and written there, everything else in the images bucket, and every path keeps working: a miss,
a hit, the 307 to a presigned URL, a lost conditional write, and deletes that leave nothing in
either bucket.

moto cannot emulate an S3 Express One Zone directory bucket: botocore sends CreateBucket for a
``--x-s3`` name to the zonal control endpoint and opens a CreateSession before each request,
and moto answers both NoSuchBucket. The cache bucket here is a second ordinary bucket; what
differs in a directory bucket (session auth, listing only prefixes that end in "/", random
ETags) is covered by the routing only naming such prefixes and by botocore.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from get.app import handler as get_handler
from progimage_service.adapters.s3 import RoutedStore
from progimage_service.storage_layout import is_cache_key
from progimage_service.wiring import dependencies
from tests.images import sample
from tests.integration.conftest import Aws, call, event
from tests.integration.test_working_copy import photo, upload, variant
from upload.app import handler as upload_handler

CACHE = "progimage-test-cache"
PNG = sample("formats/hopper.png")


@pytest.fixture
def cache(aws: Aws, configure: Any) -> Aws:
    """The moto account with a cache bucket configured beside the images bucket."""
    aws.s3.create_bucket(Bucket=CACHE)
    configure(PROGIMAGE_CACHE_BUCKET=CACHE)
    return Aws(CACHE, aws.table)


def stored(data: bytes = PNG) -> str:
    request = event("post-images-raw") | {"body": base64.b64encode(data).decode()}
    answer = call(upload_handler, request)
    assert answer.status == 201, answer.body
    return answer.json()["id"]


def test_the_store_routes_cache_keys_to_the_cache_bucket(aws: Aws, cache: Aws) -> None:
    store = dependencies().store
    assert isinstance(store, RoutedStore)
    assert (store.regional.bucket, store.cache.bucket) == (aws.bucket, CACHE)
    for key in ("variants/x/thumbnail:32.png", "refs/x/", "work/x", "work/x-1024"):
        assert is_cache_key(key), key
    for key in ("originals/x", "uploads/x", "results/b/00000.png"):
        assert not is_cache_key(key), key


def test_a_miss_a_hit_and_a_delete_use_the_cache_bucket(aws: Aws, cache: Aws) -> None:
    image_id = stored()
    assert aws.object_keys(f"originals/{image_id}") and not cache.object_keys("originals/")

    miss = variant(image_id, "thumbnail:32.png")
    assert miss.status == 200
    assert len(cache.object_keys(f"variants/{image_id}/")) == 1
    assert aws.object_keys("variants/") == []
    hit = variant(image_id, "thumbnail:32.png")
    assert (hit.status, hit.body, hit.headers["ETag"]) == (200, miss.body, miss.headers["ETag"])
    assert (
        variant(image_id, "thumbnail:32.png", **{"if-none-match": hit.headers["ETag"]}).status
        == 304
    )

    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert cache.object_keys() == [] and aws.object_keys() == []
    assert variant(image_id, "thumbnail:32.png").status == 404


def test_a_large_variant_redirects_to_the_cache_bucket(
    aws: Aws, cache: Aws, configure: Any
) -> None:
    image_id = stored()
    expected = variant(image_id, "thumbnail:40.png").body  # inline, then cached
    configure(PROGIMAGE_INLINE_MAX_BYTES="10")
    for _ in ("written", "read"):  # the miss answers what it wrote, a hit what it read
        answer = variant(image_id, "thumbnail:40.png")
        assert answer.status == 307
        location = answer.headers["Location"]
        assert CACHE in location and f"variants/{image_id}/" in location
        assert requests.get(location, timeout=10).content == expected
        cache.s3.delete_object(Bucket=CACHE, Key=cache.object_keys(f"variants/{image_id}/")[0])


def test_markers_stay_with_the_variants_and_a_delete_takes_them(aws: Aws, cache: Aws) -> None:
    base, mark = stored(), stored(sample("formats/hopper.jpg"))
    assert variant(base, f"watermark:{mark}.png").status == 200
    assert len(cache.object_keys(f"refs/{mark}/")) == 1 and aws.object_keys("refs/") == []

    assert call(get_handler, event("delete-image", id=mark)).status == 204
    assert cache.object_keys("refs/") == [] and cache.object_keys(f"variants/{base}/") == []
    assert variant(base, f"watermark:{mark}.png").status == 404


def test_a_delete_also_takes_what_the_images_bucket_cached_before(aws: Aws, configure: Any) -> None:
    """Variants and markers written before the cache bucket was configured go with their
    image: deletes of cache keys reach both buckets."""
    base, mark = stored(), stored(sample("formats/hopper.jpg"))
    assert variant(base, f"watermark:{mark}.png").status == 200
    assert variant(mark, "thumbnail:16.png").status == 200
    assert len(aws.object_keys("variants/")) == 2 and len(aws.object_keys("refs/")) == 1
    aws.s3.create_bucket(Bucket=CACHE)
    configure(PROGIMAGE_CACHE_BUCKET=CACHE)

    assert call(get_handler, event("delete-image", id=mark)).status == 204
    assert aws.object_keys("variants/") == [] and aws.object_keys("refs/") == []


def test_a_conditional_write_to_the_cache_bucket_loses_to_an_existing_one(cache: Aws) -> None:
    store = dependencies().store
    key = "variants/x/thumbnail:32.png"
    etag = store.put(key, b"first", "image/png", only_if_new=True, metadata={"tenant": "t"})
    assert etag is not None
    assert store.put(key, b"second", "image/png", only_if_new=True) is None
    obj = store.get(key)
    assert obj is not None and (obj.read(), obj.etag, obj.metadata) == (
        b"first",
        etag,
        {"tenant": "t"},
    )
    assert store.exists(key) and cache.object_keys("variants/") == [key]


def test_working_copies_live_in_the_cache_bucket_and_are_made_again_when_missing(
    aws: Aws, cache: Aws
) -> None:
    """An image stored before the cache bucket was configured has its copies in the images
    bucket: the first miss that needs one makes it again in the cache bucket, and a delete
    removes both."""
    image_id = upload(photo(2400, 1600, progressive=False))["id"]
    copies = sorted(cache.object_keys("work/"))
    assert copies == [f"work/{image_id}", f"work/{image_id}-1024"]
    assert aws.object_keys("work/") == []
    before = {k: cache.s3.get_object(Bucket=CACHE, Key=k)["Body"].read() for k in copies}
    for key in copies:  # as if stored before: in the images bucket
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=before[key])
        cache.s3.delete_object(Bucket=CACHE, Key=key)

    assert variant(image_id, "thumbnail:64.png").status == 200
    after = {k: cache.s3.get_object(Bucket=CACHE, Key=k)["Body"].read() for k in copies}
    assert after == before  # made again, byte for byte as the upload made them
    assert call(get_handler, event("delete-image", id=image_id)).status == 204
    assert aws.object_keys() == [] and cache.object_keys() == []

"""Concurrency through the local server: many uploads and identical transforms at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests

from localserver import LocalServer
from tests.images import decode, sample

pytestmark = pytest.mark.e2e


def stored_keys(server: LocalServer, prefix: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=server.s3_endpoint)
    bucket = server.environment["PROGIMAGE_BUCKET"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_a_hundred_concurrent_uploads_leave_exactly_the_right_records_and_objects(
    server: LocalServer,
) -> None:
    images = [sample("formats/hopper.jpg"), sample("formats/hopper.png"), b"not an image"]

    def upload(index: int) -> requests.Response:
        headers = {"Idempotency-Key": f"concurrent-{index}"}
        return requests.post(
            f"{server.url}/images", data=images[index % 3], headers=headers, timeout=60
        )

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(upload, range(100)))
    created = [a.json()["id"] for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 415]
    assert len(created) == 67 and len(refused) == 33
    assert len(set(created)) == 67
    listed = requests.get(f"{server.url}/images", params={"limit": 100}, timeout=30).json()
    assert set(created) <= {image["id"] for image in listed["images"]}
    originals = {key.removeprefix("originals/") for key in stored_keys(server, "originals/")}
    assert set(created) <= originals
    # A retry of each with its key changes nothing.
    with ThreadPoolExecutor(16) as pool:
        again = list(pool.map(upload, range(100)))
    assert [a.status_code for a in again] == [a.status_code for a in answers]
    assert {a.json()["id"] for a in again if a.status_code == 201} == set(created)
    after = {key.removeprefix("originals/") for key in stored_keys(server, "originals/")}
    assert after == originals


def test_twenty_concurrent_identical_transforms_make_one_variant(server: LocalServer) -> None:
    created = requests.post(
        f"{server.url}/images",
        data=sample("exif-orientation/Landscape_3.jpg"),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    ).json()
    path = f"{server.url}/images/{created['id']}/resize:640:480:fill/sepia/sharpen.webp"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: requests.get(path, timeout=120), range(20)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["ETag"] for a in answers}) == 1  # all served the one stored object
    assert len({a.content for a in answers}) == 1
    assert decode(answers[0].content).size == (640, 480)
    assert len(stored_keys(server, f"variants/{created['id']}/")) == 1

"""Two tenants and racing deletes, over HTTP against the local server with API keys enforced."""

from __future__ import annotations

import io
import threading
from typing import Any

import boto3
import pytest
import requests
from PIL import Image

from localserver import LocalServer
from tests.images import sample

pytestmark = pytest.mark.e2e
ALPHA, BETA = "alpha-key-1", "beta-key-1"


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    """API keys enforced: two tenants, ``alpha`` and ``beta``."""
    return {"api_keys": [f"alpha:{ALPHA}", f"beta:{BETA}"]}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upload(server: LocalServer, key: str, data: bytes) -> str:
    answer = requests.post(f"{server.url}/images", data=data, headers=auth(key), timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def stored_keys(server: LocalServer, *prefixes: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=server.s3_endpoint)
    bucket = server.environment["PROGIMAGE_BUCKET"]
    keys = []
    for prefix in prefixes:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys += [item["Key"] for page in pages for item in page.get("Contents", [])]
    return keys


def noise(size: int) -> bytes:
    """A photo-like image large enough that a slow pipeline on it takes a while."""
    buffer = io.BytesIO()
    Image.effect_noise((size, size), 60).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_each_tenant_sees_only_its_own_images(server: LocalServer) -> None:
    mine = upload(server, ALPHA, sample("formats/hopper.png"))
    theirs = upload(server, BETA, sample("formats/hopper.jpg"))
    listed = requests.get(f"{server.url}/images", headers=auth(BETA), timeout=30).json()
    assert theirs in [i["id"] for i in listed["images"]] and mine not in str(listed)
    for method, path in (("GET", f"/images/{mine}/info"), ("DELETE", f"/images/{mine}")):
        answer = requests.request(method, server.url + path, headers=auth(BETA), timeout=30)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    anonymous = requests.get(f"{server.url}/images", timeout=30)
    assert anonymous.status_code == 401  # API Gateway's own refusal, before any function
    assert requests.get(f"{server.url}/images/{mine}", headers=auth(ALPHA), timeout=30).ok
    assert requests.get(f"{server.url}/images/{mine}/thumbnail:16.png", timeout=30).ok  # by URL
    head = requests.head(f"{server.url}/images/{mine}/info", headers=auth(ALPHA), timeout=30)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_a_delete_racing_a_render_leaves_nothing_served(server: LocalServer, delay: float) -> None:
    """The probe from the issue: a slow variant, and a DELETE shortly after it started."""
    image_id = upload(server, ALPHA, noise(2000))
    mark = upload(server, ALPHA, sample("formats/hopper.png"))
    paths = [
        f"/images/{image_id}/sharpen:2:5/rotate:13.avif",
        f"/images/{image_id}/watermark:{mark}.png",
    ]
    answers: dict[str, int] = {}

    def render(path: str) -> None:
        answers[path] = requests.get(server.url + path, timeout=120).status_code

    renders = [threading.Thread(target=render, args=(path,)) for path in paths]
    for thread in renders:
        thread.start()
    threading.Event().wait(delay)
    deleted = [
        requests.delete(f"{server.url}/images/{i}", headers=auth(ALPHA), timeout=60).status_code
        for i in (mark, image_id)
    ]
    for thread in renders:
        thread.join()
    assert deleted == [204, 204]
    assert set(answers.values()) <= {200, 404}
    for path in paths:
        assert requests.get(server.url + path, timeout=60).status_code == 404
    left = stored_keys(server, f"variants/{image_id}/", f"refs/{mark}/", f"originals/{image_id}")
    assert left == []

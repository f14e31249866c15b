"""Bulk paths over HTTP: presigned uploads straight to S3, and a 1,000-item job."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from localserver import LocalServer
from tests.images import decode, sample

pytestmark = pytest.mark.e2e


def wait_for(condition: Callable[[], bool], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_fifty_presigned_uploads_become_ready_with_no_further_call(server: LocalServer) -> None:
    api = server.url
    files = [sample("formats/hopper.jpg"), sample("formats/hopper.png"), b"not an image"]
    answer = requests.post(
        f"{api}/uploads", json={"count": 50, "content_type": "image/jpeg"}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    uploads = answer.json()["uploads"]
    assert len(uploads) == 50

    def post(index_upload: tuple[int, dict]) -> int:
        index, upload = index_upload
        data = files[index % len(files)]
        # What a browser form or any HTTP client does: the fields, then the file; no AWS keys.
        response = requests.post(
            upload["url"], data=upload["fields"], files={"file": ("f", data)}, timeout=30
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, enumerate(uploads)))
    assert all(200 <= status < 300 for status in statuses), statuses

    def info(upload: dict) -> dict:
        return requests.get(f"{api}/images/{upload['id']}/info", timeout=30).json()

    wait_for(lambda: all(info(u)["status"] != "pending" for u in uploads))
    records = [info(u) for u in uploads]
    expected = ["ready" if i % 3 != 2 else "rejected" for i in range(50)]
    assert [r["status"] for r in records] == expected
    ready = records[0]
    assert (ready["format"], ready["width"], ready["height"]) == ("jpeg", 128, 128)
    image = requests.get(f"{api}/images/{ready['id']}.png", timeout=30)
    assert decode(image.content).size == (128, 128)
    assert "reason" in records[2]


def test_a_thousand_item_job_runs_to_completion(server: LocalServer) -> None:
    api = server.url
    image = requests.post(
        f"{api}/images",
        data=sample("formats/hopper.jpg"),
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    ).json()
    items = [
        {"source": {"id": image["id"]}, "ops": f"thumbnail:{8 + i % 100}/rotate:{i % 4 * 90}"}
        for i in range(1000)
    ]
    items[500] = {"source": {"id": image["id"]}, "ops": "blur:0"}  # one bad item
    answer = requests.post(f"{api}/jobs", json={"items": items}, timeout=60)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]

    def job(limit: int) -> dict:
        return requests.get(f"{api}/jobs/{job_id}", params={"limit": limit}, timeout=30).json()

    # Polled with one result a page: the workers run in this process, and fetching all 1,000
    # results five times a second took their CPU.
    wait_for(lambda: job(1)["status"] == "done", timeout=1200)  # a guard against a hang only
    done = job(1000)
    assert (done["total"], done["succeeded"], done["failed"]) == (1000, 999, 1)
    results = done["results"]
    assert [r["index"] for r in results] == list(range(1000))
    assert results[500]["status"] == 400
    sample_result = results[7]
    assert sample_result["url"] == f"/images/{image['id']}/thumbnail:15/rotate:270"
    assert decode(requests.get(f"{api}{sample_result['url']}", timeout=30).content).size == (15, 15)

"""The storage calls of a variant miss and hit, as the handlers make them on moto.

A miss reads the variant (404), then the record and the working copy at once, writes the
variant and checks the record again; it answers the bytes it wrote with the write's ETag and
never reads the variant back, except when a concurrent request wrote it first. A hit is one
read. The calls are recorded with botocore's own events on the clients the service uses.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import pytest

from progimage_service.wiring import dependencies
from tests.integration.conftest import Aws, event
from tests.integration.test_working_copy import photo, reads, upload, variant

Call = tuple[str, str]  # (operation, what it names: a key, or "record")


class Calls:
    """The S3 and DynamoDB calls the service's clients make, in the order they were sent."""

    def __init__(self) -> None:
        self.sent: list[Call] = []
        self.hooks: dict[Call, Callable[[], None]] = {}  # run before the call, once
        deps = dependencies()
        self.bucket = deps.store.bucket
        for client in (deps.store.s3, deps.catalog.db):
            client.meta.events.register("before-call.*.*", self._before)  # (presigning: none)

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name == "dynamodb":
            name = "record" if b'"IMG#' in params["body"] else "other"
        else:  # the key, from the request's path (path-style or virtual-hosted)
            name = params["url_path"].split("?")[0].lstrip("/").removeprefix(f"{self.bucket}/")
        call_ = (model.name, name)
        self.sent.append(call_)
        hook = self.hooks.pop(call_, None)  # each runs once
        if hook is not None:
            hook()

    def clear(self) -> None:
        self.sent.clear()


def _stored(data: bytes) -> str:
    return upload(data)["id"]


@pytest.fixture
def calls(aws: Aws) -> Calls:
    return Calls()


def test_a_miss_reads_the_record_and_copy_at_once_and_never_reads_back(calls: Calls) -> None:
    image_id = _stored(photo(3000, 2000, progressive=False))  # gets working copies
    variants = f"variants/{image_id}/"
    work = f"work/{image_id}-1024"  # the smaller: it serves a thumbnail of any picture
    # The record's read and the copy's can only both pass this barrier if they are in flight
    # together: sent one after the other, the first would wait for the second and time out.
    together = threading.Barrier(2, timeout=20)
    calls.hooks[("GetItem", "record")] = together.wait
    calls.hooks[("GetObject", work)] = together.wait
    calls.clear()

    answer = variant(image_id, "thumbnail:64.webp")

    assert answer.status == 200 and answer.headers["ETag"]
    sent = calls.sent
    assert sent[0][0] == "GetObject" and sent[0][1].startswith(variants)  # the 404
    assert sorted(sent[1:3]) == [("GetItem", "record"), ("GetObject", work)]
    assert sent[3][0] == "PutObject" and sent[3][1] == sent[0][1]
    assert sent[4:] == [("GetItem", "record")]  # deleted meanwhile? then nothing more

    calls.hooks.clear()
    calls.clear()
    hit = variant(image_id, "thumbnail:64.webp", **{"if-none-match": '"x"'})
    assert calls.sent == [("GetObject", sent[0][1])]
    assert (hit.body, hit.headers["ETag"]) == (answer.body, answer.headers["ETag"])


def test_a_miss_that_loses_the_race_serves_the_winner(aws: Aws, calls: Calls) -> None:
    image_id = _stored(base64.b64decode(event("post-images-raw")["body"]))
    first = variant(image_id, "thumbnail:40.png")
    key = next(k for k in aws.object_keys(f"variants/{image_id}/"))
    winner = aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read()
    aws.s3.delete_object(Bucket=aws.bucket, Key=key)

    def someone_else_writes_first() -> None:
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=winner, Metadata={"tenant": "default"})

    calls.hooks[("PutObject", key)] = someone_else_writes_first
    calls.clear()
    answer = variant(image_id, "thumbnail:40.png")
    assert answer.status == 200 and answer.body == first.body
    assert calls.sent[-1] == ("GetObject", key)  # the winner, read because the write lost


def test_a_large_miss_redirects_to_what_it_wrote_without_reading_it(
    aws: Aws, configure: Any
) -> None:
    image_id = _stored(base64.b64decode(event("post-images-raw")["body"]))
    configure(PROGIMAGE_INLINE_MAX_BYTES="10")
    calls = Calls()  # on the clients of the functions as now configured
    answer = variant(image_id, "thumbnail:40.png")
    assert answer.status == 307
    key = calls.sent[0][1]
    assert key in answer.headers["Location"]
    assert [c for c in calls.sent if c == ("GetObject", key)] == [("GetObject", key)]  # the 404


def test_a_miss_whose_opened_copy_does_not_serve_reads_the_one_that_does(
    calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 256 px square cut from a 4:1 panorama: the miss opens the 1024 px copy (enough for
    any picture from 2:1 to 1:2), but this one must be covered at 1024 x 256, more than the
    copy's reach; it is closed unread and the 2048 px copy read instead, after the record."""
    image_id = _stored(photo(4000, 1000, progressive=False))
    read = reads(monkeypatch)
    calls.clear()
    answer = variant(image_id, "resize:256:256:fill.webp")
    assert answer.status == 200
    small, large = f"work/{image_id}-1024", f"work/{image_id}"
    # The opened copy's GET goes out on the opener's thread whenever it is scheduled (on a busy
    # machine, even after the large copy's); the large one only once the record is read.
    record, opened, needed = ("GetItem", "record"), ("GetObject", small), ("GetObject", large)
    assert sorted(calls.sent[1:4]) == sorted([record, opened, needed])
    assert calls.sent.index(record) < calls.sent.index(needed)
    assert read == [large]

"""PATCH /images/{id}, listing by tag, near-duplicates and dedupe, through the handlers on moto."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from get.app import handler as get_handler
from progimage_service.services import uploads
from progimage_service.similarity import distance
from progimage_service.storage_layout import upload_key
from progimage_service.wiring import dependencies
from tests.images import sample
from tests.integration.conftest import Answer, Aws, as_tenant, call, http_event, with_body
from upload.app import handler as upload_handler

PHOTO = "exif-orientation/Landscape_1.jpg"


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def near_copy(data: bytes) -> bytes:
    """The photo at half size, recompressed at quality 60."""
    image = Image.open(io.BytesIO(data))
    return jpeg(image.resize((image.width // 2, image.height // 2)), 60)


def post(data: bytes, tenant: str = "default", query: str = "") -> Answer:
    request = http_event("POST", "/images", "/images", rawQueryString=query)
    if query:
        request["queryStringParameters"] = dict(p.split("=") for p in query.split("&"))
    return call(upload_handler, as_tenant(with_body(request, data, "image/jpeg"), tenant))


def upload(data: bytes, tenant: str = "default") -> dict[str, Any]:
    answer = post(data, tenant)
    assert answer.status == 201, answer.body
    return answer.json()


def patch(image_id: str, body: Any, tenant: str = "default") -> Answer:
    request = http_event(
        "PATCH",
        "/images/{id}",
        f"/images/{image_id}",
        pathParameters={"id": image_id},
        body=json.dumps(body),
        isBase64Encoded=False,
        headers={"content-type": "application/json"},
    )
    return call(get_handler, as_tenant(request, tenant))


def listing(tenant: str = "default", **query: str) -> Answer:
    raw = "&".join(f"{k}={v}" for k, v in query.items())
    request = http_event("GET", "/images", "/images", rawQueryString=raw)
    request["queryStringParameters"] = query or None
    return call(get_handler, as_tenant(request, tenant))


def info(image_id: str, tenant: str = "default") -> Answer:
    path = f"/images/{image_id}/info"
    request = http_event("GET", "/images/{id}/info", path, pathParameters={"id": image_id})
    return call(get_handler, as_tenant(request, tenant))


def delete(image_id: str) -> Answer:
    request = http_event("DELETE", "/images/{id}", f"/images/{image_id}")
    return call(get_handler, request | {"pathParameters": {"id": image_id}})


def index_items(aws: Aws, prefix: str, exact: bool = False) -> list[dict[str, Any]]:
    """The table's items whose partition begins with (or, ``exact``, is) ``prefix``."""
    items = aws.dynamodb.scan(TableName=aws.table)["Items"]
    return [
        i for i in items if (i["pk"]["S"] == prefix if exact else i["pk"]["S"].startswith(prefix))
    ]


@pytest.fixture
def calls(aws: Aws) -> Iterator[Counter[str]]:
    """The DynamoDB operations the catalog's client makes, counted while a test runs."""
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[model.name] += 1

    events = dependencies().catalog.db.meta.events
    events.register("before-call.dynamodb", count)
    yield counted
    events.unregister("before-call.dynamodb", count)


def test_patch_sets_the_owners_fields_and_the_record_shows_them(aws: Aws) -> None:
    image = upload(sample(PHOTO))
    assert (image["tags"], image["metadata"]) == ([], {})
    assert set(image["focal_point"]) == {"x", "y"}  # found at upload
    assert all(0 <= value <= 1 for value in image["focal_point"].values())
    assert len(image["phash"]) == 16 and int(image["phash"], 16) >= 0
    body = {"tags": ["Beach", "sea", "beach"], "metadata": {"alt": "A field"}}
    answer = patch(image["id"], body | {"focal_point": {"x": 0.25, "y": 1}})
    assert answer.status == 200, answer.body
    expected = {
        "tags": ["beach", "sea"],  # case-folded, a set
        "metadata": {"alt": "A field"},
        "focal_point": {"x": 0.25, "y": 1.0},
    }
    assert {k: answer.json()[k] for k in expected} == expected
    assert {k: info(image["id"]).json()[k] for k in expected} == expected
    listed = listing().json()["images"][0]
    assert {k: listed[k] for k in expected} == expected
    # Any subset; tags replace the set; null removes the focal point.
    again = patch(image["id"], {"tags": ["sand"], "focal_point": None}).json()
    assert (again["tags"], again["metadata"], again["focal_point"]) == (
        ["sand"],
        {"alt": "A field"},
        None,
    )
    assert patch(image["id"], {}).json() == again


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "body"),
        ({"colour": "red"}, "body"),
        ({"tags": "beach"}, "tags"),
        ({"tags": ["a b"]}, "tags"),
        ({"tags": ["#x"]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": [7]}, "tags"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {"": "v"}}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(21)}}, "metadata"),
        ({"metadata": {"k": "v" * 2100}}, "metadata"),
        ({"metadata": ["k"]}, "metadata"),
        ({"focal_point": {"x": 1.5, "y": 0}}, "focal_point"),
        ({"focal_point": {"x": -0.1, "y": 0}}, "focal_point"),
        ({"focal_point": {"x": True, "y": 0}}, "focal_point"),
        ({"focal_point": {"x": 0.5}}, "focal_point"),
        ({"focal_point": [0.5, 0.5]}, "focal_point"),
    ],
)
def test_bad_patches_are_400_naming_the_field(aws: Aws, body: Any, param: str) -> None:
    image = upload(sample("formats/hopper.jpg"))
    answer = patch(image["id"], body)
    assert answer.status == 400, answer.body
    assert answer.json()["error"]["param"] == param
    assert info(image["id"]).json()["tags"] == []


def test_only_the_owner_patches(aws: Aws) -> None:
    image = upload(sample("formats/hopper.jpg"), "alpha")
    assert patch(image["id"], {"tags": ["x"]}, "beta").status == 404
    assert patch("0" * 25, {"tags": ["x"]}, "alpha").status == 404
    assert info(image["id"], "alpha").json()["tags"] == []
    assert not index_items(aws, "TAG#")


def test_listing_by_tag_is_newest_first_paginated_and_follows_patches(aws: Aws) -> None:
    ids = [upload(jpeg(Image.effect_noise((64, 64), 40)))["id"] for _ in range(5)]
    for image_id in ids:
        assert patch(image_id, {"tags": ["sea"]}).status == 200
    patch(ids[0], {"tags": ["sand"]})
    first = listing(tag="SEA", limit="2").json()
    assert [i["id"] for i in first["images"]] == [ids[4], ids[3]]
    second = listing(tag="sea", limit="2", cursor=first["next_cursor"]).json()
    assert [i["id"] for i in second["images"]] == [ids[2], ids[1]]
    if second["next_cursor"] is not None:  # (DynamoDB may not know that nothing follows)
        third = listing(tag="sea", limit="2", cursor=second["next_cursor"]).json()
        assert third == {"images": [], "next_cursor": None}
    # The removed tag's item went; a deleted image's items go with it.
    assert len(index_items(aws, "TAG#default#sea", exact=True)) == 4
    assert delete(ids[4]).status == 204
    assert len(index_items(aws, "TAG#default#sea", exact=True)) == 3
    assert [i["id"] for i in listing(tag="sand").json()["images"]] == [ids[0]]
    assert listing(tag="sea", tenant="beta").json()["images"] == []
    assert listing(tag="a b").json()["error"]["param"] == "tag"


def test_similar_images_within_the_distance_nearest_first(aws: Aws) -> None:
    data = sample(PHOTO)
    original = upload(data)
    copy = upload(near_copy(data))
    other = upload(sample("formats/flower.jpg"))
    theirs = upload(data, "beta")  # another tenant's identical image is never matched
    answer = listing(similar_to=original["id"], distance="8")
    assert answer.status == 200, answer.body
    found = answer.json()["images"]
    # Measured: 2 bits (the half-size copy is hashed from its reduced decode, the photo from
    # its working copy).
    apart = distance(original["phash"], copy["phash"])
    assert apart <= 4
    assert [(i["id"], i["distance"]) for i in found] == [(copy["id"], apart)]
    assert other["id"] not in str(found) and theirs["id"] not in str(found)
    assert listing(similar_to=original["id"]).json()["images"][0]["id"] == copy["id"]
    for bad in ("9", "-1", "x"):
        assert listing(similar_to=original["id"], distance=bad).json()["error"]["param"] == (
            "distance"
        )
    assert listing(similar_to=original["id"], tenant="beta").status == 404
    assert listing(distance="3").json()["error"]["param"] == "distance"
    # Deleting the copy removes its 9 band items, and its content hash's.
    sims, shas = len(index_items(aws, "SIM#default#")), len(index_items(aws, "SHA#default#"))
    assert delete(copy["id"]).status == 204
    assert len(index_items(aws, "SIM#default#")) == sims - 9
    assert len(index_items(aws, "SHA#default#")) == shas - 1
    assert listing(similar_to=original["id"]).json()["images"] == []


def test_near_images_page_with_a_cursor_like_the_other_listings(aws: Aws) -> None:
    data = sample(PHOTO)
    original = upload(data)
    photo = Image.open(io.BytesIO(data))
    copies = [
        upload(jpeg(photo.resize((photo.width // k, photo.height // k)), q))
        for k, q in ((2, 60), (3, 80), (4, 50))
    ]
    whole = listing(similar_to=original["id"], distance="8").json()
    assert whole["next_cursor"] is None
    assert {i["id"] for i in whole["images"]} == {c["id"] for c in copies}
    paged, cursor = [], None
    while True:
        query = {"similar_to": original["id"], "distance": "8", "limit": "1"}
        page = listing(**query, **({"cursor": cursor} if cursor else {})).json()
        assert len(page["images"]) <= 1
        paged += page["images"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == whole["images"]
    for bad in ("x", "9." + original["id"], "1.short", "2"):
        answer = listing(similar_to=original["id"], cursor=bad)
        assert answer.status == 400 and answer.json()["error"]["param"] == "cursor", bad
    answer = listing(similar_to=original["id"], tag="sea")
    assert answer.status == 400 and answer.json()["error"]["param"] == "tag"


def test_similar_costs_the_same_dynamodb_calls_whatever_the_tenants_size(
    aws: Aws, calls: Counter[str]
) -> None:
    data = sample(PHOTO)
    original = upload(data)
    upload(near_copy(data))
    counts = []
    for more in (0, 12):
        for _ in range(more):
            upload(jpeg(Image.effect_noise((48, 48), 50)))
        calls.clear()
        assert len(listing(similar_to=original["id"]).json()["images"]) == 1
        counts.append(dict(calls))
    assert counts[0] == counts[1] == {"GetItem": 1, "Query": 9, "BatchGetItem": 1}


def test_dedupe_answers_the_stored_image_and_stores_nothing(aws: Aws) -> None:
    data = sample(PHOTO)
    first = upload(data)
    objects = aws.object_keys()
    again = post(data, query="dedupe=true")
    assert again.status == 200 and again.json() == first
    assert again.headers["Location"] == f"/images/{first['id']}"
    assert aws.object_keys() == objects and len(aws.records()) == 1
    # Other bytes, another tenant, or no dedupe: stored as before.
    assert post(near_copy(data), query="dedupe=true").status == 201
    assert post(data, "beta", query="dedupe=true").status == 201
    assert post(data, query="dedupe=false").status == 201
    assert post(data, query="dedupe=yes").json()["error"]["param"] == "dedupe"
    # A deleted image is no duplicate.
    assert delete(first["id"]).status == 204
    assert post(sample("formats/flower.jpg"), query="dedupe=true").status == 201


def test_dedupe_finds_an_older_copy_once_the_newer_is_deleted(
    aws: Aws, calls: Counter[str]
) -> None:
    data = sample(PHOTO)
    older, newer = upload(data), upload(data)  # without dedupe: stored twice
    calls.clear()
    assert post(data, query="dedupe=true").json()["id"] == newer["id"]
    assert dict(calls) == {"Query": 2, "BatchGetItem": 1}  # the presets (for eager), the hash
    assert delete(newer["id"]).status == 204
    assert post(data, query="dedupe=true").json()["id"] == older["id"]
    assert delete(older["id"]).status == 204
    assert post(data, query="dedupe=true").status == 201
    assert len(index_items(aws, "SHA#default#")) == 1  # the last upload's own


def test_dedupe_per_part_of_a_multipart_upload(aws: Aws) -> None:
    stored = upload(sample("formats/hopper.jpg"))
    boundary = "b0undary"
    parts = [sample("formats/hopper.jpg"), sample("formats/flower.jpg")]
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{i}.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
            + part
            + b"\r\n"
            for i, part in enumerate(parts)
        )
        + f"--{boundary}--\r\n".encode()
    )
    request = http_event("POST", "/images", "/images", rawQueryString="dedupe=true")
    request["queryStringParameters"] = {"dedupe": "true"}
    answer = call(
        upload_handler, with_body(request, body, f"multipart/form-data; boundary={boundary}")
    )
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [200, 201]
    assert results[0]["image"]["id"] == stored["id"]
    assert len(aws.object_keys("originals/")) == 2


def test_presigned_ingest_stores_the_hash_and_its_index(aws: Aws) -> None:
    deps = dependencies()
    data = sample(PHOTO)
    direct = upload(data)
    (pending,) = uploads.create_uploads(deps, "default", 1, "image/jpeg")
    key = upload_key(pending["id"])
    aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=near_copy(data))
    assert uploads.ingest(deps, key) == "ready"
    record = info(pending["id"]).json()
    assert distance(record["phash"], direct["phash"]) <= 4  # as uploaded directly: 2
    found = listing(similar_to=direct["id"]).json()["images"]
    assert [i["id"] for i in found] == [pending["id"]]
    again = post(near_copy(data), query="dedupe=true")
    assert again.status == 200 and again.json()["id"] == pending["id"]

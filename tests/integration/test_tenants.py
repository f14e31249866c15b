"""Tenants: every image, job and idempotency key belongs to the tenant that made it, through the
real handlers on moto. Another tenant's id answers exactly as an unknown id does."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from get.app import handler as get_handler
from progimage_service.ids import new_id
from progimage_service.signing import signature, tenant_key
from tests.images import sample
from tests.integration.conftest import Aws, as_tenant, call, event, http_event
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler
from upload.app import handler as upload_handler

PNG = sample("formats/hopper.png")


def upload(tenant: str | None, data: bytes = PNG, **headers: str) -> Any:
    request = as_tenant(event("post-images-raw"), tenant)
    request = request | {"body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    request["headers"] = request["headers"] | headers
    return call(upload_handler, request)


def stored(tenant: str, data: bytes = PNG) -> str:
    answer = upload(tenant, data)
    assert answer.status == 201, answer.body
    return answer.json()["id"]


def info(tenant: str | None, image_id: str) -> Any:
    return call(get_handler, as_tenant(event("get-image-info", id=image_id), tenant))


def delete(tenant: str | None, image_id: str) -> Any:
    return call(get_handler, as_tenant(event("delete-image", id=image_id), tenant))


def listing(tenant: str | None, **query: str) -> Any:
    request = as_tenant(event("list-images"), tenant) | {"queryStringParameters": query or None}
    return call(get_handler, request)


def listed_ids(tenant: str, limit: int = 100) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        page = listing(tenant, **query).json()
        ids += [image["id"] for image in page["images"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def transform(tenant: str | None, body: dict[str, Any]) -> Any:
    request = as_tenant(event("post-transform-json"), tenant) | {"body": json.dumps(body)}
    return call(transform_handler, request)


def variant(image_id: str, pipeline: str, **query: str) -> Any:
    request = event("get-variant", id=image_id)
    request["pathParameters"]["pipeline"] = pipeline
    request["rawPath"] = f"/images/{image_id}/{pipeline}"
    request["queryStringParameters"] = query or None
    return call(transform_handler, request)


def not_found_body(answer: Any, image_id: str) -> dict[str, Any]:
    """The error as an unknown id gets it, with the id itself taken out."""
    assert answer.status == 404, answer.body
    error = answer.json()["error"]
    return error | {"message": error["message"].replace(image_id, "ID")}


def test_another_tenants_image_answers_as_an_unknown_id_does(aws: Aws) -> None:
    mine, unknown = stored("alpha"), new_id()
    for attempt in (
        lambda i: info("beta", i),
        lambda i: delete("beta", i),
        lambda i: transform("beta", {"source": {"id": i}, "ops": "thumbnail:8"}),
        lambda i: transform(
            "beta", {"source": {"data": base64.b64encode(PNG).decode()}, "ops": f"watermark:{i}"}
        ),
        lambda i: transform(
            "beta", {"source": {"data": base64.b64encode(PNG).decode()}, "ops": f"mask:{i}"}
        ),
    ):
        assert not_found_body(attempt(mine), mine) == not_found_body(attempt(unknown), unknown)
    assert info("alpha", mine).status == 200  # nothing of it was deleted
    assert mine not in listed_ids("beta") and listed_ids("alpha") == [mine]


def test_a_stored_variant_may_not_name_another_tenants_image(aws: Aws) -> None:
    theirs, mine = stored("alpha"), stored("beta")
    answer = variant(mine, f"watermark:{theirs}.png")
    assert answer.status == 404
    assert variant(mine, f"watermark:{stored('beta')}.png").status == 200


def test_batch_and_jobs_see_only_their_tenants_images(aws: Aws) -> None:
    theirs = stored("alpha")
    items = [{"source": {"id": theirs}, "ops": "thumbnail:8"}]
    body = json.dumps({"items": items})
    batch = call(transform_handler, as_tenant(event("post-batch"), "beta") | {"body": body})
    assert [r["status"] for r in batch.json()["results"]] == [404]

    job = call(transform_handler, as_tenant(event("post-jobs"), "beta") | {"body": body}).json()
    queue = os.environ["PROGIMAGE_JOBS_QUEUE_URL"]
    (message,) = aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["tenant"] == "beta"
    worker_handler(
        {"Records": [{"messageId": "1", "body": message["Body"], "attributes": {}}]}, None
    )
    request = as_tenant(event("get-job"), "beta")
    request["pathParameters"] = {"job_id": job["job_id"]}
    status = call(transform_handler, request).json()
    assert status["failed"] == 1 and status["results"][0]["status"] == 404
    assert call(transform_handler, as_tenant(request, "alpha")).status == 404  # not alpha's job


def test_routes_that_name_a_tenant_need_credentials(aws: Aws, configure: Any) -> None:
    image_id = stored("alpha")
    refused = [info(None, image_id), delete(None, image_id), listing(None), upload(None)]
    for answer in refused:
        assert answer.status == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert call(get_handler, event("get-image", id=image_id)).status == 200  # bytes stay open
    configure(PROGIMAGE_OPEN_TENANT="alpha")  # the local server's open mode
    assert info(None, image_id).status == 200


def test_iam_callers_get_the_tenant_their_principal_is_mapped_to(aws: Aws, configure: Any) -> None:
    role = "arn:aws:iam::123456789012:role/app-a"
    configure(PROGIMAGE_IAM_TENANTS=f"{role}=alpha")
    image_id = stored("alpha")

    def as_principal(user_arn: str) -> Any:
        request = event("get-image-info", id=image_id)
        request["requestContext"]["authorizer"] = {"iam": {"userArn": user_arn}}
        return call(get_handler, request)

    assert as_principal("arn:aws:sts::123456789012:assumed-role/app-a/worker-7").status == 200
    unmapped = as_principal("arn:aws:iam::123456789012:user/someone")
    assert unmapped.status == 403 and unmapped.json()["error"]["code"] == "forbidden"


def test_idempotency_keys_are_scoped_per_tenant(aws: Aws) -> None:
    first = upload("alpha", **{"idempotency-key": "same"})
    again = upload("alpha", **{"idempotency-key": "same"})
    other = upload("beta", **{"idempotency-key": "same"})
    assert first.json()["id"] == again.json()["id"]
    assert other.status == 201 and other.json()["id"] != first.json()["id"]
    assert listed_ids("beta") == [other.json()["id"]]


def test_signed_urls_serve_only_the_signing_tenants_images(aws: Aws, configure: Any) -> None:
    master = b"master-key"
    configure(PROGIMAGE_SIGNING_KEYS=master.decode())
    alphas, betas = stored("alpha"), stored("beta")

    def signed(tenant: str, image_id: str, pipeline: str) -> Any:
        path = f"/images/{image_id}/{pipeline}"
        sig = signature(tenant_key(master, tenant), path)
        return variant(image_id, pipeline, tenant=tenant, sig=sig)

    assert signed("alpha", alphas, "thumbnail:16.png").status == 200  # a miss, rendered
    assert signed("alpha", alphas, "thumbnail:16.png").status == 200  # a hit
    # beta signs a URL for alpha's image: refused both on a hit and on a miss
    assert signed("beta", alphas, "thumbnail:16.png").status == 404
    assert signed("beta", alphas, "thumbnail:17.png").status == 404
    assert (
        aws.object_keys(f"variants/{alphas}/") and len(aws.object_keys(f"variants/{alphas}/")) == 1
    )
    assert signed("beta", betas, "thumbnail:16.png").status == 200

    original = event("get-image", id=alphas)
    path = f"/images/{alphas}"
    for tenant, status in (("alpha", 200), ("beta", 404)):
        sig = signature(tenant_key(master, tenant), path)
        request = original | {"queryStringParameters": {"tenant": tenant, "sig": sig}}
        assert call(get_handler, request).status == status


def test_listing_pages_through_every_shard_newest_first(aws: Aws) -> None:
    mine = [stored("alpha") for _ in range(9)]
    theirs = [stored("beta") for _ in range(2)]
    for limit in (1, 2, 4, 9, 50):
        assert listed_ids("alpha", limit) == sorted(mine, reverse=True)
    assert listed_ids("beta") == sorted(theirs, reverse=True)
    shards = {
        item["list_pk"]["S"]
        for item in aws.dynamodb.scan(TableName=aws.table)["Items"]
        if "list_pk" in item
    }
    assert len(shards) > 2  # the tenant's writes are spread over its partitions
    assert all(shard.startswith(("T#alpha#", "T#beta#")) for shard in shards)


TENANTS = ("alpha", "beta", "gamma")
actions = st.lists(
    st.tuples(
        st.sampled_from(["upload", "delete", "info"]),
        st.sampled_from(TENANTS),
        st.integers(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=actions)
def test_each_tenant_sees_exactly_its_own_images(
    aws: Aws, steps: list[tuple[str, str, int]]
) -> None:
    """Any interleaving of tenants' uploads, deletes and reads: every tenant lists exactly the
    images it stored and has not deleted, and any other id answers as unknown."""
    owned: dict[str, set[str]] = {t: set(listed_ids(t)) for t in TENANTS}
    every = sorted(set().union(*owned.values()))
    for action, tenant, pick in steps:
        target = every[pick % len(every)] if every else new_id()
        if action == "upload":
            image_id = stored(tenant, PNG)
            owned[tenant].add(image_id)
            every.append(image_id)
        elif action == "delete":
            answer = delete(tenant, target)
            assert answer.status == (204 if target in owned[tenant] else 404)
            owned[tenant].discard(target)
        else:
            answer = info(tenant, target)
            assert answer.status == (200 if target in owned[tenant] else 404)
    for tenant in TENANTS:
        assert set(listed_ids(tenant, limit=3)) == owned[tenant]


def test_a_tenant_name_in_a_request_is_never_taken_from_the_request(aws: Aws) -> None:
    """Headers, query and body that name a tenant change nothing: only the authorizer does."""
    image_id = stored("alpha")
    request = as_tenant(event("get-image-info", id=image_id), "beta")
    request["headers"] = request["headers"] | {"x-tenant": "alpha", "tenant": "alpha"}
    request["queryStringParameters"] = {"tenant": "alpha"}
    assert call(get_handler, request).status == 404


@pytest.mark.parametrize("route", ["GET /images", "GET /images/{id}/info"])
def test_head_answers_gets_status_and_headers_without_a_body(aws: Aws, route: str) -> None:
    image_id = stored("alpha")
    path = route.split(" ", 1)[1].replace("{id}", image_id)
    get = call(get_handler, as_tenant(http_event("GET", route.split(" ", 1)[1], path), "alpha"))
    head = call(get_handler, as_tenant(http_event("HEAD", route.split(" ", 1)[1], path), "alpha"))
    assert (head.status, head.body) == (get.status, b"")
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    original = call(
        get_handler, event("get-image", id=image_id) | {"routeKey": "HEAD /images/{id}"}
    )
    assert (original.status, original.body) == (200, b"")

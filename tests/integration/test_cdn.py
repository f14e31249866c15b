"""The CDN in front of the API, as the functions see it: deletes invalidate the image's paths
on the distribution (moto's CloudFront), batch results link to the CDN, and with CdnOnly the
routes that serve image bytes answer only what carries CloudFront's origin-verify header."""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from get.app import handler as get_handler
from progimage_service.adapters import cdn as cdn_adapter
from progimage_service.api import IMMUTABLE
from progimage_service.errors import ServiceUnavailable
from progimage_service.services.edge import WILDCARDS
from tests.integration.conftest import Aws, call, event
from tests.integration.test_bulk import receive
from tests.integration.test_deletes import delete, stored, variant
from transform.app import handler as transform_handler
from transform.worker import handler as worker_handler

CDN_URL = "https://d111111abcdef8.cloudfront.net"
VERIFY = "origin-verify-value-for-tests"


def distribution() -> str:
    """A distribution in moto's CloudFront; its id."""
    answer = boto3.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "progimage-tests",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "api",
                        "DomainName": "api.example.com",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "api",
                "ViewerProtocolPolicy": "https-only",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": True, "Cookies": {"Forward": "none"}},
            },
        }
    )
    return answer["Distribution"]["Id"]


def invalidated_paths(distribution_id: str) -> list[list[str]]:
    cloudfront = boto3.client("cloudfront")
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"][
            "InvalidationBatch"
        ]["Paths"].get("Items", [])
        for item in listed.get("Items", [])
    ]


def worked(aws: Aws) -> dict[str, Any]:
    """Deliver what the edge queue holds to the job worker, as one batch (its event source
    mapping gathers up to 1,000 messages); its answer."""
    records = receive(aws, os.environ["PROGIMAGE_EDGE_QUEUE_URL"])
    return worker_handler({"Records": records}, None)


def test_a_delete_invalidates_every_path_of_the_image_as_one_wildcard(
    aws: Aws, configure: Any
) -> None:
    distribution_id = distribution()
    configure(PROGIMAGE_CDN_DISTRIBUTION_ID=distribution_id)
    image_id = stored()
    assert variant(image_id, "thumbnail:32.png").status == 200
    assert delete(image_id) == 204
    assert invalidated_paths(distribution_id) == []  # queued, for the job worker
    assert worked(aws) == {"batchItemFailures": []}
    assert invalidated_paths(distribution_id) == [[f"/images/{image_id}*"]]


def test_variants_of_images_that_used_it_are_invalidated_too(aws: Aws, configure: Any) -> None:
    distribution_id = distribution()
    configure(PROGIMAGE_CDN_DISTRIBUTION_ID=distribution_id)
    image_id, mask = stored(), stored()
    assert variant(image_id, f"mask:{mask}.png").status == 200
    assert delete(mask) == 204
    worked(aws)
    assert invalidated_paths(distribution_id) == [
        sorted([f"/images/{mask}*", f"/images/{image_id}/*"])
    ]
    assert delete(image_id) == 204  # no variant names another image any more
    worked(aws)
    assert [f"/images/{image_id}*"] in invalidated_paths(distribution_id)


def test_a_burst_of_deletes_is_one_invalidation_within_cloudfronts_wildcard_limit(
    aws: Aws, configure: Any
) -> None:
    """Deleted one by one, each image was one invalidation, and CloudFront refuses a 16th
    wildcard path in progress: the rest stayed cached. Now the batch is one invalidation of
    at most WILDCARDS paths that together cover every deleted image."""
    distribution_id = distribution()
    configure(PROGIMAGE_CDN_DISTRIBUTION_ID=distribution_id)
    ids = [stored() for _ in range(20)]
    for image_id in ids:
        assert delete(image_id) == 204
    assert worked(aws) == {"batchItemFailures": []}
    (paths,) = invalidated_paths(distribution_id)
    assert len(paths) <= WILDCARDS and all(
        p.startswith("/images/") and p.endswith("*") for p in paths
    )
    for image_id in ids:
        assert any(f"/images/{image_id}".startswith(p[:-1]) for p in paths), image_id


@pytest.mark.parametrize(
    "body",
    ["{not json", "[]", '{"paths": ["/images/x*"]}', '{"distribution": "D", "paths": ["/x"]}'],
)
def test_a_message_no_delete_sent_is_dropped_and_the_rest_invalidated(
    aws: Aws, configure: Any, body: str
) -> None:
    distribution_id = distribution()
    configure(PROGIMAGE_CDN_DISTRIBUTION_ID=distribution_id)
    image_id = stored()
    assert delete(image_id) == 204
    (record,) = receive(aws, os.environ["PROGIMAGE_EDGE_QUEUE_URL"])
    garbled = record | {"messageId": "garbled", "body": body}
    assert worker_handler({"Records": [garbled, record]}, None) == {"batchItemFailures": []}
    assert invalidated_paths(distribution_id) == [[f"/images/{image_id}*"]]


def test_a_refused_invalidation_is_tried_again_with_every_delete_of_the_batch(
    aws: Aws, configure: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distribution_id = distribution()
    configure(PROGIMAGE_CDN_DISTRIBUTION_ID=distribution_id)
    first, second = stored(), stored()
    assert delete(first) == 204 and delete(second) == 204
    records = receive(aws, os.environ["PROGIMAGE_EDGE_QUEUE_URL"])

    def refused(self: Any, paths: Any) -> str:
        raise ServiceUnavailable("CDN: TooManyInvalidationsInProgress")

    with monkeypatch.context() as patched:
        patched.setattr(cdn_adapter.Invalidator, "invalidate", refused)
        answer = worker_handler({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    assert '"CdnInvalidationFailures":2' in capsys.readouterr().out.replace(" ", "")
    # delivered again (after the visibility timeout), it goes through
    assert worker_handler({"Records": records}, None) == {"batchItemFailures": []}
    assert invalidated_paths(distribution_id) == [sorted(f"/images/{i}*" for i in (first, second))]


def test_the_distribution_is_found_through_the_stacks_parameter(aws: Aws, configure: Any) -> None:
    """Deployed, the functions read the distribution from the SSM parameter the stack writes."""
    distribution_id = distribution()
    boto3.client("ssm").put_parameter(
        Name="/progimage/test/cdn",
        Type="String",
        Value=json.dumps({"distribution_id": distribution_id, "url": CDN_URL}),
    )
    configure(PROGIMAGE_CDN_PARAMETER="/progimage/test/cdn")
    image_id = stored()
    assert delete(image_id) == 204
    worked(aws)
    assert invalidated_paths(distribution_id) == [[f"/images/{image_id}*"]]


def test_without_a_distribution_no_cdn_call_is_made(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    distribution_id = distribution()  # exists, but the functions are not told of it
    calls: list[Any] = []
    monkeypatch.setattr(cdn_adapter.Invalidator, "invalidate", lambda *a: calls.append(a))
    image_id = stored()
    assert delete(image_id) == 204
    assert worked(aws) == {"batchItemFailures": []}  # nothing was queued
    assert calls == []
    assert invalidated_paths(distribution_id) == []


def test_a_delete_whose_paths_cannot_be_queued_still_succeeds(
    aws: Aws, configure: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(
        PROGIMAGE_CDN_DISTRIBUTION_ID=distribution(),
        PROGIMAGE_EDGE_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/nosuchqueue",
    )
    image_id = stored()
    with caplog.at_level(logging.WARNING, logger="progimage"):
        assert delete(image_id) == 204
    assert any("CDN was not told" in r.getMessage() for r in caplog.records)
    assert aws.records() == [] and aws.object_keys(f"originals/{image_id}") == []
    # counted: the invocation's metrics name the failure
    assert "CdnInvalidationFailures" in capsys.readouterr().out


def test_batch_results_link_to_the_cdn_with_signatures_that_verify(
    aws: Aws, configure: Any
) -> None:
    configure(PROGIMAGE_CDN_URL=CDN_URL, PROGIMAGE_SIGNING_KEYS="master-key")
    image_id = stored()
    items = [{"source": {"id": image_id}, "ops": "thumbnail:16", "format": "png"}]
    answer = call(transform_handler, event("post-batch") | {"body": json.dumps({"items": items})})
    assert answer.status == 200, answer.body
    (result,) = answer.json()["results"]
    url = urlsplit(result["url"])
    assert f"{url.scheme}://{url.netloc}" == CDN_URL
    assert url.path == f"/images/{image_id}/thumbnail:16.png"
    # the origin checks the path as CloudFront forwards it: the same path, the same query
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    request = event("get-variant", id=image_id) | {
        "rawPath": url.path,
        "rawQueryString": url.query,
        "queryStringParameters": query,
    }
    request["pathParameters"]["pipeline"] = "thumbnail:16.png"
    assert call(transform_handler, request).status == 200


def _variant_request(image_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = event("get-variant", id=image_id)
    request["pathParameters"]["pipeline"] = "thumbnail:16.png"
    request["rawPath"] = f"/images/{image_id}/thumbnail:16.png"
    request["headers"] = request.get("headers", {}) | (headers or {})
    return request


def test_cdn_only_refuses_image_bytes_that_did_not_come_through_the_cdn(
    aws: Aws, configure: Any
) -> None:
    image_id = stored()
    configure(PROGIMAGE_ORIGIN_VERIFY=VERIFY)
    for headers in ({}, {"x-origin-verify": "guess"}, {"x-origin-verify": VERIFY[:-1]}):
        refused = call(transform_handler, _variant_request(image_id, headers))
        assert refused.status == 403, headers
        assert refused.json()["error"]["code"] == "forbidden"
        original = call(get_handler, event("get-image", id=image_id) | {"headers": headers})
        assert original.status == 403
    served = call(transform_handler, _variant_request(image_id, {"x-origin-verify": VERIFY}))
    assert served.status == 200
    # header names are case-insensitive
    served = call(transform_handler, _variant_request(image_id, {"X-Origin-Verify": VERIFY}))
    assert served.status == 200
    # credentialed routes stay callable on the API's own URL: clients upload and list there
    assert call(get_handler, event("list-images")).status == 200
    assert delete(image_id) == 204


def test_cdn_only_reads_the_value_from_the_secret(aws: Aws, configure: Any) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="verify", SecretString=VERIFY)["ARN"]
    configure(PROGIMAGE_ORIGIN_VERIFY_SECRET=arn)
    image_id = stored()
    assert call(transform_handler, _variant_request(image_id)).status == 403
    verified = _variant_request(image_id, {"x-origin-verify": VERIFY})
    assert call(transform_handler, verified).status == 200


def test_what_the_cdn_may_keep_is_what_the_api_says(aws: Aws) -> None:
    """The distribution caches with MinTTL and DefaultTTL 0: only answers whose Cache-Control
    allows it are kept. Image bytes are immutable; a credentialed JSON answer (listing, info,
    a job) and an error carry no Cache-Control, so they are never kept (and Authorization is
    in the cache key besides)."""
    image_id = stored()
    assert call(transform_handler, _variant_request(image_id)).headers["Cache-Control"] == IMMUTABLE
    assert call(get_handler, event("get-image", id=image_id)).headers["Cache-Control"] == IMMUTABLE
    listing = call(get_handler, event("list-images"))
    info = call(get_handler, event("get-image-info", id=image_id))
    missing = call(get_handler, event("get-image", id=image_id[:-1] + "0"))
    for answer in (listing, info, missing):
        assert answer.status in (200, 404)
        assert "Cache-Control" not in answer.headers, answer.headers

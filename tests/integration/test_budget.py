"""The work budget at the handlers: a batch's items share one request's budget, and a request
over it is refused before anything is decoded or stored."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from progimage_service.imaging import cost, render
from tests.integration.conftest import Aws, call, event
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler


def _stored() -> str:
    answer = call(upload_handler, event("post-images-raw"))
    assert answer.status == 201
    return answer.json()["id"]


def _batch(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = call(transform_handler, event("post-batch") | {"body": json.dumps({"items": items})})
    assert answer.status == 200, answer.body
    return answer.json()["results"]


def test_batch_items_share_the_requests_budget(aws: Aws, configure: Any) -> None:
    image_id = _stored()
    items = [
        {"source": {"id": image_id}, "ops": f"rotate:{10 + i}", "format": "png"} for i in range(6)
    ]
    charged: list[float] = []
    real = cost.estimate

    def recording(*args: Any, **kwargs: Any) -> cost.Estimate:
        charged.append(real(*args, **kwargs).seconds)
        return real(*args, **kwargs)

    with mock.patch.object(render, "estimate", recording):
        first = _batch(items[:1])
    assert first[0]["status"] == 200
    each = charged[0]  # every item's estimate is about this: a budget for three and a half
    configure(PROGIMAGE_WORK_SECONDS=str(each * 3.5))
    results = _batch(items[1:])
    statuses = [r["status"] for r in results]
    assert statuses == [200, 200, 200, 422, 422], statuses
    refused = results[3]["error"]
    assert refused["code"] == "work_budget" and "POST /jobs" in refused["message"]
    assert len(aws.object_keys("variants/")) == 4  # nothing stored for the refused items


def test_a_single_request_over_its_budget_stores_nothing(aws: Aws, configure: Any) -> None:
    image_id = _stored()
    configure(PROGIMAGE_WORK_SECONDS="0.001")
    variant = event("get-variant", id=image_id)
    variant["pathParameters"]["pipeline"] = "rotate:30.avif"
    answer = call(transform_handler, variant)
    assert answer.status == 422
    assert answer.json()["error"]["code"] == "work_budget"
    assert not aws.object_keys("variants/")

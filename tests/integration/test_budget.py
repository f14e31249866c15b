"""The work budget at the handlers: a batch's items share one request's budget, and a request
over it is refused before anything is decoded or stored."""

from __future__ import annotations

import io
import json
from typing import Any
from unittest import mock

from PIL import Image

from progimage_service.imaging import cost, render
from progimage_service.imaging.copies import COPIES, copy_size
from progimage_service.imaging.decode import inspect
from progimage_service.imaging.limits import Limits
from tests.integration.conftest import Aws, call, event, with_body
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


def test_multipart_parts_share_the_requests_budget(aws: Aws, configure: Any) -> None:
    """Each part's validation (and working copy) is estimated before it is decoded; parts that
    do not fit in what the earlier ones left are refused, and nothing of them is kept."""
    image = Image.linear_gradient("L").resize((3000, 2000)).convert("RGB")  # gets a copy
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    data = buffer.getvalue()
    sizes = [copy_size((3000, 2000), kind) for kind in COPIES]
    each = cost.upload_estimate(inspect(data, Limits()), sizes).seconds
    configure(PROGIMAGE_WORK_SECONDS=str(each * 2.5))
    boundary = "b0undary"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{i}.png"\r\n'
            "Content-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
            for i in range(4)
        )
        + f"--{boundary}--\r\n".encode()
    )
    multipart = with_body(
        event("post-images-raw"), body, f"multipart/form-data; boundary={boundary}"
    )
    answer = call(upload_handler, multipart)
    assert answer.status == 207
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 422, 422]
    assert "presigned uploads" in results[2]["error"]["message"]
    assert results[2]["error"]["param"] == "pixels"
    assert len(aws.records()) == 2
    assert len(aws.object_keys("originals/")) == 2 and len(aws.object_keys("work/")) == 4

"""Every sample event in events/, through `sam local start-lambda` (warm containers of the
runtime image running the built artifact), with its answer checked."""

from __future__ import annotations

import base64
import json

import pytest

from progimage_service.imaging import plugins
from progimage_service.imaging.formats import sniff
from tests.sam_local.conftest import EVENTS, Answer, LambdaService, Stack, decode_image
from tests.sam_local.test_invoke import PLAIN_INVOKES

# Which function each sample event is for; the test below keeps this in step with events/.
EVENT_FUNCTIONS = {
    "post-images-raw": "UploadFunction",
    "post-images-json": "UploadFunction",
    "post-images-multipart": "UploadFunction",
    "post-uploads": "UploadFunction",
    "get-image": "GetFunction",
    "get-image-webp": "GetFunction",
    "get-image-info": "GetFunction",
    "list-images": "GetFunction",
    "delete-image": "GetFunction",
    "get-variant": "TransformFunction",
    "post-transform-json": "TransformFunction",
    "post-transform-raw": "TransformFunction",
    "post-batch": "TransformFunction",
    "post-jobs": "TransformFunction",
    "get-job": "TransformFunction",
    "ingest-sqs-s3": "IngestFunction",
    "job-worker-sqs": "JobWorkerFunction",
    "authorizer-request": "AuthorizerFunction",
}


def test_every_sample_event_is_covered() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EVENT_FUNCTIONS)
    assert set(EVENT_FUNCTIONS.values()) == set(PLAIN_INVOKES)
    for function, name in PLAIN_INVOKES.items():
        assert EVENT_FUNCTIONS[name] == function


def body_image(event: dict[str, object]) -> bytes:
    assert event["isBase64Encoded"] is True
    return base64.b64decode(str(event["body"]))


def invoke(service: LambdaService, stack: Stack, name: str, image_id: str | None = None) -> Answer:
    return service.invoke(EVENT_FUNCTIONS[name], stack.event(name, image_id))


# ---------------------------------------------------------------------------- UploadFunction


def test_post_images_raw(lambda_service: LambdaService, stack: Stack, png_bytes: bytes) -> None:
    answer = invoke(lambda_service, stack, "post-images-raw")
    assert answer.status == 201, answer.describe()
    record = answer.json()
    assert answer.headers["location"] == f"/images/{record['id']}"
    assert (record["status"], record["format"], record["content_type"]) == (
        "ready",
        "png",
        "image/png",
    )
    assert (record["width"], record["height"], record["bytes"]) == (128, 128, len(png_bytes))


def test_post_images_json(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "post-images-json")
    assert answer.status == 201, answer.describe()
    record = answer.json()
    data = base64.b64decode(json.loads(stack.event("post-images-json")["body"])["data"])
    assert (record["status"], record["format"], record["bytes"]) == ("ready", "gif", len(data))
    assert (record["width"], record["height"]) == decode_image(data).size


def test_post_images_multipart(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "post-images-multipart")
    assert answer.status == 207, answer.describe()
    results = answer.json()["results"]
    assert len(results) >= 2
    assert [r["index"] for r in results] == list(range(len(results)))
    assert {r["status"] for r in results} == {201}
    assert all(r["image"]["status"] == "ready" for r in results)


def test_post_uploads(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "post-uploads")
    assert answer.status == 201, answer.describe()
    uploads = answer.json()["uploads"]
    assert len(uploads) == 2
    for upload in uploads:
        assert upload["fields"]["key"] == f"uploads/{upload['id']}"
        assert upload["url"].startswith(stack.endpoint)  # signed for the endpoint it was given
        info = invoke(lambda_service, stack, "get-image-info", upload["id"])
        assert info.json()["status"] == "pending"


# ---------------------------------------------------------------------------- GetFunction


def test_get_image(
    lambda_service: LambdaService, stack: Stack, image_id: str, png_bytes: bytes
) -> None:
    answer = invoke(lambda_service, stack, "get-image", image_id)
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/png"
    assert answer.body == png_bytes


def test_get_image_webp(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "get-image-webp", image_id)
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/webp"
    image = answer.image()
    assert (image.format, image.size) == ("WEBP", (128, 128))


def test_get_image_info(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "get-image-info", image_id)
    assert answer.status == 200, answer.describe()
    record = answer.json()
    assert (record["id"], record["status"], record["format"]) == (image_id, "ready", "png")
    assert (record["width"], record["height"]) == (128, 128)
    assert len(record["sha256"]) == 64


def test_list_images(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "list-images")
    assert answer.status == 200, answer.describe()
    body = answer.json()
    assert image_id in [record["id"] for record in body["images"]]
    assert len(body["images"]) <= 10
    assert "next_cursor" in body


def test_delete_image(lambda_service: LambdaService, stack: Stack) -> None:
    stored = invoke(lambda_service, stack, "post-images-raw").json()["id"]
    assert invoke(lambda_service, stack, "get-variant", stored).status == 200
    answer = invoke(lambda_service, stack, "delete-image", stored)
    assert answer.status == 204, answer.describe()
    gone = invoke(lambda_service, stack, "get-image", stored)
    assert gone.status == 404
    assert gone.json()["error"]["code"] == "not_found"
    keys = stack.client("s3").list_objects_v2(Bucket=stack.bucket).get("Contents", [])
    assert not [item["Key"] for item in keys if stored in item["Key"]]


def test_unknown_image_is_a_json_404(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "get-image")  # the example id, never stored
    assert answer.status == 404, answer.describe()
    assert answer.json()["error"]["code"] == "not_found"


# ---------------------------------------------------------------------------- TransformFunction


def test_get_variant(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "get-variant", image_id)
    assert answer.status == 200, answer.describe()
    image = answer.image()
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "L")


def _variant_event(stack: Stack, image_id: str, pipeline: str, accept: str) -> dict[str, object]:
    event = stack.event("get-variant", image_id)
    path = f"/images/{image_id}/{pipeline}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"]["pipeline"] = pipeline
    event["headers"]["accept"] = accept
    return event


@pytest.mark.parametrize(
    ("pipeline", "accept", "content_type", "side"),
    [
        ("thumbnail:16/dpr:2.auto", "image/avif,image/webp,*/*", "image/avif", 32),
        ("thumbnail:16/dpr:2.auto", "*/*", "image/png", 32),  # the PNG's fallback: lossless
        ("thumbnail:24/quality:auto.heic", "*/*", "image/heic", 24),
        ("thumbnail:24/quality:auto.jxl", "*/*", "image/jxl", 24),
    ],
)
def test_delivery_formats_in_the_runtime(
    lambda_service: LambdaService,
    stack: Stack,
    image_id: str,
    pipeline: str,
    accept: str,
    content_type: str,
    side: int,
) -> None:
    """auto by Accept, dpr, quality:auto, and the layer's HEIC and JPEG XL encoders, in Lambda's
    own runtime image."""
    event = _variant_event(stack, image_id, pipeline, accept)
    answer = lambda_service.invoke("TransformFunction", event)
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == content_type
    assert answer.headers.get("vary") == ("Accept" if pipeline.endswith(".auto") else None)
    plugins.register(sniff(answer.body))
    assert max(answer.image().size) == side


def test_post_transform_json(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "post-transform-json")
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/webp"
    image = answer.image()  # resize:64:64:fill/rotate:90
    assert (image.format, image.size) == ("WEBP", (64, 64))


def test_post_transform_raw(lambda_service: LambdaService, stack: Stack) -> None:
    event = stack.event("post-transform-raw")
    source = decode_image(body_image(event))
    answer = lambda_service.invoke("TransformFunction", event)
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/jpeg"
    image = answer.image()  # thumbnail:32, as JPEG
    assert image.format == "JPEG"
    assert max(image.size) == 32
    assert image.size[0] / image.size[1] == pytest.approx(source.size[0] / source.size[1], 0.05)


def test_post_batch(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "post-batch", image_id)
    assert answer.status == 200, answer.describe()
    first, second = answer.json()["results"]
    assert (first["index"], first["status"]) == (0, 200)
    assert first["url"] == f"/images/{image_id}/thumbnail:128.webp"
    assert (second["index"], second["status"]) == (1, 201)
    stored = second["image"]
    assert (stored["status"], stored["format"], stored["width"], stored["height"]) == (
        "ready",
        "png",
        64,
        64,
    )


def test_post_jobs_and_get_job(lambda_service: LambdaService, stack: Stack, image_id: str) -> None:
    answer = invoke(lambda_service, stack, "post-jobs", image_id)
    assert answer.status == 202, answer.describe()
    job = answer.json()
    assert answer.headers["location"] == f"/jobs/{job['job_id']}"
    status = lambda_service.invoke(
        "TransformFunction", stack.event("get-job", job_id=job["job_id"])
    )
    assert status.status == 200, status.describe()
    body = status.json()
    assert (body["job_id"], body["total"]) == (job["job_id"], 2)
    assert body["status"] in {"queued", "running", "done"}
    # Leave the queue as it was: the worker test reads the messages of its own job.
    stack.receive("JobsQueue", wanted=2, match=job["job_id"])


def test_unknown_job_is_a_json_404(lambda_service: LambdaService, stack: Stack) -> None:
    answer = invoke(lambda_service, stack, "get-job")
    assert answer.status == 404, answer.describe()
    assert answer.json()["error"]["param"] == "job_id"


# ------------------------------------------------------------------------ AuthorizerFunction


def test_authorizer_admits_the_key_and_refuses_others(
    lambda_service: LambdaService, stack: Stack
) -> None:
    event = stack.event("authorizer-request")
    assert lambda_service.invoke("AuthorizerFunction", event).payload == {
        "isAuthorized": True,
        "context": {"tenant": "default"},
    }
    event["headers"]["authorization"] = "Bearer another-key"
    assert lambda_service.invoke("AuthorizerFunction", event).payload == {"isAuthorized": False}

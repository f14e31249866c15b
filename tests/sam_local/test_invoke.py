"""Plain `sam local invoke FUNCTION -e events/NAME.json`, as a developer runs it: every function
of the template at least once, each in a fresh container of the runtime image."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from localserver.template import load_yaml
from tests.sam_local.conftest import BUILT_TEMPLATE, LambdaService, Stack

PLAIN_INVOKES = {
    "UploadFunction": "post-uploads",
    "GetFunction": "get-image",
    "TransformFunction": "get-variant",
    "IngestFunction": "ingest-sqs-s3",
    "JobWorkerFunction": "job-worker-sqs",
    "AuthorizerFunction": "authorizer-request",
}


def jpeg(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def post_presigned(upload: dict[str, Any], data: bytes, content_type: str) -> None:
    """The client's side of a presigned upload: a form POST straight to S3 (here, moto)."""
    fields = dict(upload["fields"])
    fields.setdefault("Content-Type", content_type)
    response = requests.post(
        upload["url"], data=fields, files={"file": ("upload", data, content_type)}, timeout=30
    )
    assert response.status_code in (200, 201, 204), response.text


def test_every_function_is_invoked_plainly() -> None:
    built = load_yaml(BUILT_TEMPLATE)
    functions = {
        name
        for name, resource in built["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(PLAIN_INVOKES)


def test_every_artifact_carries_bytecode_that_lambda_uses_as_is() -> None:
    """Lambda's code directory is read-only: each module's bytecode comes compiled in the
    artifact, hash-based and unchecked (zip keeps file times to 2 s only)."""
    from importlib.util import cache_from_source

    for name in PLAIN_INVOKES:
        root = BUILT_TEMPLATE.parent / name
        sources = list((root / "progimage_service").rglob("*.py"))
        sources += [*root.glob("*/app.py"), root / "multipart.py"]
        assert len(sources) > 40, name
        for source in sources:
            compiled = Path(cache_from_source(str(source)))
            flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
            assert flags == 0b01, f"{compiled}: flags {flags:#b}"  # hash-based, unchecked


def test_get_function_serves_the_stored_original(
    stack: Stack, image_id: str, png_bytes: bytes
) -> None:
    answer = stack.invoke("GetFunction", stack.event("get-image", image_id), "get-image")
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/png"
    assert answer.body == png_bytes


def test_transform_function_renders_a_variant_with_the_pillow_layer(
    stack: Stack, image_id: str
) -> None:
    answer = stack.invoke("TransformFunction", stack.event("get-variant", image_id), "get-variant")
    assert answer.status == 200, answer.describe()
    assert answer.headers["content-type"] == "image/png"
    image = answer.image()  # thumbnail:64/grayscale.png of a 128 x 128 image
    assert (image.format, image.size, image.mode) == ("PNG", (64, 64), "L")


def test_presigned_uploads_are_ingested_from_their_s3_events(
    stack: Stack, lambda_service: LambdaService
) -> None:
    created = stack.invoke("UploadFunction", stack.event("post-uploads"), "post-uploads")
    assert created.status == 201, created.describe()
    first, second = created.json()["uploads"]
    assert first["fields"]["key"] == f"uploads/{first['id']}"

    # The sample event, naming the first upload: S3's notification as SQS delivers it.
    post_presigned(first, jpeg((96, 64), (200, 30, 30)), "image/jpeg")
    ingested = stack.invoke(
        "IngestFunction", stack.event("ingest-sqs-s3", first["id"]), "ingest-sqs-s3"
    )
    assert ingested.payload == {"batchItemFailures": []}, ingested.describe()
    info = lambda_service.invoke("GetFunction", stack.event("get-image-info", first["id"]))
    record = info.json()
    assert (record["status"], record["format"], record["width"], record["height"]) == (
        "ready",
        "jpeg",
        96,
        64,
    )

    # The second one through moto's own S3 -> SQS notification, with the first again
    # (delivered twice, which must change nothing).
    post_presigned(second, jpeg((40, 30), (30, 200, 30)), "image/jpeg")
    records = stack.receive("IngestQueue", wanted=2)
    again = lambda_service.invoke("IngestFunction", {"Records": records})
    assert again.payload == {"batchItemFailures": []}, again.describe()
    for upload, size in ((first, (96, 64)), (second, (40, 30))):
        answer = lambda_service.invoke("GetFunction", stack.event("get-image", upload["id"]))
        assert answer.status == 200, answer.describe()
        assert answer.image().size == size
    assert (
        not stack.client("s3")
        .list_objects_v2(Bucket=stack.bucket, Prefix="uploads/")
        .get("Contents")
    )


def test_job_items_are_processed_by_the_worker(
    stack: Stack, lambda_service: LambdaService, image_id: str
) -> None:
    posted = lambda_service.invoke("TransformFunction", stack.event("post-jobs", image_id))
    assert posted.status == 202, posted.describe()
    job = posted.json()
    assert (job["status"], job["total"]) == ("queued", 2)
    queued = stack.receive("JobsQueue", wanted=2, match=job["job_id"])
    assert sorted(json.loads(r["body"])["index"] for r in queued) == [0, 1]

    # The sample message (item 0, thumbnail:64 as webp) of this job.
    worker = stack.invoke(
        "JobWorkerFunction",
        stack.event("job-worker-sqs", image_id, job_id=job["job_id"]),
        "job-worker-sqs",
    )
    assert worker.payload == {"batchItemFailures": []}, worker.describe()

    # Then what the queue holds: item 0 again (counted once) and item 1.
    rest = lambda_service.invoke("JobWorkerFunction", {"Records": queued})
    assert rest.payload == {"batchItemFailures": []}, rest.describe()

    status = lambda_service.invoke(
        "TransformFunction", stack.event("get-job", job_id=job["job_id"])
    ).json()
    assert (status["status"], status["total"], status["succeeded"], status["failed"]) == (
        "done",
        2,
        2,
        0,
    )
    first, second = status["results"]
    assert (first["index"], first["status"]) == (0, 200)
    assert first["url"] == f"/images/{image_id}/thumbnail:64.webp"
    assert (second["index"], second["status"]) == (1, 201)
    assert second["image"]["status"] == "ready"

    variant = stack.event("get-variant", image_id)
    variant["pathParameters"]["pipeline"] = "thumbnail:64.webp"
    variant["rawPath"] = first["url"]
    image = lambda_service.invoke("TransformFunction", variant).image()
    assert (image.format, image.size) == ("WEBP", (64, 64))


def test_authorizer_function_checks_the_bearer_key(stack: Stack) -> None:
    answer = stack.invoke("AuthorizerFunction", stack.event("authorizer-request"))
    assert answer.payload == {
        "isAuthorized": True,
        "context": {"tenant": "default"},
    }

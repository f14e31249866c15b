"""Deletes are final: no variant outlives an image it was made from, whatever runs meanwhile.

A DELETE is made to land at every point of a render (before it writes its variant, between that
write and its check, after) and a failure is injected at the check; an image used as a
watermark or mask takes the variants that used it with it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from get.app import handler as get_handler
from progimage_service.errors import ServiceUnavailable
from progimage_service.services import variants as variants_module
from progimage_service.wiring import dependencies
from tests.images import sample
from tests.integration.conftest import Aws, call, event
from transform.app import handler as transform_handler
from upload.app import handler as upload_handler

PNG = sample("formats/hopper.png")


def stored(data: bytes = PNG) -> str:
    request = event("post-images-raw") | {"body": base64.b64encode(data).decode()}
    answer = call(upload_handler, request)
    assert answer.status == 201, answer.body
    return answer.json()["id"]


def variant(image_id: str, pipeline: str) -> Any:
    request = event("get-variant", id=image_id)
    request["pathParameters"]["pipeline"] = pipeline
    return call(transform_handler, request)


def delete(image_id: str) -> int:
    return call(get_handler, event("delete-image", id=image_id)).status


def leftovers(aws: Aws, *image_ids: str) -> list[str]:
    keys = []
    for image_id in image_ids:
        for prefix in ("variants/", "originals/", "work/", "refs/"):
            keys += aws.object_keys(f"{prefix}{image_id}")
    return keys


def delete_when(
    monkeypatch: pytest.MonkeyPatch, target: str, point: str
) -> Callable[[], list[int]]:
    """Make a DELETE of ``target`` land at ``point`` of the next render: after rendering
    ("render"), right after the variant is written ("put"). Returns the statuses seen."""
    statuses: list[int] = []
    store = dependencies().store
    if point == "render":
        real = variants_module.render_record

        def render_then_delete(*args: Any, **kwargs: Any) -> Any:
            rendered = real(*args, **kwargs)
            statuses.append(delete(target))
            return rendered

        monkeypatch.setattr(variants_module, "render_record", render_then_delete)
    else:
        real_put = store.put

        def put_then_delete(key: str, *args: Any, **kwargs: Any) -> bool:
            written = real_put(key, *args, **kwargs)
            if key.startswith("variants/") and not statuses:
                statuses.append(delete(target))
            return written

        monkeypatch.setattr(store, "put", put_then_delete)
    return lambda: statuses


@pytest.mark.parametrize("point", ["render", "put"])
def test_a_delete_during_a_render_leaves_no_variant_that_is_served(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    image_id = stored()
    with monkeypatch.context() as patch:
        seen = delete_when(patch, image_id, point)
        answer = variant(image_id, "sharpen:2:5/rotate:13.png")
    assert seen() == [204]
    assert answer.status == 404
    assert variant(image_id, "sharpen:2:5/rotate:13.png").status == 404
    assert leftovers(aws, image_id) == []


@pytest.mark.parametrize("point", ["render", "put"])
@pytest.mark.parametrize("use", ["watermark:{}", "mask:{}"])
def test_deleting_a_referenced_image_during_a_render_takes_the_variant(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, point: str, use: str
) -> None:
    base, mark = stored(), stored(sample("formats/hopper.jpg"))
    with monkeypatch.context() as patch:
        seen = delete_when(patch, mark, point)
        answer = variant(base, use.format(mark) + ".png")
    assert seen() == [204] and answer.status == 404
    assert aws.object_keys(f"variants/{base}/") == []
    assert leftovers(aws, mark) == []


def test_deleting_an_image_takes_every_variant_that_used_it(aws: Aws) -> None:
    base, other, mark = stored(), stored(), stored(sample("formats/hopper.jpg"))
    using = [
        (base, f"watermark:{mark}.png"),
        (base, f"thumbnail:32/mask:{mark}.webp"),
        (other, f"watermark:{mark}:southeast:0.5.jpg"),
    ]
    for image_id, pipeline in using:
        assert variant(image_id, pipeline).status == 200
    plain = variant(base, "thumbnail:32.png")
    assert plain.status == 200
    assert len(aws.object_keys("refs/")) == 3

    assert delete(mark) == 204
    assert len(aws.object_keys(f"variants/{base}/")) == 1  # only the plain thumbnail is left
    assert aws.object_keys(f"variants/{other}/") == []
    assert aws.object_keys("refs/") == []
    for image_id, pipeline in using:
        assert variant(image_id, pipeline).status == 404  # re-rendering needs the mark
    assert variant(base, "thumbnail:32.png").body == plain.body


def test_a_failed_check_after_writing_removes_the_variant(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the records cannot be read again after the write, the variant is not trusted."""
    image_id = stored()
    catalog = dependencies().catalog
    real_get = catalog.get
    reads: list[str] = []

    def second_read_fails(read_id: str) -> Any:
        reads.append(read_id)
        if len(reads) == 2:  # the first read is the miss's; the second is the check
            raise ServiceUnavailable("the catalog is throttling; retry")
        return real_get(read_id)

    with monkeypatch.context() as patch:
        patch.setattr(catalog, "get", second_read_fails)
        answer = variant(image_id, "thumbnail:40.png")
    assert answer.status == 503
    assert aws.object_keys(f"variants/{image_id}/") == []
    assert variant(image_id, "thumbnail:40.png").status == 200  # the retry renders it again

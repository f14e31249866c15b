"""patch, similar, list by tag and dedupe in both clients and the CLI, against the local server."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from PIL import Image, ImageFilter
from progimage import AsyncProgImage, ProgImage
from progimage.cli import main

from tests.client.conftest import API_KEY, SIGNING_KEY

pytestmark = pytest.mark.e2e


def blobs(size: int = 256) -> Image.Image:
    """A smooth picture of its own (blurred noise): no other test's image is near it."""
    noise = Image.effect_noise((size, size), 120).convert("RGB")
    return noise.filter(ImageFilter.GaussianBlur(size / 16))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def pair() -> tuple[bytes, bytes]:
    """A picture, and the same at half size recompressed at quality 60."""
    image = blobs()
    return jpeg(image), jpeg(image.resize((128, 128), Image.Resampling.LANCZOS), 60)


def test_patch_list_by_tag_similar_and_dedupe(api: str) -> None:
    tag = f"t-{uuid.uuid4().hex[:12]}"
    original, copy = pair()
    with ProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        first, second = client.upload(original), client.upload(copy)
        assert first.phash is not None and len(first.phash) == 16
        patched = client.patch(first.id, tags=[tag.upper()], metadata={"alt": "blobs"})
        assert patched.tags == (tag,) and patched.metadata == {"alt": "blobs"}
        assert patched.focal_point == first.focal_point is not None  # found at upload, kept
        moved = client.patch(first.id, focal_point=(0.25, 0.75))
        assert moved.focal_point == (0.25, 0.75) and moved.tags == (tag,)
        assert client.patch(first.id, focal_point=None).focal_point is None
        client.patch(second.id, tags=[tag])
        assert [r.id for r in client.list(tag=tag)] == [second.id, first.id]
        assert [r.id for r in client.list(tag=tag, page_size=1)] == [second.id, first.id]
        near = list(client.similar(first.id, 8))
        assert [r.id for r in near] == [second.id] and near[0].distance is not None
        assert near[0].distance <= 8
        assert list(client.similar(first.id, 8, page_size=1)) == near  # a cursor per image
        again = client.upload(original, dedupe=True)
        assert again.id == first.id
        assert client.upload(original).id != first.id  # without dedupe: stored again
        with pytest.raises(ValueError, match="dedupe"):
            client.upload(original, dedupe=True, presigned=True)


@pytest.mark.anyio
async def test_the_async_client_does_the_same(api: str) -> None:
    tag = f"t-{uuid.uuid4().hex[:12]}"
    original, copy = pair()
    async with AsyncProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        first, second = await client.upload(original), await client.upload(copy)
        patched = await client.patch(first.id, tags=[tag], focal_point=(1, 0))
        assert patched.tags == (tag,) and patched.focal_point == (1.0, 0.0)
        assert [r.id async for r in client.list(tag=tag)] == [first.id]
        assert [r.id async for r in client.similar(first.id, 8)] == [second.id]
        assert (await client.upload(copy, dedupe=True)).id == second.id


def test_cli_patch_similar_and_ls_by_tag(
    env: pytest.MonkeyPatch, api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("PROGIMAGE_URL", api)
    env.setenv("PROGIMAGE_API_KEY", API_KEY)
    env.setenv("PROGIMAGE_SIGNING_KEY", SIGNING_KEY)
    tag = f"t-{uuid.uuid4().hex[:12]}"
    original, copy = pair()
    with ProgImage(signing_key=SIGNING_KEY) as client:
        first, second = client.upload(original), client.upload(copy)
    assert main(["patch", first.id, "--tags", tag, "--meta", "a=b", "--focal", "0.5,0.5"]) == 0
    assert tag in capsys.readouterr().out
    assert main(["ls", "--tag", tag, "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == first.id and listed["metadata"] == {"a": "b"}
    assert listed["focal_point"] == {"x": 0.5, "y": 0.5}
    assert main(["similar", first.id, "-d", "8"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert second.id in line
    assert main(["patch", first.id, "--tags", "not a tag"]) != 0
    assert "tags" in capsys.readouterr().err
    assert main(["patch", first.id, "--focal", "2,0"]) != 0
    assert "between 0 and 1" in capsys.readouterr().err

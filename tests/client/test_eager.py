"""Eager variants from the client: an upload naming presets (``eager=[...]``, ``--eager``) has
the server render them through a job the client exposes, after which the first view of each is
a cache hit; names the server does not know, and what cannot be sent, are refused.

These tests use the tenant ``beta``, which no other test gives presets, so no preset saved
eager elsewhere queues a job of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from progimage import AsyncProgImage, BadRequest, Pipeline, ProgImage
from progimage.cli import EXIT_INVALID, EXIT_USAGE, main

from tests.client.conftest import TENANT_KEYS
from tests.images import decode

pytestmark = pytest.mark.e2e

TENANT = "beta"
API_KEY, SIGNING_KEY = TENANT_KEYS[TENANT]
JOB_WAIT = 120.0  # seconds: a bound on a hung job, not a speed expectation


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(api: str) -> Iterator[ProgImage]:
    with ProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY, tenant=TENANT) as client:
        yield client


def view(client: ProgImage, image_id: str, preset: str) -> httpx.Response:
    """A variant's GET through its signed URL: the client keeps the response headers to itself."""
    response = httpx.get(client.url(image_id, Pipeline().preset(preset)))
    response.raise_for_status()
    return response


def test_a_named_preset_is_rendered_ahead(client: ProgImage, jpeg: bytes) -> None:
    named, other = unique("card"), unique("other")
    client.save_preset(named, "resize:40:30:fill.webp")
    client.save_preset(other, "resize:30:40:fill.webp")
    assert not client.preset(named).eager

    image = client.upload(jpeg, eager=[named])
    assert image.eager_job is not None and image.ready
    job = client.wait_for_job(image.eager_job, timeout=JOB_WAIT, poll_interval=0.2)
    assert (job.total, job.succeeded, job.failed) == (1, 1, 0)

    first = view(client, image.id, named)
    assert first.headers["x-variant-cache"] == "hit"
    assert decode(first.content).size == (40, 30)
    assert view(client, image.id, other).headers["x-variant-cache"] == "miss"  # not named

    plain = client.upload(jpeg)
    assert plain.eager_job is None  # no eager preset, none named: no job
    assert client.info(image.id) == image  # the job is the upload's answer, not the image's


def test_a_preset_saved_eager_is_rendered_without_being_named(
    client: ProgImage, jpeg: bytes
) -> None:
    name = unique("eager")
    client.save_preset(name, "thumbnail:24.png", eager=True)
    try:
        (result,) = client.upload_many([jpeg], raise_on_error=True)
        assert result.eager_job is not None
        assert result.to_dict()["eager_job"] == result.eager_job
        client.wait_for_job(result.eager_job, timeout=JOB_WAIT, poll_interval=0.2)
        assert view(client, result.raise_for_error().id, name).headers["x-variant-cache"] == "hit"
    finally:
        client.delete_preset(name)


def test_an_unknown_preset_is_a_bad_request(client: ProgImage, jpeg: bytes) -> None:
    known = unique("card")
    client.save_preset(known, "thumbnail:20")
    with pytest.raises(BadRequest) as unknown:
        client.upload(jpeg, eager=[known, unique("missing")])
    assert (unknown.value.status, unknown.value.param) == (400, "eager")
    with pytest.raises(BadRequest) as bad:
        client.upload(jpeg, eager=["bad name"])
    assert bad.value.param == "eager"


def test_what_cannot_be_sent_is_refused_before_any_request(jpeg: bytes) -> None:
    with ProgImage("http://127.0.0.1:9", api_key="unused", max_retries=0) as client:
        with pytest.raises(TypeError, match="list of preset names"):
            client.upload(jpeg, eager="card")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="list of preset names"):
            client.upload_many([jpeg], eager="card")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            client.upload(jpeg, eager=[1])  # type: ignore[list-item]
        for names in (["a,b"], [""], ["card", ""]):
            with pytest.raises(ValueError, match="not a preset name"):
                client.upload(jpeg, eager=names)
        with pytest.raises(ValueError, match="eager needs a direct upload"):
            client.upload(jpeg, eager=["card"], presigned=True)
        (refused,) = client.upload_many([jpeg], eager=["card"], presigned=True)
        assert isinstance(refused.error, ValueError) and "eager" in str(refused.error)
        assert refused.eager_job is None


@pytest.mark.anyio
async def test_the_async_client_does_the_same(api: str, jpeg: bytes) -> None:
    name = unique("card")
    async with AsyncProgImage(
        api, api_key=API_KEY, signing_key=SIGNING_KEY, tenant=TENANT
    ) as client:
        await client.save_preset(name, "resize:36:20:fill.png")
        image = await client.upload(jpeg, eager=[name])
        assert image.eager_job is not None
        (many,) = await client.upload_many([jpeg], eager=(name,), raise_on_error=True)
        assert many.eager_job is not None and many.eager_job != image.eager_job
        for job_id in (image.eager_job, many.eager_job):
            done = await client.wait_for_job(job_id, timeout=JOB_WAIT, poll_interval=0.2)
            assert (done.succeeded, done.failed) == (1, 0)
        async with httpx.AsyncClient() as http:
            for record in (image, many.raise_for_error()):
                first = await http.get(client.url(record.id, Pipeline().preset(name)))
                assert first.headers["x-variant-cache"] == "hit"
                assert decode(first.content).size == (36, 20)
        with pytest.raises(BadRequest) as unknown:
            await client.upload(jpeg, eager=[unique("missing")])
        assert unknown.value.param == "eager"
        with pytest.raises(ValueError, match="eager"):
            await client.upload(jpeg, eager=[name], presigned=True)


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(env: pytest.MonkeyPatch, api: str) -> pytest.MonkeyPatch:
    env.setenv("PROGIMAGE_URL", api)
    env.setenv("PROGIMAGE_API_KEY", API_KEY)
    env.setenv("PROGIMAGE_SIGNING_KEY", SIGNING_KEY)
    env.setenv("PROGIMAGE_TENANT", TENANT)
    return env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_upload_eager(cli_env, capsys, client: ProgImage, tmp_path: Path, jpeg: bytes) -> None:
    card, hero = unique("card"), unique("hero")
    client.save_preset(card, "resize:40:30:fill.webp")
    client.save_preset(hero, "thumbnail:16.png")
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg)

    code, out, err = run(capsys, "upload", str(path), "--eager", f"{card},{hero}")
    assert code == 0, err
    image_id, source, *label, job_id = out.split()
    assert (source, label) == (str(path), ["eager", "job"])
    job = client.wait_for_job(job_id, timeout=JOB_WAIT, poll_interval=0.2)
    assert (job.total, job.failed) == (2, 0)
    for name in (card, hero):
        assert view(client, image_id, name).headers["x-variant-cache"] == "hit"

    code, out, err = run(capsys, "upload", str(path), "--eager", card, "--json")
    (result,) = json.loads(out)
    assert code == 0, err
    assert client.wait_for_job(result["eager_job"], timeout=JOB_WAIT).succeeded == 1
    code, out, _ = run(capsys, "upload", str(path), "--json")
    assert code == 0 and "eager_job" not in json.loads(out)[0]

    code, _, err = run(capsys, "upload", str(path), "--eager", unique("missing"))
    assert code == EXIT_INVALID and "eager" in err
    code, _, err = run(capsys, "upload", str(path), "--eager", card, "--presigned")
    assert code == EXIT_USAGE and "--eager" in err
    code, _, err = run(capsys, "upload", str(path), "--eager", f"{card},")
    assert code == EXIT_USAGE and "NAME[,NAME...]" in err

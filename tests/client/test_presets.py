"""Presets in both clients and the CLI, and dedupe in upload_many and ``upload --dedupe``,
against the local server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from progimage import AsyncProgImage, BadRequest, NotFound, Pipeline, ProgImage
from progimage.cli import EXIT_INVALID, EXIT_NOT_FOUND, main

from tests.client.conftest import API_KEY, SIGNING_KEY
from tests.images import decode

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    """A preset name no other test uses (the server is shared by the package)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(api: str) -> ProgImage:
    with ProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        yield client


def test_save_show_list_and_delete(client: ProgImage) -> None:
    name = unique("card")
    saved = client.save_preset(name, Pipeline().resize(64, 32, fit="fill").format("webp"))
    assert (saved.name, saved.ops, saved.format, saved.eager) == (
        name,
        "resize:64:32:fill",
        "webp",
        False,
    )
    assert saved.version >= 1 and saved.updated_at is not None
    assert client.preset(name) == saved
    assert client.preset(name.upper()) == saved  # names are read in lower case
    assert saved.to_dict()["name"] == name

    edited = client.save_preset(name, "resize:40:40:fill/grayscale.png", eager=True)
    assert edited.version == saved.version + 1
    assert (edited.ops, edited.format, edited.eager) == ("resize:40:40:fill/grayscale", "png", True)
    as_list = client.save_preset(name, [{"op": "rotate", "angle": 90}], format="JPEG")
    assert as_list.version == edited.version + 1
    assert (as_list.ops, as_list.format, as_list.eager) == ("rotate:90", "jpg", False)

    other = client.save_preset(unique("aaa"), "grayscale")
    listed = client.presets()
    names = [p.name for p in listed]
    assert names == sorted(names) and {name, other.name} <= set(names)
    assert next(p for p in listed if p.name == name) == as_list

    client.delete_preset(name)
    with pytest.raises(NotFound) as missing:
        client.preset(name)
    assert missing.value.status == 404
    with pytest.raises(NotFound):
        client.delete_preset(name)
    assert name not in {p.name for p in client.presets()}


@pytest.mark.parametrize("name", ["-card", "bad name", "a" * 65, "caf\u00e9"])
def test_a_bad_name_is_a_400(client: ProgImage, name: str) -> None:
    with pytest.raises(BadRequest) as error:
        client.save_preset(name, "grayscale")
    assert error.value.status == 400
    with pytest.raises(BadRequest):
        client.preset(name)


def test_bad_presets_are_refused(client: ProgImage) -> None:
    with pytest.raises(BadRequest) as nested:
        client.save_preset(unique("nested"), Pipeline().preset("card"))
    assert nested.value.status == 400
    with pytest.raises(BadRequest):
        client.save_preset(unique("empty"), "webp")  # a format alone is no preset
    with pytest.raises(BadRequest):
        client.save_preset(unique("unknown"), "sparkle:3")
    with pytest.raises(ValueError, match="format"):
        client.save_preset(unique("fmt"), "grayscale", format="bogus")
    with pytest.raises(ValueError, match="preset name"):
        client.preset("")
    with pytest.raises(TypeError, match="eager"):
        client.save_preset(unique("eager"), "grayscale", eager="yes")  # type: ignore[arg-type]


def test_a_variant_through_a_preset_has_its_size(client: ProgImage, png: bytes) -> None:
    name = unique("card")
    image = client.upload(png)  # 128x128
    client.save_preset(name, Pipeline().resize(60, 30, fit="fill").format("webp"))
    via_preset = decode(client.get(image.id, Pipeline().preset(name)))
    assert (via_preset.format, via_preset.size) == ("WEBP", (60, 30))
    # Its steps stand where the preset is named; the URL's format wins over the preset's.
    rotated = decode(client.get(image.id, Pipeline().preset(name).rotate(90).format("png")))
    assert (rotated.format, rotated.size) == ("PNG", (30, 60))
    client.save_preset(name, "resize:20:50:fill")  # edited: the same URL, the new size
    edited = decode(client.get(image.id, Pipeline().preset(name)))
    assert (edited.format, edited.size) == ("PNG", (20, 50))
    with pytest.raises(BadRequest) as unknown:
        client.get(image.id, Pipeline().preset(unique("missing")))
    assert unknown.value.status == 400


@pytest.mark.anyio
async def test_the_async_client_does_the_same(api: str, png: bytes) -> None:
    name = unique("card")
    async with AsyncProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        saved = await client.save_preset(name, Pipeline().resize(48, 24, fit="fill"), eager=True)
        assert (saved.ops, saved.format, saved.eager) == ("resize:48:24:fill", None, True)
        again = await client.save_preset(name, "resize:24:48:fill.webp")
        assert again.version == saved.version + 1 and again.format == "webp"
        assert await client.preset(name) == again
        assert name in {p.name for p in await client.presets()}
        image = await client.upload(png)
        variant = decode(await client.get(image.id, Pipeline().preset(name)))
        assert (variant.format, variant.size) == ("WEBP", (24, 48))
        with pytest.raises(BadRequest) as bad:
            await client.save_preset("-bad", "grayscale")
        assert bad.value.status == 400
        await client.delete_preset(name)
        with pytest.raises(NotFound) as missing:
            await client.preset(name)
        assert missing.value.status == 404


# --- dedupe in upload_many -------------------------------------------------------------------


def test_upload_many_with_dedupe_answers_the_stored_images(client: ProgImage, jpeg: bytes) -> None:
    first = client.upload(jpeg)
    results = client.upload_many([jpeg, jpeg], dedupe=True, raise_on_error=True)
    assert [r.raise_for_error().id for r in results] == [first.id, first.id]
    stored_again = client.upload_many([jpeg], raise_on_error=True)[0].raise_for_error()
    assert stored_again.id != first.id  # without dedupe: stored again
    (refused,) = client.upload_many([jpeg], dedupe=True, presigned=True)
    assert isinstance(refused.error, ValueError) and "dedupe" in str(refused.error)


@pytest.mark.anyio
async def test_async_upload_many_with_dedupe(api: str, jpeg: bytes) -> None:
    async with AsyncProgImage(api, api_key=API_KEY, signing_key=SIGNING_KEY) as client:
        first = await client.upload(jpeg)
        (result,) = await client.upload_many([jpeg], dedupe=True, raise_on_error=True)
        assert result.raise_for_error().id == first.id


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(env: pytest.MonkeyPatch, api: str) -> pytest.MonkeyPatch:
    env.setenv("PROGIMAGE_URL", api)
    env.setenv("PROGIMAGE_API_KEY", API_KEY)
    env.setenv("PROGIMAGE_SIGNING_KEY", SIGNING_KEY)
    return env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_preset_save_show_ls_and_rm(cli_env, capsys) -> None:
    name = unique("cli")
    code, out, err = run(capsys, "preset", "save", name, "resize:64:32:fill", "-f", "webp")
    assert code == 0, err
    assert out.split()[:4] == [name, "v1", "webp", "resize:64:32:fill"]
    code, out, _ = run(capsys, "preset", "save", name, "thumbnail:40.png", "--eager", "--json")
    saved = json.loads(out)
    assert code == 0 and saved["version"] == 2 and saved["format"] == "png" and saved["eager"]
    code, out, _ = run(capsys, "preset", "show", name, "--json")
    assert code == 0 and json.loads(out) == saved
    code, out, _ = run(capsys, "preset", "show", name)
    assert code == 0 and "ops:" in out and "thumbnail:40" in out and "version:" in out
    code, out, _ = run(capsys, "preset", "ls", "--json")
    assert code == 0 and saved in json.loads(out)
    code, out, _ = run(capsys, "preset", "ls")
    assert code == 0 and any(line.split()[0] == name for line in out.splitlines())
    code, out, _ = run(capsys, "preset", "rm", name, "--json")
    assert code == 0 and json.loads(out) == {"name": name, "deleted": True}
    code, out, err = run(capsys, "preset", "show", name)
    assert code == EXIT_NOT_FOUND and "404 not_found" in err
    code, out, err = run(capsys, "preset", "rm", name, "--json")
    assert code == EXIT_NOT_FOUND and json.loads(out)["error"]["status"] == 404
    code, out, err = run(capsys, "preset", "save", "bad name", "grayscale")
    assert code == EXIT_INVALID and "400" in err
    code, out, err = run(capsys, "preset")
    assert code == 1 and "PRESET_COMMAND" in err


def test_cli_upload_dedupe(cli_env, capsys, tmp_path: Path, jpeg: bytes) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg)
    code, out, _ = run(capsys, "upload", str(path), "--json")
    first = json.loads(out)[0]["image"]["id"]
    code, out, err = run(capsys, "upload", "--dedupe", str(path), str(path))
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()] == [first, first]
    code, out, _ = run(capsys, "upload", str(path))
    assert code == 0 and out.split()[0] != first
    code, _, err = run(capsys, "upload", "--dedupe", "--presigned", str(path))
    assert code == 1 and "not allowed with" in err

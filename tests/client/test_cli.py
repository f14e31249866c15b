"""The ``progimage`` command line against the local server: every command, --json, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from progimage import ProgImage
from progimage.cli import EXIT_CODES, exit_code, main

from tests.client.conftest import (
    API_KEY,
    IMAGE_RECORD,
    MASTER_KEY,
    SIGNING_KEY,
    TENANT_KEYS,
    Reply,
    Scripted,
)
from tests.images import decode

pytestmark = pytest.mark.e2e

MISSING_ID = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"


@pytest.fixture
def cli_env(env: pytest.MonkeyPatch, api: str) -> pytest.MonkeyPatch:
    env.setenv("PROGIMAGE_URL", api)
    env.setenv("PROGIMAGE_API_KEY", API_KEY)
    env.setenv("PROGIMAGE_SIGNING_KEY", SIGNING_KEY)
    return env


@pytest.fixture
def files(tmp_path: Path, png: bytes, jpeg: bytes) -> list[Path]:
    paths = []
    for index, data in enumerate([png, jpeg, png]):
        path = tmp_path / f"in-{index}.{'png' if data is png else 'jpg'}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def upload_one(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code, out, _ = run(capsys, "upload", str(path), "--json")
    assert code == 0
    return json.loads(out)[0]["image"]["id"]


def test_upload_prints_ids_and_json(cli_env, capsys, files: list[Path]) -> None:
    code, out, err = run(capsys, "upload", *map(str, files))
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("  ")[1] for line in lines] == [str(f) for f in files]
    image_id = lines[0].split()[0]
    code, out, _ = run(capsys, "upload", "--json", str(files[1]))
    [result] = json.loads(out)
    assert code == 0 and result["image"]["format"] == "jpeg" and result["source"] == str(files[1])
    with ProgImage(signing_key=SIGNING_KEY) as client:
        assert client.info(image_id).ready


def test_upload_progress_bar(cli_env, capsys, files: list[Path]) -> None:
    code, _, err = run(capsys, "upload", "--progress", "-j", "2", *map(str, files))
    assert code == 0
    assert "uploading [" in err and "3/3" in err and err.endswith("\n")
    code, _, err = run(capsys, "upload", *map(str, files))  # not a terminal: no bar
    assert code == 0 and "uploading" not in err


def test_upload_failures_set_the_exit_code(
    cli_env, capsys, files: list[Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    code, out, err = run(capsys, "upload", str(files[0]), str(bad))
    assert code == 3
    assert len(out.splitlines()) == 1 and f"{bad}: 415 unsupported_format" in err
    code, out, err = run(capsys, "upload", "--json", str(tmp_path / "missing.png"), str(bad))
    assert code == 2  # the first failure: a missing file
    results = json.loads(out)
    assert results[0]["error"]["code"] == "not_found"  # the server's codes, for local errors too
    assert results[1]["error"]["status"] == 415


def test_upload_presigned(cli_env, capsys, files: list[Path]) -> None:
    code, out, _ = run(capsys, "upload", "--presigned", "--json", str(files[0]))
    assert code == 0 and json.loads(out)[0]["image"]["status"] == "ready"
    code, out, _ = run(capsys, "upload", "--presigned", "--no-wait", "--json", str(files[0]))
    assert code == 0 and json.loads(out)[0]["image"]["status"] == "pending"


def test_get(cli_env, capsys, files: list[Path], tmp_path: Path, png: bytes) -> None:
    image_id = upload_one(capsys, files[0])
    out_file = tmp_path / "out.webp"
    code, _, err = run(capsys, "get", image_id, "-o", str(out_file))
    assert code == 0 and f"wrote {out_file}" in err
    assert decode(out_file.read_bytes()).format == "WEBP"
    same = tmp_path / "same.png"
    assert run(capsys, "get", image_id, "-o", str(same))[0] == 0
    assert decode(same.read_bytes()).format == "PNG"
    thumb = tmp_path / "thumb.jpg"
    code, out, _ = run(capsys, "get", image_id, "thumbnail:40", "-o", str(thumb), "--json")
    assert code == 0 and json.loads(out)["path"] == str(thumb)
    assert decode(thumb.read_bytes()).size == (40, 40)
    code, _, err = run(capsys, "get", MISSING_ID, "-o", str(tmp_path / "x.png"))
    assert code == 2 and "404 not_found" in err and not (tmp_path / "x.png").exists()


def test_get_to_stdout(cli_env, capsysbinary, png: bytes) -> None:
    with ProgImage(signing_key=SIGNING_KEY) as client:
        image_id = client.upload(png).id
    assert main(["get", image_id, "-o", "-"]) == 0
    assert capsysbinary.readouterr().out == png


def test_transform(cli_env, capsys, files: list[Path], tmp_path: Path) -> None:
    image_id = upload_one(capsys, files[0])
    out_file = tmp_path / "out.png"
    code, _, err = run(
        capsys, "transform", image_id, "resize:256:256/grayscale", "-o", str(out_file)
    )
    assert code == 0, err
    image = decode(out_file.read_bytes())
    assert (image.format, image.size, image.mode) == ("PNG", (256, 256), "L")
    local = tmp_path / "local.webp"
    assert run(capsys, "transform", str(files[1]), "thumbnail:30", "-o", str(local))[0] == 0
    assert decode(local.read_bytes()).size == (30, 30)
    code, out, _ = run(capsys, "transform", image_id, "sepia.jpg", "--store")
    assert code == 0 and len(out.strip()) == 25
    code, out, _ = run(capsys, "transform", image_id, "sepia", "-f", "webp", "--store", "--json")
    assert code == 0 and json.loads(out)["format"] == "webp"
    code, out, err = run(
        capsys, "transform", image_id, "blur:0", "-o", str(tmp_path / "x.png"), "--json"
    )
    assert code == 3 and json.loads(out)["error"]["param"] == "ops[0]"
    assert run(capsys, "transform", "no/such/file.png", "grayscale", "-o", "x.png")[0] == 2


def test_info(cli_env, capsys, files: list[Path]) -> None:
    image_id = upload_one(capsys, files[1])
    code, out, _ = run(capsys, "info", image_id)
    assert code == 0 and f"id:           {image_id}" in out and "format:       jpeg" in out
    code, out, _ = run(capsys, "info", image_id, "--json")
    assert code == 0 and json.loads(out)["id"] == image_id
    code, out, err = run(capsys, "--json", "info", MISSING_ID)
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found"
    assert "request id" in err


def test_ls(cli_env, capsys, files: list[Path]) -> None:
    ids = [upload_one(capsys, path) for path in files]
    code, out, _ = run(capsys, "ls", "-n", "3")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ids[::-1]
    assert "ready" in out and "128x128" in out
    code, out, _ = run(capsys, "ls", "--json", "--limit", "2", "--page-size", "1")
    assert [record["id"] for record in json.loads(out)] == ids[:0:-1]


def test_rm(cli_env, capsys, files: list[Path]) -> None:
    image_id = upload_one(capsys, files[1])
    code, out, _ = run(capsys, "rm", image_id)
    assert code == 0 and out == f"deleted {image_id}\n"
    code, out, err = run(capsys, "rm", image_id, "--json")
    assert code == 2 and json.loads(out) == [
        {"id": image_id, "deleted": False, "error": json.loads(out)[0]["error"]}
    ]
    assert "404 not_found" in err


def test_url(cli_env, capsys, files: list[Path], api: str) -> None:
    import httpx

    image_id = upload_one(capsys, files[0])
    code, out, _ = run(capsys, "url", image_id, "thumbnail:33", "-f", "png", "--expires-in", "60")
    url = out.strip()
    assert code == 0 and url.startswith(f"{api}/images/{image_id}/thumbnail:33.png?exp=")
    assert decode(httpx.get(url).content).size == (33, 33)
    code, out, _ = run(capsys, "url", image_id, "--json", "--signing-key", "")
    assert code == 0 and json.loads(out)["url"].startswith(api)


def test_a_tenant_s_urls_and_images(cli_env, capsys, api: str, png: bytes) -> None:
    import httpx

    api_key, signing_key = TENANT_KEYS["alpha"]
    with ProgImage(api, api_key=api_key) as alpha:
        image_id = alpha.upload(png).id
    keys = ["--api-key", api_key, "--signing-key", signing_key]
    code, out, _ = run(capsys, *keys, "--tenant", "alpha", "url", image_id, "thumbnail:12.png")
    url = out.strip()
    assert code == 0 and url.startswith(f"{api}/images/{image_id}/thumbnail:12.png?tenant=alpha&")
    assert decode(httpx.get(url).content).size == (12, 12)
    assert run(capsys, *keys, "info", image_id)[0] == 0
    assert run(capsys, "info", image_id)[0] == 2  # the default tenant's key: not its image
    cli_env.setenv("PROGIMAGE_TENANT", "alpha")
    code, out, _ = run(capsys, *keys, "url", image_id, "--json")
    assert code == 0 and "?tenant=alpha&sig=" in json.loads(out)["url"]
    assert run(capsys, "--tenant", "Alpha", "url", image_id)[0] == 1


def test_signing_key_prints_a_tenant_s_key_without_a_service(
    env: pytest.MonkeyPatch, capsys
) -> None:
    env.setenv("PROGIMAGE_SIGNING_MASTER_KEY", MASTER_KEY)
    code, out, _ = run(capsys, "signing-key", "alpha")
    assert code == 0 and out == TENANT_KEYS["alpha"][1] + "\n"
    # The secret's value as it is: comma-separated master keys, the newest first.
    env.setenv("PROGIMAGE_SIGNING_MASTER_KEY", f" {MASTER_KEY} ,an-older-key")
    code, out, _ = run(capsys, "signing-key", "beta", "--json")
    assert json.loads(out) == {"tenant": "beta", "signing_key": TENANT_KEYS["beta"][1]}
    env.delenv("PROGIMAGE_SIGNING_MASTER_KEY")
    env.setattr("sys.stdin", io.StringIO(MASTER_KEY + "\n"))
    code, out, _ = run(capsys, "signing-key", "default")
    assert code == 0 and out.strip() == SIGNING_KEY
    env.setattr("sys.stdin", io.StringIO("\n"))
    code, _, err = run(capsys, "signing-key", "alpha")
    assert code == 1 and "master key is empty" in err
    code, _, err = run(capsys, "signing-key", "Alpha")
    assert code == 1 and "not a tenant name" in err


def test_jobs(cli_env, capsys, files: list[Path], tmp_path: Path) -> None:
    image_id = upload_one(capsys, files[0])
    code, out, _ = run(
        capsys, "job", "submit", image_id, image_id, "--ops", "thumbnail:20", "-f", "png"
    )
    job_id = out.strip()
    assert code == 0 and len(job_id) == 25
    code, out, _ = run(capsys, "job", "status", job_id, "--wait", "--progress")
    assert code == 0 and "done  2/2 (2 succeeded, 0 failed)" in out
    code, out, _ = run(capsys, "job", "results", job_id)
    assert code == 0 and out.splitlines()[0].startswith("0  200  http")
    code, out, _ = run(capsys, "job", "results", job_id, "--json")
    assert [r["index"] for r in json.loads(out)] == [0, 1]

    items = tmp_path / "items.json"
    items.write_text(
        json.dumps(
            {"items": [{"source": {"id": image_id}, "ops": "blur:0"}, {"source": {"id": image_id}}]}
        )
    )
    code, out, _ = run(capsys, "job", "submit", "--items", str(items), "--wait", "--json")
    job = json.loads(out)
    assert code == 3 and job["status"] == "done" and job["failed"] == 1
    code, out, _ = run(capsys, "job", "status", job["job_id"], "--json")
    assert code == 0 and json.loads(out)["total"] == 2
    assert run(capsys, "job", "status", MISSING_ID)[0] == 2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["get"],
        ["job"],
        ["job", "submit", "--ops", "grayscale"],
        ["job", "submit", MISSING_ID],
        ["upload", "-j", "0", "x.png"],
        ["ls", "--limit", "many"],
    ],
)
def test_usage_errors_exit_1(cli_env, capsys, argv: list[str]) -> None:
    assert run(capsys, *argv)[0] == 1


def test_a_missing_or_wrong_api_key_exits_5(cli_env, capsys, files: list[Path]) -> None:
    cli_env.delenv("PROGIMAGE_API_KEY")
    code, _, err = run(capsys, "upload", str(files[1]))
    assert code == 5 and "401 unauthorized" in err
    code, out, _ = run(capsys, "--api-key", "wrong", "--json", "rm", MISSING_ID)
    assert code == 5 and json.loads(out)[0]["error"]["status"] == 403


def test_no_url_is_a_usage_error(env: pytest.MonkeyPatch, capsys) -> None:
    code, _, err = run(capsys, "info", MISSING_ID)
    assert code == 1 and "--url" in err and "PROGIMAGE_URL" in err
    code, out, _ = run(capsys, "--json", "info", MISSING_ID)
    assert code == 1 and json.loads(out)["error"]["code"] == "usage_error"


def test_json_errors_use_snake_case_codes(
    env: pytest.MonkeyPatch, capsys, scripted: Scripted, tmp_path: Path
) -> None:
    scripted.stop()
    code, out, _ = run(capsys, "--url", scripted.url, "--retries", "0", "--json", "ls")
    assert code == 4 and json.loads(out)["error"]["code"] == "transport_error"
    code, out, _ = run(
        capsys, "--url", scripted.url, "--json", "transform", str(tmp_path / "x.png"), "sepia"
    )
    assert code == 2 and json.loads(out)["error"]["code"] == "not_found"
    code, out, _ = run(capsys, "--url", scripted.url, "--iam", "--api-key", "k", "--json", "ls")
    assert code == 1 and "not both" in json.loads(out)["error"]["message"]


def test_server_and_network_errors_exit_4(
    env: pytest.MonkeyPatch, capsys, scripted: Scripted
) -> None:
    scripted.script(
        Reply(
            503, {"error": {"code": "service_unavailable", "message": "busy"}}, {"Retry-After": "0"}
        )
    )
    code, _, err = run(capsys, "--url", scripted.url, "--retries", "1", "info", MISSING_ID)
    assert code == 4 and "503 service_unavailable" in err and len(scripted.received) == 2
    scripted.script(Reply(401, {"error": {"code": "unauthorized", "message": "no key"}}))
    assert run(capsys, "--url", scripted.url, "--api-key", "x", "rm", MISSING_ID)[0] == 5
    assert scripted.received[0].headers["authorization"] == "Bearer x"
    scripted.script(Reply(200, IMAGE_RECORD))
    assert run(capsys, "--url", scripted.url, "info", MISSING_ID, "--timeout", "5")[0] == 0
    scripted.stop()
    assert run(capsys, "--url", scripted.url, "--retries", "0", "ls")[0] == 4


def test_help_and_version(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "exit codes:" in out and "130  interrupted" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("progimage ")


def test_exit_code_table() -> None:
    import progimage

    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 5, 130}
    assert exit_code(progimage.NotFound("x")) == 2
    assert exit_code(progimage.UploadRejected("x", image_id="y")) == 3
    assert exit_code(progimage.TooLarge("x")) == 3
    assert exit_code(progimage.Forbidden("x")) == 5
    assert exit_code(progimage.NotReady("x")) == 4
    assert exit_code(progimage.RateLimited("x")) == 4
    assert exit_code(progimage.Timeout("x")) == 4
    assert exit_code(progimage.WaitTimeout("x")) == 4


def test_the_installed_console_script(
    env: pytest.MonkeyPatch, api: str, files: list[Path], tmp_path: Path
) -> None:
    script = Path(sys.executable).with_name("progimage")
    if not script.exists():  # pragma: no cover - installed without the console script
        pytest.skip("the progimage console script is not installed in this environment")
    environment = {
        **os.environ,
        "PROGIMAGE_URL": api,
        "PROGIMAGE_API_KEY": API_KEY,
        "PROGIMAGE_SIGNING_KEY": SIGNING_KEY,
    }
    uploaded = subprocess.run(
        [str(script), "upload", "--json", str(files[0])],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert uploaded.returncode == 0, uploaded.stderr
    image_id = json.loads(uploaded.stdout)[0]["image"]["id"]
    out_file = tmp_path / "out.webp"
    fetched = subprocess.run(
        [str(script), "get", image_id, "-o", str(out_file)],
        capture_output=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert fetched.returncode == 0 and decode(out_file.read_bytes()).format == "WEBP"
    missing = subprocess.run(
        [str(script), "info", MISSING_ID],
        capture_output=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2 and b"not_found" in missing.stderr
    module = subprocess.run(
        [sys.executable, "-m", "progimage", "--version"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert module.returncode == 0 and module.stdout.startswith(b"progimage ")

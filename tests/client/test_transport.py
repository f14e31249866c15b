"""Retries, idempotency keys, redirects, credentials, timeouts and configuration, over real HTTP
against a scripted local server (answers chosen by the test: 503 then 201, and so on)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import progimage
import pytest
from progimage import AsyncProgImage, ProgImage
from progimage._base import retry_after_seconds
from progimage.signing import signature

from tests.client.conftest import IMAGE_RECORD, Reply, Scripted

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
UNAVAILABLE = Reply(
    503,
    {"error": {"code": "service_unavailable", "message": "try again"}},
    {"Retry-After": "0", "X-Request-Id": "req-503"},
)
CREATED = Reply(201, IMAGE_RECORD, {"Location": f"/images/{IMAGE_RECORD['id']}"})


def fast(url: str, **kwargs: object) -> ProgImage:
    options: dict = {"backoff_factor": 0.01, "max_backoff": 0.05} | kwargs
    return ProgImage(url, **options)


def test_503_then_201_is_one_upload_with_one_idempotency_key(scripted: Scripted) -> None:
    scripted.script(UNAVAILABLE, CREATED)
    with fast(scripted.url, api_key="k-123") as client:
        record = client.upload(PNG_1X1)
    assert record.id == IMAGE_RECORD["id"] and record.ready
    first, second = scripted.received
    assert first.method == second.method == "POST" and first.path == "/images"
    key = first.headers["idempotency-key"]
    assert len(key) == 36 and second.headers["idempotency-key"] == key
    assert first.body == second.body == PNG_1X1
    assert first.headers["content-type"] == "image/png"
    assert first.headers["authorization"] == "Bearer k-123"
    assert first.headers["user-agent"].startswith("progimage-python/")


def test_a_given_idempotency_key_is_sent_as_is(scripted: Scripted) -> None:
    scripted.script(CREATED)
    with fast(scripted.url) as client:
        client.upload(PNG_1X1, idempotency_key="my-key-1")
    assert scripted.received[0].headers["idempotency-key"] == "my-key-1"
    assert "authorization" not in scripted.received[0].headers  # no key configured


def test_multipart_retries_send_identical_bytes(scripted: Scripted) -> None:
    """The server fingerprints the body under the key: a retry must not change the boundary."""
    upload = {"id": IMAGE_RECORD["id"], "url": f"{scripted.url}/bucket", "fields": {"key": "k"}}
    scripted.script(
        Reply(201, {"uploads": [upload]}),
        Reply(503, "<Error><Code>SlowDown</Code></Error>", {"Retry-After": "0"}),
        Reply(204),
        Reply(200, IMAGE_RECORD),
    )
    with fast(scripted.url, api_key="secret") as client:
        record = client.upload(PNG_1X1, presigned=True)
    assert record.ready
    uploads, first, second, info = scripted.received
    assert json.loads(uploads.body) == {"count": 1, "content_type": "image/png"}
    assert first.body == second.body and b'name="file"' in first.body
    assert first.body.index(b'name="key"') < first.body.index(b'name="file"')  # fields first
    assert "authorization" not in first.headers  # never send credentials to storage
    assert info.path == f"/images/{IMAGE_RECORD['id']}/info"


def test_429_honours_retry_after(scripted: Scripted) -> None:
    throttled = Reply(
        429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "1"}
    )
    scripted.script(throttled, Reply(200, IMAGE_RECORD))
    started = time.monotonic()
    with fast(scripted.url) as client:
        assert client.info(IMAGE_RECORD["id"]).id == IMAGE_RECORD["id"]
    assert time.monotonic() - started >= 0.9  # it waited what the server asked, not the backoff
    assert len(scripted.received) == 2


def test_retries_run_out_and_raise_the_last_error(scripted: Scripted) -> None:
    scripted.script(UNAVAILABLE)
    with (
        fast(scripted.url, max_retries=2) as client,
        pytest.raises(progimage.ServiceUnavailable) as caught,
    ):
        client.info(IMAGE_RECORD["id"])
    assert len(scripted.received) == 3
    error = caught.value
    assert (error.status, error.code, error.request_id, error.retry_after) == (
        503,
        "service_unavailable",
        "req-503",
        0.0,
    )
    assert isinstance(error, progimage.ServerError)


def test_max_retries_zero_does_not_retry(scripted: Scripted) -> None:
    scripted.script(UNAVAILABLE)
    with fast(scripted.url, max_retries=0) as client, pytest.raises(progimage.ServiceUnavailable):
        client.delete(IMAGE_RECORD["id"])
    assert len(scripted.received) == 1


def test_client_errors_are_not_retried(scripted: Scripted) -> None:
    bad = Reply(
        400,
        {"error": {"code": "invalid_operation", "message": "blur: nope", "param": "ops[0]"}},
        {"X-Request-Id": "req-400"},
    )
    scripted.script(bad)
    with fast(scripted.url) as client, pytest.raises(progimage.InvalidOperation) as caught:
        client.get(IMAGE_RECORD["id"], "blur:0")
    assert len(scripted.received) == 1
    assert caught.value.param == "ops[0]" and caught.value.request_id == "req-400"


def test_idempotency_in_progress_is_retried(scripted: Scripted) -> None:
    busy = Reply(409, {"error": {"code": "idempotency_in_progress", "message": "still running"}})
    scripted.script(busy, CREATED)
    with fast(scripted.url) as client:
        assert client.upload(PNG_1X1).ready
    keys = {r.headers["idempotency-key"] for r in scripted.received}
    assert len(scripted.received) == 2 and len(keys) == 1


def test_idempotency_key_reused_is_not_retried(scripted: Scripted) -> None:
    reused = Reply(409, {"error": {"code": "idempotency_key_reused", "message": "different body"}})
    scripted.script(reused)
    with fast(scripted.url) as client, pytest.raises(progimage.IdempotencyConflict):
        client.upload(PNG_1X1, idempotency_key="k")
    assert len(scripted.received) == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_retried_then_a_clear_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with fast(url, max_retries=2) as client, pytest.raises(progimage.TransportError) as caught:
        client.info(IMAGE_RECORD["id"])
    message = str(caught.value)
    assert f"GET {url}/images/{IMAGE_RECORD['id']}/info failed after 3 attempts" in message
    assert not isinstance(caught.value, progimage.Timeout)


def test_a_timeout_is_retried_for_a_get_then_raises_timeout(scripted: Scripted) -> None:
    scripted.script(Reply(200, IMAGE_RECORD, delay=1.0))
    with (
        fast(scripted.url, timeout=0.2, max_retries=1) as client,
        pytest.raises(progimage.Timeout) as caught,
    ):
        client.info(IMAGE_RECORD["id"])
    assert "timed out after 2 attempts" in str(caught.value)
    assert len(scripted.received) == 2


def test_a_per_call_timeout_overrides_the_clients(scripted: Scripted) -> None:
    scripted.script(Reply(200, IMAGE_RECORD, delay=1.0), Reply(200, IMAGE_RECORD, delay=0.5))
    with fast(scripted.url, max_retries=0) as client:
        with pytest.raises(progimage.Timeout):
            client.info(IMAGE_RECORD["id"], timeout=0.2)
        assert client.info(IMAGE_RECORD["id"], timeout=5).id == IMAGE_RECORD["id"]
    with fast(scripted.url, timeout=0.2, max_retries=0) as client:
        scripted.script(Reply(200, IMAGE_RECORD, delay=0.5))
        assert client.info(IMAGE_RECORD["id"], timeout=httpx.Timeout(5)).ready


def test_a_read_timeout_on_a_post_is_retried_with_the_same_key() -> None:
    """Every POST carries a key, so a POST that may have arrived can be sent again."""
    fake = Scripted().start()
    try:
        fake.script(Reply(201, IMAGE_RECORD, delay=1.0), CREATED)
        with fast(fake.url, timeout=0.3, max_retries=1) as client:
            client.upload(PNG_1X1)
        first, second = fake.received
        assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    finally:
        fake.stop()


def test_redirects_are_followed_without_credentials_to_another_host(
    scripted: Scripted, other_host: Scripted
) -> None:
    other_host.script(Reply(200, PNG_1X1, {"Content-Type": "image/png"}))
    scripted.script(
        Reply(307, b"", {"Location": f"{other_host.url}/bucket/originals/x?X-Amz-Signature=abc"})
    )
    with fast(scripted.url, api_key="secret") as client:
        assert client.get(IMAGE_RECORD["id"]) == PNG_1X1
    assert scripted.received[0].headers["authorization"] == "Bearer secret"
    redirected = other_host.received[0]
    assert redirected.path == "/bucket/originals/x?X-Amz-Signature=abc"
    assert "authorization" not in redirected.headers


def test_a_redirect_within_the_api_keeps_credentials(scripted: Scripted) -> None:
    scripted.script(Reply(302, b"", {"Location": "/elsewhere"}), Reply(200, IMAGE_RECORD))
    with fast(scripted.url, api_key="secret") as client:
        client.info(IMAGE_RECORD["id"])
    assert scripted.received[1].path == "/elsewhere"
    assert scripted.received[1].headers["authorization"] == "Bearer secret"


def test_too_many_redirects(scripted: Scripted) -> None:
    scripted.script(Reply(307, b"", {"Location": "/loop"}))
    with fast(scripted.url) as client, pytest.raises(progimage.TransportError, match="redirects"):
        client.get(IMAGE_RECORD["id"])


def test_non_json_errors_still_map_by_status(scripted: Scripted) -> None:
    scripted.script(Reply(404, {"message": "Not Found"}))  # API Gateway's own 404
    with fast(scripted.url) as client, pytest.raises(progimage.NotFound, match="Not Found"):
        client.info(IMAGE_RECORD["id"])
    scripted.script(Reply(413, "Request Entity Too Large", {"Content-Type": "text/plain"}))
    with fast(scripted.url) as client, pytest.raises(progimage.TooLarge):
        client.upload(PNG_1X1)
    scripted.script(Reply(418, {"error": {"code": "teapot", "message": "short and stout"}}))
    with fast(scripted.url) as client, pytest.raises(progimage.APIError) as caught:
        client.info(IMAGE_RECORD["id"])
    assert (caught.value.status, caught.value.code) == (418, "teapot")
    scripted.script(Reply(504, "gateway timeout"))
    with fast(scripted.url) as client, pytest.raises(progimage.ServerError):
        client.info(IMAGE_RECORD["id"])


def test_a_success_that_is_not_json_is_an_error(scripted: Scripted) -> None:
    scripted.script(Reply(200, "<html>captive portal</html>", {"Content-Type": "text/html"}))
    with fast(scripted.url) as client, pytest.raises(progimage.APIError, match="not JSON"):
        client.info(IMAGE_RECORD["id"])


def test_async_client_retries_with_one_key(scripted: Scripted) -> None:
    import asyncio

    scripted.script(UNAVAILABLE, UNAVAILABLE, CREATED)

    async def upload() -> progimage.ImageRecord:
        async with AsyncProgImage(scripted.url, backoff_factor=0.01) as client:
            return await client.upload(PNG_1X1)

    assert asyncio.run(upload()).ready
    assert len({r.headers["idempotency-key"] for r in scripted.received}) == 1
    assert len(scripted.received) == 3


# --- configuration --------------------------------------------------------------------------


def test_base_url_and_keys_from_the_environment(
    env: pytest.MonkeyPatch, scripted: Scripted
) -> None:
    env.setenv("PROGIMAGE_URL", scripted.url + "/")
    env.setenv("PROGIMAGE_API_KEY", "from-env")
    scripted.script(Reply(200, IMAGE_RECORD))
    with ProgImage() as client:
        assert client.base_url == scripted.url
        client.info(IMAGE_RECORD["id"])
    assert scripted.received[0].headers["authorization"] == "Bearer from-env"
    with ProgImage(api_key="explicit") as client:
        client.info(IMAGE_RECORD["id"])
    assert scripted.received[1].headers["authorization"] == "Bearer explicit"


def test_image_requests_are_signed_for_the_client_s_tenant(
    env: pytest.MonkeyPatch, scripted: Scripted
) -> None:
    image_id = IMAGE_RECORD["id"]
    path = f"/images/{image_id}/thumbnail:8.png"
    sig = signature("k", path)
    scripted.script(Reply(200, PNG_1X1, {"Content-Type": "image/png"}))
    with fast(scripted.url, signing_key="k", tenant="alpha") as client:
        client.get(image_id, "thumbnail:8.png")
    env.setenv("PROGIMAGE_TENANT", "alpha")
    with fast(scripted.url, signing_key="k") as client:
        client.fetch(path)  # a variant path from a batch result, signed as the client's
    env.delenv("PROGIMAGE_TENANT")
    with fast(scripted.url, signing_key="k") as client:  # one key: nothing names a tenant
        client.get(image_id, "thumbnail:8.png")
    assert [received.path for received in scripted.received] == [
        f"{path}?tenant=alpha&sig={sig}",
        f"{path}?tenant=alpha&sig={sig}",
        f"{path}?sig={sig}",
    ]


def test_a_missing_url_is_a_clear_error(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="PROGIMAGE_URL"):
        ProgImage()
    with pytest.raises(ValueError, match="http"):
        ProgImage("ftp://example.com")
    with pytest.raises(ValueError, match="max_retries"):
        ProgImage("http://example.com", max_retries=-1)


def test_a_base_path_is_kept(scripted: Scripted) -> None:
    scripted.script(Reply(200, IMAGE_RECORD))
    with fast(scripted.url + "/prod") as client:
        client.info(IMAGE_RECORD["id"])
    assert scripted.received[0].path == f"/prod/images/{IMAGE_RECORD['id']}/info"


def test_repr_and_close(scripted: Scripted) -> None:
    client = ProgImage(scripted.url)
    assert repr(client) == f"ProgImage(base_url='{scripted.url}')"
    client.close()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("2", 2.0), ("1.5", 1.5), ("", None), ("soon", None), (None, None)],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0

"""The exception tree mirrors the server's error codes; signed URLs verify with its code."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import progimage
import pytest
from progimage.errors import error_class, error_from_body
from progimage.signing import image_path, sign_path, sign_url, signature, tenant_key

from progimage_service import errors as server_errors
from progimage_service.errors import Forbidden as ServerForbidden
from progimage_service.imaging.pipeline import parse_path
from progimage_service.signing import signature as server_signature
from progimage_service.signing import tenant_key as server_tenant_key
from progimage_service.signing import verify

# Every code the API answers (the team's list) and the class it must raise.
CODES = {
    "bad_request": (400, progimage.BadRequest),
    "invalid_operation": (400, progimage.InvalidOperation),
    "url_not_allowed": (400, progimage.UrlNotAllowed),
    "unauthorized": (401, progimage.Unauthorized),
    "forbidden": (403, progimage.Forbidden),
    "not_found": (404, progimage.NotFound),
    "not_ready": (409, progimage.NotReady),
    "conflict": (409, progimage.Conflict),
    "idempotency_key_reused": (409, progimage.IdempotencyConflict),
    "idempotency_in_progress": (409, progimage.IdempotencyConflict),
    "too_large": (413, progimage.TooLarge),
    "unsupported_media_type": (415, progimage.UnsupportedMediaType),
    "unsupported_format": (415, progimage.UnsupportedFormat),
    "invalid_image": (415, progimage.InvalidImage),
    "unprocessable": (422, progimage.Unprocessable),
    "rate_limited": (429, progimage.RateLimited),
    "upstream_error": (502, progimage.UpstreamError),
    "service_unavailable": (503, progimage.ServiceUnavailable),
    "internal_error": (500, progimage.InternalError),
}


@pytest.mark.parametrize(("code", "expected"), CODES.items())
def test_each_code_maps_to_its_class(code: str, expected: tuple[int, type]) -> None:
    status, cls = expected
    error = error_from_body(status, {"error": {"code": code, "message": "m", "param": "p"}})
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.param) == (status, code, "m", "p")


def test_every_server_error_class_has_a_client_class() -> None:
    server_classes = [
        cls
        for cls in vars(server_errors).values()
        if isinstance(cls, type) and issubclass(cls, server_errors.ProgImageError)
    ]
    for cls in server_classes:
        client_cls = error_class(cls.status, cls.code)
        assert client_cls.code == cls.code or cls.code == "method_not_allowed", cls
        assert client_cls.status == cls.status


def test_unknown_codes_map_by_status() -> None:
    assert type(error_from_body(404, {"error": {"code": "gone_fishing", "message": "x"}})) is (
        progimage.NotFound
    )
    assert type(error_from_body(415, {"error": {"code": "new_thing", "message": "x"}})) is (
        progimage.UnsupportedMediaType
    )
    assert type(error_from_body(507, {"error": {"code": "disk_full", "message": "x"}})) is (
        progimage.ServerError
    )
    assert type(error_from_body(451, None)) is progimage.APIError
    # A known code under an unexpected status keeps the status and picks the closest class.
    odd = error_from_body(400, {"error": {"code": "not_found", "message": "x"}})
    assert type(odd) is progimage.BadRequest and odd.status == 400


def test_errors_print_everything_a_bug_report_needs() -> None:
    error = progimage.InvalidOperation("blur: no", param="ops[0]", request_id="r-1")
    assert str(error) == "400 invalid_operation: blur: no (param: ops[0]) [request id r-1]"
    assert error.to_dict() == {
        "code": "invalid_operation",
        "message": "blur: no",
        "param": "ops[0]",
        "status": 400,
        "request_id": "r-1",
    }
    rejected = progimage.UploadRejected("not an image", image_id="abc")
    assert isinstance(rejected, progimage.InvalidImage) and rejected.image_id == "abc"
    assert isinstance(progimage.WaitTimeout("x"), TimeoutError)


# --- signing --------------------------------------------------------------------------------


PATH = "/images/0Ojp8iUHJrV2bQ4mJmGpV1rNY/thumbnail:256.jpg"


def query_of(signed: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in signed.split("?", 1)[1].split("&"))


@pytest.mark.parametrize("expires", [None, 1_900_000_000])
@pytest.mark.parametrize("key", ["secret", b"\x00binary\xff"])
def test_signatures_match_the_servers(key: str | bytes, expires: int | None) -> None:
    key_bytes = key.encode() if isinstance(key, str) else key
    assert signature(key, PATH, expires) == server_signature(key_bytes, PATH, expires)


@pytest.mark.parametrize("expires", [None, 1_900_000_000])
@pytest.mark.parametrize("tenant", [None, "default", "alpha", "a-2"])
def test_a_tenant_key_signs_what_the_server_verifies(
    tenant: str | None, expires: int | None
) -> None:
    master = b"master-key"
    named = tenant or "default"
    key = tenant_key(master, named)
    assert key.encode() == server_tenant_key(master, named)
    assert tenant_key(master.decode(), named) == key  # str or bytes: the same key
    signed = sign_path(PATH, key, expires, tenant=tenant)
    query = query_of(signed)
    # The tenant first, then the expiry, then the signature; "default" is never named.
    expected = (["tenant"] if named != "default" else []) + (["exp"] if expires else []) + ["sig"]
    assert list(query) == expected
    arguments = (PATH, query.get("tenant"), query["sig"], query.get("exp"))
    assert verify([b"old", master], *arguments, now=1_800_000_000) == named
    with pytest.raises(ServerForbidden):
        verify([b"old"], *arguments, now=1_800_000_000)


def test_one_tenant_s_key_does_not_sign_another_s_urls() -> None:
    master = b"master-key"
    signed = sign_path(PATH, tenant_key(master, "beta"), tenant="alpha")
    query = query_of(signed)
    with pytest.raises(ServerForbidden):
        verify([master], PATH, query["tenant"], query["sig"], None)
    with pytest.raises(ServerForbidden):  # nor the master key itself
        verify([master], PATH, None, query_of(sign_path(PATH, master))["sig"], None)


@pytest.mark.parametrize("bad", ["", "Alpha", "-a", "a_b", "a" * 33, "ä"])
def test_tenant_names_are_checked_before_signing(bad: str) -> None:
    with pytest.raises(ValueError, match="not a tenant name"):
        tenant_key("master", bad)
    with pytest.raises(ValueError, match="not a tenant name"):
        sign_path(PATH, "key", tenant=bad)


def test_sign_url_builds_the_exact_path() -> None:
    url = sign_url("https://img.example.com/", "abcdefghijklmnop", "thumbnail:256.jpg", key="k")
    assert url.startswith("https://img.example.com/images/abcdefghijklmnop/thumbnail:256.jpg?sig=")
    before = int(time.time())
    expiring = sign_url("https://x", "abcdefghijklmnop", "webp", key="k", expires_in=60)
    exp = int(expiring.split("exp=")[1].split("&")[0])
    assert before + 59 <= exp <= int(time.time()) + 60
    assert expiring.startswith("https://x/images/abcdefghijklmnop.webp?exp=")
    with pytest.raises(ValueError, match="not both"):
        sign_url("https://x", "abcdefghijklmnop", key="k", expires_in=1, expires_at=2)
    with pytest.raises(ValueError, match="non-empty"):
        sign_url("https://x", "abcdefghijklmnop", key="")
    of_alpha = sign_url("https://x", "abcdefghijklmnop", "webp", key="k", tenant="alpha")
    assert of_alpha.startswith("https://x/images/abcdefghijklmnop.webp?tenant=alpha&sig=")


@pytest.mark.parametrize(
    ("pipeline", "fmt", "path"),
    [
        (None, None, "/images/ID0123456789abcdef"),
        ("webp", None, "/images/ID0123456789abcdef.webp"),
        (None, "JPEG", "/images/ID0123456789abcdef.jpg"),
        ("thumbnail:256.jpg", None, "/images/ID0123456789abcdef/thumbnail:256.jpg"),
        ("thumbnail:256.jpg", "png", "/images/ID0123456789abcdef/thumbnail:256.png"),
        (progimage.Pipeline().blur(1.5), None, "/images/ID0123456789abcdef/blur:1.5"),
        ("/resize:10:10/", None, "/images/ID0123456789abcdef/resize:10:10"),
    ],
)
def test_image_paths(pipeline: object, fmt: str | None, path: str) -> None:
    assert image_path("ID0123456789abcdef", pipeline, fmt) == path  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "a/b", "a.b", "a?b", "a#b"])
def test_image_paths_refuse_what_cannot_be_an_id(bad: str) -> None:
    with pytest.raises(ValueError, match="not an image id"):
        image_path(bad)


def test_srcset_lists_signed_variants_the_server_serves_at_each_size() -> None:
    """Each candidate's URL verifies with the server's code and names the server's canonical
    pipeline for that size (a density folds into the lengths: thumbnail:100 at 2x is 200)."""
    master = b"master-key"
    client = progimage.ProgImage(
        "https://cdn.example.com", signing_key=tenant_key(master, "alpha"), tenant="alpha"
    )
    image_id = "0Ojp8iUHJrV2bQ4mJmGpV1rNY"
    by_width = client.srcset(image_id, [320, 640], "grayscale", format="auto")
    by_density = client.srcset(image_id, densities=[1, 1.5, 2], pipeline="thumbnail:100.webp")
    seen = []
    for srcset in (by_width, by_density):
        for candidate in srcset.split(", "):
            url, descriptor = candidate.split(" ")
            parts = urlsplit(url)
            query = query_of(url)
            assert verify([master], parts.path, query["tenant"], query["sig"], None) == "alpha"
            pipeline = parse_path(parts.path.split("/", 3)[3], "image/webp", ("webp",))
            seen.append((descriptor, pipeline.canonical(), pipeline.format.name))
    assert seen == [
        ("320w", "grayscale/resize:320:0", "webp"),
        ("640w", "grayscale/resize:640:0", "webp"),
        ("1x", "thumbnail:100", "webp"),
        ("1.5x", "thumbnail:150", "webp"),
        ("2x", "thumbnail:200", "webp"),
    ]
    with pytest.raises(ValueError, match="widths or densities"):
        client.srcset(image_id, [320], densities=[2])

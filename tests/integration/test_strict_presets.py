"""Strict presets through the real handlers on moto: with signing keys and
``PROGIMAGE_PRESETS_ONLY``, an unsigned variant URL is served only if every step is one of the
image owner's presets; every other unsigned URL is refused exactly as without the option, and a
signed URL is served as it is without it.

Events are built as API Gateway builds them: ``rawPath`` as the client sent it, path parameters
percent-decoded once; the handler parses the decoded pipeline, and so does the check.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from get.app import handler as get_handler
from progimage_service.signing import signature, tenant_key
from tests.hostile.pipelines import Spec, as_url, extensions, pipeline_specs
from tests.integration.conftest import Answer, Aws, call, event
from tests.integration.test_presets import preset
from tests.integration.test_working_copy import photo, upload
from transform.app import handler as transform_handler

MASTER = b"strict-master-key"
OWNER = "default"  # who uploads (the sample upload event's tenant) and saves the presets
CARD = (120, 80)  # preset card: resize to this, as WebP
PRESETS = ("preset:card", "PRESET:Card", "preset:gray")


@pytest.fixture
def image_id(aws: Aws, configure: Any) -> str:
    """The owner's photo and presets, on a deployment that signs URLs, strictly."""
    configure(PROGIMAGE_SIGNING_KEYS=MASTER.decode(), PROGIMAGE_PRESETS_ONLY="true")
    assert preset("PUT", "card", {"ops": "resize:120:80:fill", "format": "webp"}).status == 200
    assert preset("PUT", "gray", {"ops": "grayscale"}).status == 200
    return upload(photo(360, 240, progressive=False))["id"]


def request(
    image_id: str, pipeline: str | None, query: dict[str, str] | None = None, method: str = "GET"
) -> Answer:
    """``pipeline`` as the client writes it in the URL (None: the image itself, with no
    pipeline); signed with the owner's key if ``query`` says ``sig="sign"``."""
    if pipeline is None:
        route, name = "/images/{id}", "get-image"
        raw, parameters = f"/images/{image_id}", {"id": image_id}
    else:
        route, name = "/images/{id}/{pipeline+}", "get-variant"
        raw = f"/images/{image_id}/{pipeline}"
        parameters = {"id": image_id, "pipeline": unquote(pipeline)}
    query = dict(query or {})
    if query.get("sig") == "sign":
        query["sig"] = signature(tenant_key(MASTER, OWNER), raw)
    built = event(name, id=image_id)
    built |= {"routeKey": f"{method} {route}", "rawPath": raw, "pathParameters": parameters}
    built["queryStringParameters"] = query or None
    return call(transform_handler if pipeline is not None else get_handler, built)


def lenient(monkeypatch: pytest.MonkeyPatch, image_id: str, pipeline: str | None, **q: str) -> Any:
    """The same request's answer on the same deployment without strict presets."""
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "false")
    try:
        return request(image_id, pipeline, q)
    finally:
        monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "true")


def refusal(answer: Answer) -> tuple[int, Any]:
    return answer.status, answer.json()


def size_of(answer: Answer) -> tuple[int, int]:
    return Image.open(io.BytesIO(answer.body)).size


@pytest.mark.parametrize("pipeline", ["preset:card", "preset:card.webp", "PRESET:Card"])
def test_an_unsigned_url_naming_a_preset_alone_is_served(image_id: str, pipeline: str) -> None:
    answer = request(image_id, pipeline)
    assert answer.status == 200, answer.body
    assert answer.headers["Content-Type"] == "image/webp" and size_of(answer) == CARD
    head = request(image_id, pipeline, method="HEAD")
    assert head.status == 200 and head.body == b""


def test_presets_alone_may_be_several_and_the_extension_is_the_urls(image_id: str) -> None:
    answer = request(image_id, "preset:card/preset:gray.png")
    assert answer.status == 200, answer.body
    picture = Image.open(io.BytesIO(answer.body))
    assert answer.headers["Content-Type"] == "image/png" and picture.size == CARD
    assert picture.convert("RGB").getextrema()[0] == picture.convert("L").getextrema()


def test_a_preset_of_output_options_alone_publishes_the_full_size_picture(image_id: str) -> None:
    """What the docs suggest where the original itself stays signed; ``.auto`` negotiates."""
    assert preset("PUT", "full", {"ops": "quality:90"}).status == 200
    answer = request(image_id, "preset:full")
    assert answer.status == 200 and size_of(answer) == (360, 240)
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert request(image_id, "preset:full.auto").status == 200


BYPASSES = [
    "preset:card/resize:10:10",
    "resize:10:10/preset:card",
    "preset:card/dpr:2",
    "preset:card/quality:1",
    "preset:card/resize:10:10.webp",
    "preset:card%2Fresize:10:10",
    "preset:card%2fresize:10:10",
    "preset:card%252Fresize:10:10",
    "preset:card%2Fquality:1.webp",
    "preset:card;resize:10:10",
    "preset:card,resize:10:10",
    "preset:card\\resize:10:10",
    "preset:card%5Cresize:10:10",
    "preset:card//resize:10:10",
    "preset:card/",
    "/preset:card",
    "preset:card/.webp",
    "preset:card.webp/resize:10:10",
    "preset:card%00/resize:10:10",
    "preset:card%20",
    "../preset:card",
    "preset:card/../resize:10:10",
    "preset:card/..%2Fresize:10:10",
    "%2e%2e/preset:card",
    "preset:../card",
    "preset:card:resize:10:10",
    "preset:",
    "preset",
    "",
]


@pytest.mark.parametrize("pipeline", BYPASSES)
def test_any_other_unsigned_url_is_refused_exactly_as_without_strict_presets(
    image_id: str, monkeypatch: pytest.MonkeyPatch, pipeline: str
) -> None:
    """Presets followed or preceded by ad-hoc steps, separators encoded once or twice or
    spelled otherwise, traversal: each answers the signature's 403, word for word."""
    strict = request(image_id, pipeline)
    assert strict.status == 403, strict.body
    assert refusal(strict) == refusal(lenient(monkeypatch, image_id, pipeline))
    assert strict.json()["error"]["param"] == "sig"


@pytest.mark.parametrize("pipeline", [None, ".webp", ".auto"])
def test_the_original_and_its_conversions_still_need_a_signature(
    image_id: str, monkeypatch: pytest.MonkeyPatch, pipeline: str | None
) -> None:
    """Strict presets open presets, nothing else: ``/images/{id}`` and ``/images/{id}.ext``."""

    def get(query: dict[str, str] | None = None) -> Answer:
        if pipeline is None:
            return request(image_id, None, query)
        return request_converted(image_id, pipeline, query)

    unsigned = get()
    assert unsigned.status == 403, unsigned.body
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "false")
    assert refusal(get()) == refusal(unsigned)
    monkeypatch.setenv("PROGIMAGE_PRESETS_ONLY", "true")
    assert get({"sig": "sign"}).status == 200


def request_converted(image_id: str, extension: str, query: dict[str, str] | None) -> Answer:
    """GET /images/{id}.ext (the route of the original, its id parameter with the extension)."""
    raw = f"/images/{image_id}{extension}"
    query = dict(query or {})
    if query.get("sig") == "sign":
        query["sig"] = signature(tenant_key(MASTER, OWNER), raw)
    built = event("get-image", id=image_id)
    built |= {"rawPath": raw, "pathParameters": {"id": f"{image_id}{extension}"}}
    built["queryStringParameters"] = query or None
    return call(get_handler, built)


def test_a_preset_the_owner_has_not_saved_is_a_400_that_names_nothing_else(
    image_id: str,
) -> None:
    """Only the name asked for is echoed: not the owner, not the owner's other presets."""
    answer = request(image_id, "preset:nosuch")
    assert answer.status == 400, answer.body
    error = answer.json()["error"]
    assert set(error) <= {"code", "message", "param"} and error["code"] == "invalid_operation"
    assert "nosuch" in error["message"]
    for secret in ("card", "gray", "resize", OWNER):
        assert secret not in error["message"].lower()
    assert set(answer.json()) == {"error"}


def test_the_owners_presets_apply_whatever_tenant_the_url_names(image_id: str) -> None:
    """Unsigned, ``?tenant=`` proves nothing: another tenant's preset of the same name is not
    used, and one the owner lacks is not found."""
    preset("PUT", "card", {"ops": "resize:20:20:fill", "format": "png"}, tenant="other")
    preset("PUT", "wide", {"ops": "resize:300:10:fill"}, tenant="other")
    served = request(image_id, "preset:card", {"tenant": "other"})
    assert served.status == 200 and size_of(served) == CARD
    assert request(image_id, "preset:wide", {"tenant": "other"}).status == 400


def test_an_invalid_or_expired_signature_on_presets_alone_is_served_as_unsigned(
    image_id: str,
) -> None:
    """Anyone could drop the signature and be served: a broken one changes nothing."""
    for query in ({"sig": "forged"}, {"sig": "sign", "exp": "1"}):
        answer = request(image_id, "preset:card", query)
        assert answer.status == 200 and size_of(answer) == CARD, query
    assert request(image_id, "preset:card/grayscale", {"sig": "forged"}).status == 403


def test_without_signing_keys_strict_presets_change_nothing(
    image_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROGIMAGE_SIGNING_KEYS", "")
    for pipeline in ("resize:10:10", "preset:card/resize:10:10", "preset:card"):
        strict = request(image_id, pipeline)
        assert strict.status == 200, (pipeline, strict.body)
        assert strict.headers["ETag"] == lenient(monkeypatch, image_id, pipeline).headers["ETag"]
    assert request(image_id, None).status == 200


def _not_presets_alone(specs: list[Spec]) -> bool:
    return not all(s.valid and s.text.partition(":")[0].lower() == "preset" for s in specs)


def _with_presets(specs: st.SearchStrategy[tuple[list[Spec], bool]]) -> st.SearchStrategy[str]:
    """URL pipelines of generated steps, presets among them, that are not presets alone."""
    presets = st.sampled_from(PRESETS).map(lambda text: Spec(text, {}, True))
    mixed = specs.flatmap(
        lambda drawn: st.lists(presets, max_size=2).flatmap(
            lambda extra: st.permutations(drawn[0] + extra)
        )
    )
    chosen = mixed.filter(lambda steps: bool(steps) and _not_presets_alone(list(steps)))
    return st.tuples(chosen, extensions()).map(lambda p: as_url(list(p[0]), p[1]))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_with_presets(pipeline_specs()))
def test_unsigned_any_pipeline_but_presets_alone_is_refused_as_without_strict_presets(
    image_id: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    pipeline = quote(text, safe="/:")  # as a client sends it; the parameter is decoded again
    strict = request(image_id, pipeline)
    assert strict.status == 403, strict.body
    assert refusal(strict) == refusal(lenient(monkeypatch, image_id, pipeline))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_with_presets(pipeline_specs(render=True, max_ops=3)))
def test_signed_any_pipeline_is_served_as_without_strict_presets(
    image_id: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    pipeline = quote(text, safe="/:")
    usual = lenient(monkeypatch, image_id, pipeline, sig="sign")
    strict = request(image_id, pipeline, {"sig": "sign"})
    assert strict.status == usual.status, (strict.body, usual.body)
    if strict.status == 200:
        for name in ("Content-Type", "ETag", "Cache-Control"):
            assert strict.headers[name] == usual.headers[name], name
    else:
        assert refusal(strict) == refusal(usual)

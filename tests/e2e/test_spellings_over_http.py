"""Every spelling of one canonical form renders one picture, over HTTP against the local server:
stored originals, working copies and POST /transform, in the URL form and the JSON object form.

The spellings are drawn as in tests/unit/test_plan.py (the same strategy, fewer examples: each
one is a dozen real requests). Two uploads of the same picture keep two variant caches, so two
spellings of one canonical form each render instead of one being served the other's object.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from localserver import LocalServer
from tests.hostile.pipelines import MARK_ID, MASK_ID, Spec
from tests.images import decode
from tests.unit.test_plan import _picture, _same, spellings

pytestmark = pytest.mark.e2e
# The two pictures: the first has no working copy (under 2048 px), the second has one.
SIZES = ((1428, 1667), (3001, 2003))


def _upload(server: LocalServer, image: Image.Image, fmt: str = "JPEG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=90) if fmt == "JPEG" else image.save(buffer, fmt)
    created = requests.post(f"{server.url}/images", data=buffer.getvalue(), timeout=60)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture(scope="module")
def stored(server: LocalServer) -> dict[str, Any]:
    """Each picture uploaded twice, and the mask and watermark the spellings name."""
    pictures = {size: [_upload(server, _picture(size, 3)) for _ in range(2)] for size in SIZES}
    ids = {
        MASK_ID: _upload(server, Image.radial_gradient("L").resize((30, 20)), "PNG"),
        MARK_ID: _upload(server, _picture((24, 12), 7).convert("RGBA"), "PNG"),
    }
    return {"pictures": pictures, "ids": ids}


def _named(text: str, ids: dict[str, str]) -> str:
    for placeholder, real in ids.items():
        text = text.replace(placeholder, real)
    return text


def _answer(response: requests.Response) -> Any:
    if response.status_code == 200:
        return decode(response.content)
    return (response.status_code, response.json()["error"]["message"])


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spellings(), st.sampled_from(SIZES), st.sampled_from([".png", ".jpg", ".webp"]))
def test_every_spelling_renders_alike_over_http(
    server: LocalServer,
    stored: dict[str, Any],
    drawn: tuple[list[Spec], list[list[Spec]]],
    size: tuple[int, int],
    ext: str,
) -> None:
    ids = stored["ids"]
    first, second = stored["pictures"][size]
    canonical, orders = drawn
    texts = [_named("/".join(s.text for s in order), ids) for order in [canonical, *orders]]
    canonical_text = texts[0]

    # The variant URL: two spellings, each the first to ask its own copy of the picture.
    by_canonical = requests.get(f"{server.url}/images/{first}/{canonical_text}{ext}", timeout=120)
    by_other = requests.get(f"{server.url}/images/{second}/{texts[1]}{ext}", timeout=120)
    _same(_answer(by_other), _answer(by_canonical), f"GET {texts[1]} vs {canonical_text}")

    # POST /transform of the stored original: every spelling, as a string and as objects.
    fmt = ext[1:]
    reference = None
    for text, order in zip(texts, [canonical, *orders], strict=True):
        objects = [
            {k: _named(v, ids) if isinstance(v, str) else v for k, v in s.obj.items()}
            for s in order
        ]
        for ops in (text, objects):
            body = {"source": {"id": first}, "ops": ops, "format": fmt}
            answer = _answer(requests.post(f"{server.url}/transform", json=body, timeout=120))
            if reference is None:
                reference = answer
            _same(answer, reference, f"POST {ops!r} vs {canonical_text}")

"""The Schemathesis hooks' image check: an ``image/*`` answer must be the image it says it is."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import requests
import schemathesis

from tests.images import sample

HOOKS = Path(__file__).resolve().parents[2] / "openapi" / "schemathesis_hooks.py"


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_schemathesis_hooks", HOOKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer(content_type: str, content: bytes) -> schemathesis.Response:
    return schemathesis.Response(
        status_code=200,
        headers={"content-type": [content_type]},
        content=content,
        request=requests.Request("GET", "http://127.0.0.1/images/x").prepare(),
        elapsed=0.01,
        verify=True,
    )


def test_an_image_of_the_type_it_claims_passes(hooks: ModuleType) -> None:
    png = sample("formats/hopper.png")
    assert hooks.image(None, answer("image/png", png)) == f"<{len(png)} bytes of image/png>"


@pytest.mark.parametrize(
    ("content_type", "content", "message"),
    [
        ("image/jpeg", sample("formats/hopper.png"), "is image/png"),
        ("image/png", b"not an image at all", "not an image"),
        ("image/png", b"", "not an image"),
    ],
)
def test_anything_else_fails(
    hooks: ModuleType, content_type: str, content: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        hooks.image(None, answer(content_type, content))

"""A request that a stored variant answers does no image work: Pillow is never imported.

Each probe is a fresh interpreter that imports the function's handler and calls it with the
request, against the local server's moto (the same probe ``python -m bench.coldstart`` times).
"""

from __future__ import annotations

import os

import pytest
import requests

from bench.coldstart import CACHE_HITS, hit_event, run_probe
from localserver import LocalServer
from tests.images import sample
from tests.unit.test_import_boundaries import LANGUAGE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image_id(server: LocalServer) -> str:
    created = requests.post(
        f"{server.url}/images",
        data=sample("exif-orientation/Landscape_1.jpg"),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _handler(server: LocalServer, function: str) -> str:
    return server.template.functions[function].handler


@pytest.mark.parametrize(("function", "event_name", "path"), CACHE_HITS)
def test_a_stored_variant_is_served_without_pillow(
    server: LocalServer, image_id: str, function: str, event_name: str, path: str
) -> None:
    made = requests.get(f"{server.url}/images/{image_id}{path}", timeout=60)
    assert made.status_code == 200, made.text

    report, _ = run_probe(
        _handler(server, function), hit_event(event_name, image_id), warm=1, env=dict(os.environ)
    )

    assert report["status"] == 200
    assert report["pillow_imported"] is False
    assert set(report["imaging_modules"]) <= LANGUAGE  # the grammar, nothing of the pixels


def test_a_variant_not_yet_made_imports_pillow(server: LocalServer, image_id: str) -> None:
    """The probe's own check: the same request for a new variant renders, so it loads Pillow."""
    event = hit_event("get-variant.json", image_id)
    fresh = "thumbnail:65/grayscale.png"
    event = {
        **event,
        "rawPath": event["rawPath"].replace("thumbnail:64/grayscale.png", fresh),
        "pathParameters": {**event["pathParameters"], "pipeline": fresh},
    }

    report, _ = run_probe(_handler(server, "TransformFunction"), event, env=dict(os.environ))

    assert report["status"] == 200
    assert report["pillow_imported"] is True
    stored = requests.get(f"{server.url}/images/{image_id}/{fresh}", timeout=60)
    assert stored.status_code == 200

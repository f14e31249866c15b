"""PATCH, listing by tag, near-duplicates and dedupe, over HTTP against the local server."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from localserver import LocalServer
from tests.images import sample

pytestmark = pytest.mark.e2e
PHOTO = "exif-orientation/Landscape_1.jpg"


def near_copy(data: bytes) -> bytes:
    """The photo at half size, recompressed at quality 60."""
    image = Image.open(io.BytesIO(data))
    buffer = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def test_patch_tags_similar_and_dedupe(server: LocalServer) -> None:
    url = server.url
    data = sample(PHOTO)
    posted = requests.post(f"{url}/images", data=data, timeout=60)
    assert posted.status_code == 201, posted.text
    original = posted.json()
    copy = requests.post(f"{url}/images", data=near_copy(data), timeout=60).json()

    body = {
        "tags": ["Field", "sky"],
        "metadata": {"alt": "a field"},
        "focal_point": {"x": 0.3, "y": 0.6},
    }
    patched = requests.patch(f"{url}/images/{original['id']}", json=body, timeout=30)
    assert patched.status_code == 200, patched.text
    assert patched.json()["tags"] == ["field", "sky"]
    info = requests.get(f"{url}/images/{original['id']}/info", timeout=30).json()
    assert info["metadata"] == {"alt": "a field"} and info["focal_point"] == {"x": 0.3, "y": 0.6}
    bad = requests.patch(f"{url}/images/{original['id']}", json={"tags": ["no spaces"]}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tags"

    tagged = requests.get(f"{url}/images", params={"tag": "field"}, timeout=30).json()
    assert [i["id"] for i in tagged["images"]] == [original["id"]]

    similar = requests.get(
        f"{url}/images", params={"similar_to": original["id"], "distance": 8}, timeout=30
    ).json()
    assert [i["id"] for i in similar["images"]] == [copy["id"]]
    assert similar["images"][0]["distance"] <= 4  # measured: 2
    far = requests.get(
        f"{url}/images", params={"similar_to": original["id"], "distance": 9}, timeout=30
    )
    assert far.status_code == 400 and far.json()["error"]["param"] == "distance"

    again = requests.post(f"{url}/images", params={"dedupe": "true"}, data=data, timeout=60)
    assert again.status_code == 200 and again.json()["id"] == original["id"]
    assert again.json()["tags"] == ["field", "sky"]

    assert requests.delete(f"{url}/images/{copy['id']}", timeout=30).status_code == 204
    none = requests.get(f"{url}/images", params={"similar_to": original["id"]}, timeout=30).json()
    assert none["images"] == []

"""The PNG decoder libspng provides (imaging/png.py) against Pillow's, on hostile PNGs.

Oracle: through the service's decode path (open_image, then the first frame), a near-valid PNG
ends the same with libspng as with Pillow alone: the same pixels, or the same 4xx error class.
libspng decodes only what Pillow would decode to the same pixels and hands anything it refuses
back to Pillow, so no input may tell the two apart. (The other suites run it too: render uses
it wherever it covers the PNG.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from progimage_service.errors import ProgImageError
from progimage_service.imaging import png
from progimage_service.imaging.decode import frames, open_image

from .oracle import LIMITS
from .test_mutations import mutated

pytestmark = [
    pytest.mark.skipif(not png.available(), reason="libspng (pyspng) is not installed"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

Outcome = tuple[str, tuple[int, int], bytes] | type[ProgImageError]


def _first_frame(data: bytes) -> Outcome:
    try:
        frame, _ = next(frames(open_image(data, LIMITS)))
    except ProgImageError as error:
        assert 400 <= error.status < 500, error
        return type(error)
    return frame.mode, frame.size, frame.tobytes()


def _decoded(data: bytes, library: Callable[[], object]) -> Outcome:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(png, "_library", library)
        return _first_frame(data)


@given(data=st.data())
def test_a_mutated_png_decodes_alike_with_libspng_and_with_pillow(data: st.DataObject) -> None:
    image = data.draw(mutated("png"), label="image")
    with_libspng = _decoded(image, png._library)
    assert with_libspng == _decoded(image, lambda: None)

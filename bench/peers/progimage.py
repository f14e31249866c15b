"""ProgImage: exactly the core the handlers call, ``render(data, pipeline, limits)``.

The pipeline is parsed inside the timed call, as a handler parses it per request (microseconds).
"""

from __future__ import annotations

from PIL import __version__ as pillow_version

from progimage_service.imaging.formats import for_extension
from progimage_service.imaging.limits import Limits
from progimage_service.imaging.pipeline import Pipeline, parse_path
from progimage_service.imaging.render import render

from ..workloads import WORKLOADS
from . import Base

LIMITS = Limits()


def pipeline_for(workload: str, output: str) -> Pipeline:
    """The pipeline as a handler parses it: the URL form, or a bare conversion to a format."""
    spec = next(w.progimage for w in WORKLOADS if w.id == workload)
    if not spec:  # GET /images/{id}.{ext}: no operations, only a format
        return Pipeline(format=for_extension(output))
    return parse_path(f"{spec}.{output}")


class ProgImage(Base):
    name = "progimage"
    version = f"Pillow {pillow_version}"

    def run(self, workload: str, data: bytes, output: str) -> bytes:
        return render(data, pipeline_for(workload, output), LIMITS).data


PEER = ProgImage()

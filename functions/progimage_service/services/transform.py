"""Transform images from any source: a stored id, bytes in the request, or a remote URL."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import observability
from ..adapters.fetch import fetch
from ..errors import BadRequest, InvalidImage, Unprocessable
from ..ids import unknown
from ..imaging.formats import FORMATS
from ..imaging.pipeline import Pipeline, formatted, parse_ops
from ..inputs import echo
from ..models import ImageRecord
from ..storage_layout import legacy_work_key, original_key, work_key
from ..wiring import Dependencies
from .images import copy_objects, ready_record, store_image, working_copies

if TYPE_CHECKING:
    from ..adapters.s3 import StoredObject
    from ..imaging.copies import Copy
    from ..imaging.render import Rendered


class Opening(NamedTuple):
    """A working copy being opened (by a miss, while it reads the record)."""

    kind: Copy
    stored: Future[StoredObject | None]


@dataclass(frozen=True)
class Result:
    """A transformed image: the rendered bytes, or the record of the image it was stored as."""

    rendered: Rendered | None = None
    record: ImageRecord | None = None


def read_original(deps: Dependencies, image_id: str, tenant: str) -> bytes:
    """The original bytes of one of the tenant's images."""
    ready_record(deps, image_id, tenant)
    return _read(deps, original_key(image_id), image_id)


def _read(deps: Dependencies, key: str, image_id: str) -> bytes:
    data = deps.store.read(key)
    if data is None:  # deleted since its record was read
        raise unknown(image_id)
    return data


def source_bytes(deps: Dependencies, tenant: str, source: Any) -> bytes:
    """The bytes of a JSON source: ``{"id"}`` (the tenant's), ``{"url"}`` or ``{"data"}``."""
    if not isinstance(source, Mapping) or len(source) != 1:
        raise BadRequest('source must be one of {"id"}, {"url"}, {"data"}', param="source")
    ((kind, value),) = source.items()
    if not isinstance(value, str):
        raise BadRequest(f"source.{kind} must be a string", param=f"source.{kind}")
    match kind:
        case "id":
            return read_original(deps, value, tenant)
        case "url":
            return fetch(value, deps.settings.fetch)
        case "data":
            return decode_base64(value, "source.data")
    raise BadRequest(f"unknown source {echo(kind)}; use id, url or data", param="source")


def decode_base64(value: str, param: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequest(f"{param} is not valid base64: {error}", param=param) from error


def pipeline_of(
    ops: Any, fmt: Any, accept: str | None = None, preference: Sequence[str] = ()
) -> Pipeline:
    """A pipeline from the JSON form's ``ops`` (string or list) and ``format`` (``auto``:
    chosen among ``preference`` by the ``accept`` header)."""
    if fmt is not None and not isinstance(fmt, str):
        raise BadRequest("format must be a string such as 'webp'", param="format")
    return formatted(parse_ops(ops), fmt, accept, preference)


def store_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("store must be true or false", param="store")
    return value


def render_bytes(
    deps: Dependencies, tenant: str, data: bytes, pipeline: Pipeline, **source: Any
) -> Rendered:
    """Render, fetching the tenant's stored images that the pipeline names (masks,
    watermarks); Pillow is imported only now.

    ``source`` passes the original's size and format when ``data`` is its working copy, and
    a stored image's focal point.
    """
    from ..imaging.render import render

    images = {i: read_original(deps, i, tenant) for i in pipeline.image_ids()}
    with observability.segment("render"):
        rendered = render(data, pipeline, deps.settings.limits, images, **source)
    fmt, timings = rendered.format.name, rendered.timings
    observability.add("Outputs", Format=fmt)
    observability.add("RenderTime", timings.total * 1000, Format=fmt)
    observability.add("DecodeTime", timings.decode * 1000, Format=fmt)
    observability.add("EncodeTime", timings.encode * 1000, Format=fmt)
    observability.annotate(render_ms=round(timings.total * 1000, 1), output=fmt)
    return rendered


def render_record(
    deps: Dependencies, record: ImageRecord, pipeline: Pipeline, opening: Opening | None = None
) -> Rendered:
    """Render a stored image, from the working copy the render plan picks where one serves the
    pipeline; the images it names must be its owner's. ``opening`` is a working copy being
    opened, if the caller started that (a miss does, beside the record's read): unused, it is
    closed unread when it arrives, and what is used is read without waiting for it.

    A stored image that cannot be decoded is a 422, not a 415.
    """
    from ..imaging.plan import serving_copy

    image_id, tenant = record.id, record.tenant
    assert record.width is not None and record.height is not None and record.format is not None
    size = (record.width, record.height)
    copy = serving_copy(pipeline, size, working_copies(record))
    if opening is not None and opening.kind != copy:
        opening.stored.add_done_callback(close_unread)
        opening = None
    try:
        if copy is None:
            data = _read(deps, original_key(image_id), image_id)
            return render_bytes(deps, tenant, data, pipeline, focal=record.focal)
        data = _copy_bytes(deps, record, copy, opening)
        source = {"source_size": size, "source_format": FORMATS[record.format]}
        source |= {"copy_reach": copy.reach, "focal": record.focal}
        return render_bytes(deps, tenant, data, pipeline, **source)
    except InvalidImage as error:
        raise Unprocessable(f"the stored image cannot be processed: {error.message}") from error


def close_unread(opening: Future[StoredObject | None]) -> None:
    """Close an object being opened once it is, unread (or drop it if opening it failed)."""
    copy = None if opening.exception() else opening.result()
    if copy is not None:
        copy.body.close()


def _copy_bytes(
    deps: Dependencies, record: ImageRecord, copy: Copy, opening: Opening | None
) -> bytes:
    """A working copy's bytes: as opened, or read; for an image stored while the copy's key
    named its format, under that key; else (a cache bucket lost it, or holds none yet) made
    again from the original."""
    stored = opening.stored.result() if opening else deps.store.get(work_key(record.id, copy.name))
    if stored is None and record.work_smallest is None and record.work_format is not None:
        stored = deps.store.get(legacy_work_key(record.id, FORMATS[record.work_format].extension))
    return stored.read() if stored is not None else _remade(deps, record, copy)


def _remade(deps: Dependencies, record: ImageRecord, copy: Copy) -> bytes:
    """Make an image's working copies again from its original, as its upload did (the same
    bytes), and store them. If the image was deleted meanwhile, they go again (as a variant
    does: see variants.produce)."""
    from ..imaging.working_copy import remake_copies

    made = remake_copies(_read(deps, original_key(record.id), record.id), deps.settings.limits)
    objects = copy_objects(record.id, made)
    for key, data, content_type in objects:
        deps.store.put(key, data, content_type)
    keys = [key for key, _, _ in objects]
    observability.annotate(copies_remade=len(made))
    if deps.catalog.get(record.id) is None:
        deps.store.delete_keys(keys)
        raise unknown(record.id)
    return next(c.data for c in made if c.kind == copy)


def transform(
    deps: Dependencies, tenant: str, data: bytes, pipeline: Pipeline, *, store: bool
) -> Result:
    """Render the bytes, then answer them or store them as a new image of the tenant's."""
    rendered = render_bytes(deps, tenant, data, pipeline)
    if store:
        return Result(record=store_image(deps, tenant, rendered.data))
    return Result(rendered=rendered)

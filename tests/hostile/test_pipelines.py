"""Random pipelines from the registry, in the URL, JSON string and JSON object forms.

Oracle: a spec parses, and its canonical form parses back to the same canonical form (and the
URL, string and object spellings of one spec agree), or it is refused with a 400
invalid_operation; a valid pipeline renders a small real image or refuses it with a 4xx.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from progimage_service.errors import InvalidOperation
from progimage_service.imaging.formats import EXTENSIONS
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.registry import MAX_OPERATIONS

from .oracle import STATS, judge
from .pipelines import (
    IDS,
    Spec,
    as_json_objects,
    as_url,
    extensions,
    json_values,
    pipeline_specs,
)
from .samples import by_format, small_rgba

# Pillow warns about the damage it meets (corrupt EXIF, truncated reads, large images): expected.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::PIL.Image.DecompressionBombWarning"
)


def _parsed(spec: Any, *, url: bool = False) -> Pipeline | InvalidOperation:
    """The pipeline a spec parses to, or the 400 it is refused with (anything else fails)."""
    STATS.specs += 1
    try:
        pipeline = parse_path(spec) if url else Pipeline(parse_ops(spec))
    except InvalidOperation as error:
        assert error.status == 400 and error.code == "invalid_operation", error
        assert error.param and error.param.startswith("ops"), error.param
        STATS.specs_refused += 1
        return error
    except Exception as error:
        STATS.unexpected.append(f"{type(error).__name__}: {error}")
        raise AssertionError(f"not a 400: {type(error).__name__}: {error} for {spec!r}") from error
    return pipeline


def _round_trips(pipeline: Pipeline) -> None:
    canonical = pipeline.canonical()
    again = _parsed(canonical)
    assert isinstance(again, Pipeline), (canonical, again)
    assert again.canonical() == canonical
    if not pipeline.presets:  # (a pipeline naming presets is keyed once they are read)
        assert again.variant_name() == Pipeline(pipeline.steps).variant_name()
    # Options that change nothing (dpr:1, or dpr alone) leave no operation: such a pipeline's
    # URL is the conversion /images/{id}.{ext}, which names no pipeline to parse.
    if pipeline.format is not None and canonical:
        with_ext = _parsed(f"{canonical}.{pipeline.format.extension}", url=True)
        assert isinstance(with_ext, Pipeline), with_ext
        assert with_ext.canonical() == canonical
        assert with_ext.format is pipeline.format


@given(pipeline_specs(), extensions())
def test_every_form_parses_alike_or_is_refused_with_a_400(
    generated: tuple[list[Spec], bool], ext: str
) -> None:
    specs, valid = generated
    url = _parsed(as_url(specs, ext), url=True)
    text = _parsed("/".join(s.text for s in specs))
    strings = _parsed([s.text for s in specs])
    objects = _parsed(as_json_objects(specs))
    results = [url, text, strings, objects]
    if valid:
        assert all(isinstance(r, Pipeline) for r in results), results
    elif not all(s.valid for s in specs):
        assert all(isinstance(r, InvalidOperation) for r in results), results
    parsed = [r for r in results if isinstance(r, Pipeline)]
    for pipeline in parsed:
        _round_trips(pipeline)
    assert len({p.canonical() for p in parsed}) <= 1  # the forms of one spec agree
    if isinstance(url, Pipeline):
        assert url.format is (EXTENSIONS[ext[1:].lower()] if ext else None)


@given(st.lists(st.text(st.sampled_from(":/.-+#0123456789aefinrsxz"), max_size=12), max_size=4))
def test_punctuation_and_digits_soup(segments: list[str]) -> None:
    for spec in ("/".join(segments), segments):
        result = _parsed(spec, url=isinstance(spec, str) and bool(spec))
        if isinstance(result, Pipeline):
            _round_trips(result)


@given(json_values())
def test_any_json_value_as_ops(value: Any) -> None:
    result = _parsed(value)
    if isinstance(result, Pipeline):
        _round_trips(result)


@given(st.integers(MAX_OPERATIONS + 1, 200))
def test_too_many_operations(count: int) -> None:
    assert isinstance(_parsed(["grayscale"] * count), InvalidOperation)
    assert isinstance(_parsed("/".join(["invert"] * count), url=True), InvalidOperation)
    assert isinstance(_parsed(["grayscale"] * MAX_OPERATIONS), Pipeline)


@given(pipeline_specs(render=True, max_ops=5), extensions(), st.sampled_from(sorted(by_format())))
def test_valid_pipelines_render_a_small_image_or_refuse_it_with_a_4xx(
    generated: tuple[list[Spec], bool], ext: str, fmt: str
) -> None:
    specs, _ = generated
    if specs:
        pipeline = _parsed(as_url(specs, ext), url=True)
    else:
        pipeline = Pipeline(format=EXTENSIONS[ext[1:]] if ext else None)
    assert isinstance(pipeline, Pipeline), pipeline
    source = by_format()[fmt][0] if fmt != "png" else small_rgba()
    judge(source, pipeline, images=dict.fromkeys(IDS, small_rgba()))

"""Properties for every input: what a PATCH body may set stays within its bounds or is a 400,
and a preset's expansion renders exactly the steps saved under it, keyed by its version."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from progimage_service.errors import BadRequest
from progimage_service.imaging.grammar import canonical
from progimage_service.imaging.pipeline import Pipeline, Preset, parse_ops, parse_path
from progimage_service.services.catalogue import (
    MAX_METADATA_BYTES,
    MAX_METADATA_KEYS,
    MAX_TAGS,
    changes,
)
from tests.hostile.http_edge import json_values
from tests.hostile.pipelines import Spec, operation_spec

_FIELDS = st.sampled_from(["tags", "metadata", "focal_point", "x", "y", ""])
_BODIES = st.one_of(
    json_values(),
    st.dictionaries(_FIELDS, json_values(), max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "tags": st.lists(st.text(max_size=70), max_size=25),
            "metadata": st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=25),
            "focal_point": st.none()
            | st.fixed_dictionaries({"x": st.floats(-1, 2), "y": st.floats(-1, 2)}),
        },
    ),
)


@given(_BODIES)
def test_a_patch_body_is_within_its_bounds_or_refused(body: Any) -> None:
    try:
        checked = changes(body)
    except BadRequest as error:
        assert error.param in ("body", "tags", "metadata", "focal_point")
        return
    assert set(checked) <= {"tags", "metadata", "focal_point"}
    tags = checked.get("tags", ())
    assert len(tags) <= MAX_TAGS and list(tags) == sorted(set(tags))
    assert all(t == t.lower() and 1 <= len(t) <= 64 for t in tags)
    metadata = checked.get("metadata", {})
    assert len(metadata) <= MAX_METADATA_KEYS
    assert len(json.dumps(metadata, ensure_ascii=False).encode()) <= MAX_METADATA_BYTES
    point = checked.get("focal_point")
    assert point is None or all(0 <= point[k] <= 1 for k in ("x", "y"))


_STEPS = st.lists(operation_spec(render=True).filter(lambda s: s.valid), min_size=1, max_size=5)


@given(_STEPS, _STEPS, st.integers(1, 10**6))
def test_a_preset_expands_to_its_steps_and_its_version_keys_the_variant(
    saved: list[Spec], after: list[Spec], version: int
) -> None:
    steps = parse_ops([s.text for s in saved])
    asked = parse_path("/".join(["preset:card", *(s.text for s in after)]) + ".png")
    expanded = asked.expand({"card": Preset(steps, None, version)}, None, ())
    written_out = Pipeline((*steps, *parse_ops([s.text for s in after])), asked.format)
    assert canonical(expanded.run_steps) == written_out.canonical()
    assert expanded.pixel_steps == written_out.pixel_steps
    assert expanded.canonical() == asked.canonical()  # its URL still names the preset
    edited = asked.expand({"card": Preset(steps, None, version + 1)}, None, ())
    assert edited.variant_name() != expanded.variant_name() != written_out.variant_name()

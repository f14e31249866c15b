"""The CDN paths of deleted images, merged into few enough wildcards for one invalidation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from progimage_service.ids import new_id
from progimage_service.services.edge import WILDCARDS, collapse, edge_paths

# Ids as the service makes them: a millisecond (from a span of about a year), then randomness.
ids = st.integers(1_760_000_000_000, 1_790_000_000_000).map(new_id)
paths = st.builds(lambda i, own: f"/images/{i}*" if own else f"/images/{i}/*", ids, st.booleans())


def covers(wildcard: str, path: str) -> bool:
    """CloudFront's rule: a path ending in ``*`` matches every path it begins."""
    return path.removesuffix("*").startswith(wildcard.removesuffix("*"))


@given(st.lists(paths, max_size=60), st.integers(1, 15))
def test_every_path_is_covered_by_at_most_that_many_wildcards(named: list[str], most: int) -> None:
    merged = collapse(named, most)
    assert len(merged) <= most
    assert all(p.startswith("/images/") and p.endswith("*") for p in merged)
    for path in named:
        assert any(covers(wildcard, path) for wildcard in merged), path
    if len(set(named)) <= most:
        assert merged == sorted(set(named))  # exactly what was deleted


@given(st.lists(ids, min_size=WILDCARDS + 1, max_size=60, unique=True))
def test_merged_prefixes_are_as_long_as_the_limit_allows(deleted: list[str]) -> None:
    """One character longer, the prefixes would be more than WILDCARDS."""
    merged = collapse([f"/images/{i}*" for i in deleted])
    length = len(merged[0]) - len("/images/*")
    assert {len(p) for p in merged} == {length + len("/images/*")}
    assert len({i[: length + 1] for i in deleted}) > WILDCARDS


def test_a_deleted_images_paths() -> None:
    image, user = new_id(), new_id()
    assert edge_paths(image, {user, image}) == [f"/images/{image}*", f"/images/{user}/*"]

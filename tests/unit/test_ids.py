from __future__ import annotations

import pytest

from progimage_service.errors import NotFound
from progimage_service.ids import ID_LENGTH, check_id, is_valid_id, new_id


def test_ids_are_unique_url_safe_and_sort_by_creation_time() -> None:
    ids = [new_id(now_ms=1_700_000_000_000 + i) for i in range(200)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert all(len(i) == ID_LENGTH and i.isalnum() and is_valid_id(i) for i in ids)
    same_ms = {new_id(now_ms=1) for _ in range(1000)}
    assert len(same_ms) == 1000  # 96 random bits within a millisecond


@pytest.mark.parametrize("bad", ["", "x", "../etc/passwd", "a" * 24, "a" * 26, "a" * 24 + "-"])
def test_check_id_refuses_what_cannot_be_an_id(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(NotFound):
        check_id(bad)

"""``auto``'s choice from Accept, and the download name, for every header (Hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from progimage_service.imaging.formats import FORMATS
from progimage_service.imaging.negotiate import CANDIDATES, accepted, choose, normalised
from progimage_service.services.delivery import MAX_DOWNLOAD_NAME, attachment

OTHERS = ("image/png", "image/apng", "image/svg+xml", "text/html", "application/xml", "image/heic")
WILDCARDS = ("image/*", "*/*")


def _case(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda ups: "".join(c.upper() if u else c for c, u in zip(text, ups, strict=True))
    )


# One media range: (type as written, its q-value or None, the q text as written).
_Q = st.one_of(
    st.none(),
    st.sampled_from([0.0, 0.001, 0.5, 0.8, 1.0]),
)


@st.composite
def _range(draw: Any) -> tuple[str, str, float | None]:
    media = draw(st.sampled_from([f"image/{c}" for c in CANDIDATES] + list(OTHERS + WILDCARDS)))
    q = draw(_Q)
    space = draw(st.sampled_from(["", " ", "  "]))
    text = draw(_case(media))
    extra = draw(st.sampled_from(["", ";charset=x", ";level=1"]))
    if q is not None:
        q_text = draw(st.sampled_from([repr(q), f"{q:.3f}", f"{q:g}"]))
        text += f"{space};{space}{draw(_case('q'))}={q_text}"
    return media, space + text + extra + space, q


@given(st.lists(_range(), max_size=12))
def test_only_formats_named_outright_with_q_above_zero_are_accepted(  # by any of their entries
    ranges: list[tuple[str, str, float | None]],
) -> None:
    header = ",".join(text for _, text, _ in ranges)
    named = {m.removeprefix("image/") for m, _, q in ranges if q is None or q > 0}
    expected = tuple(c for c in CANDIDATES if c in named)
    assert accepted(header) == expected
    assert accepted(normalised(header)) == expected  # what the CDN forwards chooses alike


@given(
    st.lists(_range(), max_size=8),
    st.permutations(CANDIDATES).flatmap(lambda p: st.lists(st.sampled_from(p), unique=True)),
)
def test_choose_takes_the_deployments_first_preference_the_client_names(
    ranges: list[tuple[str, str, float | None]], preference: list[str]
) -> None:
    header = ",".join(text for _, text, _ in ranges)
    chosen = choose(header, preference)
    usable = [p for p in preference if p in accepted(header) and p in FORMATS]
    assert chosen == (FORMATS[usable[0]] if usable else None)


def test_garbage_and_huge_headers_choose_nothing_or_what_they_name() -> None:
    assert accepted(None) == accepted("") == accepted(";;,,q=1") == ()
    assert accepted("image/webp;q=abc") == ()  # a q that is not a qvalue drops its entry
    assert accepted("image/webp;q=2") == accepted("image/webp;q=0.5000") == ()
    assert accepted("image/webp;q=0, image/webp;q=0.5") == ("webp",)
    assert accepted("image/webp, " * 5000) == ("webp",)


@given(st.text(max_size=400))
def test_a_download_name_never_breaks_out_of_its_header(name: str) -> None:
    value = attachment(name)
    if value is None:  # only where no letter or digit is left to name the file by
        assert not any(c.isalnum() for c in name[:MAX_DOWNLOAD_NAME])
        return
    assert value.isascii() and value.isprintable()
    fallback = value.split('filename="', 1)[1].split('"; filename*=', 1)[0]
    assert len(fallback) <= MAX_DOWNLOAD_NAME and not set(fallback) & set("\"'\\/")
    assert value.count('"') == 2


def test_every_format_accept_can_name_is_allowlisted() -> None:
    """choose() hands out FORMATS[name] for every candidate: each must be a format we write."""
    assert set(CANDIDATES) <= set(FORMATS)

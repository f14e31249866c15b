"""The pipeline grammar: URL, JSON string and JSON object forms, the canonical form, errors."""

from __future__ import annotations

import pytest

from progimage_service.errors import InvalidOperation
from progimage_service.imaging.formats import FORMATS
from progimage_service.imaging.pipeline import Pipeline, parse_ops, parse_path
from progimage_service.imaging.plan import geometry
from progimage_service.imaging.registry import MAX_OPERATIONS, REGISTRY

ID_A = "A" * 25
ID_B = "0123456789abcdefghijKLMNO"


def canonical(spec) -> str:
    return Pipeline(parse_ops(spec)).canonical()


def invalid(spec) -> InvalidOperation:
    """The error a spec raises (a string is parsed as a URL path, anything else as JSON ops)."""
    with pytest.raises(InvalidOperation) as raised:
        parse_path(spec) if isinstance(spec, str) else parse_ops(spec)
    assert raised.value.status == 400
    assert raised.value.code == "invalid_operation"
    return raised.value


# --- the URL form -----------------------------------------------------------------------------


def test_url_form_with_an_extension_sets_the_output_format() -> None:
    pipeline = parse_path("resize:800:600:fill/rotate:90/grayscale.webp")
    assert pipeline.format is FORMATS["webp"]
    assert [step.operation.name for step in pipeline.steps] == ["resize", "rotate", "grayscale"]
    resized = {"width": 800, "height": 600, "fit": "fill", "gravity": "center"}
    assert pipeline.steps[0].args == resized
    assert pipeline.steps[1].args == {"angle": 90.0, "background": None}


def test_url_form_without_an_extension_keeps_the_source_format() -> None:
    pipeline = parse_path("resize:800:600/grayscale")
    assert pipeline.format is None
    assert pipeline.output_format(FORMATS["gif"]) is FORMATS["gif"]
    assert parse_path("grayscale.png").output_format(FORMATS["gif"]) is FORMATS["png"]


@pytest.mark.parametrize(
    ("path", "fmt", "args"),
    [
        ("blur:1.5", None, {"sigma": 1.5}),
        ("blur:1.5.png", "png", {"sigma": 1.5}),
        ("rotate:22.5.webp", "webp", {"angle": 22.5, "background": None}),
        ("rotate:22.5", None, {"angle": 22.5, "background": None}),
        ("rotate:-0.25.jpeg", "jpeg", {"angle": -0.25, "background": None}),
        ("sharpen:0.5:1.25.tif", "tiff", {"amount": 0.5, "radius": 1.25}),
        ("brightness:1.5.JPG", "jpeg", {"factor": 1.5}),
    ],
)
def test_dots_in_numbers_are_not_taken_for_an_extension(path: str, fmt, args) -> None:
    pipeline = parse_path(path)
    assert pipeline.format == (FORMATS[fmt] if fmt else None)
    assert pipeline.steps[0].args == args


def test_an_unknown_extension_is_part_of_the_last_argument_and_fails_there() -> None:
    error = invalid("blur:2.svg")
    assert "blur" in error.message
    assert error.param == "ops[0]"


def test_an_image_id_argument_followed_by_an_extension() -> None:
    pipeline = parse_path(f"mask:{ID_A}.png")
    assert pipeline.format is FORMATS["png"]
    assert pipeline.steps[0].args["shape"] == ID_A


# --- three forms, one canonical form -----------------------------------------------------------

THREE_FORMS = [
    (
        "resize:800:600:fill/rotate:90/grayscale",
        ["resize:800:600:fill", "rotate:90", "grayscale"],
        [
            {"op": "resize", "width": 800, "height": 600, "fit": "fill"},
            {"op": "rotate", "angle": 90},
            {"op": "grayscale"},
        ],
    ),
    (
        f"crop:10:20:300:200/watermark:{ID_A}:north:0.3/quality:70",
        ["crop:10:20:300:200", f"watermark:{ID_A}:north:0.3", "quality:70"],
        [
            {"op": "crop", "x": 10, "y": 20, "width": 300, "height": 200},
            {"op": "watermark", "image": ID_A, "gravity": "north", "opacity": 0.3},
            {"op": "quality", "quality": 70},
        ],
    ),
    (
        "thumbnail:256/mask:rounded:12/tint:ff8800/blur:1.5",
        ["thumbnail:256", "mask:rounded:12", "tint:ff8800", "blur:1.5"],
        [
            {"op": "thumbnail", "width": 256},
            {"op": "mask", "shape": "rounded", "radius": 12},
            {"op": "tint", "colour": "#FF8800"},
            {"op": "blur", "sigma": 1.5},
        ],
    ),
]


@pytest.mark.parametrize(("text", "strings", "objects"), THREE_FORMS)
def test_the_three_forms_have_one_canonical_form_and_one_variant_name(
    text: str, strings: list[str], objects: list[dict]
) -> None:
    url = parse_path(text + ".webp")
    forms = [
        url,
        Pipeline(parse_ops(text), FORMATS["webp"]),
        Pipeline(parse_ops(strings), FORMATS["webp"]),
        Pipeline(parse_ops(objects), FORMATS["webp"]),
    ]
    assert len({p.canonical() for p in forms}) == 1
    assert len({p.variant_name() for p in forms}) == 1
    assert url.variant_name().endswith(".webp")


def test_variant_name_depends_on_the_operations_and_the_format() -> None:
    base = parse_path("resize:100:100.webp")
    assert base.variant_name() != parse_path("resize:100:101.webp").variant_name()
    assert base.variant_name() != parse_path("resize:100:100.png").variant_name()
    # no extension: the source's own format, a different variant from any explicit one
    source = parse_path("resize:100:100")
    assert "." not in source.variant_name()
    assert source.variant_name() not in {
        parse_path(f"resize:100:100.{ext}").variant_name().split(".")[0]
        for ext in ("jpg", "png", "webp", "gif", "avif", "tiff", "bmp")
    }
    # .jpg and .jpeg are the same output format
    assert parse_path("grayscale.jpg").variant_name() == parse_path("grayscale.jpeg").variant_name()


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        (["resize:800:600", "resize:800:600:fit", "RESIZE:0800:600:FIT"], "resize:800:600"),
        (["resize:800:600:fill", "Resize:800:600:Fill"], "resize:800:600:fill"),
        (["thumbnail:256", "thumbnail:256:256"], "thumbnail:256"),
        (["crop:10:20", "crop:10:20:center", "crop:10:20:CENTER"], "crop:10:20"),
        (["crop:10:20:northeast", "CROP:10:20:NorthEast"], "crop:10:20:northeast"),
        (["rotate:90", "rotate:90.0", "rotate:+90"], "rotate:90"),
        (["rotate:45:FF0000", "rotate:45:ff0000ff", "rotate:45:#ff0000"], "rotate:45:ff0000"),
        (["rotate:45:ff000080"], "rotate:45:ff000080"),
        (["blur:1.5", "blur:1.50", "blur:01.5"], "blur:1.5"),
        (["sharpen", "sharpen:1", "sharpen:1:2", "sharpen::2"], "sharpen"),
        (["sharpen:1:3"], "sharpen:1:3"),
        (["mask:CIRCLE", "mask:circle:0"], "mask:circle"),
        (["mask:rounded:0", "mask:rounded"], "mask:rounded"),
        (
            [f"watermark:{ID_A}", f"watermark:{ID_A}:southeast:0.5:0.25"],
            f"watermark:{ID_A}",
        ),
        ([f"watermark:{ID_A}:southeast:0.5:0.3"], f"watermark:{ID_A}:southeast:0.5:0.3"),
        (["flip:H"], "flip:h"),
        (["tint:ABCDEF"], "tint:abcdef"),
        (["GrayScale"], "grayscale"),
    ],
)
def test_equivalent_spellings_print_alike(spellings: list[str], expected: str) -> None:
    for spelling in spellings:
        assert canonical(spelling) == expected, spelling
    names = {parse_path(spelling + ".png").variant_name() for spelling in spellings}
    assert len(names) == 1


def test_image_ids_keep_their_case() -> None:
    assert canonical(f"mask:{ID_B}") == f"mask:{ID_B}"
    assert canonical(f"mask:{ID_B}") != canonical(f"mask:{ID_B.lower()}")


def test_output_options_go_last_in_a_fixed_order() -> None:
    expected = "resize:100:100/grayscale/maxbytes:5000/quality:70"
    for spelling in (
        "quality:70/resize:100:100/maxbytes:5000/grayscale",
        "maxbytes:5000/quality:70/resize:100:100/grayscale",
        "resize:100:100/grayscale/quality:70/maxbytes:5000",
    ):
        assert canonical(spelling) == expected, spelling
    # pixel operations keep their order: it changes the picture
    assert canonical("grayscale/resize:100:100") != canonical("resize:100:100/grayscale")


def test_a_repeated_output_option_counts_once_the_last_value() -> None:
    assert canonical("quality:50/resize:10:10/quality:70") == "resize:10:10/quality:70"


def test_empty_ops_are_the_empty_pipeline() -> None:
    for spec in (None, "", []):
        assert parse_ops(spec) == ()
    assert Pipeline().canonical() == ""


def test_json_objects_accept_numbers_and_strings_and_colours_with_hash() -> None:
    by_numbers = parse_ops([{"op": "rotate", "angle": 30, "background": "#00FF00"}])
    by_strings = parse_ops([{"op": "rotate", "angle": "30", "background": "00ff00"}])
    assert by_numbers == by_strings
    assert by_numbers[0].args == {"angle": 30.0, "background": (0, 255, 0, 255)}


def test_json_object_crop_chooses_the_form_by_the_names_given() -> None:
    box = parse_ops([{"op": "crop", "x": 1, "y": 2, "width": 3, "height": 4}])[0]
    placed = parse_ops([{"op": "crop", "width": 3, "height": 4, "gravity": "south"}])[0]
    assert box.args == {"x": 1, "y": 2, "width": 3, "height": 4}
    assert placed.args == {"width": 3, "height": 4, "gravity": "south"}
    assert canonical([{"op": "crop", "width": 3, "height": 4}]) == "crop:3:4"


# --- errors -------------------------------------------------------------------------------------


def test_unknown_operation_names_it_and_lists_the_valid_ones() -> None:
    error = invalid("resize:10:10/frobnicate:3/grayscale")
    assert "frobnicate" in error.message
    assert error.param == "ops[1]"
    for name in ("resize", "thumbnail", "crop", "rotate", "watermark", "maxbytes"):
        assert name in error.message
    assert error.message.count(",") >= len(REGISTRY) - 1


def test_unknown_operation_in_json_points_at_its_index() -> None:
    error = invalid([{"op": "grayscale"}, {"op": "grayscale"}, {"op": "explode"}])
    assert error.param == "ops[2]"
    assert "explode" in error.message
    assert "grayscale" in error.message
    error = invalid(["grayscale", "nope"])
    assert error.param == "ops[1]"


@pytest.mark.parametrize(
    ("spec", "where", "words"),
    [
        ("resize:abc:10", "ops[0]", ["resize", "width", "'abc'", "resize:WIDTH:HEIGHT[:FIT]"]),
        ("grayscale/resize:10:10:squash", "ops[1]", ["resize", "fit", "squash", "fill", "pad"]),
        ("grayscale/grayscale/blur:x", "ops[2]", ["blur", "sigma", "blur:SIGMA"]),
        ("rotate:90:red", "ops[0]", ["rotate", "background", "RRGGBB", "rotate:ANGLE"]),
        ("crop:1:2:3:4:5", "ops[0]", ["crop", "wrong number of arguments", "crop:X:Y"]),
        ("crop:1", "ops[0]", ["crop", "crop:WIDTH:HEIGHT[:GRAVITY]"]),
        ("flip", "ops[0]", ["flip", "flip:DIRECTION"]),
        ("grayscale:1", "ops[0]", ["grayscale", "wrong number of arguments"]),
        ("resize:0:0", "ops[0]", ["resize", "cannot both be 0"]),
        ("watermark:xyz", "ops[0]", ["watermark", "image id"]),
        ("mask:square", "ops[0]", ["mask", "circle", "ellipse", "rounded"]),
    ],
)
def test_a_bad_argument_names_the_operation_and_its_usage(
    spec: str, where: str, words: list[str]
) -> None:
    error = invalid(spec)
    assert error.param == where
    for word in words:
        assert word in error.message, (word, error.message)


def test_too_many_operations() -> None:
    assert len(parse_ops("/".join(["grayscale"] * MAX_OPERATIONS))) == MAX_OPERATIONS
    error = invalid("/".join(["grayscale"] * (MAX_OPERATIONS + 1)))
    assert str(MAX_OPERATIONS) in error.message
    invalid([{"op": "invert"}] * (MAX_OPERATIONS + 1))
    invalid(["invert"] * 1000)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("resize:10:10//grayscale", "ops[1]"),
        ("grayscale/", "ops[1]"),
        ("/grayscale", "ops[0]"),
        ("grayscale/.webp", "ops[1]"),
    ],
)
def test_an_empty_segment_is_refused(path: str, where: str) -> None:
    error = invalid(path)
    assert error.param == where
    assert "empty" in error.message


@pytest.mark.parametrize(
    ("ops", "word"),
    [
        ([{"op": "resize", "width": 10, "height": 10, "mode": "fill"}], "mode"),
        ([{"op": "grayscale", "amount": 1}], "amount"),
        ([{"op": "blur", "sigma": 1, "radius": 2}], "radius"),
    ],
)
def test_unknown_json_keys_are_refused(ops: list, word: str) -> None:
    error = invalid(ops)
    assert word in error.message
    assert error.param == "ops[0]"


@pytest.mark.parametrize(
    "ops",
    [
        [{"width": 10}],  # no op
        [{"op": 5}],
        [{"op": "resize", "width": 10}],  # a required argument missing
        [{"op": "resize", "width": True, "height": 10}],  # a boolean is not a number
        [{"op": "resize", "width": [10], "height": 10}],
        [{"op": "tint", "colour": 0xFF0000}],
        [42],
        [["resize", 10, 10]],
        {"op": "grayscale"},  # an object, not a list of them
        42,
    ],
)
def test_malformed_json_operations_are_refused(ops) -> None:
    invalid(ops)


def test_json_object_missing_a_required_argument_names_it() -> None:
    error = invalid([{"op": "blur"}])
    assert "sigma" in error.message


# --- what the pipeline tells the renderer ---------------------------------------------------


def test_image_ids_are_collected_from_masks_and_watermarks() -> None:
    pipeline = parse_path(
        f"mask:{ID_A}/watermark:{ID_B}:north/watermark:{ID_A}/mask:circle/grayscale.png"
    )
    assert pipeline.image_ids() == {ID_A, ID_B}
    assert parse_path("mask:circle/mask:rounded:4/resize:10:10").image_ids() == set()
    assert Pipeline().image_ids() == set()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("resize:300:0/grayscale", (300, 200)),
        ("resize:0:300", (450, 300)),
        ("resize:300:300", (300, 200)),  # fit inside
        ("resize:300:300:fill", (450, 300)),  # cover, then crop
        ("resize:300:300:pad", (300, 200)),
        ("resize:300:50:stretch", (300, 50)),
        ("thumbnail:180", (180, 120)),
        ("thumbnail:180:60", (90, 60)),
        ("thumbnail:5000", (1800, 1200)),  # never enlarges: needs the full size
        ("quality:50/maxbytes:2000/thumbnail:180", (180, 120)),  # output options skipped
    ],
)
def test_draft_size_comes_from_a_leading_resize_or_thumbnail(path: str, expected) -> None:
    assert geometry(parse_path(path), (1800, 1200)).draft == expected


@pytest.mark.parametrize(
    "path", ["grayscale/resize:300:0", "crop:10:10/thumbnail:100", "rotate:90/thumbnail:10"]
)
def test_no_draft_size_unless_the_first_pixel_operation_reduces(path: str) -> None:
    assert geometry(parse_path(path + ".png"), (1800, 1200)).draft is None
    assert geometry(Pipeline(), (1800, 1200)).draft is None

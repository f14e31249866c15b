"""Where things live in the bucket (see the architecture note)."""

from __future__ import annotations

from .imaging.copies import COPIES

# The extensions a working copy's key named before the key was fixed (JPEG, or WebP for alpha).
LEGACY_WORK_EXTENSIONS = ("jpg", "webp")


def original_key(image_id: str) -> str:
    return f"originals/{image_id}"


def work_key(image_id: str, name: str = "") -> str:
    """A reduced working copy, the kind ``name`` says (imaging/copies.py: the 2048 px one has
    none). Its key does not depend on its format (the object's Content-Type says it), so a miss
    can read it before the record."""
    return f"work/{image_id}-{name}" if name else f"work/{image_id}"


def legacy_work_key(image_id: str, extension: str) -> str:
    """Where a working copy was stored while its key named its format."""
    return f"work/{image_id}.{extension}"


def work_keys(image_id: str) -> list[str]:
    """Every key an image's working copies may have: deleted by name, not listed (a directory
    bucket lists only prefixes that end in a slash)."""
    keys = [work_key(image_id, copy.name) for copy in COPIES]
    return keys + [legacy_work_key(image_id, ext) for ext in LEGACY_WORK_EXTENSIONS]


def variants_prefix(image_id: str) -> str:
    return f"variants/{image_id}/"


def variant_key(image_id: str, name: str) -> str:
    return f"{variants_prefix(image_id)}{name}"


def image_id_of_variant(key: str) -> str:
    """The id of the image a ``variants/{id}/{name}`` key belongs to."""
    return key.removeprefix("variants/").partition("/")[0]


def reference_key(referenced_id: str, variant: str) -> str:
    """A marker that ``variant`` was made with the image ``referenced_id`` (a mask or a
    watermark): deleting that image deletes the variant too."""
    return f"refs/{referenced_id}/{variant.removeprefix('variants/')}"


def references_prefix(referenced_id: str) -> str:
    return f"refs/{referenced_id}/"


def variant_of_reference(marker: str) -> str:
    """The variant a marker stands for."""
    _, _, rest = marker.removeprefix("refs/").partition("/")
    return f"variants/{rest}"


def upload_key(image_id: str) -> str:
    return f"uploads/{image_id}"


def image_id_of_upload(key: str) -> str | None:
    """The id in an ``uploads/{id}`` key, or None for any other key."""
    prefix, _, image_id = key.partition("/")
    return image_id if prefix == "uploads" and image_id else None


def result_key(batch_id: str, index: int, extension: str) -> str:
    """Ephemeral batch and job results (lifecycle: one day)."""
    return f"results/{batch_id}/{index:05d}.{extension}"


def is_cache_key(key: str) -> bool:
    """Whether a key (or a prefix) belongs to the cache, which a cache bucket holds when one is
    configured: what is made again when it is missing, variants (rendered again) and working
    copies (made again from the original: services/transform.py), and the variants' ``refs/``
    markers, kept beside what they stand for."""
    return key.startswith(("variants/", "refs/", "work/"))

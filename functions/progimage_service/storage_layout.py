"""Where things live in the bucket (see the architecture note)."""

from __future__ import annotations


def original_key(image_id: str) -> str:
    return f"originals/{image_id}"


def variants_prefix(image_id: str) -> str:
    return f"variants/{image_id}/"


def variant_key(image_id: str, name: str) -> str:
    return f"{variants_prefix(image_id)}{name}"

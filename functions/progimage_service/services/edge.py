"""What a delete asks of the CDN, and the worker that asks it.

CloudFront lets at most 15 wildcard paths be in progress per distribution; an invalidation takes
minutes. A delete calling CreateInvalidation itself had the rest of a burst of deletes refused
(``TooManyInvalidationsInProgress``), and a refused path stayed cached until it expired: a year,
for an original. So a delete queues its paths (the edge queue), and the job worker takes them in
batches of many deletes: each batch is one invalidation of at most WILDCARDS paths, merged into
shorter id prefixes where the batch names more images than that (ids begin with their creation
time, so a prefix is the images of a span of time: it drops more from the CDN than was deleted,
which costs refills from the origin, never a stale image). A refused batch is delivered again
after the queue's visibility timeout, when earlier invalidations have finished.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from .. import observability
from ..ids import ID_LENGTH
from ..wiring import Dependencies

logger = logging.getLogger("progimage")

# Wildcard paths per invalidation: three batches' may be in progress at once within CloudFront's
# 15 per distribution.
WILDCARDS = 5
_PREFIX = "/images/"


def edge_paths(image_id: str, users: set[str]) -> list[str]:
    """The CDN paths a delete invalidates: ``/images/{id}*`` (ids are fixed-width, so this is
    the original, every conversion and every variant of this image and no other's), and the
    variants of the images that used it as a mask or watermark. CloudFront counts and bills each
    wildcard path as one."""
    return [f"/images/{image_id}*", *(f"/images/{user}/*" for user in sorted(users - {image_id}))]


def forget_at_edge(deps: Dependencies, image_id: str, users: set[str]) -> None:
    """Queue the paths of a deleted image for the CDN, if there is one, to drop. The delete has
    happened by then: a refusal is logged and counted, not answered (the edge then serves what
    it holds until it expires)."""
    try:
        distribution = deps.cdn().distribution_id
        if distribution:
            body = {"distribution": distribution, "paths": edge_paths(image_id, users)}
            deps.edge_queue.send_all([body])
    except Exception as error:  # ProgImageError or the SDK's own: never fails the delete
        observability.add("CdnInvalidationFailures")
        logger.warning("the CDN was not told of a delete: %s", error, extra={"image_id": image_id})


def collapse(paths: Iterable[str], most: int = WILDCARDS) -> list[str]:
    """At most ``most`` wildcard paths covering every one of ``paths`` (each ``/images/{id}*``
    or ``/images/{id}/*``): the paths themselves if they are few enough, else the longest id
    prefixes that are."""
    distinct = sorted(set(paths))
    if len(distinct) <= most:
        return distinct
    ids = {path[len(_PREFIX) : len(_PREFIX) + ID_LENGTH] for path in distinct}
    for length in range(ID_LENGTH, -1, -1):
        prefixes = sorted({image_id[:length] for image_id in ids})
        if len(prefixes) <= most:
            return [f"{_PREFIX}{prefix}*" for prefix in prefixes]
    raise AssertionError("the empty prefix covers every id")  # length 0: one prefix


def invalidate(deps: Dependencies, bodies: Sequence[Any]) -> None:
    """One invalidation per distribution of every path the queued deletes name, collapsed. A
    message not of the form a delete sends is dropped: it would fail its whole batch at every
    delivery, the other deletes' invalidations with it."""
    paths: dict[str, list[str]] = defaultdict(list)
    for body in bodies:
        try:
            distribution, named = body["distribution"], body["paths"]
            if not isinstance(distribution, str) or not all(_is_edge_path(p) for p in named):
                raise TypeError(body)
        except (KeyError, TypeError):
            logger.warning("not a delete's CDN paths: dropped", extra={"body": str(body)[:200]})
            continue
        paths[distribution] += named
    for distribution, named in paths.items():
        deps.invalidator(distribution).invalidate(collapse(named))


def _is_edge_path(path: Any) -> bool:
    return isinstance(path, str) and path.startswith(_PREFIX) and path.endswith("*")

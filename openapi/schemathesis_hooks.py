"""Schemathesis hooks for the API document (loaded by openapi/schemathesis.toml).

- Image responses are checked, not skipped: a body declared ``image/*`` must be an image in an
  allowlisted format, the one its ``Content-Type`` names (sniffed from the bytes by the
  service's own allowlist).
- ``POST /batch`` and ``POST /jobs`` take items that are checked one by one: the contract says
  one bad item never fails the others, so a request whose only invalid part lies inside an item
  is accepted (``200``, or ``202`` for a job, whose items are checked when they run). For such a
  request, the ``negative_data_rejection`` failure is dropped only if the batch answered an
  error result for an item; any invalid part outside the items (their count, the body's shape,
  a header) must still be rejected.
- Each generated ``Idempotency-Key`` is made unique (a suffix is added; a key over the limit is
  left alone, to be refused). Generated keys collide all the time ("0", "A"), and a key
  reused answers what the contract says it must: the first answer again (for the same body),
  or ``409 idempotency_key_reused``. Left as they are, most POSTs would end there instead of
  reaching the request's validation and work, and in stateful scenarios a replayed ``201`` can
  be that of an image a previous scenario has deleted since, which the resource checks would
  read as an image created now and missing. Keys are still sent (and stored); the replay and
  the ``409`` answers are tested in tests/integration/test_security.py.
- Query parameters a route does not declare are ignored, as HTTP APIs and caches do (a
  cache-buster, a tracking parameter): a request whose only invalid part is such a parameter is
  accepted, and that ``negative_data_rejection`` failure is dropped. A declared parameter out
  of its schema must still be refused.
- A job of more than 100 items is cut to its first 100. The local queue (moto, in the test's
  process) takes minutes, not seconds, to take 10,000 messages (it slows down as it fills), and
  its workers then process every item; a list over the limit (10,001) is left whole, to be
  refused, as tests/integration/test_bulk.py also checks.
"""

from __future__ import annotations

import itertools
import sys
import uuid
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.core.failures import AcceptedNegativeData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from progimage_service.errors import ProgImageError
from progimage_service.imaging.formats import sniff

_ITEMS = "/properties/items/items"
_RUN = uuid.uuid4().hex[:8]  # unique across runs too: a server may outlive one run
_KEYS = itertools.count()
_MAX_KEY = 255  # the document's maxLength for Idempotency-Key
_ITEM_CHECKED_OPERATIONS = {"POST /batch", "POST /jobs"}
_LOCAL_JOB_ITEMS = 100
_MAX_JOB_ITEMS = 10_000  # the document's maxItems for a job


@schemathesis.deserializer("image/*")
def image(ctx: schemathesis.DeserializationContext, response: schemathesis.Response) -> str:
    declared = response.headers.get("content-type", [""])[0].split(";")[0].strip().lower()
    try:
        found = sniff(response.content).content_type
    except ProgImageError:
        raise ValueError(f"the body is not an image in a supported format ({declared})") from None
    if found != declared:
        raise ValueError(f"Content-Type is {declared} but the body is {found}")
    return f"<{len(response.content)} bytes of {found}>"


def _negated_locations(case: schemathesis.Case) -> list[str | None]:
    data = case.meta.phase.data if case.meta is not None else None
    if data is None:
        return [None]
    locations = [mutation.schema_pointer for mutation in data.mutations]
    return locations or [data.location]


def _only_items_negated(case: schemathesis.Case) -> bool:
    meta = case.meta
    if meta is None:
        return False
    negative = {location.value for location, c in meta.components.items() if c.mode.is_negative}
    if negative != {"body"}:
        return False
    return all(
        location is not None and location.startswith(_ITEMS)
        for location in _negated_locations(case)
    )


def _answered_an_item_error(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    if case.operation.label == "POST /jobs":
        return response.status_code == 202
    if response.status_code != 200:
        return False
    results: Any = response.json().get("results", [])
    return any(result.get("status", 0) >= 400 for result in results)


def _only_unknown_query_negated(case: schemathesis.Case) -> bool:
    meta = case.meta
    if meta is None:
        return False
    negative = {location.value for location, c in meta.components.items() if c.mode.is_negative}
    declared = {parameter.name for parameter in case.operation.iter_parameters()}
    return negative == {"query"} and bool(set(case.query or {}) - declared)


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Any,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """Keep every failure except a bad item answered as an item error, and an undeclared
    query parameter ignored (see above)."""
    if not isinstance(failure, AcceptedNegativeData):
        return True
    if _only_unknown_query_negated(case):
        return False
    return not (
        case.operation.label in _ITEM_CHECKED_OPERATIONS
        and _only_items_negated(case)
        and _answered_an_item_error(case, response)
    )


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """A unique Idempotency-Key per request, and jobs of at most 100 items (see above)."""
    key = (case.headers or {}).get("Idempotency-Key")
    # A key over the limit is left as it is: it must be refused (400), and is never stored.
    if isinstance(key, str) and 0 < len(key) <= _MAX_KEY:
        suffix = f"-{_RUN}-{next(_KEYS)}"
        case.headers["Idempotency-Key"] = key[: _MAX_KEY - len(suffix)] + suffix
    items = case.body.get("items") if isinstance(case.body, dict) else None
    if (
        case.operation.label == "POST /jobs"
        and isinstance(items, list)
        and _LOCAL_JOB_ITEMS < len(items) <= _MAX_JOB_ITEMS
    ):
        case.body["items"] = items[:_LOCAL_JOB_ITEMS]
    return case

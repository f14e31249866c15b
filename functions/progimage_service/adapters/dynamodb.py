"""The DynamoDB catalog: one item per image, listed newest first through a sparse index.

Each tenant's images are listed from LIST_SHARDS index partitions of its own (an image's shard
follows from its id), so no partition takes more than a share of one tenant's writes; a page
queries every shard and merges them, newest first.

A ready image also has index items in the table, all under its tenant: one per tag
(``TAG#``), one per band of its perceptual hash (``SIM#``, see similarity.py) and one for its
content hash (``SHA#``). They are written before the record and read through it, so an item
whose record is gone or has changed is passed over (docs/ARCHITECTURE.md, "Index items").
"""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from botocore.exceptions import ClientError

from ..auth import DEFAULT_TENANT
from ..errors import ServiceUnavailable
from ..models import ImageRecord
from ..similarity import BANDS, Position, bands, nearest_page
from .aws import client, error_code, translated

LIST_INDEX = "by-created"
# Index partitions per tenant. Fixed for a table's life: listing reads exactly these.
LIST_SHARDS = 4
# Job items counted by one counter item: it holds their indexes (which makes counting
# idempotent) and stays under 1 KB, one write unit per count.
COUNT_SHARD_ITEMS = 100
_RECORD_FIELDS = {f.name for f in fields(ImageRecord)}


Value = str | int | float | bool | tuple[str, ...] | list[str] | dict[str, Any]


def _serialize(value: Value) -> dict[str, Any]:
    """A DynamoDB attribute value for the few types the catalog stores."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, tuple | list):
        return {"L": [_serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: _serialize(v) for k, v in value.items()}}
    raise TypeError(f"the catalog stores no {type(value).__name__} values")


def _deserialize(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    match kind:
        case "S":
            return value
        case "N":
            return float(value) if "." in value or "e" in value.lower() else int(value)
        case "BOOL":
            return bool(value)
        case "NULL":
            return None
        case "L":
            return tuple(_deserialize(v) for v in value)
        case "M":
            return {k: _deserialize(v) for k, v in value.items()}
    raise TypeError(f"the catalog stores no {kind} values")


def _key(image_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"IMG#{image_id}"}, "sk": {"S": "META"}}


def _list_partition(tenant: str, shard: int) -> str:
    return f"T#{tenant}#{shard}"


def _shard(image_id: str) -> int:
    return hashlib.sha256(image_id.encode()).digest()[0] % LIST_SHARDS


def _to_item(record: ImageRecord, expires_at: int | None = None) -> dict[str, Any]:
    values = {k: v for k, v in asdict(record).items() if v not in (None, (), {})}
    values |= {
        "pk": f"IMG#{record.id}",
        "sk": "META",
        "list_pk": _list_partition(record.tenant, _shard(record.id)),
        "list_sk": record.id,
    }
    if expires_at is not None:
        values["expires_at_ttl"] = expires_at
    return {k: _serialize(v) for k, v in values.items()}


def _conditional(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def batch_write(
    db: Any, table: str, items: list[dict[str, Any]], deletes: Sequence[dict[str, Any]] = ()
) -> None:
    """Write items (and delete the keys ``deletes``) 25 per request, resending what DynamoDB
    leaves unprocessed."""
    work = [{"PutRequest": {"Item": item}} for item in items]
    work += [{"DeleteRequest": {"Key": key}} for key in deletes]
    for start in range(0, len(work), 25):
        requests = work[start : start + 25]
        for _ in range(5):
            with translated("catalog"):
                response = db.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
        else:
            raise ServiceUnavailable("the catalog is throttling writes; retry")


def batch_get(db: Any, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of these keys that exist, read consistently 100 keys per request, asking
    again for what DynamoDB leaves unprocessed."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        pending = list(keys[start : start + 100])
        for _ in range(5):
            request = {table: {"Keys": pending, "ConsistentRead": True}}
            with translated("catalog"):
                response = db.batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(table, [])
            pending = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not pending:
                break
        else:
            raise ServiceUnavailable("the catalog is throttling reads; retry")
    return found


def _tag_partition(tenant: str, tag: str) -> str:
    return f"TAG#{tenant}#{tag}"


# Index items read for one dedupe: the newest copies of those bytes. More than one exists only
# where uploads without dedupe stored them again; one passed over is being deleted.
_COPIES_READ = 10


def _sha_partition(tenant: str, sha256: str) -> str:
    return f"SHA#{tenant}#{sha256}"


def _sim_partition(tenant: str, band: int, value: str) -> str:
    return f"SIM#{tenant}#{band}#{value}"


def _tag_items(record: ImageRecord, tags: Iterable[str]) -> list[dict[str, Any]]:
    return [{"pk": {"S": _tag_partition(record.tenant, t)}, "sk": {"S": record.id}} for t in tags]


def _index_items(record: ImageRecord) -> list[dict[str, Any]]:
    """The index items of a ready record: one per tag, one per band of its perceptual hash
    (carrying the hash), and one under its content hash."""
    if record.status != "ready":
        return []
    items = _tag_items(record, record.tags)
    if record.phash:
        items += [
            {
                "pk": {"S": _sim_partition(record.tenant, band, value)},
                "sk": {"S": record.id},
                "phash": {"S": record.phash},
            }
            for band, value in enumerate(bands(record.phash))
        ]
    if record.sha256:
        items.append(
            {"pk": {"S": _sha_partition(record.tenant, record.sha256)}, "sk": {"S": record.id}}
        )
    return items


def _keys(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"pk": item["pk"], "sk": item["sk"]} for item in items]


def _from_item(item: dict[str, Any]) -> ImageRecord:
    return ImageRecord(**{k: _deserialize(v) for k, v in item.items() if k in _RECORD_FIELDS})


class Catalog:
    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self.db = dynamodb or client("dynamodb")

    def create(self, record: ImageRecord) -> None:
        """Write a new record; an id is never reused, so an existing one is a bug, not a retry.

        Its index items go first: readers resolve index items through the records, so one whose
        record is missing is passed over; if the record cannot be written they are removed.
        """
        batch_write(self.db, self.table, _index_items(record))
        try:
            with translated("catalog"):
                self.db.put_item(
                    TableName=self.table,
                    Item=_to_item(record),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except BaseException:
            self.remove_index(record)
            raise

    def create_pending(self, records: list[ImageRecord], expires_at: int) -> None:
        """Records of uploads yet to come; DynamoDB's TTL removes those never completed."""
        batch_write(self.db, self.table, [_to_item(r, expires_at) for r in records])

    def complete(self, record: ImageRecord) -> bool:
        """Replace a pending record with its final state (a ready one's index items first, as
        in `create`); False if it is no longer pending."""
        batch_write(self.db, self.table, _index_items(record))
        try:
            with translated("catalog"):
                self.db.put_item(
                    TableName=self.table,
                    Item=_to_item(record),
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":pending": {"S": "pending"}},
                )
        except ClientError as error:
            if _conditional(error):
                return False
            raise
        return True

    def begin_ingest(
        self, image_id: str, started: float, ends_at: float
    ) -> tuple[float, float] | None:
        """Note on a pending record that its ingest started at ``started`` and ends by
        ``ends_at`` at the latest; answer the note of the run before it, (started, ends_at), if
        one was left. Completing the record removes the note with the rest."""
        try:
            with translated("catalog"):
                response = self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression="SET ingest_started = :started, ingest_ends_at = :ends",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":started": {"N": f"{started:.3f}"},
                        ":ends": {"N": f"{ends_at:.3f}"},
                        ":pending": {"S": "pending"},
                    },
                    ReturnValues="UPDATED_OLD",
                )
        except ClientError as error:
            if _conditional(error):  # no longer pending: the ingest finds that out itself
                return None
            raise
        old = response.get("Attributes", {})
        if "ingest_started" not in old or "ingest_ends_at" not in old:
            return None
        return float(old["ingest_started"]["N"]), float(old["ingest_ends_at"]["N"])

    def end_ingest(self, image_id: str) -> None:
        """Withdraw the note of an ingest that ended without an outcome on purpose (a retry)."""
        try:
            with translated("catalog"):
                self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression="REMOVE ingest_started, ingest_ends_at",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":pending": {"S": "pending"}},
                )
        except ClientError as error:
            if not _conditional(error):
                raise

    def get(self, image_id: str) -> ImageRecord | None:
        """The record, or None if there is none or it is being deleted."""
        with translated("catalog"):
            response = self.db.get_item(
                TableName=self.table, Key=_key(image_id), ConsistentRead=True
            )
        item = response.get("Item")
        if item is None:
            return None
        record = _from_item(item)
        return None if record.status == "deleting" else record

    def list(
        self, tenant: str, limit: int, after: str | None
    ) -> tuple[list[ImageRecord], str | None]:
        """A page of a tenant's records, newest first, older than the id ``after``.

        Ids begin with their creation time, so each shard's newest ``limit`` older than the
        cursor, merged, hold the page; the next cursor is the page's last id while any shard
        has more.
        """
        shards = [self._list_shard(tenant, shard, limit, after) for shard in range(LIST_SHARDS)]
        merged = list(
            heapq.merge(*(items for items, _ in shards), key=lambda r: r.id, reverse=True)
        )
        page = merged[:limit]
        more = len(merged) > limit or any(truncated for _, truncated in shards)
        return page, (page[-1].id if more and page else None)

    def _list_shard(
        self, tenant: str, shard: int, limit: int, after: str | None
    ) -> tuple[list[ImageRecord], bool]:
        partition = _list_partition(tenant, shard)
        response = self._newest_first(
            ("list_pk", "list_sk"), partition, after, limit, IndexName=LIST_INDEX
        )
        items = response.get("Items", [])
        return [_from_item(item) for item in items], "LastEvaluatedKey" in response

    def _newest_first(
        self, key: tuple[str, str], partition: str, after: str | None, limit: int, **more: Any
    ) -> dict[str, Any]:
        """One page of a partition (``key``: its key's attribute names), the greatest sort
        keys first, those below ``after`` only."""
        partition_key, sort_key = key
        condition = f"{partition_key} = :partition"
        values: dict[str, Any] = {":partition": {"S": partition}}
        if after:
            condition += f" AND {sort_key} < :after"
            values[":after"] = {"S": after}
        with translated("catalog"):
            return self.db.query(
                TableName=self.table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=limit,
                **more,
            )

    def mark_deleting(self, image_id: str, tenant: str) -> ImageRecord | None:
        """Hide the tenant's record from readers and listings before its objects go; answer it
        (None if unknown or another tenant's).

        Removing the index attributes takes it out of the sparse listing index at once; a
        DELETE retried after a failure finds it in this state and finishes the job.
        """
        owned, values = _owned(tenant)
        try:
            with translated("catalog"):
                response = self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression="SET #status = :deleting REMOVE list_pk, list_sk",
                    ConditionExpression=f"attribute_exists(pk) AND {owned}",
                    ExpressionAttributeNames={"#status": "status", "#tenant": "tenant"},
                    ExpressionAttributeValues={":deleting": {"S": "deleting"}} | values,
                    ReturnValues="ALL_NEW",
                )
        except ClientError as error:
            if _conditional(error):
                return None
            raise
        return _from_item(response["Attributes"])

    def delete(self, record: ImageRecord) -> None:
        """Remove a record being deleted, its index items first."""
        self.remove_index(replace(record, status="ready"))
        with translated("catalog"):
            self.db.delete_item(TableName=self.table, Key=_key(record.id))

    def remove_index(self, record: ImageRecord) -> None:
        """Remove the index items of a record."""
        batch_write(self.db, self.table, [], _keys(_index_items(record)))

    def annotate(self, image_id: str, tenant: str, changes: dict[str, Any]) -> ImageRecord | None:
        """Set the owner's fields (tags, metadata, focal_point) of the tenant's ready record, an
        empty value removing one, and keep its tag index in step: the removed tags' items go,
        every tag's is written (again). Answers the new record, None if there is no such
        ready record. A listing by tag checks each record's tags, so concurrent changes can
        leave an item too many but never show an image under a tag it no longer has."""
        sets = {k: v for k, v in changes.items() if v not in (None, (), {})}
        clauses = []
        if sets:
            clauses.append("SET " + ", ".join(f"#{k} = :{k}" for k in sets))
        if removes := [k for k in changes if k not in sets]:
            clauses.append("REMOVE " + ", ".join(f"#{k}" for k in removes))
        owned, values = _owned(tenant)
        try:
            with translated("catalog"):
                response = self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression=" ".join(clauses),
                    ConditionExpression=f"attribute_exists(pk) AND #status = :ready AND {owned}",
                    ExpressionAttributeNames={f"#{k}": k for k in changes}
                    | {"#status": "status", "#tenant": "tenant"},
                    ExpressionAttributeValues={f":{k}": _serialize(v) for k, v in sets.items()}
                    | {":ready": {"S": "ready"}}
                    | values,
                    ReturnValues="ALL_OLD",
                )
        except ClientError as error:
            if _conditional(error):
                return None
            raise
        old = _from_item(response["Attributes"])
        new = replace(old, **changes)
        if "tags" in changes:
            gone = set(old.tags) - set(new.tags)
            batch_write(
                self.db, self.table, _tag_items(new, new.tags), _keys(_tag_items(old, gone))
            )
        return new

    def records(self, image_ids: list[str]) -> dict[str, ImageRecord]:
        """The records of these ids that exist and are not being deleted (BatchGetItem, 100
        keys a request)."""
        keys = [_key(i) for i in dict.fromkeys(image_ids)]
        records = (_from_item(item) for item in batch_get(self.db, self.table, keys))
        return {record.id: record for record in records if record.status != "deleting"}

    def list_tagged(
        self, tenant: str, tag: str, limit: int, after: str | None
    ) -> tuple[list[ImageRecord], str | None]:
        """A page of the tenant's records with the tag, newest first, older than ``after``: one
        query of the tag's index items, then one BatchGetItem of their records."""
        partition = _tag_partition(tenant, tag)
        response = self._newest_first(("pk", "sk"), partition, after, limit, ConsistentRead=True)
        ids = [item["sk"]["S"] for item in response.get("Items", [])]
        found = self.records(ids)
        page = [
            found[i]
            for i in ids
            if i in found and found[i].tenant == tenant and tag in found[i].tags
        ]
        return page, (ids[-1] if "LastEvaluatedKey" in response and ids else None)

    def similar(
        self,
        tenant: str,
        image_id: str,
        phash: str,
        within: int,
        limit: int,
        after: Position | None = None,
    ) -> tuple[list[tuple[ImageRecord, int]], Position | None]:
        """The tenant's ready records (but ``image_id``) whose perceptual hash is within
        ``within`` bits of ``phash``, nearest (then newest) first: at most ``limit`` after
        ``after``, and where the next page starts (similarity.nearest_page).

        One query per band (similarity.py), run together, finds every candidate with its hash;
        one BatchGetItem reads the records of the page.
        """
        with ThreadPoolExecutor(BANDS) as pool:
            found = pool.map(
                lambda band: self._band(tenant, band[0], band[1]), enumerate(bands(phash))
            )
            candidates = {i: h for items in found for i, h in items}
        candidates.pop(image_id, None)
        near, following = nearest_page(candidates.items(), phash, within, after, limit)
        records = self.records([i for _, i in near])
        page = [
            (records[i], d)
            for d, i in near
            if i in records and records[i].tenant == tenant and records[i].status == "ready"
        ]
        return page, following

    def _band(self, tenant: str, band: int, value: str) -> list[tuple[str, str]]:
        query = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _sim_partition(tenant, band, value)}},
            "ProjectionExpression": "sk, phash",
        }
        with translated("catalog"):
            items = self.db.get_paginator("query").paginate(**query).build_full_result()["Items"]
        return [(item["sk"]["S"], item["phash"]["S"]) for item in items]

    def duplicate(self, tenant: str, sha256: str) -> ImageRecord | None:
        """The tenant's newest ready record stored from bytes of this content hash, if any: one
        query of the hash's index items (newest first), one BatchGetItem of their records."""
        partition = _sha_partition(tenant, sha256)
        response = self._newest_first(
            ("pk", "sk"), partition, None, _COPIES_READ, ConsistentRead=True
        )
        ids = [item["sk"]["S"] for item in response.get("Items", [])]
        found = self.records(ids)
        ready = (found[i] for i in ids if i in found)
        return next((r for r in ready if r.tenant == tenant and r.status == "ready"), None)


def _owned(tenant: str) -> tuple[str, dict[str, Any]]:
    """The condition that a record is the tenant's (``#tenant`` names the attribute)."""
    owned = "#tenant = :tenant"
    if tenant == DEFAULT_TENANT:  # records from before tenants have no owner attribute
        owned = f"({owned} OR attribute_not_exists(#tenant))"
    return owned, {":tenant": {"S": tenant}}


def _job_key(job_id: str, sort: str = "META") -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": sort}}


def _item_sort(index: int) -> str:
    return f"ITEM#{index:05d}"


def _count_sort(index: int) -> str:
    """The counter shard that counts the item: after ``META``, so one query reads them all."""
    return f"META#COUNT#{index // COUNT_SHARD_ITEMS:03d}"


def _run_sort(index: int) -> str:
    """The note of an item's current run: apart from ``ITEM#``, so results never list it."""
    return f"RUN#{index:05d}"


class JobTable:
    """Jobs in the same table: a META item, one item per result, and counter shards.

    An item is counted by adding its index to its shard's set of counted indexes and one to
    the shard's counter, in one conditional update: counting twice changes nothing. So a
    delivery that finds a result recorded counts it again, and a worker that died between
    recording a result and counting it leaves no job short.
    """

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self.db = dynamodb or client("dynamodb")

    def create(
        self, job_id: str, tenant: str, total: int, created_at: str, expires_at: int
    ) -> None:
        item = {"tenant": tenant, "total": total, "created_at": created_at}
        with translated("catalog"):
            self.db.put_item(
                TableName=self.table,
                Item=_job_key(job_id)
                | {k: _serialize(v) for k, v in item.items()}
                | {"expires_at_ttl": {"N": str(expires_at)}},
                ConditionExpression="attribute_not_exists(pk)",
            )

    def delete(self, job_id: str) -> None:
        with translated("catalog"):
            self.db.delete_item(TableName=self.table, Key=_job_key(job_id))

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's META fields with ``succeeded`` and ``failed`` summed over its shards."""
        query = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :meta)",
            "ExpressionAttributeValues": {":pk": {"S": f"JOB#{job_id}"}, ":meta": {"S": "META"}},
            "ProjectionExpression": "sk, tenant, #total, created_at, succeeded, failed",
            "ExpressionAttributeNames": {"#total": "total"},
            "ConsistentRead": True,
        }
        with translated("catalog"):
            items = self.db.get_paginator("query").paginate(**query).build_full_result()["Items"]
        (meta,) = [item for item in items if item["sk"]["S"] == "META"] or [None]
        if meta is None:
            return None
        job = {k: _deserialize(v) for k, v in meta.items() if k != "sk"}
        for counter in ("succeeded", "failed"):  # (META itself counted, before the shards)
            job[counter] = sum(int(item.get(counter, {"N": "0"})["N"]) for item in items)
        return job

    def recorded(self, job_id: str, index: int) -> dict[str, Any] | None:
        """The item's recorded result, if a delivery recorded one."""
        with translated("catalog"):
            item = self.db.get_item(
                TableName=self.table,
                Key=_job_key(job_id, _item_sort(index)),
                ConsistentRead=True,
            ).get("Item")
        return None if item is None else json.loads(item["result"]["S"])

    def record_result(
        self, job_id: str, index: int, result: dict[str, Any], expires_at: int
    ) -> dict[str, Any]:
        """Write an item's result once; answer the result recorded (an earlier one if any)."""
        try:
            with translated("catalog"):
                self.db.put_item(
                    TableName=self.table,
                    Item=_job_key(job_id, _item_sort(index))
                    | {
                        "result": {"S": json.dumps(result, separators=(",", ":"))},
                        "expires_at_ttl": {"N": str(expires_at)},
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except ClientError as error:
            if not _conditional(error):
                raise
            return self.recorded(job_id, index) or result
        return result

    def begin_run(
        self, job_id: str, index: int, started: float, ends_at: float, expires_at: int
    ) -> tuple[float, float] | None:
        """Note that a run of the item started at ``started`` and ends by ``ends_at`` at the
        latest; answer the note of the run before it, (started, ends_at), if one was left."""
        with translated("catalog"):
            response = self.db.update_item(
                TableName=self.table,
                Key=_job_key(job_id, _run_sort(index)),
                UpdateExpression="SET run_started = :started, run_ends_at = :ends, "
                "expires_at_ttl = :ttl",
                ExpressionAttributeValues={
                    ":started": {"N": f"{started:.3f}"},
                    ":ends": {"N": f"{ends_at:.3f}"},
                    ":ttl": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_OLD",
            )
        old = response.get("Attributes", {})
        if "run_started" not in old or "run_ends_at" not in old:
            return None
        return float(old["run_started"]["N"]), float(old["run_ends_at"]["N"])

    def end_run(self, job_id: str, index: int) -> None:
        """Withdraw the note of a run that ended without a result on purpose (to be retried)."""
        with translated("catalog"):
            self.db.update_item(
                TableName=self.table,
                Key=_job_key(job_id, _run_sort(index)),
                UpdateExpression="REMOVE run_started, run_ends_at",
            )

    def count(self, job_id: str, index: int, succeeded: bool, expires_at: int) -> None:
        """Count the item once, however often it is called (see the class)."""
        try:
            with translated("catalog"):
                self.db.update_item(
                    TableName=self.table,
                    Key=_job_key(job_id, _count_sort(index)),
                    UpdateExpression=f"ADD {'succeeded' if succeeded else 'failed'} :one, "
                    "counted :index SET expires_at_ttl = :ttl",
                    ConditionExpression="NOT contains(counted, :i)",
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":index": {"NS": [str(index)]},
                        ":i": {"N": str(index)},
                        ":ttl": {"N": str(expires_at)},
                    },
                )
        except ClientError as error:
            if not _conditional(error):  # counted already
                raise

    def results(self, job_id: str, limit: int, after: int | None) -> tuple[list[dict], int | None]:
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :items)",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"JOB#{job_id}"},
                ":items": {"S": "ITEM#"},
            },
            "Limit": limit,
            "ConsistentRead": True,
        }
        if after is not None:
            query["ExclusiveStartKey"] = _job_key(job_id, _item_sort(after))
        with translated("catalog"):
            response = self.db.query(**query)
        results = [json.loads(item["result"]["S"]) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return results, (int(last["sk"]["S"].removeprefix("ITEM#")) if last else None)


@dataclass(frozen=True)
class Claim:
    """What an idempotency key holds: its request's fingerprint, and the answer once there."""

    fingerprint: str
    response: dict[str, Any] | None  # None while the first request is still running


class IdempotencyTable:
    """Idempotency keys in the same table, kept for a day (TTL)."""

    TTL_SECONDS = 86_400
    # A claim whose request never recorded an answer (it crashed, or saving the answer failed)
    # may be taken over after this: longer than any function runs.
    LEASE_SECONDS = 180

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self.db = dynamodb or client("dynamodb")

    def claim(self, key: str, fingerprint: str) -> Claim | None:
        """Claim a key for a new request; if it was claimed before, return that claim."""
        now = int(time.time())
        item = {
            "pk": {"S": f"IDEM#{key}"},
            "sk": {"S": "META"},
            "fingerprint": {"S": fingerprint},
            "leased_until": {"N": str(now + self.LEASE_SECONDS)},
            "expires_at_ttl": {"N": str(now + self.TTL_SECONDS)},
        }
        try:
            with translated("catalog"):
                self.db.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR "
                    "(attribute_not_exists(#response) AND leased_until < :now)",
                    ExpressionAttributeNames={"#response": "response"},
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
        except ClientError as error:
            if not _conditional(error):
                raise
            with translated("catalog"):
                found = self.db.get_item(
                    TableName=self.table, Key=_idem_key(key), ConsistentRead=True
                ).get("Item")
            if found is None:  # expired between the two calls: claim again
                return self.claim(key, fingerprint)
            response = found.get("response", {}).get("S")
            return Claim(found["fingerprint"]["S"], json.loads(response) if response else None)
        return None

    def complete(self, key: str, response: dict[str, Any]) -> None:
        with translated("catalog"):
            self.db.update_item(
                TableName=self.table,
                Key=_idem_key(key),
                UpdateExpression="SET #response = :response",
                ExpressionAttributeNames={"#response": "response"},
                ExpressionAttributeValues={":response": {"S": json.dumps(response)}},
            )

    def release(self, key: str) -> None:
        """Forget a claim whose request failed in a way worth retrying."""
        with translated("catalog"):
            self.db.delete_item(TableName=self.table, Key=_idem_key(key))


def _idem_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"IDEM#{key}"}, "sk": {"S": "META"}}

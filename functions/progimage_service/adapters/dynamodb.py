"""The DynamoDB catalog: one item per image, listed newest first through a sparse index.

Each tenant's images are listed from LIST_SHARDS index partitions of its own (an image's shard
follows from its id), so no partition takes more than a share of one tenant's writes; a page
queries every shard and merges them, newest first.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from botocore.exceptions import ClientError

from ..auth import DEFAULT_TENANT
from ..errors import ServiceUnavailable
from ..models import ImageRecord
from .aws import client, error_code, translated

LIST_INDEX = "by-created"
# Index partitions per tenant. Fixed for a table's life: listing reads exactly these.
LIST_SHARDS = 4
# Job items counted by one counter item: it holds their indexes (which makes counting
# idempotent) and stays under 1 KB, one write unit per count.
COUNT_SHARD_ITEMS = 100
_RECORD_FIELDS = {f.name for f in fields(ImageRecord)}


def _serialize(value: str | int | bool) -> dict[str, Any]:
    """A DynamoDB attribute value for the few types the catalog stores."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"the catalog stores no {type(value).__name__} values")


def _deserialize(attribute: dict[str, Any]) -> str | int | bool | None:
    ((kind, value),) = attribute.items()
    match kind:
        case "S":
            return value
        case "N":
            return int(value)
        case "BOOL":
            return bool(value)
        case "NULL":
            return None
    raise TypeError(f"the catalog stores no {kind} values")


def _key(image_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"IMG#{image_id}"}, "sk": {"S": "META"}}


def _list_partition(tenant: str, shard: int) -> str:
    return f"T#{tenant}#{shard}"


def _shard(image_id: str) -> int:
    return hashlib.sha256(image_id.encode()).digest()[0] % LIST_SHARDS


def _to_item(record: ImageRecord, expires_at: int | None = None) -> dict[str, Any]:
    values = {k: v for k, v in asdict(record).items() if v is not None}
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


def batch_write(db: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Write items 25 per request, resending what DynamoDB leaves unprocessed."""
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        for _ in range(5):
            with translated("catalog"):
                response = db.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])
            if not requests:
                break
        else:
            raise ServiceUnavailable("the catalog is throttling writes; retry")


def _by_id(record: ImageRecord) -> str:
    return record.id


def _from_item(item: dict[str, Any]) -> ImageRecord:
    return ImageRecord(**{k: _deserialize(v) for k, v in item.items() if k in _RECORD_FIELDS})


class Catalog:
    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self.db = dynamodb or client("dynamodb")

    def create(self, record: ImageRecord) -> None:
        """Write a new record; an id is never reused, so an existing one is a bug, not a retry."""
        with translated("catalog"):
            self.db.put_item(
                TableName=self.table,
                Item=_to_item(record),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def create_pending(self, records: list[ImageRecord], expires_at: int) -> None:
        """Records of uploads yet to come; DynamoDB's TTL removes those never completed."""
        batch_write(self.db, self.table, [_to_item(r, expires_at) for r in records])

    def complete(self, record: ImageRecord) -> bool:
        """Replace a pending record with its final state; False if it is no longer pending."""
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
        condition = "list_pk = :partition"
        values: dict[str, Any] = {":partition": {"S": _list_partition(tenant, shard)}}
        if after:
            condition += " AND list_sk < :after"
            values[":after"] = {"S": after}
        with translated("catalog"):
            response = self.db.query(
                TableName=self.table,
                IndexName=LIST_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=limit,
            )
        items = response.get("Items", [])
        return [_from_item(item) for item in items], "LastEvaluatedKey" in response

    def mark_deleting(self, image_id: str, tenant: str) -> bool:
        """Hide the tenant's record from readers and listings before its objects go; False if
        unknown or another tenant's.

        Removing the index attributes takes it out of the sparse listing index at once; a
        DELETE retried after a failure finds it in this state and finishes the job.
        """
        owned = "#tenant = :tenant"
        if tenant == DEFAULT_TENANT:  # records from before tenants have no owner attribute
            owned = f"({owned} OR attribute_not_exists(#tenant))"
        try:
            with translated("catalog"):
                self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression="SET #status = :deleting REMOVE list_pk, list_sk",
                    ConditionExpression=f"attribute_exists(pk) AND {owned}",
                    ExpressionAttributeNames={"#status": "status", "#tenant": "tenant"},
                    ExpressionAttributeValues={
                        ":deleting": {"S": "deleting"},
                        ":tenant": {"S": tenant},
                    },
                )
        except ClientError as error:
            if _conditional(error):
                return False
            raise
        return True

    def delete(self, image_id: str) -> None:
        with translated("catalog"):
            self.db.delete_item(TableName=self.table, Key=_key(image_id))


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

"""The DynamoDB catalog: one item per image, listed newest first through a sparse index."""

from __future__ import annotations

from dataclasses import asdict, fields
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..models import ImageRecord
from .aws import client, error_code, translated

LIST_INDEX = "by-created"
_LISTED = "IMG"  # every listed image shares this index partition; ids sort by creation time
_RECORD_FIELDS = {f.name for f in fields(ImageRecord)}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def _key(image_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"IMG#{image_id}"}, "sk": {"S": "META"}}


def _to_item(record: ImageRecord) -> dict[str, Any]:
    values = {k: v for k, v in asdict(record).items() if v is not None}
    values |= {"pk": f"IMG#{record.id}", "sk": "META", "list_pk": _LISTED, "list_sk": record.id}
    return {k: _serialize(v) for k, v in values.items()}


def _from_item(item: dict[str, Any]) -> ImageRecord:
    values = {k: _deserialize(v) for k, v in item.items() if k in _RECORD_FIELDS}
    return ImageRecord(**{k: int(v) if isinstance(v, Decimal) else v for k, v in values.items()})


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

    def list(self, limit: int, after: str | None) -> tuple[list[ImageRecord], str | None]:
        """A page of records, newest first, starting after the id ``after``."""
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": "list_pk = :listed",
            "ExpressionAttributeValues": {":listed": {"S": _LISTED}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after:
            query["ExclusiveStartKey"] = _key(after) | {
                "list_pk": {"S": _LISTED},
                "list_sk": {"S": after},
            }
        with translated("catalog"):
            response = self.db.query(**query)
        records = [_from_item(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return records, (_deserialize(last["list_sk"]) if last else None)

    def mark_deleting(self, image_id: str) -> bool:
        """Hide a record from readers and listings before its objects go; False if unknown.

        Removing the index attributes takes it out of the sparse listing index at once; a
        DELETE retried after a failure finds it in this state and finishes the job.
        """
        try:
            with translated("catalog"):
                self.db.update_item(
                    TableName=self.table,
                    Key=_key(image_id),
                    UpdateExpression="SET #status = :deleting REMOVE list_pk, list_sk",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":deleting": {"S": "deleting"}},
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def delete(self, image_id: str) -> None:
        with translated("catalog"):
            self.db.delete_item(TableName=self.table, Key=_key(image_id))

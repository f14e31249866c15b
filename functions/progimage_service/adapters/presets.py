"""Presets in the catalog's table: one item per tenant and name (``PRESET#{tenant}``, name).

A preset's version grows by one on every save, in the same write, so two saves never share
one. Reads are strongly consistent: a variant keyed by a version read a moment after an edit
is the edited preset's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .aws import client, translated
from .dynamodb import batch_get


@dataclass(frozen=True)
class StoredPreset:
    name: str
    ops: str  # the canonical form
    format: str | None  # a canonical extension, "auto", or None (the source's)
    eager: bool
    version: int
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ops": self.ops,
            "format": self.format,
            "eager": self.eager,
            "version": self.version,
            "updated_at": self.updated_at,
        }


def _preset_key(tenant: str, name: str) -> dict[str, Any]:
    return {"pk": {"S": f"PRESET#{tenant}"}, "sk": {"S": name}}


def _from_preset_item(item: dict[str, Any]) -> StoredPreset:
    fmt = item.get("format", {}).get("S")
    return StoredPreset(
        name=item["sk"]["S"],
        ops=item["ops"]["S"],
        format=fmt,
        eager=item["eager"]["BOOL"],
        version=int(item["version"]["N"]),
        updated_at=item["updated_at"]["S"],
    )


class PresetTable:
    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self.db = dynamodb or client("dynamodb")

    def save(
        self, tenant: str, name: str, ops: str, fmt: str | None, eager: bool, updated_at: str
    ) -> StoredPreset:
        """Create or replace the tenant's preset, one version up; answer it as saved."""
        names = {"#f": "format", "#v": "version"}
        values: dict[str, Any] = {
            ":ops": {"S": ops},
            ":eager": {"BOOL": eager},
            ":at": {"S": updated_at},
            ":one": {"N": "1"},
        }
        sets = ["ops = :ops", "eager = :eager", "updated_at = :at"]
        if fmt is not None:
            sets.append("#f = :f")
            values[":f"] = {"S": fmt}
        update = f"SET {', '.join(sets)} ADD #v :one" + (" REMOVE #f" if fmt is None else "")
        with translated("catalog"):
            response = self.db.update_item(
                TableName=self.table,
                Key=_preset_key(tenant, name),
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        return _from_preset_item(response["Attributes"])

    def delete(self, tenant: str, name: str) -> bool:
        """Remove the tenant's preset; False if it had none of that name."""
        with translated("catalog"):
            response = self.db.delete_item(
                TableName=self.table, Key=_preset_key(tenant, name), ReturnValues="ALL_OLD"
            )
        return "Attributes" in response

    def list(self, tenant: str) -> list[StoredPreset]:
        """All the tenant's presets, by name (a tenant has at most a few hundred)."""
        found: list[StoredPreset] = []
        start: dict[str, Any] | None = None
        while True:
            more = {"ExclusiveStartKey": start} if start else {}
            with translated("catalog"):
                response = self.db.query(
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"PRESET#{tenant}"}},
                    ConsistentRead=True,
                    **more,
                )
            found += [_from_preset_item(item) for item in response.get("Items", [])]
            start = response.get("LastEvaluatedKey")
            if not start:
                return found

    def lookup(self, tenant: str, names: Sequence[str]) -> dict[str, StoredPreset]:
        """The tenant's presets of these names that exist: one read (a pipeline names at most
        20)."""
        keys = [_preset_key(tenant, name) for name in names]
        presets = (_from_preset_item(item) for item in batch_get(self.db, self.table, keys))
        return {preset.name: preset for preset in presets}

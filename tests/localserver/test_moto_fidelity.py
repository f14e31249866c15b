"""moto's DynamoDB writes made atomic per item, as DynamoDB's are (localserver/moto_fidelity)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
from moto import mock_aws

from localserver.moto_fidelity import atomic_dynamodb_writes


def test_concurrent_conditional_updates_of_one_item_lose_nothing() -> None:
    """The job counters' update: add an index to a set and one to a counter, unless the set
    holds it. Eight threads, 400 distinct indexes: every one is counted, once."""
    atomic_dynamodb_writes()
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def count(index: int) -> None:
            db.update_item(
                TableName="t",
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD n :one, counted :index",
                ConditionExpression="NOT contains(counted, :i)",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":index": {"NS": [str(index)]},
                    ":i": {"N": str(index)},
                },
            )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(count, range(400)))
        item = db.get_item(TableName="t", Key={"pk": {"S": "counter"}})["Item"]
    assert int(item["n"]["N"]) == 400
    assert sorted(map(int, item["counted"]["NS"])) == list(range(400))

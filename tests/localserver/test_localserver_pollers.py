"""The pieces of the SQS pollers that need no server: events, responses, configuration."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from localserver.__main__ import parse_args
from localserver.intrinsics import Resolver
from localserver.pollers import (
    BatchCounter,
    InvalidBatchResponse,
    SqsPollers,
    failed_message_ids,
    queue_sources,
    sqs_record,
)
from localserver.resources import LocalResource, bucket_notifications
from localserver.template import Template, TemplateError

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:progimage-local-q"


def test_sqs_record_has_the_lambda_shape() -> None:
    message = {
        "MessageId": "id-1",
        "ReceiptHandle": "handle-1",
        "MD5OfBody": "md5",
        "Body": "hello",
        "Attributes": {
            "SenderId": "AIDA",
            "SentTimestamp": "1700000000000",
            "ApproximateReceiveCount": "2",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
            "MessageGroupId": "g",
        },
        "MD5OfMessageAttributes": "md5-attributes",
        "MessageAttributes": {
            "text": {"StringValue": "v", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    }
    record = sqs_record(message, QUEUE_ARN, "us-east-1")
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["attributes"] == {
        "ApproximateReceiveCount": "2",
        "SentTimestamp": "1700000000000",
        "SenderId": "AIDA",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
        "MessageGroupId": "g",
    }
    assert record["messageAttributes"] == {
        "text": {
            "stringValue": "v",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AAE=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        QUEUE_ARN,
        "us-east-1",
    )


@pytest.mark.parametrize(
    ("payload", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"statusCode": 200}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, {"a", "b"}),
    ],
)
def test_batch_responses_lambda_accepts(payload: object, failed: set[str]) -> None:
    assert failed_message_ids(payload, ["a", "b"]) == failed


@pytest.mark.parametrize(
    "payload",
    [
        "a string",
        ["a"],
        {"batchItemFailures": "a"},
        {"batchItemFailures": {}},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": ["a"]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
    ],
)
def test_batch_responses_that_fail_the_whole_batch(payload: object) -> None:
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids(payload, ["a", "b"])


VISIBLE, NOT_VISIBLE, DELAYED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


class OneMessageQueue:
    """GetQueueAttributes of a queue whose one message changes state after ``at`` counts.

    Like moto, each count is taken at its own instant, and a request with several counts
    takes them in moto's order: visible, delayed, invisible.
    """

    def __init__(self, before: str, after: str, at: int) -> None:
        self.before, self.after, self.at = before, after, at
        self.counted = 0

    def get_queue_attributes(self, **request: Any) -> dict[str, Any]:
        answer = {}
        for name in (VISIBLE, DELAYED, NOT_VISIBLE):
            if name in request["AttributeNames"]:
                state = self.before if self.counted < self.at else self.after
                answer[name] = str(int(name == state))
                self.counted += 1
        return {"Attributes": answer}


@pytest.mark.parametrize(
    ("before", "after"),
    [(NOT_VISIBLE, VISIBLE), (VISIBLE, NOT_VISIBLE), (DELAYED, VISIBLE)],
    ids=["retry-delay-ends", "received", "delay-ends"],
)
@pytest.mark.parametrize("at", range(6))
def test_the_backlog_counts_a_message_that_changes_state_while_it_is_read(
    before: str, after: str, at: int
) -> None:
    """Whenever the change falls between two counts, the message is still in one of them."""
    poller: Any = SimpleNamespace(source=SimpleNamespace(queue_url="q"))
    pollers = SqsPollers([poller], BatchCounter())
    backlog = pollers.backlog(OneMessageQueue(before, after, at))
    assert sum(backlog["q"].values()) >= 1, backlog


def test_bucket_notifications_become_the_s3_api_shape(caplog: pytest.LogCaptureFixture) -> None:
    config = {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Filter": {"S3Key": {"Rules": [{"Name": "Prefix", "Value": "uploads/"}]}},
                "Queue": QUEUE_ARN,
            },
            {"Event": "s3:ObjectRemoved:*", "Queue": QUEUE_ARN},
        ],
        "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:fn"}],
        "EventBridgeConfiguration": {"EventBridgeEnabled": True},
    }
    assert bucket_notifications("Bucket", config) == {
        "QueueConfigurations": [
            {
                "QueueArn": QUEUE_ARN,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
            },
            {"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectRemoved:*"]},
        ],
        "EventBridgeConfiguration": {},
    }
    assert "notifications to Lambda functions are not delivered locally" in caplog.text


EVENTS_TEMPLATE = """\
Parameters:
  Batch: {Type: Number, Default: 7}
Globals: {Function: {Runtime: python3.13, CodeUri: src/}}
Resources:
  Q: {Type: AWS::SQS::Queue}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.f.handler
      Events:
        Main:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
            BatchSize: !Ref Batch
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 3}
        Disabled:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn, Enabled: false}
        Elsewhere:
          Type: SQS
          Properties: {Queue: "arn:aws:sqs:us-east-1:123456789012:not-local"}
"""


def load(tmp_path: Path, body: str) -> tuple[Template, Resolver]:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(body))
    template = Template.load(tmp_path / "template.yaml")
    queue = LocalResource(
        "Q",
        "AWS::SQS::Queue",
        "progimage-local-q",
        ref="http://moto/123456789012/progimage-local-q",
        attributes={"Arn": QUEUE_ARN, "QueueUrl": "http://moto/123456789012/progimage-local-q"},
    )
    return template, Resolver(template, resources={"Q": queue})


def test_queue_sources_resolve_the_events(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="localserver")
    template, resolver = load(tmp_path, EVENTS_TEMPLATE)
    (main,) = template.functions["F"].queue_events[:1]
    assert main.batch_size == {"Ref": "Batch"}  # resolved when the server starts
    (source,) = queue_sources(template.functions, resolver, resolver.resources, concurrency=8)
    assert source.event_name == "Main"
    assert source.queue_url == "http://moto/123456789012/progimage-local-q"
    assert source.batch_size == 7
    assert source.batching_window_s == 2
    assert source.report_batch_item_failures
    assert source.concurrency == 3  # ScalingConfig.MaximumConcurrency bounds --sqs-concurrency
    assert "Disabled is disabled" in caplog.text
    assert "not-local' is not in the template" in caplog.text
    (source,) = queue_sources(template.functions, resolver, resolver.resources, concurrency=2)
    assert source.concurrency == 2


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("{Queue: !GetAtt Q.Arn, BatchSize: 0}", "BatchSize must be"),
        ("{Queue: !GetAtt Q.Arn, MaximumBatchingWindowInSeconds: 301}", "MaximumBatching"),
        ("{Queue: !GetAtt Q.Arn, FunctionResponseTypes: [Nope]}", "unknown FunctionResponse"),
        ("{Queue: !GetAtt Q.Arn, ScalingConfig: {MaximumConcurrency: 1}}", "must be >= 2"),
    ],
)
def test_invalid_queue_events(tmp_path: Path, properties: str, message: str) -> None:
    body = f"""\
    Globals: {{Function: {{Runtime: python3.13, CodeUri: src/}}}}
    Resources:
      Q: {{Type: AWS::SQS::Queue}}
      F:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg.f.handler
          Events: {{E: {{Type: SQS, Properties: {properties}}}}}
    """
    template, resolver = load(tmp_path, body)
    with pytest.raises(TemplateError, match=message):
        queue_sources(template.functions, resolver, resolver.resources)


def test_an_sqs_event_needs_a_queue(tmp_path: Path) -> None:
    body = """\
    Globals: {Function: {Runtime: python3.13, CodeUri: src/}}
    Resources:
      F:
        Type: AWS::Serverless::Function
        Properties: {Handler: pkg.f.handler, Events: {E: {Type: SQS, Properties: {}}}}
    """
    with pytest.raises(TemplateError, match="needs a Queue"):
        load(tmp_path, body)


def test_cli_options() -> None:
    args = parse_args(["--sqs-concurrency", "8", "--sqs-retry-delay", "0"])
    assert (args.sqs_concurrency, args.sqs_retry_delay) == (8, 0)
    defaults = parse_args([])
    assert (defaults.sqs_concurrency, defaults.sqs_retry_delay) == (4, 1)
    for bad in (["--sqs-concurrency", "0"], ["--sqs-retry-delay", "-1"]):
        with pytest.raises(SystemExit):
            parse_args(bad)

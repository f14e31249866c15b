"""Fixtures for the local server's tests: small SAM templates with tiny handlers.

The templates and their handler packages (``lsfixture`` for the HTTP API, ``lssqs`` for S3
notifications and SQS events) are written to temporary directories, so these tests do not
depend on the real functions.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from localserver import LocalServer

FIXTURE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31

Parameters:
  Greeting:
    Type: String
    Default: hello
  Flavour:
    Type: String
    Default: plain

Conditions:
  IsPlain: !Equals [!Ref Flavour, plain]

Mappings:
  Sizes:
    small:
      pixels: "64"

Globals:
  Function:
    Runtime: python3.13
    CodeUri: src/
    Timeout: 10
    MemorySize: 256
    Environment:
      Variables:
        FIXTURE_BUCKET: !Ref Bucket
        FIXTURE_TABLE: !Ref Table

Resources:
  Bucket:
    Type: AWS::S3::Bucket
  NamedBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: fixture-named-bucket
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: list_pk, AttributeType: S}
        - {AttributeName: list_sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: by-created
          KeySchema:
            - {AttributeName: list_pk, KeyType: HASH}
            - {AttributeName: list_sk, KeyType: RANGE}
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification:
        AttributeName: expires_at
        Enabled: true
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetters.Arn
        maxReceiveCount: 3
  DeadLetters:
    Type: AWS::SQS::Queue

  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsfixture.app.echo
      Events:
        GetImage:
          Type: HttpApi
          Properties: {Method: GET, Path: "/images/{id}"}
        GetInfo:
          Type: HttpApi
          Properties: {Method: GET, Path: "/images/{id}/info"}
        GetVariant:
          Type: HttpApi
          Properties: {Method: GET, Path: "/images/{id}/{pipeline+}"}
        PostEcho:
          Type: HttpApi
          Properties: {Method: POST, Path: /echo, PayloadFormatVersion: "2.0"}
        AnyProxy:
          Type: HttpApi
          Properties: {Method: ANY, Path: "/any/{proxy+}"}
        Root:
          Type: HttpApi
          Properties: {Method: GET, Path: /}
  BinaryFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsfixture.app.binary
      Events:
        PostBinary:
          Type: HttpApi
          Properties: {Method: POST, Path: /binary}
  EnvFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsfixture.app.env
      Timeout: 5
      Environment:
        Variables:
          FIXTURE_GREETING: !Ref Greeting
          FIXTURE_TABLE_ARN: !GetAtt Table.Arn
          FIXTURE_SUB: !Sub "${Bucket}/${Greeting}/${AWS::Region}/${!Literal}"
          FIXTURE_QUEUE_URL: !Ref Queue
          FIXTURE_FLAVOUR: !If [IsPlain, is-plain, not-plain]
          FIXTURE_PIXELS: !FindInMap [Sizes, small, pixels]
          FIXTURE_NUMBER: 42
      Events:
        GetEnv:
          Type: HttpApi
          Properties: {Method: GET, Path: /env}
  StorageFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsfixture.app.storage
      Events:
        PutObject:
          Type: HttpApi
          Properties: {Method: PUT, Path: "/objects/{key}"}
  MiscFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsfixture.app.misc
      Events:
        Misc:
          Type: HttpApi
          Properties: {Method: GET, Path: "/misc/{case}"}
"""

FIXTURE_HANDLERS = '''\
"""Tiny handlers for the local server's tests."""

import base64
import json
import os

import boto3


def echo(event, context):
    """Answer the event and the context's attributes as JSON."""
    body = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def binary(event, context):
    """Answer the request body unchanged, as a binary image."""
    data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png", "X-Was-Base64": str(event["isBase64Encoded"])},
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
    }


def env(event, context):
    """The variables these tests set (inferred response format: a dict, no statusCode)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("FIXTURE_", "AWS_"))}


def storage(event, context):
    """Store the body in the bucket; answer a presigned GET URL for it."""
    s3 = boto3.client("s3")
    bucket, key = os.environ["FIXTURE_BUCKET"], event["pathParameters"]["key"]
    s3.put_object(Bucket=bucket, Key=key, Body=base64.b64decode(event.get("body", "")))
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60
    )
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"url": url})}


def misc(event, context):
    """Different kinds of results, picked by the path."""
    case = event["pathParameters"]["case"]
    if case == "boom":
        raise RuntimeError("boom in a handler")
    if case == "string":
        return "just a string"
    if case == "cookies":
        return {
            "statusCode": 204,
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "multiValueHeaders": {"X-Multi": ["one", "two"]},
        }
    if case == "bad-body":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if case == "bad-status":
        return {"statusCode": "teapot"}
    if case == "huge":
        return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}
    return {"statusCode": 418, "body": "teapot"}
'''


def write_fixture_app(directory: Path) -> Path:
    """Write the fixture template and its handlers under ``directory``; return the template."""
    package = directory / "src" / "lsfixture"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(FIXTURE_HANDLERS))
    template = directory / "template.yaml"
    template.write_text(FIXTURE_TEMPLATE)
    return template


@pytest.fixture(scope="session")
def fixture_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_app(tmp_path_factory.mktemp("localserver-app"))


@pytest.fixture(scope="module")
def server(fixture_template: Path) -> Iterator[LocalServer]:
    """The local server for the fixture template, on a free port, for one test module.

    Not for the whole session: while it runs, the process environment points boto3 at its
    moto server, which other tests must not inherit.
    """
    with LocalServer(fixture_template, port=0) as running:
        yield running


# S3 → SQS notifications and SQS-triggered functions, for test_localserver_sqs.py.
SQS_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31

Globals:
  Function:
    Runtime: python3.13
    CodeUri: src/
    Timeout: 10
    Environment:
      Variables:
        LSSQS_BUCKET: !Ref Bucket

Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - {Name: prefix, Value: uploads/}
            Queue: !GetAtt IngestQueue.Arn
  IngestQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt IngestDeadLetters.Arn
        maxReceiveCount: 3
  IngestDeadLetters:
    Type: AWS::SQS::Queue
  IngestQueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref IngestQueue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: s3.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt IngestQueue.Arn
            Condition:
              ArnEquals: {aws:SourceArn: !GetAtt Bucket.Arn}
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDeadLetters.Arn
        maxReceiveCount: 3
  JobsDeadLetters:
    Type: AWS::SQS::Queue
  BatchedJobsQueue:
    Type: AWS::SQS::Queue
  PlainQueue:
    Type: AWS::SQS::Queue
  SlowQueue:
    Type: AWS::SQS::Queue

  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lssqs.app.presign
      Events:
        PostUploads:
          Type: HttpApi
          Properties: {Method: POST, Path: /uploads}
  IngestFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lssqs.app.ingest
      Events:
        Uploaded:
          Type: SQS
          Properties:
            Queue: !GetAtt IngestQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  JobWorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lssqs.app.jobs
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt JobsQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 2}
        # A batch goes when it is full or when its window ends. BatchSize 2 and a window no test
        # waits out: the two messages a test sends always make one batch, however far apart
        # the poller receives them (moto enqueues a SendMessageBatch one message at a time).
        BatchedJobs:
          Type: SQS
          Properties:
            Queue: !GetAtt BatchedJobsQueue.Arn
            BatchSize: 2
            MaximumBatchingWindowInSeconds: 30
            FunctionResponseTypes: [ReportBatchItemFailures]
  PlainFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lssqs.app.plain
      Events:
        Plain:
          Type: SQS
          Properties:
            Queue: !GetAtt PlainQueue.Arn
            BatchSize: 2  # and a window no test waits out, as BatchedJobs
            MaximumBatchingWindowInSeconds: 30
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lssqs.app.slow
      Events:
        Slow:
          Type: SQS
          Properties:
            Queue: !GetAtt SlowQueue.Arn
            BatchSize: 1
"""

SQS_HANDLERS = '''\
"""Tiny SQS-triggered handlers that record what they get."""

import json
import os
import threading

import boto3

LOCK = threading.Lock()
CALLS = []  # (handler name, event)
STATE = {"active": 0, "max_active": 0}
RELEASE = threading.Event()  # ends the slow handlers' wait


def reset():
    with LOCK:
        CALLS.clear()
        STATE.update(active=0, max_active=0)
        RELEASE.clear()


def _record(name, event):
    with LOCK:
        CALLS.append((name, event))


def _count(record):
    return int(record["attributes"]["ApproximateReceiveCount"])


def presign(event, context):
    """POST /uploads {"key": ...}: a presigned POST for that key."""
    key = json.loads(event["body"])["key"]
    post = boto3.client("s3").generate_presigned_post(
        os.environ["LSSQS_BUCKET"], key, ExpiresIn=300
    )
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(post)}


def ingest(event, context):
    _record("ingest", event)
    return {"batchItemFailures": []}


def jobs(event, context):
    """Bodies are JSON: "fail_until" fails the message until that receive; "raise" raises;
    "malformed" answers a response Lambda cannot use (on the first receive)."""
    _record("jobs", event)
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("raise") and _count(record) == 1:
            raise RuntimeError("a job handler failed")
        if body.get("malformed") and _count(record) == 1:
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        if _count(record) <= body.get("fail_until", 0):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def plain(event, context):
    """No ReportBatchItemFailures: "raise" fails the whole batch on its first receive."""
    _record("plain", event)
    for record in event["Records"]:
        if record["body"] == "raise" and _count(record) == 1:
            raise RuntimeError("a plain handler failed")
    # Ignored: partial batch responses are not enabled for this event source.
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def slow(event, context):
    """Hold the batch until the test sets RELEASE (30 s at most), counting those held at once."""
    with LOCK:
        STATE["active"] += 1
        STATE["max_active"] = max(STATE["max_active"], STATE["active"])
    try:
        RELEASE.wait(30)
    finally:
        with LOCK:
            STATE["active"] -= 1
    _record("slow", event)
'''


def write_sqs_app(directory: Path) -> Path:
    """Write the SQS template and its handlers (package ``lssqs``); return the template."""
    package = directory / "src" / "lssqs"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(SQS_HANDLERS))
    template = directory / "template.yaml"
    template.write_text(SQS_TEMPLATE)
    return template


@pytest.fixture(scope="session")
def sqs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template with S3 notifications, queues and SQS-triggered functions.

    One directory per test session: the handlers' package is imported once per process.
    """
    return write_sqs_app(tmp_path_factory.mktemp("localserver-sqs"))

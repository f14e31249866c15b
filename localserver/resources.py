"""Local stand-ins for the template's resources, created in the moto server.

Each supported resource type is one *provisioner*: a function that takes the resource's
template entry and a :class:`ProvisionContext`, creates whatever is needed (or nothing, for a
stand-in such as a function's name), and returns a :class:`LocalResource` saying what
``!Ref`` and ``!GetAtt`` give for it. To support a new type, write one function and decorate it
with ``@provisioner("AWS::Some::Type")``. Types without a provisioner are ignored unless
something the server needs refers to them, which fails loudly.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from .intrinsics import ACCOUNT_ID, NO_VALUE, REGION, Resolver, references, to_string
from .template import FUNCTION_TYPE, ResourceSpec, Template, TemplateError

log = logging.getLogger(__name__)

LOCAL_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


_sessions: dict[str, boto3.session.Session] = {}
_sessions_lock = threading.Lock()


def local_client(
    service: str, endpoint_url: str, region: str = REGION, *, max_pool_connections: int = 10
) -> Any:
    """A boto3 client for the moto server, independent of the process environment.

    The session is shared (per region): a new one reads botocore's data files again, which
    costs a fifth of a second per client.
    """
    with _sessions_lock:
        session = _sessions.get(region)
        if session is None:
            session = _sessions[region] = boto3.session.Session(
                region_name=region, **LOCAL_CREDENTIALS
            )
        config = Config(max_pool_connections=max_pool_connections)
        return session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]


@dataclass(frozen=True)
class LocalResource:
    """What a template resource is locally: its name, ``!Ref`` value and attributes."""

    logical_id: str
    type: str
    name: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProvisionContext:
    """What a provisioner may use: the resolver, AWS clients and naming rules."""

    resolver: Resolver
    endpoint_url: str
    stack_name: str = "progimage-local"
    region: str = REGION
    account_id: str = ACCOUNT_ID

    def client(self, service: str) -> Any:
        """A boto3 client for the moto server, independent of the process environment."""
        return local_client(service, self.endpoint_url, self.region)

    def local_name(
        self, spec: ResourceSpec, name_property: str, suffix: str = "", *, lower: bool = True
    ) -> str:
        """The template's explicit name if it is a plain string, else ``<stack>-<logicalid>``.

        The logical id is lower-cased unless ``lower`` is false (S3 bucket names must be).
        """
        explicit = spec.properties.get(name_property)
        if isinstance(explicit, str):
            return explicit
        logical_id = spec.logical_id.lower() if lower else spec.logical_id
        return f"{self.stack_name}-{logical_id}{suffix}"

    def note_ignored(self, spec: ResourceSpec, supported: Iterable[str]) -> None:
        ignored = sorted(set(spec.properties) - set(supported))
        if ignored:
            log.info("%s (%s): not emulated locally: %s", spec.logical_id, spec.type, ignored)


Provisioner = Callable[[ResourceSpec, ProvisionContext], LocalResource]
PROVISIONERS: dict[str, Provisioner] = {}


def provisioner(resource_type: str) -> Callable[[Provisioner], Provisioner]:
    """Register the decorated function as the provisioner of ``resource_type``."""

    def register(function: Provisioner) -> Provisioner:
        PROVISIONERS[resource_type] = function
        return function

    return register


@provisioner("AWS::S3::Bucket")
def s3_bucket(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    name = ctx.local_name(spec, "BucketName")
    s3 = _create_bucket(ctx, name)
    if spec.properties.get("NotificationConfiguration"):
        notifications = bucket_notifications(
            spec.logical_id, ctx.resolver.resolve(spec.properties["NotificationConfiguration"])
        )
        # Like S3, moto then sends an "s3:TestEvent" message to each queue.
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=notifications
        )
    cors = ctx.resolver.resolve(spec.properties.get("CorsConfiguration"))
    if cors and cors is not NO_VALUE:
        # moto answers preflights and the other requests by these rules (see moto_fidelity)
        s3.put_bucket_cors(Bucket=name, CORSConfiguration=bucket_cors(cors))
    ctx.note_ignored(spec, ["BucketName", "NotificationConfiguration", "CorsConfiguration", "Tags"])
    return LocalResource(
        spec.logical_id,
        spec.type,
        name,
        ref=name,
        attributes={
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        },
    )


def _create_bucket(ctx: ProvisionContext, name: str) -> Any:
    """Create a bucket in the provisioning region; answer the S3 client."""
    arguments: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3 = ctx.client("s3")
    s3.create_bucket(**arguments)
    return s3


@provisioner("AWS::S3Express::DirectoryBucket")
def s3_directory_bucket(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    """An ordinary bucket stands in for a directory bucket: moto cannot create one (botocore
    sends a ``--x-s3`` name to the zonal endpoints, with a session moto does not open)."""
    name = ctx.local_name(spec, "BucketName")
    _create_bucket(ctx, name)
    ctx.note_ignored(spec, ["BucketName"])
    arn = f"arn:aws:s3express:{ctx.region}:{ctx.account_id}:bucket/{name}"
    return LocalResource(spec.logical_id, spec.type, name, ref=name, attributes={"Arn": arn})


_CORS_RULE_KEYS = {  # CloudFormation's CorsRules keys -> the S3 API's
    "Id": "ID",
    "AllowedOrigins": "AllowedOrigins",
    "AllowedMethods": "AllowedMethods",
    "AllowedHeaders": "AllowedHeaders",
    "ExposedHeaders": "ExposeHeaders",
    "MaxAge": "MaxAgeSeconds",
}


def bucket_cors(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved ``CorsConfiguration`` as ``PutBucketCors`` takes it."""
    rules = []
    for rule in config.get("CorsRules") or []:
        unknown = set(rule) - set(_CORS_RULE_KEYS)
        if unknown:
            raise TemplateError(f"CorsRules: unknown keys {sorted(unknown)}")
        rules.append(
            {
                _CORS_RULE_KEYS[key]: int(to_string(value))
                if key == "MaxAge"
                else to_string(value)
                if key == "Id"
                else [to_string(item) for item in value]
                for key, value in rule.items()
            }
        )
    return {"CORSRules": rules}


def _filter(configuration: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``Filter.S3Key.Rules`` as the S3 API's ``Filter.Key.FilterRules``."""
    rules = ((configuration.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
    if not rules:
        return {}
    return {
        "Filter": {
            "Key": {
                "FilterRules": [
                    # S3 accepts "Prefix" or "prefix"; moto only matches the lower-case form.
                    {"Name": str(rule["Name"]).lower(), "Value": to_string(rule["Value"])}
                    for rule in rules
                ]
            }
        }
    }


def bucket_notifications(logical_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """A resolved ``NotificationConfiguration`` as ``PutBucketNotificationConfiguration`` takes it.

    Queue (and topic) destinations work in moto: S3 sends the event to the queue, and a
    function with an SQS event on that queue gets it from the local poller. moto drops S3 →
    Lambda notifications, so ``LambdaConfigurations`` are left out, with a warning.
    """
    result: dict[str, Any] = {}
    queues = [
        {"QueueArn": item["Queue"], "Events": [item["Event"]], **_filter(item)}
        for item in config.get("QueueConfigurations") or []
    ]
    if queues:
        result["QueueConfigurations"] = queues
    topics = [
        {"TopicArn": item["Topic"], "Events": [item["Event"]], **_filter(item)}
        for item in config.get("TopicConfigurations") or []
    ]
    if topics:
        result["TopicConfigurations"] = topics
    if config.get("LambdaConfigurations"):
        log.warning(
            "%s: S3 notifications to Lambda functions are not delivered locally; "
            "send them to an SQS queue the function polls instead",
            logical_id,
        )
    event_bridge = config.get("EventBridgeConfiguration") or {}
    if to_string(event_bridge.get("EventBridgeEnabled", False)) == "true":
        result["EventBridgeConfiguration"] = {}
    return result


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {key: int(number) for key, number in value.items()}


@provisioner("AWS::DynamoDB::Table")
def dynamodb_table(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    name = ctx.local_name(spec, "TableName")
    props = ctx.resolver.resolve(spec.properties)
    billing_mode = props.get("BillingMode", "PROVISIONED")
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing_mode,
    }
    if billing_mode == "PROVISIONED":
        arguments["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
    index_keys = ("IndexName", "KeySchema", "Projection")
    if props.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = [
            {k: index[k] for k in index_keys if k in index}
            | (
                {"ProvisionedThroughput": _throughput(index["ProvisionedThroughput"])}
                if "ProvisionedThroughput" in index
                else {}
            )
            for index in props["GlobalSecondaryIndexes"]
        ]
    if props.get("LocalSecondaryIndexes"):
        arguments["LocalSecondaryIndexes"] = [
            {k: index[k] for k in index_keys if k in index}
            for index in props["LocalSecondaryIndexes"]
        ]
    if props.get("StreamSpecification"):
        arguments["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        }
    client = ctx.client("dynamodb")
    description = client.create_table(**arguments)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and to_string(ttl.get("Enabled", False)) == "true":
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    ctx.note_ignored(spec, [*arguments, "TimeToLiveSpecification", "ProvisionedThroughput", "Tags"])
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return LocalResource(spec.logical_id, spec.type, name, ref=name, attributes=attributes)


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "VisibilityTimeout",
)


@provisioner("AWS::SQS::Queue")
def sqs_queue(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    props = ctx.resolver.resolve(spec.properties)
    fifo = to_string(props.get("FifoQueue", False)) == "true"
    name = ctx.local_name(spec, "QueueName", ".fifo" if fifo else "")
    attributes = {
        key: json.dumps(props[key]) if isinstance(props[key], dict) else to_string(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    ctx.note_ignored(spec, ["QueueName", *_QUEUE_ATTRIBUTES, "Tags"])
    return LocalResource(
        spec.logical_id,
        spec.type,
        name,
        ref=url,
        attributes={
            "Arn": f"arn:aws:sqs:{ctx.region}:{ctx.account_id}:{name}",
            "QueueName": name,
            "QueueUrl": url,
        },
    )


@provisioner("AWS::SQS::QueuePolicy")
def sqs_queue_policy(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    """Accepted, not enforced: moto does not check who may send to a queue."""
    log.debug("%s (%s): not enforced locally", spec.logical_id, spec.type)
    return LocalResource(spec.logical_id, spec.type, spec.logical_id, ref=spec.logical_id)


@provisioner("AWS::SSM::Parameter")
def ssm_parameter(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    """A String or StringList parameter, created in moto with the template's value."""
    props = ctx.resolver.resolve(spec.properties)
    name = to_string(props["Name"]) if "Name" in props else f"{ctx.stack_name}-{spec.logical_id}"
    kind = to_string(props.get("Type", "String"))
    value = to_string(props.get("Value", ""))
    ctx.client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
    ctx.note_ignored(spec, ["Name", "Type", "Value", "Description", "Tags"])
    path = name if name.startswith("/") else f"/{name}"
    return LocalResource(
        spec.logical_id,
        spec.type,
        name,
        ref=name,
        attributes={
            "Type": kind,
            "Value": value,
            "Arn": f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:parameter{path}",
        },
    )


_PASSWORD_KINDS = (
    ("ExcludeLowercase", string.ascii_lowercase),
    ("ExcludeUppercase", string.ascii_uppercase),
    ("ExcludeNumbers", string.digits),
    ("ExcludePunctuation", string.punctuation),
)


def random_password(options: Mapping[str, Any], where: str) -> str:
    """A password as ``GenerateSecretString`` makes one (its password options, resolved).

    ``PasswordLength`` (32) characters from the kinds not excluded (lower- and upper-case
    letters, digits, punctuation; a space too with ``IncludeSpace``), less
    ``ExcludeCharacters``; with ``RequireEachIncludedType`` (the default) at least one of each
    kind of letter, digit and punctuation left.
    """

    def flag(name: str, default: bool = False) -> bool:
        return to_string(options.get(name, default)) == "true"

    try:
        length = int(options.get("PasswordLength", 32))
    except (TypeError, ValueError):
        raise TemplateError(f"{where}: PasswordLength must be a number") from None
    if not 1 <= length <= 4096:
        raise TemplateError(f"{where}: PasswordLength must be 1 to 4096, got {length}")
    excluded = set(to_string(options.get("ExcludeCharacters", "")))
    kinds = [
        "".join(c for c in characters if c not in excluded)
        for option, characters in _PASSWORD_KINDS
        if not flag(option)
    ]
    kinds = [kind for kind in kinds if kind]
    alphabet = "".join(kinds) + (" " if flag("IncludeSpace") and " " not in excluded else "")
    if not alphabet:
        raise TemplateError(f"{where}: GenerateSecretString leaves no character to use")
    required = (
        [secrets.choice(kind) for kind in kinds] if flag("RequireEachIncludedType", True) else []
    )
    if len(required) > length:
        raise TemplateError(
            f"{where}: PasswordLength {length} is too short for one character of each kind"
        )
    characters = required + [secrets.choice(alphabet) for _ in range(length - len(required))]
    secrets.SystemRandom().shuffle(characters)
    return "".join(characters)


def _generated_secret(generate: Any, where: str) -> str:
    """The value of a ``GenerateSecretString``: the password, or the JSON object of
    ``SecretStringTemplate`` with the password under ``GenerateStringKey``."""
    if not isinstance(generate, dict):
        raise TemplateError(f"{where}: GenerateSecretString must be a mapping")
    password = random_password(generate, where)
    template, key = generate.get("SecretStringTemplate"), generate.get("GenerateStringKey")
    if template is None and key is None:
        return password
    if template is None or key is None:
        raise TemplateError(f"{where}: SecretStringTemplate and GenerateStringKey go together")
    try:
        document = json.loads(to_string(template))
    except json.JSONDecodeError as error:
        raise TemplateError(f"{where}: SecretStringTemplate is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise TemplateError(f"{where}: SecretStringTemplate must be a JSON object")
    document[to_string(key)] = password
    return json.dumps(document)


@provisioner("AWS::SecretsManager::Secret")
def secretsmanager_secret(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    """A secret with its ``SecretString``, or a ``GenerateSecretString`` value made here, or
    none (an empty secret, as CloudFormation creates without either). ``!Ref`` is its ARN."""
    props = ctx.resolver.resolve(spec.properties)
    where = f"{spec.logical_id} ({spec.type})"
    name = to_string(props["Name"]) if "Name" in props else f"{ctx.stack_name}-{spec.logical_id}"
    arguments: dict[str, Any] = {"Name": name}
    if "SecretString" in props and "GenerateSecretString" in props:
        raise TemplateError(f"{where}: give SecretString or GenerateSecretString, not both")
    if "SecretString" in props:
        arguments["SecretString"] = to_string(props["SecretString"])
    elif "GenerateSecretString" in props:
        arguments["SecretString"] = _generated_secret(props["GenerateSecretString"], where)
    if "Description" in props:
        arguments["Description"] = to_string(props["Description"])
    arn = ctx.client("secretsmanager").create_secret(**arguments)["ARN"]
    ctx.note_ignored(spec, ["Name", "Description", "SecretString", "GenerateSecretString", "Tags"])
    return LocalResource(spec.logical_id, spec.type, name, ref=arn, attributes={"Id": arn})


@provisioner(FUNCTION_TYPE)
def serverless_function(spec: ResourceSpec, ctx: ProvisionContext) -> LocalResource:
    """Functions run in this process; only their names exist, for ``!Ref``/``!GetAtt``."""
    name = ctx.local_name(spec, "FunctionName", lower=False)
    arn = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}"
    return LocalResource(spec.logical_id, spec.type, name, ref=name, attributes={"Arn": arn})


# Stand-ins that create nothing, so they depend on nothing (a function may refer to a
# bucket whose notifications refer back to the function).
_NAME_ONLY = {FUNCTION_TYPE}


def provision_all(template: Template, ctx: ProvisionContext) -> dict[str, LocalResource]:
    """Create every supported resource, dependencies first; return them by logical id.

    The returned dict is the resolver's ``resources`` mapping, filled in as it goes, so a
    resource may refer to one created before it.
    """
    wanted = {
        logical_id: spec
        for logical_id, spec in template.resources.items()
        if spec.type in PROVISIONERS
        and not (spec.condition and not ctx.resolver.condition(spec.condition))
    }
    created = ctx.resolver.resources
    if not isinstance(created, dict):
        raise TypeError("the resolver's resources must be a dict to provision into")
    for logical_id in _dependency_order(wanted):
        spec = wanted[logical_id]
        created[logical_id] = PROVISIONERS[spec.type](spec, ctx)
        log.debug("created %s %s as %s", spec.type, logical_id, created[logical_id].name)
    return created


def _dependency_order(specs: dict[str, ResourceSpec]) -> list[str]:
    """Logical ids ordered so that every resource comes after those it refers to."""
    dependencies = {
        logical_id: set()
        if spec.type in _NAME_ONLY
        else (references(spec.properties) & set(specs)) - {logical_id}
        for logical_id, spec in specs.items()
    }
    ordered: list[str] = []
    while dependencies:
        ready = sorted(i for i, needs in dependencies.items() if not needs - set(ordered))
        if not ready:
            raise TemplateError(f"circular references between resources: {sorted(dependencies)}")
        ordered.extend(ready)
        for logical_id in ready:
            del dependencies[logical_id]
    return ordered

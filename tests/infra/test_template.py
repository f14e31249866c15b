"""Static checks of the SAM template: it translates, lints clean, and says what we mean.

The template is translated offline with the SAM translator (the same library `sam validate`
and CloudFormation's transform use), once per AuthMode and SignedUrls, after resolving the Fn::If
on their conditions as the AWS::LanguageExtensions transform does before SAM's; the translated
CloudFormation is linted with cfn-lint, scanned with checkov and inspected. No AWS credentials
or network are needed.
"""

from __future__ import annotations

import ast
import copy
import graphlib
import importlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"

HTTP_FUNCTIONS = ("UploadFunction", "GetFunction", "TransformFunction")
QUEUE_FUNCTIONS = ("IngestFunction", "JobWorkerFunction")
FUNCTIONS = HTTP_FUNCTIONS + QUEUE_FUNCTIONS
AUTHORIZER = "AuthorizerFunction"  # the Lambda authorizer, created in ApiKey mode only
ALL_FUNCTIONS = (*FUNCTIONS, AUTHORIZER)
AUTH_MODES = ("ApiKey", "IAM")
SIGNED_URLS = ("Off", "Required")
# every translation: (AuthMode, SignedUrls); the first is the parameters' defaults
VARIANTS = tuple((mode, signed) for mode in AUTH_MODES for signed in SIGNED_URLS)
DEFAULTS = ("ApiKey", "Off")

# The secrets: the API keys' digests (ApiKey mode), the URL signing master keys (SignUrls).
API_KEYS_SECRET = "ApiKeysSecret"
SIGNING_KEYS_SECRET = "SigningKeysSecret"
SECRETS = {API_KEYS_SECRET: "UseApiKeyAuth", SIGNING_KEYS_SECRET: "SignUrls"}  # -> Condition
# the functions that check or make signed URLs, and read the signing keys when they are required
SIGNING_FUNCTIONS = ("GetFunction", "TransformFunction", "JobWorkerFunction")

# (method, path) -> (function logical id, handler). The local server dispatches on the same data.
_GET = ("GetFunction", "get.app.handler")
_TRANSFORM = ("TransformFunction", "transform.app.handler")
EXPECTED_ROUTES = {
    ("POST", "/images"): ("UploadFunction", "upload.app.handler"),
    ("POST", "/uploads"): ("UploadFunction", "upload.app.handler"),
    ("GET", "/images"): _GET,
    ("HEAD", "/images"): _GET,
    ("GET", "/images/{id}"): _GET,
    ("HEAD", "/images/{id}"): _GET,
    ("GET", "/images/{id}/info"): _GET,
    ("HEAD", "/images/{id}/info"): _GET,
    ("PATCH", "/images/{id}"): _GET,
    ("DELETE", "/images/{id}"): _GET,
    ("GET", "/images/{id}/{pipeline+}"): _TRANSFORM,
    ("HEAD", "/images/{id}/{pipeline+}"): _TRANSFORM,
    ("POST", "/transform"): _TRANSFORM,
    ("POST", "/batch"): _TRANSFORM,
    ("POST", "/jobs"): _TRANSFORM,
    ("GET", "/jobs/{job_id}"): _TRANSFORM,
    ("HEAD", "/jobs/{job_id}"): _TRANSFORM,
    ("GET", "/presets"): _TRANSFORM,
    ("HEAD", "/presets"): _TRANSFORM,
    ("GET", "/presets/{name}"): _TRANSFORM,
    ("HEAD", "/presets/{name}"): _TRANSFORM,
    ("PUT", "/presets/{name}"): _TRANSFORM,
    ("DELETE", "/presets/{name}"): _TRANSFORM,
}

# The routes that serve image bytes, readable by URL for embedding (protected by the unguessable
# id and, with SignedUrls=Required, by a signature): anyone may call them. Every other route
# (listing, info, the writes and the jobs) needs credentials that name the caller's tenant.
OPEN_ROUTES = {
    ("GET", "/images/{id}"),
    ("HEAD", "/images/{id}"),
    ("GET", "/images/{id}/{pipeline+}"),
    ("HEAD", "/images/{id}/{pipeline+}"),
}
GUARDED_ROUTES = set(EXPECTED_ROUTES) - OPEN_ROUTES

# queue -> (dead-letter queue, consuming function, its handler, SQS event name, the
# translated event source mapping's settings). Each queue has exactly one consumer.
EXPECTED_QUEUES = {
    "IngestQueue": (
        "IngestDeadLetterQueue",
        "IngestFunction",
        "upload.ingest.handler",
        "Ingest",
        {
            "BatchSize": 2,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    ),
    "JobsQueue": (
        "JobsDeadLetterQueue",
        "JobWorkerFunction",
        "transform.worker.handler",
        "Jobs",
        {
            "BatchSize": 4,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 50},
        },
    ),
    # Deletes' CDN paths: a batch of many is one invalidation (services/edge.py).
    "EdgeQueue": (
        "EdgeDeadLetterQueue",
        "JobWorkerFunction",
        "transform.worker.handler",
        "Edge",
        {
            "BatchSize": 1000,
            "MaximumBatchingWindowInSeconds": 20,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    ),
}
# Queues whose messages are handled one at a time, each with an item's allowance (the edge
# queue's batch is one piece of work).
PER_ITEM_QUEUES = ("IngestQueue", "JobsQueue")
QUEUES = (*EXPECTED_QUEUES, *(dlq for dlq, *_ in EXPECTED_QUEUES.values()))

# function -> (Timeout seconds, MemorySize MB): the functions that render take the parameter,
# chosen from bench/footprint.py's measurements; uploads decode at 1/4 scale or less.
IMAGE_MEMORY = {"Ref": "ImageMemorySize"}
EXPECTED_SIZES = {
    "UploadFunction": (29, 1024),
    "GetFunction": (29, IMAGE_MEMORY),
    "TransformFunction": (29, IMAGE_MEMORY),
    "IngestFunction": (60, 1024),
    "JobWorkerFunction": (120, IMAGE_MEMORY),
    AUTHORIZER: (10, 256),  # API Gateway waits at most 10 s for an authorizer
}

DAY = 24 * 60 * 60

# Every permission each function gets with SignedUrls=Off, as (action, resource) with resources
# written as "bucket", "bucket:<prefix>/*", "table", "table/index/<name>", "queue:<logical id>"
# or "secret:<logical id>". Anything more is a failure. refs/{id}/ holds the markers of the
# variants that used an image as a mask or watermark.
_OBJ = ("originals", "variants", "work")
_POLL = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
EXPECTED_PERMISSIONS = {
    "UploadFunction": {
        *{
            (a, f"bucket:{p}/*")
            for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for p in ("originals", "work")
        },
        # presigned POSTs to uploads/ are signed with this role
        ("s3:PutObject", "bucket:uploads/*"),
        *{
            (a, "table")
            for a in (
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",  # the tenant's eager presets
            )
        },
        ("sqs:SendMessage", "queue:JobsQueue"),  # ... queued as a job
    },
    "GetFunction": {
        # a delete removes the image's markers with it
        *{
            (a, f"bucket:{p}/*")
            for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for p in (*_OBJ, "refs")
        },
        ("s3:ListBucket", "bucket"),
        *{
            (a, r)
            for a in (
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            )
            for r in ("table", "table/index/by-created")
        },
        # index items: read with their records, written by PATCH, removed by DELETE
        ("dynamodb:BatchGetItem", "table"),
        ("dynamodb:BatchWriteItem", "table"),
    },
    "TransformFunction": {
        *{("s3:GetObject", f"bucket:{p}/*") for p in (*_OBJ, "results")},
        *{("s3:PutObject", f"bucket:{p}/*") for p in (*_OBJ, "results", "refs")},
        ("s3:DeleteObject", "bucket:originals/*"),  # undoes a stored result
        ("s3:DeleteObject", "bucket:variants/*"),  # a variant of an image deleted meanwhile
        ("s3:DeleteObject", "bucket:work/*"),  # ... copies made again for it, or a stored result's
        ("s3:DeleteObject", "bucket:refs/*"),  # ... and its markers
        ("s3:ListBucket", "bucket"),
        *{
            (a, "table")
            for a in (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",  # the presets a pipeline names, read at once
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",  # ... and saved
                "dynamodb:DeleteItem",  # a job whose items cannot all be queued is withdrawn
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
            )
        },
        ("sqs:SendMessage", "queue:JobsQueue"),
    },
    "IngestFunction": {
        *{(a, "queue:IngestQueue") for a in _POLL},
        ("s3:GetObject", "bucket:uploads/*"),
        ("s3:DeleteObject", "bucket:uploads/*"),
        ("s3:ListBucket", "bucket"),  # an upload taken by a concurrent delivery is a 404
        *{
            (a, f"bucket:{p}/*")
            for a in ("s3:PutObject", "s3:DeleteObject")
            for p in ("originals", "work")
        },
        ("dynamodb:GetItem", "table"),
        ("dynamodb:PutItem", "table"),  # completes the pending record
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:BatchWriteItem", "table"),  # a ready record's index items
        ("dynamodb:DeleteItem", "table"),  # ... removed if it was deleted meanwhile
        ("dynamodb:Query", "table"),  # the tenant's eager presets
        ("sqs:SendMessage", "queue:JobsQueue"),  # ... queued as a job
    },
    "JobWorkerFunction": {
        *{(a, f"queue:{q}") for a in _POLL for q in ("JobsQueue", "EdgeQueue")},
        # results are answered as presigned links, signed with this role
        *{("s3:GetObject", f"bucket:{p}/*") for p in (*_OBJ, "results")},
        *{("s3:PutObject", f"bucket:{p}/*") for p in (*_OBJ, "results", "refs")},
        ("s3:DeleteObject", "bucket:originals/*"),
        ("s3:DeleteObject", "bucket:variants/*"),
        ("s3:DeleteObject", "bucket:work/*"),  # working copies made again, or a stored result's
        ("s3:DeleteObject", "bucket:refs/*"),
        ("s3:ListBucket", "bucket"),
        *{
            (a, "table")
            for a in (
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",  # the presets an item's pipeline names
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",  # a stored result's index items
                "dynamodb:DeleteItem",  # ... removed if its record cannot be written
            )
        },
    },
    # reads the accepted keys' digests, nothing else
    AUTHORIZER: {("secretsmanager:GetSecretValue", f"secret:{API_KEYS_SECRET}")},
}
READ_SIGNING_KEYS = ("secretsmanager:GetSecretValue", f"secret:{SIGNING_KEYS_SECRET}")


def _expected_permissions(function: str, signed_urls: str) -> set[tuple[str, str]]:
    """What the function may do with SignedUrls=signed_urls: with Required, the functions that
    check or make signed URLs may also read the signing keys."""
    signs = signed_urls == "Required" and function in SIGNING_FUNCTIONS
    return EXPECTED_PERMISSIONS[function] | ({READ_SIGNING_KEYS} if signs else set())


BASIC_EXECUTION_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# the same, as written in the template for the roles it declares itself
BASIC_EXECUTION_ROLE_SUB = {
    "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}
FAKE_ARTIFACT_BUCKET = "progimage-test-artifacts"
CDN_PARAMETER_ARN = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/progimage/"
    "${AWS::StackName}/cdn"
)


# --------------------------------------------------------------------------- helpers


class _NoManagedPolicies:
    """Policy loader for offline translation: the template must not name managed policies
    that need an IAM lookup (the translator only calls this if one is used)."""

    def load(self) -> dict[str, str]:
        raise AssertionError(
            "template refers to a managed policy by name; use an ARN or a statement"
        )


def _load_sam() -> dict[str, Any]:
    # cfn-lint's loader understands the short intrinsic tags (!Ref, !Sub, !GetAtt...);
    # the JSON round trip turns its node types into plain dicts, lists and strings.
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


def _parameter_values(sam: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values = {name: p.get("Default") for name, p in sam.get("Parameters", {}).items()}
    return {**values, **overrides}


_NO_VALUE = object()


def _holds(template: dict[str, Any], name: str, parameters: dict[str, Any]) -> bool:
    """Whether the template's condition `name` holds with these parameter values."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in parameters:
            return parameters[node["Ref"]]
        if isinstance(node, dict):
            raise ValueError(f"not resolvable before deployment: {node!r}")
        return node

    def condition(node: Any) -> bool:
        ((function, argument),) = node.items()
        if function == "Condition":
            return condition(template["Conditions"][argument])
        if function == "Fn::Equals":
            return str(value(argument[0])) == str(value(argument[1]))
        if function == "Fn::Not":
            return not condition(argument[0])
        if function == "Fn::And":
            return all(condition(a) for a in argument)
        if function == "Fn::Or":
            return any(condition(a) for a in argument)
        raise ValueError(f"unsupported condition {node!r}")

    return condition(template["Conditions"][name])


def _language_extensions(sam: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """What AWS::LanguageExtensions does to this template before SAM sees it: every Fn::If in
    the resources and the globals whose condition depends on parameters only is resolved
    (AWS::NoValue dropping its key or list item), and every Fn::Split of a parameter (SAM takes
    the HttpApi's CORS origins only as a list)."""

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(node) == {"Fn::If"}:
            name, if_true, if_false = node["Fn::If"]
            return resolve(if_true if _holds(sam, name, parameters) else if_false)
        if set(node) == {"Fn::Split"}:
            delimiter, source = node["Fn::Split"]
            if isinstance(source, dict) and source.get("Ref") in parameters:
                return str(parameters[source["Ref"]]).split(delimiter)
        resolved = {key: resolve(item) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    expanded = copy.deepcopy(sam)
    expanded["Resources"] = resolve(expanded["Resources"])
    if "Globals" in expanded:
        expanded["Globals"] = resolve(expanded["Globals"])
    transforms = _as_list(expanded["Transform"])
    assert transforms == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    expanded["Transform"] = transforms[-1]
    return expanded


def _s3_uri(local: str) -> str:
    return f"s3://{FAKE_ARTIFACT_BUCKET}/{local.strip('/').replace('/', '-')}.zip"


def _translate(
    sam: dict[str, Any],
    auth_mode: str = "ApiKey",
    signed_urls: str = "Off",
    **parameters: str,
) -> dict[str, Any]:
    """Translate a SAM template offline for one AuthMode and SignedUrls (and any other
    parameters given): the language extensions first, then S3 URIs standing in for local code
    paths (what `sam package` does, as the translator only accepts S3 locations), then SAM's
    transform."""
    chosen = {"AuthMode": auth_mode, "SignedUrls": signed_urls, **parameters}
    parameters = _parameter_values(sam, chosen)
    sam = _language_extensions(sam, parameters)
    glob = sam.get("Globals", {}).get("Function", {})
    if isinstance(glob.get("CodeUri"), str):
        glob["CodeUri"] = _s3_uri(glob["CodeUri"])
    for res in sam["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = _s3_uri(props["CodeUri"])
        if res["Type"] == "AWS::Serverless::LayerVersion" and isinstance(
            props.get("ContentUri"), str
        ):
            props["ContentUri"] = _s3_uri(props["ContentUri"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        translated = transform(sam, chosen, _NoManagedPolicies())
    # The translation holds for these values only (LanguageExtensions resolved them): say so, so
    # that cfn-lint and checkov do not consider the other values' conditions.
    for name, value in chosen.items():
        if "AllowedValues" in translated["Parameters"][name]:
            translated["Parameters"][name]["AllowedValues"] = [value]
        translated["Parameters"][name]["Default"] = value
    return translated


def _lint(template: dict[str, Any] | str) -> list[Any]:
    text = template if isinstance(template, str) else json.dumps(template, indent=1)
    return lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))


def _fmt(matches: list[Any]) -> str:
    return "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches)


def _sub_refs(text: str, local_vars: set[str]) -> set[str]:
    names = set()
    for expr in re.findall(r"\$\{([^}]+)\}", text):
        if expr.startswith("!"):  # ${!Literal}
            continue
        name = expr.split(".", 1)[0].strip()
        if name not in local_vars and not name.startswith("AWS::"):
            names.add(name)
    return names


def _references(node: Any) -> set[str]:
    """Logical names referenced by Ref, Fn::GetAtt and Fn::Sub anywhere under node."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and isinstance(value, str):
                return {value}
            if key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
                return {target} if isinstance(target, str) else _references(target)
            if key == "Fn::Sub":
                if isinstance(value, str):
                    return _sub_refs(value, set())
                text, variables = value[0], value[1] if len(value) > 1 else {}
                return _sub_refs(text, set(variables)) | _references(variables)
        for value in node.values():
            found |= _references(value)
    return found


def _dependency_graph(cfn: dict[str, Any]) -> dict[str, set[str]]:
    resources = cfn["Resources"]
    graph: dict[str, set[str]] = {}
    for name, res in resources.items():
        deps = _references({k: v for k, v in res.items() if k not in ("Type", "DependsOn")})
        depends_on = res.get("DependsOn", [])
        deps |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[name] = {d for d in deps if d in resources}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return list(err.args[1])
    return None


def _resources_of(cfn: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == type_}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _normalize_resource(resource: Any) -> str:
    """Map a policy Resource to "bucket", "bucket:<suffix>", "cache-bucket", "table",
    "table/<suffix>", "queue:<logical id>" or "secret:<logical id>"; anything not rooted at the
    images bucket, the cache bucket, the table, a queue or one of the template's secrets (by its
    ARN, what Ref answers) fails."""
    if resource == {"Fn::GetAtt": ["ImagesBucket", "Arn"]}:
        return "bucket"
    if resource == {"Fn::GetAtt": ["ExpressCacheBucket", "Arn"]}:
        return "cache-bucket"  # CacheBucket=express: the directory bucket
    if resource == {"Fn::GetAtt": ["ImagesTable", "Arn"]}:
        return "table"
    for secret in (*SECRETS, "CdnOriginVerifySecret"):
        if resource == {"Ref": secret}:
            return f"secret:{secret}"
    if resource == {"Fn::Sub": CDN_PARAMETER_ARN}:
        return "parameter:cdn"  # the CDN's distribution (test_cdn_template.py)
    for queue in QUEUES:
        if resource == {"Fn::GetAtt": [queue, "Arn"]}:
            return f"queue:{queue}"
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        text = resource["Fn::Sub"]
        m = re.fullmatch(r"\$\{ImagesBucket\.Arn\}/([a-z]+/\*)", text)
        if m:
            return f"bucket:{m.group(1)}"
        m = re.fullmatch(r"\$\{ImagesTable\.Arn\}/(index/[A-Za-z0-9_.-]+)", text)
        if m:
            return f"table/{m.group(1)}"
    raise AssertionError(
        f"policy resource not scoped to the images bucket/table/queues/secrets: {resource!r}"
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return _load_sam()


# The CDN (Cdn, on by default) is checked in test_cdn_template.py: here it is off, so that
# these tests see the stack without it; the CDN's resources stay declared, under a condition
# that does not hold.
NO_CDN = {"Cdn": "Disabled"}
CDN_RESOURCES = {
    "CdnViewerRequestFunction",
    "CdnViewerResponseFunction",
    "CdnImagesCachePolicy",
    "CdnImagesOriginRequestPolicy",
    "CdnOriginVerifySecret",
    "CdnDistribution",
    "CdnParameter",
    "CdnInvalidationPolicy",
}


@pytest.fixture(scope="module")
def translations(sam: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(AuthMode, SignedUrls) -> the template as deployed with them (without the CDN)."""
    return {(mode, signed): _translate(sam, mode, signed, **NO_CDN) for mode, signed in VARIANTS}


@pytest.fixture(scope="module")
def cfn(translations: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """The template as deployed with the default parameters (AuthMode ApiKey, SignedUrls Off)."""
    return translations[DEFAULTS]


# --------------------------------------------------------------------------- translation + lint


def test_template_is_sam_and_translates(
    sam: dict[str, Any], translations: dict[tuple[str, str], dict[str, Any]]
) -> None:
    # LanguageExtensions first: it resolves the Fn::If on AuthMode that SAM cannot take
    assert sam["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert set(translations) == {(m, s) for m in AUTH_MODES for s in SIGNED_URLS}
    for cfn in translations.values():
        assert "Transform" not in cfn
        assert not [
            k for k, v in cfn["Resources"].items() if v["Type"].startswith("AWS::Serverless::")
        ]
        assert set(_resources_of(cfn, "AWS::Lambda::Function")) == set(ALL_FUNCTIONS)
        # every choice was made before SAM's transform: no Fn::If is left in the resources
        assert "Fn::If" not in json.dumps(cfn["Resources"])


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_translated_template_lints_clean(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    problems = [
        m
        for m in _lint(translations[mode, signed_urls])
        if m.rule.id[0] in "EW"
        and not _is_chosen_reference(m, mode, signed_urls)
        and not _is_resolved_condition(m)
    ]
    assert not problems, _fmt(problems)


def _if_only_conditions(sam: dict[str, Any]) -> set[str]:
    """The conditions the SAM template uses in Fn::If only (in its resources and globals):
    LanguageExtensions resolves every one of those before SAM's transform, as CloudFormation
    does on deploy, so the translation no longer uses them."""
    used_otherwise = {
        res["Condition"] for res in sam["Resources"].values() if "Condition" in res
    } | {out["Condition"] for out in sam.get("Outputs", {}).values() if "Condition" in out}
    text = json.dumps(sam["Conditions"])
    used_otherwise |= {name for name in sam["Conditions"] if f'{{"Condition": "{name}"}}' in text}
    in_if: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                in_if.add(node["Fn::If"][0])
            for item in node.values():
                walk(item)

    walk([sam["Resources"], sam.get("Globals", {})])
    return in_if - used_otherwise


def _is_resolved_condition(match: Any) -> bool:
    """W8001 (condition not used) on a condition that only chose between Fn::If branches."""
    return match.rule.id == "W8001" and any(
        f"Condition {name} not used" in match.message for name in _if_only_conditions(_load_sam())
    )


def _is_chosen_reference(match: Any, mode: str, signed_urls: str) -> bool:
    """W1001 on a conditional resource whose condition the translation chose true: in the ApiKey
    translation, SAM's authorizer permission and the API's security scheme refer to
    AuthorizerFunction (Condition UseApiKeyAuth) unconditionally; with SignedUrls=Required, the
    functions' environment and the signing functions' policies refer to SigningKeysSecret
    (Condition SignUrls). They exist only because LanguageExtensions resolved the Fn::If with
    the same parameter value, so the condition is true whenever they do; cfn-lint cannot know
    that. The same reference in a translation whose condition is false is a failure."""
    chosen = {AUTHORIZER: "UseApiKeyAuth"} if mode == "ApiKey" else {}
    if signed_urls == "Required":
        chosen[SIGNING_KEYS_SECRET] = "SignUrls"
    return match.rule.id == "W1001" and any(
        f"resource '{name}'" in match.message and f"'{condition}'" in match.message
        for name, condition in chosen.items()
    )


def test_sam_template_lints_clean() -> None:
    problems = [m for m in _lint(TEMPLATE.read_text()) if m.rule.id[0] in "EW"]
    assert not problems, _fmt(problems)


def test_no_circular_dependencies(
    cfn: dict[str, Any], translations: dict[tuple[str, str], dict[str, Any]]
) -> None:
    for translated in translations.values():
        assert _find_cycle(_dependency_graph(translated)) is None
    graph = _dependency_graph(cfn)
    assert _find_cycle(graph) is None
    # the graph is real: functions depend on their roles, the bucket and the table
    assert {"UploadFunctionRole", "ImagesBucket", "ImagesTable"} <= graph["UploadFunction"]
    assert "ImagesBucket" in graph["UploadFunctionRole"]
    # ...and the S3 -> SQS wiring is in it: the bucket needs the queue and its policy first
    assert {"IngestQueue", "IngestQueuePolicy"} <= graph["ImagesBucket"]
    assert graph["IngestQueuePolicy"] == {"IngestQueue"}
    assert not [m for m in _lint(cfn) if m.rule.id == "E3004"]


def test_cycle_detection_catches_a_cycle(cfn: dict[str, Any]) -> None:
    # Guard the guard: a bucket that depends on a function that depends on the bucket.
    broken = copy.deepcopy(cfn)
    broken["Resources"]["ImagesBucket"]["DependsOn"] = ["UploadFunction"]
    cycle = _find_cycle(_dependency_graph(broken))
    assert cycle is not None and "ImagesBucket" in cycle and "UploadFunction" in cycle
    assert [m for m in _lint(broken) if m.rule.id == "E3004"]


def test_queue_policy_naming_the_bucket_is_caught_as_a_cycle(cfn: dict[str, Any]) -> None:
    # The tempting "aws:SourceArn = the bucket" condition: the bucket depends on the queue
    # policy (S3 checks it may deliver when the notification is created), so the policy must
    # not depend on the bucket. The guard must see that cycle.
    broken = copy.deepcopy(cfn)
    (statement,) = broken["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    statement["Condition"]["ArnEquals"] = {"aws:SourceArn": {"Fn::GetAtt": ["ImagesBucket", "Arn"]}}
    cycle = _find_cycle(_dependency_graph(broken))
    assert cycle is not None and {"ImagesBucket", "IngestQueuePolicy"} <= set(cycle)
    assert [m for m in _lint(broken) if m.rule.id == "E3004"]


def test_lint_reports_errors_on_a_bad_template(cfn: dict[str, Any]) -> None:
    broken = copy.deepcopy(cfn)
    broken["Resources"]["UploadFunction"]["Properties"]["Runtime"] = "python2.6"
    assert [m for m in _lint(broken) if m.rule.id[0] == "E"]


# --------------------------------------------------------------------------- storage


def test_bucket_is_private_and_encrypted(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["ImagesBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rule["BucketKeyEnabled"] is True
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "AccessControl" not in props and "WebsiteConfiguration" not in props


def test_bucket_policy_denies_plain_http(cfn: dict[str, Any]) -> None:
    policies = _resources_of(cfn, "AWS::S3::BucketPolicy")
    (policy,) = policies.values()
    assert policy["Properties"]["Bucket"] == {"Ref": "ImagesBucket"}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert deny, statements
    resources = _as_list(deny[0]["Resource"])
    assert {"Fn::GetAtt": ["ImagesBucket", "Arn"]} in resources
    assert {"Fn::Sub": "${ImagesBucket.Arn}/*"} in resources
    assert not [s for s in statements if s["Effect"] == "Allow"]


def _rule_prefix(rule: dict[str, Any]) -> str:
    if "Prefix" in rule:
        return rule["Prefix"]
    return rule.get("Filter", {}).get("Prefix", "")


def test_bucket_lifecycle_rules(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    rules = cfn["Resources"]["ImagesBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(r["Status"] == "Enabled" for r in rules)
    by_prefix = {_rule_prefix(r): r for r in rules if "ExpirationInDays" in r}
    assert by_prefix["variants/"]["ExpirationInDays"] == {"Ref": "VariantExpirationDays"}
    assert sam["Parameters"]["VariantExpirationDays"]["Default"] == 30
    assert by_prefix["uploads/"]["ExpirationInDays"] == 2
    # batch and job results are ephemeral
    assert by_prefix["results/"]["ExpirationInDays"] == 7
    # nothing else expires: originals and working copies are kept
    assert set(by_prefix) == {"variants/", "uploads/", "results/"}
    abort = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert len(abort) == 1 and _rule_prefix(abort[0]) == ""
    assert abort[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_uploads_notify_the_ingest_queue(cfn: dict[str, Any]) -> None:
    bucket = cfn["Resources"]["ImagesBucket"]
    notifications = bucket["Properties"]["NotificationConfiguration"]
    # S3 -> SQS -> Lambda: no direct S3 -> Lambda or SNS notification, no EventBridge
    assert set(notifications) == {"QueueConfigurations"}
    assert notifications["QueueConfigurations"] == [
        {
            "Event": "s3:ObjectCreated:*",
            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "uploads/"}]}},
            "Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]},
        }
    ]
    # S3 validates the destination when the notification is set: the policy must exist first
    assert "IngestQueuePolicy" in _as_list(bucket.get("DependsOn", []))


def test_ingest_queue_policy_admits_only_s3_of_this_account(cfn: dict[str, Any]) -> None:
    policies = _resources_of(cfn, "AWS::SQS::QueuePolicy")
    assert set(policies) == {"IngestQueuePolicy"}
    props = policies["IngestQueuePolicy"]["Properties"]
    assert props["Queues"] == [{"Ref": "IngestQueue"}]
    (statement,) = _as_list(props["PolicyDocument"]["Statement"])
    assert statement["Effect"] == "Allow"
    assert "NotPrincipal" not in statement and "NotAction" not in statement
    assert statement["Principal"] in (
        {"Service": "s3.amazonaws.com"},
        {"Service": ["s3.amazonaws.com"]},
    )
    assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": ["IngestQueue", "Arn"]}]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
    # naming the bucket here would make a cycle with the bucket's DependsOn
    assert "ImagesBucket" not in _references(props)


def _function_timeout(cfn: dict[str, Any], function: str) -> int:
    """The function's Timeout: from the FunctionTimeouts mapping, which its Duration alarm reads
    too."""
    timeout = cfn["Resources"][function]["Properties"]["Timeout"]
    assert timeout == {"Fn::FindInMap": ["FunctionTimeouts", function, "Seconds"]}, function
    return cfn["Mappings"]["FunctionTimeouts"][function]["Seconds"]


def test_queues_with_dead_letter_queues(cfn: dict[str, Any]) -> None:
    queues = _resources_of(cfn, "AWS::SQS::Queue")
    assert set(queues) == set(QUEUES)
    for queue, (dlq, function, _, _, mapping) in EXPECTED_QUEUES.items():
        props = queues[queue]["Properties"]
        dlq_props = queues[dlq]["Properties"]
        for p in (props, dlq_props):
            assert p["SqsManagedSseEnabled"] is True
            assert "KmsMasterKeyId" not in p and "FifoQueue" not in p
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
            "maxReceiveCount": {"Ref": "QueueMaxReceiveCount"},
        }
        assert "RedrivePolicy" not in dlq_props
        assert dlq_props["MessageRetentionPeriod"] == 14 * DAY
        # a standard queue's message keeps its enqueue time in the DLQ: it must outlive the source
        assert props.get("MessageRetentionPeriod", 4 * DAY) < dlq_props["MessageRetentionPeriod"]
        # AWS: visibility timeout at least 6x the function timeout (plus the batching window)
        window = mapping.get("MaximumBatchingWindowInSeconds", 0)
        assert props["VisibilityTimeout"] >= 6 * _function_timeout(cfn, function) + window


def _module_number(path: Path, name: str) -> float:
    """A number a module assigns at its top level, read from the source (nothing imported)."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, int | float), (path, name)
            return value
    raise AssertionError(f"{path.relative_to(ROOT)} assigns no {name}")


def test_every_batch_leaves_each_of_its_items_its_allowance(cfn: dict[str, Any]) -> None:
    """A queue handler starts a message only while one item's allowance (ITEM_SECONDS in
    queue_events.py) and a reserve to answer are left; the function's Timeout must cover a
    full batch of items that each take their allowance, or good items would be left for a
    visibility timeout because of their neighbours. The allowance is what the API gives the
    same work synchronously (the functions behind the routes)."""
    queue_events = ROOT / "functions" / "progimage_service" / "queue_events.py"
    reserve = _module_number(queue_events, "RESERVE_SECONDS")
    allowance = _module_number(queue_events, "ITEM_SECONDS")
    synchronous = {"IngestFunction": "UploadFunction", "JobWorkerFunction": "TransformFunction"}
    for queue in PER_ITEM_QUEUES:
        _, function, _, _, mapping = EXPECTED_QUEUES[queue]
        timeout = _function_timeout(cfn, function)
        assert mapping["BatchSize"] * allowance + reserve <= timeout, function
        assert allowance >= _function_timeout(cfn, synchronous[function]), function


def test_every_message_has_a_delivery_after_the_one_whose_invocation_ran_out(
    sam: dict[str, Any],
) -> None:
    """An item or upload whose invocation ran out is failed by the next delivery, and the
    workers record failures on the last delivery (PROGIMAGE_JOB_MAX_ATTEMPTS): the queues'
    maxReceiveCount is that same parameter, and at least two."""
    parameter = sam["Parameters"]["QueueMaxReceiveCount"]
    assert parameter["MinValue"] >= 2 and parameter["Default"] >= 2
    variables = sam["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PROGIMAGE_JOB_MAX_ATTEMPTS"] == {"Ref": "QueueMaxReceiveCount"}
    for queue in EXPECTED_QUEUES:
        redrive = sam["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == {"Ref": "QueueMaxReceiveCount"}


def test_each_queue_feeds_its_worker(cfn: dict[str, Any]) -> None:
    mappings = _resources_of(cfn, "AWS::Lambda::EventSourceMapping")
    by_queue = {}
    for m in mappings.values():
        props = dict(m["Properties"])
        (queue,) = _references(props.pop("EventSourceArn"))
        by_queue[queue] = props
    assert set(by_queue) == set(EXPECTED_QUEUES)
    for queue, (_, function, _, _, expected) in EXPECTED_QUEUES.items():
        assert by_queue[queue] == {"FunctionName": {"Ref": function}, **expected}


def _sam_queue_events(sam: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """queue logical id -> (function, handler, event name), from the SAM template's SQS events."""
    events = {}
    for name, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in res["Properties"].get("Events", {}).items():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]
            # the local server reads this form
            assert queue == {"Fn::GetAtt": [queue["Fn::GetAtt"][0], "Arn"]}, queue
            assert queue["Fn::GetAtt"][0] not in events
            events[queue["Fn::GetAtt"][0]] = (name, res["Properties"]["Handler"], event_name)
    return events


def test_queue_events_map_to_expected_handlers(sam: dict[str, Any]) -> None:
    assert _sam_queue_events(sam) == {
        queue: (function, handler, event)
        for queue, (_, function, handler, event, _) in EXPECTED_QUEUES.items()
    }
    # a queue function serves no route
    for function in QUEUE_FUNCTIONS:
        events = sam["Resources"][function]["Properties"]["Events"].values()
        assert {e["Type"] for e in events} == {"SQS"}


def test_table_on_demand_with_pitr_sse_gsi_and_ttl(cfn: dict[str, Any]) -> None:
    props = cfn["Resources"]["ImagesTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "list_pk": "S", "list_sk": "S"}
    (gsi,) = props["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by-created"
    assert gsi["KeySchema"] == [
        {"AttributeName": "list_pk", "KeyType": "HASH"},
        {"AttributeName": "list_sk", "KeyType": "RANGE"},
    ]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at_ttl", "Enabled": True}


def test_data_survives_stack_deletion(cfn: dict[str, Any]) -> None:
    for name in ("ImagesBucket", "ImagesTable"):
        assert cfn["Resources"][name]["DeletionPolicy"] == "Retain"
        assert cfn["Resources"][name]["UpdateReplacePolicy"] == "Retain"


# --------------------------------------------------------------------------- functions


def test_functions_share_runtime_artifact_and_layer(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    code_uri = sam["Globals"]["Function"]["CodeUri"]
    assert code_uri.rstrip("/") == "functions"
    assert (ROOT / code_uri / "requirements.txt").is_file()
    layers = _resources_of(cfn, "AWS::Lambda::LayerVersion")
    (layer_id,) = layers
    assert (
        layers[layer_id]["Properties"]["Content"]["S3Key"]
        == _s3_uri("layers/pillow/").rsplit("/", 1)[1]
    )
    codes = set()
    for name in ALL_FUNCTIONS:
        assert "CodeUri" not in sam["Resources"][name]["Properties"], (
            f"{name} overrides the shared CodeUri"
        )
        # functions/Makefile: the same artifact for all, bytecode compiled ahead
        assert sam["Resources"][name]["Metadata"]["BuildMethod"] == "makefile"
        props = cfn["Resources"][name]["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == [{"Ref": "Architecture"}]
        assert props["Layers"] == [{"Ref": layer_id}]
        assert (_function_timeout(cfn, name), props["MemorySize"]) == EXPECTED_SIZES[name]
        assert "TracingConfig" not in props
        env = props["Environment"]["Variables"]
        assert env["PROGIMAGE_BUCKET"] == {"Ref": "ImagesBucket"}
        assert env["PROGIMAGE_TABLE"] == {"Ref": "ImagesTable"}
        assert env["PROGIMAGE_JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}
        assert env["PROGIMAGE_JOB_MAX_ATTEMPTS"] == {"Ref": "QueueMaxReceiveCount"}
        assert env["POWERTOOLS_SERVICE_NAME"] == "progimage"
        assert "LOG_LEVEL" not in env  # LoggingConfig's ApplicationLogLevel says it
        codes.add(json.dumps(props["Code"], sort_keys=True))
    assert codes == {
        json.dumps({"S3Bucket": FAKE_ARTIFACT_BUCKET, "S3Key": "functions.zip"}, sort_keys=True)
    }


# Every function's environment, apart from the secrets' names (see below).
COMMON_ENVIRONMENT = {
    "PROGIMAGE_BUCKET": {"Ref": "ImagesBucket"},
    "PROGIMAGE_TABLE": {"Ref": "ImagesTable"},
    "PROGIMAGE_JOBS_QUEUE_URL": {"Ref": "JobsQueue"},
    "PROGIMAGE_EDGE_QUEUE_URL": {"Ref": "EdgeQueue"},
    "PROGIMAGE_JOB_MAX_ATTEMPTS": {"Ref": "QueueMaxReceiveCount"},
    "PROGIMAGE_IAM_TENANTS": {"Ref": "IamTenants"},  # ARN=TENANT: who is who, not a credential
    "PROGIMAGE_AUTO_FORMATS": {"Ref": "AutoFormats"},
    "POWERTOOLS_SERVICE_NAME": "progimage",
    "PROGIMAGE_SERVICE": {"Ref": "AWS::StackName"},
    "PROGIMAGE_METRICS_NAMESPACE": "ProgImage",
    "PROGIMAGE_DEBUG_SAMPLE_RATE": {"Ref": "DebugSampleRate"},
}
# ... and whether the functions are traced, chosen by the Tracing parameter
TRACING_ENVIRONMENT = {"Fn::If": ["TraceFunctions", "true", "false"]}
# ... and whether unsigned variant URLs naming presets alone are served (StrictPresets)
PRESETS_ONLY_ENVIRONMENT = {"Fn::If": ["PresetsOnly", "true", "false"]}
# ... and the variant cache's own bucket, with CacheBucket=express (test_express_cache_template.py)
CACHE_BUCKET_ENVIRONMENT = {"Fn::If": ["ExpressCache", {"Ref": "ExpressCacheBucket"}, ""]}
# ... and the CDN's: the parameter naming the distribution, the origin-verify secret's ARN with
# CdnOnly (test_cdn_template.py)
CDN_ENVIRONMENT = {
    "PROGIMAGE_CDN_PARAMETER": {
        "Fn::If": ["UseCdn", {"Fn::Sub": "/progimage/${AWS::StackName}/cdn"}, ""]
    },
    "PROGIMAGE_ORIGIN_VERIFY_SECRET": {
        "Fn::If": ["EnforceCdn", {"Ref": "CdnOriginVerifySecret"}, ""]
    },
}


def _no_echo_parameters(template: dict[str, Any]) -> set[str]:
    return {name for name, p in template["Parameters"].items() if p.get("NoEcho")}


def test_the_sam_template_names_secrets_in_the_environment(sam: dict[str, Any]) -> None:
    """Globals name the signing secret (an ARN, or nothing without SignUrls); the authorizer
    alone names the API key secret. No value of either, nor a NoEcho parameter, is there."""
    env = sam["Globals"]["Function"]["Environment"]["Variables"]
    assert env == {
        **COMMON_ENVIRONMENT,
        "PROGIMAGE_TRACING": TRACING_ENVIRONMENT,
        "PROGIMAGE_CACHE_BUCKET": CACHE_BUCKET_ENVIRONMENT,
        "PROGIMAGE_SIGNING_KEYS_SECRET": {"Fn::If": ["SignUrls", {"Ref": SIGNING_KEYS_SECRET}, ""]},
        "PROGIMAGE_PRESETS_ONLY": PRESETS_ONLY_ENVIRONMENT,
        **CDN_ENVIRONMENT,
    }
    for name in ALL_FUNCTIONS:
        own = sam["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        expected = {"PROGIMAGE_API_KEYS_SECRET": {"Ref": API_KEYS_SECRET}}
        assert own == (expected if name == AUTHORIZER else {}), name


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_no_function_environment_holds_a_secret(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    """Anyone allowed lambda:GetFunctionConfiguration reads a function's environment: it names
    the secrets (their ARNs, which Ref answers), never their values, and no NoEcho parameter."""
    cfn = translations[mode, signed_urls]
    no_echo = _no_echo_parameters(cfn)
    assert no_echo == {"ApiKeyHashes"}
    signing = {"Ref": SIGNING_KEYS_SECRET} if signed_urls == "Required" else ""
    for name in ALL_FUNCTIONS:
        env = cfn["Resources"][name]["Properties"]["Environment"]["Variables"]
        expected = {
            **COMMON_ENVIRONMENT,
            "PROGIMAGE_TRACING": "false",
            "PROGIMAGE_CACHE_BUCKET": "",
            "PROGIMAGE_SIGNING_KEYS_SECRET": signing,
            "PROGIMAGE_PRESETS_ONLY": "false",
            "PROGIMAGE_CDN_PARAMETER": "",
            "PROGIMAGE_ORIGIN_VERIFY_SECRET": "",
        }
        if name == AUTHORIZER:
            expected["PROGIMAGE_API_KEYS_SECRET"] = {"Ref": API_KEYS_SECRET}
        assert env == expected, name
        text = json.dumps(env)
        assert "{{resolve:" not in text, name  # no dynamic reference to a secret's value
        assert not _references(env) & no_echo, name
    # the only use of a NoEcho parameter is the API key secret's value
    users = {
        name
        for name, res in cfn["Resources"].items()
        if _references(res.get("Properties", {})) & no_echo
    }
    assert users == {API_KEYS_SECRET}
    assert not _references(cfn.get("Outputs", {})) & no_echo
    # the one dynamic reference: CloudFront's origin-verify header (test_cdn_template.py)
    assert "{{resolve:" not in json.dumps(
        {k: v for k, v in cfn["Resources"].items() if k != "CdnDistribution"}
    )


def test_pillow_layer(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    layer = sam["Resources"]["PillowLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"].rstrip("/") == "layers/pillow"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    # built (sam build) for the functions' Architecture, and declared for it
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    # layers/pillow/Makefile (bytecode compiled ahead), through the Architecture's folder
    assert layer["Metadata"] == {
        "BuildMethod": "makefile",
        "BuildArchitecture": {"Ref": "Architecture"},
        "ContextPath": {"Fn::Sub": "layers/pillow/${Architecture}"},
    }
    requirements = (ROOT / "layers/pillow/requirements.txt").read_text().lower()
    assert re.search(r"^pillow\b", requirements, re.M)


def _sam_routes(sam: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    routes = {}
    for name, res in sam["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in res["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            key = (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
            assert key not in routes, f"duplicate route {key}"
            routes[key] = (name, res["Properties"]["Handler"])
            assert event["Properties"]["ApiId"] == {"Ref": "HttpApi"}
            assert event["Properties"]["PayloadFormatVersion"] == "2.0"
            # the local server reads this plain form: NONE or nothing (the API's default)
            assert event["Properties"].get("Auth", {"Authorizer": "NONE"}) == {"Authorizer": "NONE"}
    return routes


def test_routes_map_to_expected_handlers(sam: dict[str, Any]) -> None:
    assert _sam_routes(sam) == EXPECTED_ROUTES


def test_head_routes_mirror_their_get_twins(
    sam: dict[str, Any], translations: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """HEAD is answered on every GET route, and only there, by the same function and handler,
    with the same credentials."""
    routes = _sam_routes(sam)
    gets = {path for method, path in routes if method == "GET"}
    assert {path for method, path in routes if method == "HEAD"} == gets
    for path in gets:
        assert routes["HEAD", path] == routes["GET", path], path
        assert (("HEAD", path) in OPEN_ROUTES) == (("GET", path) in OPEN_ROUTES), path
    for cfn in translations.values():
        security = _route_security(cfn)
        for path in gets:
            assert security["HEAD", path] == security["GET", path], path


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_translated_api_integrates_each_route_with_its_function(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    cfn = translations[mode, signed_urls]
    (api,) = _resources_of(cfn, "AWS::ApiGatewayV2::Api").values()
    paths = api["Properties"]["Body"]["paths"]
    seen = {}
    for path, methods in paths.items():
        for method, op in methods.items():
            integration = op["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert integration["payloadFormatVersion"] == "2.0"
            (function,) = _references(integration["uri"]) & set(FUNCTIONS)
            seen[(method.upper(), path)] = function
    assert seen == {route: fn for route, (fn, _) in EXPECTED_ROUTES.items()}
    permissions = _resources_of(cfn, "AWS::Lambda::Permission")
    routes = {
        name: p["Properties"]
        for name, p in permissions.items()
        if isinstance(p["Properties"]["FunctionName"], dict)
        and "Ref" in p["Properties"]["FunctionName"]
    }
    assert all(p["Principal"] == "apigateway.amazonaws.com" for p in routes.values())
    assert {p["FunctionName"]["Ref"] for p in routes.values()} == set(HTTP_FUNCTIONS)
    assert len(routes) == len(EXPECTED_ROUTES)
    # API Gateway may call the authorizer (ApiKey mode), and nothing else
    others = {name: p for name, p in permissions.items() if name not in routes}
    if mode == "ApiKey":
        (authorizer_permission,) = others.values()
        props = authorizer_permission["Properties"]
        assert props["FunctionName"] == {"Fn::GetAtt": [AUTHORIZER, "Arn"]}
        assert props["Principal"] == "apigateway.amazonaws.com"
        assert props["Action"] == "lambda:InvokeFunction"
        assert "HttpApi" in _references(props["SourceArn"])
    else:
        assert others == {}


def test_handler_modules_exist(sam: dict[str, Any]) -> None:
    code_dir = ROOT / sam["Globals"]["Function"]["CodeUri"]
    handlers = {h for _, h in EXPECTED_ROUTES.values()}
    handlers |= {handler for _, _, handler, _, _ in EXPECTED_QUEUES.values()}
    handlers.add("auth.app.handler")
    assert handlers == {sam["Resources"][f]["Properties"]["Handler"] for f in ALL_FUNCTIONS}
    for handler in sorted(handlers):
        module, attr = handler.rsplit(".", 1)
        path = code_dir / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"{handler}: {path.relative_to(ROOT)} is missing"
        tree = ast.parse(path.read_text(), filename=str(path))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        names |= {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        names |= {
            a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
        }
        assert attr in names, f"{handler}: no top-level {attr!r} in {path.relative_to(ROOT)}"


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_default_stage_throttling_and_access_log(
    sam: dict[str, Any],
    translations: dict[tuple[str, str], dict[str, Any]],
    mode: str,
    signed_urls: str,
) -> None:
    cfn = translations[mode, signed_urls]
    (stage,) = _resources_of(cfn, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["StageName"] == "$default"
    assert stage["Properties"]["AutoDeploy"] is True
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
    }
    for name in ("ApiThrottlingBurstLimit", "ApiThrottlingRateLimit"):
        assert sam["Parameters"][name]["Default"] > 0
    # every request is logged, with who asked and why a refusal happened
    logs = stage["Properties"]["AccessLogSettings"]
    assert logs["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    fields = json.loads(logs["Format"])
    for variable in ("$context.requestId", "$context.routeKey", "$context.status"):
        assert variable in fields.values()
    assert "$context.authorizer.error" in fields.values()
    group = cfn["Resources"]["ApiAccessLogs"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == 90


# --------------------------------------------------------------------------- IAM


def _granted(cfn: dict[str, Any], function: str) -> set[tuple[str, str]]:
    """Every (action, resource) the function's role allows, checked for form on the way:
    a role of its own with Lambda's basic execution policy and inline Allow statements of
    explicit actions, each on the kind of resource it acts on."""
    role_ref = cfn["Resources"][function]["Properties"]["Role"]
    assert role_ref == {"Fn::GetAtt": [f"{function}Role", "Arn"]}
    role = cfn["Resources"][f"{function}Role"]
    assert role["Type"] == "AWS::IAM::Role"
    # the role exists exactly when its function does
    assert role.get("Condition") == cfn["Resources"][function].get("Condition")
    role = role["Properties"]
    # Logs only, and no managed policy with "*" resources: in particular not SAM's
    # AWSLambdaSQSQueueExecutionRole (any queue), which is why the queue workers' roles are
    # declared in the template.
    assert role["ManagedPolicyArns"] in ([BASIC_EXECUTION_ROLE], [BASIC_EXECUTION_ROLE_SUB])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert _as_list(trust["Action"]) == ["sts:AssumeRole"]
    assert _as_list(trust["Principal"]["Service"]) == ["lambda.amazonaws.com"]
    assert set(role) <= {"AssumeRolePolicyDocument", "ManagedPolicyArns", "Policies", "Tags"}
    granted = set()
    for policy in role["Policies"]:
        for statement in _as_list(policy["PolicyDocument"]["Statement"]):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            assert "Condition" not in statement
            actions = _as_list(statement["Action"])
            for action in actions:
                assert isinstance(action, str) and "*" not in action, action
                assert action.split(":", 1)[0] in (
                    "s3",
                    "s3express",
                    "dynamodb",
                    "sqs",
                    "secretsmanager",
                    "ssm",
                ), action
            for resource in _as_list(statement["Resource"]):
                assert resource != "*"
                where = _normalize_resource(resource)
                for action in actions:
                    on_bucket = where == "bucket"
                    if action.startswith("s3:"):
                        assert where.startswith("bucket"), (action, where)
                        # bucket-level actions on the bucket ARN, object actions on object ARNs
                        assert on_bucket == (action == "s3:ListBucket"), (action, where)
                    elif action.startswith("ssm:"):
                        assert (action, where) == ("ssm:GetParameter", "parameter:cdn")
                    elif action.startswith("s3express:"):
                        assert where == "cache-bucket", (action, where)
                    elif action.startswith("sqs:"):
                        assert where.startswith("queue:"), (action, where)
                    elif action.startswith("secretsmanager:"):
                        # reading one secret's value, by its ARN: nothing that lists, writes,
                        # rotates or changes who may read
                        assert where.startswith("secret:"), (action, where)
                        assert action == "secretsmanager:GetSecretValue", action
                    else:
                        assert where.startswith("table"), (action, where)
                    assert not where.startswith("secret:") or action.startswith("secretsmanager:")
                    granted.add((action, where))
    return granted


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_function_policies_are_least_privilege(
    translations: dict[tuple[str, str], dict[str, Any]],
    mode: str,
    signed_urls: str,
    function: str,
) -> None:
    cfn = translations[mode, signed_urls]
    assert _granted(cfn, function) == _expected_permissions(function, signed_urls)


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_each_secret_is_read_by_its_functions_only(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    """The API key digests by the authorizer alone (which exists in ApiKey mode only); the
    signing keys by the functions that check or make signed URLs, and only with
    SignedUrls=Required. Nothing else in the stack grants access to a secret."""
    cfn = translations[mode, signed_urls]
    readers: dict[str, set[str]] = {secret: set() for secret in SECRETS}
    for function in ALL_FUNCTIONS:
        for _, where in _granted(cfn, function):
            if where.startswith("secret:"):
                readers[where.removeprefix("secret:")].add(function)
    signers = set(SIGNING_FUNCTIONS) if signed_urls == "Required" else set()
    assert readers == {API_KEYS_SECRET: {AUTHORIZER}, SIGNING_KEYS_SECRET: signers}
    assert cfn["Resources"][AUTHORIZER]["Condition"] == "UseApiKeyAuth"
    # the one statement that grants the signing keys, exactly as written, where it is granted
    for function in SIGNING_FUNCTIONS:
        role = cfn["Resources"][f"{function}Role"]["Properties"]
        statements = [
            statement
            for policy in role["Policies"]
            for statement in _as_list(policy["PolicyDocument"]["Statement"])
            if SIGNING_KEYS_SECRET in _references(statement)
        ]
        expected = {
            "Sid": "ReadSigningKeys",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": {"Ref": SIGNING_KEYS_SECRET},
        }
        assert statements == ([expected] if signed_urls == "Required" else []), function
    # no other principal: no resource policy on a secret, no policy or role outside the functions'
    assert not _resources_of(cfn, "AWS::SecretsManager::ResourcePolicy")
    # ... but the CDN's invalidation grant (test_cdn_template.py), not made without the CDN
    assert set(_resources_of(cfn, "AWS::IAM::Policy")) == {"CdnInvalidationPolicy"}
    assert cfn["Resources"]["CdnInvalidationPolicy"]["Condition"] == "UseCdn"
    assert not _resources_of(cfn, "AWS::IAM::ManagedPolicy")
    roles = set(_resources_of(cfn, "AWS::IAM::Role"))
    assert roles == {f"{function}Role" for function in ALL_FUNCTIONS}
    mentions = {
        name
        for name, res in cfn["Resources"].items()
        if _references({k: v for k, v in res.items() if k != "Type"}) & set(SECRETS)
    }
    # the functions name the signing secret in their environment (empty without SignUrls)
    in_env = set(ALL_FUNCTIONS) if signed_urls == "Required" else {AUTHORIZER}
    assert mentions == in_env | {f"{f}Role" for f in (AUTHORIZER, *signers)}


def test_the_signing_secret_grant_is_conditional_in_the_sam_template(
    sam: dict[str, Any],
) -> None:
    """In the template as written, each grant of the signing keys is an Fn::If on SignUrls whose
    other branch is nothing, so a stack without signed URLs neither has nor names the secret."""
    for function in SIGNING_FUNCTIONS:
        res = sam["Resources"][function]
        if res["Type"] == "AWS::Serverless::Function" and "Role" not in res["Properties"]:
            (policy,) = res["Properties"]["Policies"]
        else:
            role = sam["Resources"][f"{function}Role"]["Properties"]
            (policy,) = (p["PolicyDocument"] for p in role["Policies"])
        grants = [s for s in policy["Statement"] if SIGNING_KEYS_SECRET in _references(s)]
        assert grants == [
            {
                "Fn::If": [
                    "SignUrls",
                    {
                        "Sid": "ReadSigningKeys",
                        "Effect": "Allow",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": {"Ref": SIGNING_KEYS_SECRET},
                    },
                    {"Ref": "AWS::NoValue"},
                ]
            }
        ], function
    signing = sam["Resources"][SIGNING_KEYS_SECRET]
    assert signing["Condition"] == "SignUrls"
    assert sam["Conditions"]["SignUrls"] == {"Fn::Equals": [{"Ref": "SignedUrls"}, "Required"]}


@pytest.mark.parametrize("mode", AUTH_MODES)
def test_signed_urls_change_only_the_signing_keys_and_their_readers(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str
) -> None:
    """SignedUrls=Required adds the signing secret's ARN to the environment and one grant to
    each signing function's role; nothing else differs from SignedUrls=Off."""
    required = copy.deepcopy(translations[mode, "Required"])
    resources = required["Resources"]
    for function in ALL_FUNCTIONS:
        env = resources[function]["Properties"]["Environment"]["Variables"]
        assert env["PROGIMAGE_SIGNING_KEYS_SECRET"] == {"Ref": SIGNING_KEYS_SECRET}
        env["PROGIMAGE_SIGNING_KEYS_SECRET"] = ""
    for function in SIGNING_FUNCTIONS:
        (policy,) = resources[f"{function}Role"]["Properties"]["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        assert statements[-1]["Sid"] == "ReadSigningKeys"
        del statements[-1]
    required["Parameters"]["SignedUrls"] = translations[mode, "Off"]["Parameters"]["SignedUrls"]
    assert required == translations[mode, "Off"]


# ------------------------------------------------------------ outputs, parameters, config


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_outputs(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    outputs = translations[mode, signed_urls]["Outputs"]
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
    }
    assert outputs["BucketName"]["Value"] == {"Ref": "ImagesBucket"}
    assert outputs["TableName"]["Value"] == {"Ref": "ImagesTable"}
    for queue in QUEUES:
        assert outputs[f"{queue}Url"]["Value"] == {"Ref": queue}
    # the secrets' ARNs (what Ref answers), never their values, each where its secret exists
    for output, secret in (
        ("ApiKeysSecretArn", API_KEYS_SECRET),
        ("SigningKeysSecretArn", SIGNING_KEYS_SECRET),
    ):
        assert outputs[output]["Value"] == {"Ref": secret}
        assert outputs[output]["Condition"] == SECRETS[secret]
    # the CDN's, where it exists (test_cdn_template.py)
    assert {outputs[name]["Condition"] for name in ("CdnUrl", "CdnDistributionId")} == {"UseCdn"}
    assert len(outputs) == 7 + len(QUEUES)


def test_strict_presets_is_off_by_default_and_only_holds_with_signed_urls(
    sam: dict[str, Any],
) -> None:
    """StrictPresets relaxes signed URLs: without them it would mean nothing, so the stack
    refuses the pair at deployment, and the functions are told only when both hold."""
    params = sam["Parameters"]
    assert params["StrictPresets"]["Default"] == "Disabled"
    assert params["StrictPresets"]["AllowedValues"] == ["Disabled", "Enabled"]
    rule = sam["Rules"]["StrictPresetsNeedsSignedUrls"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "StrictPresets"}, "Enabled"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "SignedUrls"}, "Required"]}
    for signed_urls in ("Off", "Required"):
        for strict in ("Disabled", "Enabled"):
            chosen = {"SignedUrls": signed_urls, "StrictPresets": strict}
            holds = _holds(sam, "PresetsOnly", _parameter_values(sam, chosen))
            assert holds == (signed_urls == "Required" and strict == "Enabled"), chosen
    groups = sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert any("StrictPresets" in group["Parameters"] for group in groups)


def test_every_parameter_has_a_default(sam: dict[str, Any]) -> None:
    missing = [name for name, p in sam.get("Parameters", {}).items() if "Default" not in p]
    assert not missing


def test_samconfig() -> None:
    config = tomllib.loads(SAMCONFIG.read_text())
    assert config["version"] == 0.1
    default = config["default"]
    # build_in_source: functions/Makefile runs where the repository's Python 3.13 is found
    assert default["build"]["parameters"] == {
        "cached": True,
        "parallel": True,
        "build_in_source": True,
    }
    deploy = default["deploy"]["parameters"]
    assert deploy["stack_name"] == "progimage"
    # AUTO_EXPAND: the template has transforms (LanguageExtensions, then SAM)
    assert deploy["capabilities"].split() == ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert default["validate"]["parameters"]["lint"] is True
    # `sam validate` and `sam local` expand AWS::LanguageExtensions (Fn::If in the API's Auth)
    # locally; `sam build` must not, or it would bake the default AuthMode into the build
    assert default["validate"]["parameters"]["language_extensions"] is True
    assert "language_extensions" not in default["build"]["parameters"]
    for command in ("local_invoke", "local_start_api", "local_start_lambda"):
        assert default[command]["parameters"]["skip_pull_image"] is True
        assert default[command]["parameters"]["language_extensions"] is True


# ------------------------------------------------------------------ authentication


def _route_security(cfn: dict[str, Any]) -> dict[tuple[str, str], Any]:
    (api,) = _resources_of(cfn, "AWS::ApiGatewayV2::Api").values()
    return {
        (method.upper(), path): op.get("security", [])
        for path, methods in api["Properties"]["Body"]["paths"].items()
        for method, op in methods.items()
    }


def _authorization(security: list[dict[str, Any]], schemes: dict[str, Any]) -> tuple[str, Any]:
    """A route's (AuthorizationType, authorizer) as API Gateway imports its OpenAPI security:
    no requirement (or SAM's NONE) is open, an awsSigv4 scheme is AWS_IAM, an
    x-amazon-apigateway-authorizer scheme is CUSTOM with that authorizer."""
    names = [name for requirement in security for name in requirement]
    if names in ([], ["NONE"]):
        return "NONE", None
    (name,) = names
    scheme = schemes[name]
    if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
        return "AWS_IAM", None
    return "CUSTOM", name


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_every_route_but_the_image_bytes_needs_credentials(
    translations: dict[tuple[str, str], dict[str, Any]], mode: str, signed_urls: str
) -> None:
    cfn = translations[mode, signed_urls]
    (api,) = _resources_of(cfn, "AWS::ApiGatewayV2::Api").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]
    found = {
        route: _authorization(security, schemes) for route, security in _route_security(cfn).items()
    }
    guarded = ("CUSTOM", "ApiKeyAuthorizer") if mode == "ApiKey" else ("AWS_IAM", None)
    assert found == {
        route: guarded if route in GUARDED_ROUTES else ("NONE", None) for route in EXPECTED_ROUTES
    }
    assert {
        ("POST", "/images"),
        ("POST", "/uploads"),
        # listing and info name the caller's tenant
        ("GET", "/images"),
        ("HEAD", "/images"),
        ("GET", "/images/{id}/info"),
        ("HEAD", "/images/{id}/info"),
        ("DELETE", "/images/{id}"),
        ("PATCH", "/images/{id}"),
        ("POST", "/transform"),
        ("POST", "/batch"),
        ("POST", "/jobs"),
        ("GET", "/jobs/{job_id}"),
        ("HEAD", "/jobs/{job_id}"),
        # presets are the caller's tenant's
        ("GET", "/presets"),
        ("HEAD", "/presets"),
        ("GET", "/presets/{name}"),
        ("HEAD", "/presets/{name}"),
        ("PUT", "/presets/{name}"),
        ("DELETE", "/presets/{name}"),
    } == GUARDED_ROUTES
    # IAM mode has no Lambda authorizer anywhere, ApiKey mode exactly the one
    authorizers = {
        name for name, scheme in schemes.items() if "x-amazon-apigateway-authorizer" in scheme
    }
    assert authorizers == ({"ApiKeyAuthorizer"} if mode == "ApiKey" else set())


def test_each_function_checks_what_the_api_leaves_open(sam: dict[str, Any]) -> None:
    """The route tables declare what API Gateway enforces: an open route (the image bytes) is
    a signed one, checked by the function; every guarded route needs credentials there too."""
    from progimage_service.api import Needs

    def table(handler: str) -> dict[str, Any]:
        return importlib.import_module(handler.rsplit(".", 1)[0]).ROUTES

    declared = {}
    for (method, path), (_, handler) in EXPECTED_ROUTES.items():
        key = f"{'GET' if method == 'HEAD' else method} {path}"  # the GET entry serves HEAD
        assert key in table(handler), f"{handler} has no route for {method} {path}"
        declared[method, path] = table(handler)[key].needs
    assert declared == {
        route: Needs.CREDENTIALS if route in GUARDED_ROUTES else Needs.SIGNATURE
        for route in EXPECTED_ROUTES
    }
    for handler in {h for _, h in EXPECTED_ROUTES.values()}:  # and no route the API lacks
        sent = {f"{m} {p}" for (m, p), (_, h) in EXPECTED_ROUTES.items() if h == handler}
        assert set(table(handler)) == sent - {k for k in sent if k.startswith("HEAD ")}, handler


def test_the_lambda_authorizer(cfn: dict[str, Any]) -> None:
    (api,) = _resources_of(cfn, "AWS::ApiGatewayV2::Api").values()
    scheme = api["Properties"]["Body"]["components"]["securitySchemes"]["ApiKeyAuthorizer"]
    authorizer = dict(scheme["x-amazon-apigateway-authorizer"])
    uri = authorizer.pop("authorizerUri")
    assert AUTHORIZER in _references(uri)
    assert authorizer == {
        "type": "request",
        "authorizerPayloadFormatVersion": "2.0",
        "enableSimpleResponses": True,
        # a request without it is a 401 from API Gateway, without calling the function
        "identitySource": ["$request.header.Authorization"],
        "authorizerResultTtlInSeconds": 300,
    }
    function = cfn["Resources"][AUTHORIZER]
    assert function["Condition"] == "UseApiKeyAuth"
    assert function["Properties"]["Handler"] == "auth.app.handler"
    assert function["Properties"]["Environment"]["Variables"]["PROGIMAGE_API_KEYS_SECRET"] == {
        "Ref": API_KEYS_SECRET
    }
    assert cfn["Resources"][f"{AUTHORIZER}Role"]["Condition"] == "UseApiKeyAuth"


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_api_key_hashes_live_in_a_secret(
    sam: dict[str, Any],
    translations: dict[tuple[str, str], dict[str, Any]],
    mode: str,
    signed_urls: str,
) -> None:
    cfn = translations[mode, signed_urls]
    secret = cfn["Resources"][API_KEYS_SECRET]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "UseApiKeyAuth"
    props = secret["Properties"]
    # set from the NoEcho parameter; encrypted with the AWS managed key (see its waiver)
    assert set(props) == {"Description", "SecretString"}
    assert props["SecretString"] == {"Ref": "ApiKeyHashes"}
    assert "TENANT:SHA256HEX" in props["Description"]
    # no SSM parameter holds keys any more (the one there names the CDN's distribution)
    assert set(_resources_of(cfn, "AWS::SSM::Parameter")) == {"CdnParameter"}
    hashes = sam["Parameters"]["ApiKeyHashes"]
    assert hashes["Type"] == "String"
    assert hashes["NoEcho"] is True
    pattern = re.compile(hashes["AllowedPattern"])
    digest, other = "ab" * 32, "cd" * 32
    assert hashes["Default"] == "none" and pattern.fullmatch("none")
    for good in (
        digest,  # a bare digest belongs to "default"
        f"acme:{digest}",
        f"acme:{digest},acme:{other}",  # two keys of one tenant, to rotate
        f"acme:{digest},globex-2:{other}",
        f"{'a' * 32}:{digest}",
        f"{digest},acme:{other}",
    ):
        assert pattern.fullmatch(good), good
    for bad in (
        "",
        "secret-key",
        digest.upper(),
        digest[:-1],
        f"{digest},",
        f"{digest} ",
        f"none,{digest}",
        f"Acme:{digest}",  # tenants are lower case
        f"-acme:{digest}",
        f"{'a' * 33}:{digest}",
        f":{digest}",
        f"acme {digest}",
        f"acme:{digest}:x",
        f"acme_1:{digest}",
    ):
        assert not pattern.fullmatch(bad), bad
    mode_parameter = sam["Parameters"]["AuthMode"]
    assert (mode_parameter["Default"], mode_parameter["AllowedValues"]) == (
        "ApiKey",
        ["ApiKey", "IAM"],
    )
    assert sam["Conditions"]["UseApiKeyAuth"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "ApiKey"]}


@pytest.mark.parametrize(("mode", "signed_urls"), VARIANTS)
def test_signing_keys_are_a_generated_secret(
    sam: dict[str, Any],
    translations: dict[tuple[str, str], dict[str, Any]],
    mode: str,
    signed_urls: str,
) -> None:
    """Made at deploy (nobody types them, no parameter carries them), only under SignUrls."""
    cfn = translations[mode, signed_urls]
    secret = cfn["Resources"][SIGNING_KEYS_SECRET]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "SignUrls"
    props = secret["Properties"]
    assert set(props) == {"Description", "GenerateSecretString"}
    assert props["GenerateSecretString"] == {"PasswordLength": 64, "ExcludePunctuation": True}
    # ... beside the CDN's origin-verify value (test_cdn_template.py)
    assert set(_resources_of(cfn, "AWS::SecretsManager::Secret")) == {
        *SECRETS,
        "CdnOriginVerifySecret",
    }
    # the parameter that chooses it; the old parameter that carried keys is gone
    parameters = sam["Parameters"]
    assert "SigningKeys" not in parameters
    signed = parameters["SignedUrls"]
    assert signed["Type"] == "String"
    assert (signed["Default"], signed["AllowedValues"]) == ("Off", ["Off", "Required"])
    assert "NoEcho" not in signed
    assert sam["Conditions"]["SignUrls"] == {"Fn::Equals": [{"Ref": "SignedUrls"}, "Required"]}
    assert {"UseApiKeyAuth", "SignUrls"} <= set(sam["Conditions"])


def test_iam_tenants_map_callers_to_tenants(sam: dict[str, Any]) -> None:
    tenants = sam["Parameters"]["IamTenants"]
    assert tenants["Type"] == "String"
    assert tenants["Default"] == ""
    pattern = re.compile(tenants["AllowedPattern"])
    role = "arn:aws:iam::123456789012:role/app"
    user = "arn:aws:iam::123456789012:user/ci"
    for good in ("", f"{role}=acme", f"{role}=acme,{user}=globex-2", f"{role}={'a' * 32}"):
        assert pattern.fullmatch(good), good
    for bad in (
        "acme",
        f"{role}=",
        "=acme",
        f"{role}=Acme",
        f"{role}=-acme",
        f"{role}={'a' * 33}",
        f"{role}=acme,",
        f"{role}=acme={user}",
        f"{role}=acme;{user}=globex",
    ):
        assert not pattern.fullmatch(bad), bad


def test_the_sam_template_chooses_the_authorizer_with_language_extensions(
    sam: dict[str, Any],
) -> None:
    """The one Fn::If SAM cannot take is in the API's Auth; open routes say NONE."""
    auth = sam["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == {"Fn::If": ["UseApiKeyAuth", "ApiKeyAuthorizer", "AWS_IAM"]}
    name, authorizers, no_value = auth["Authorizers"]["Fn::If"]
    assert (name, no_value) == ("UseApiKeyAuth", {"Ref": "AWS::NoValue"})
    assert authorizers["ApiKeyAuthorizer"]["FunctionArn"] == {"Fn::GetAtt": [AUTHORIZER, "Arn"]}
    assert authorizers["ApiKeyAuthorizer"]["EnableFunctionDefaultPermissions"] is True


# ------------------------------------------------------------------ checkov


def _checkov() -> list[str]:
    """The checkov command: $CHECKOV, the project's .venv-checkov, or checkov on PATH.

    checkov pins old boto3 and packaging releases, so it lives in a virtual environment of its
    own (tests/infra/requirements.txt says how to make it).
    """
    if os.environ.get("CHECKOV"):
        return [os.environ["CHECKOV"]]
    local = ROOT / ".venv-checkov" / "bin" / "checkov"
    if local.is_file():
        return [str(local)]
    found = shutil.which("checkov")
    if found:
        return [found]
    if os.environ.get("PROGIMAGE_SKIP_CHECKOV") == "1":
        pytest.skip("checkov is not installed (PROGIMAGE_SKIP_CHECKOV=1)")
    pytest.fail(
        "checkov is not installed: make checkov-venv (.venv-checkov, from "
        "tests/infra/requirements.lock; or set CHECKOV to its path; PROGIMAGE_SKIP_CHECKOV=1 "
        "skips this test)"
    )


# checkov errors on these checks instead of judging them (known checkov bugs); anything else
# it cannot run is a failure of this test. None at present.
CHECKOV_CRASHES: set[tuple[str, str]] = set()

# Waivers of checks that checkov has for other frameworks only (CKV2_AWS_57, automatic secret
# rotation, is a Terraform graph check): a CloudFormation scan may leave them unreported.
NOT_CLOUDFORMATION_CHECKS = {"CKV2_AWS_57"}


def _run_checkov(target: Path) -> dict[str, tuple[list[str], set[tuple[str, str]]]]:
    """checkov on a file or directory: file name -> (failed checks, skipped checks as
    (check id, resource logical id))."""
    command = [
        *_checkov(),
        *(("-d",) if target.is_dir() else ("-f",)),
        str(target),
        # not --quiet: passed checks are listed too, showing that every file was scanned
        *("--framework", "cloudformation", "--compact", "-o", "json"),
        "--skip-download",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, env=env)
    assert run.stdout.strip(), f"checkov printed nothing (exit {run.returncode}):\n{run.stderr}"
    crashed = set(re.findall(r"Failed to run check (\S+) on \S+?:(\S+)", run.stderr))
    assert crashed <= CHECKOV_CRASHES, run.stderr[-4000:]
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    results: dict[str, tuple[list[str], set[tuple[str, str]]]] = {}
    for report in reports:
        assert report.get("check_type") == "cloudformation", report
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in report["results"][kind]:
                name = Path(check["file_path"]).name
                failures, skipped = results.setdefault(name, ([], set()))
                if kind == "failed_checks":
                    failures.append(
                        f"{check['check_id']} {check['resource']}: {check['check_name']}"
                    )
                if kind == "skipped_checks":
                    # resource: "<type>.<logical id>"
                    skipped.add((check["check_id"], check["resource"].rsplit(".", 1)[1]))
    return results


def _waivers(template: dict[str, Any]) -> dict[str, set[str]]:
    waived = {}
    for name, res in template["Resources"].items():
        skips = res.get("Metadata", {}).get("checkov", {}).get("skip", [])
        for skip in skips:
            # every waiver says why, next to the resource
            assert set(skip) == {"id", "comment"}, (name, skip)
            assert len(skip["comment"].split()) >= 8, (name, skip)
        if skips:
            waived[name] = {skip["id"] for skip in skips}
    return waived


def _expected_skips(template: dict[str, Any]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The waivers checkov must report as skipped in this template, and those it may: checkov
    scans a resource only if its Condition holds with the parameters' defaults (so neither the
    authorizer in IAM mode nor the signing secret without SignUrls), and may leave out checks
    it does not run on CloudFormation."""
    defaults = _parameter_values(template, {})
    active = {
        (check, name)
        for name, ids in _waivers(template).items()
        if "Condition" not in template["Resources"][name]
        or _holds(template, template["Resources"][name]["Condition"], defaults)
        for check in ids
    }
    optional = {(check, name) for check, name in active if check in NOT_CLOUDFORMATION_CHECKS}
    return active - optional, optional


def test_checkov_passes(
    sam: dict[str, Any], translations: dict[tuple[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """The SAM template (as written, and with SignedUrls=Required so that the signing secret is
    scanned) and its translation with each AuthMode and SignedUrls, in one checkov run."""
    shutil.copy(TEMPLATE, tmp_path / "template.yaml")
    signed = copy.deepcopy(sam)
    signed["Parameters"]["SignedUrls"]["Default"] = "Required"
    # file -> (template, AuthMode, SignedUrls)
    scanned = {
        "template.yaml": (sam, *DEFAULTS),
        "template-signed-urls.json": (signed, DEFAULTS[0], "Required"),
        **{
            f"translated-{mode}-{signed_urls}.json": (translated, mode, signed_urls)
            for (mode, signed_urls), translated in translations.items()
        },
    }
    for name, (template, _, _) in scanned.items():
        if name != "template.yaml":
            (tmp_path / name).write_text(json.dumps(template, indent=1))
    results = _run_checkov(tmp_path)
    assert set(results) == set(scanned)
    for name, (failures, _) in sorted(results.items()):
        assert not failures, f"{name}:\n" + "\n".join(failures)
    # what is skipped is exactly what the template waives, with reasons, on what is scanned
    waived = _waivers(sam)
    assert set(waived) == {
        *ALL_FUNCTIONS,
        *QUEUES,
        *SECRETS,
        "ImagesBucket",
        "ImagesTable",
        "ApiAccessLogs",
        *(f"{function}Logs" for function in ALL_FUNCTIONS),
        "CdnOriginVerifySecret",
        "CdnDistribution",
    }
    for secret in SECRETS:
        assert waived[secret] == {"CKV_AWS_149", "CKV2_AWS_57"}, secret
    for name, (template, mode, signed_urls) in scanned.items():
        # SAM carries each function's waivers over to the Lambda function it generates
        assert _waivers(template) == waived, name
        required, optional = _expected_skips(template)
        skipped = results[name][1]
        assert required <= skipped <= required | optional, name
        # the conditional resources are scanned exactly where their condition holds: the
        # authorizer and its secret in ApiKey mode, the signing secret with SignedUrls=Required
        resources = {resource for _, resource in skipped}
        assert (AUTHORIZER in resources) == (mode == "ApiKey"), name
        assert (API_KEYS_SECRET in resources) == (mode == "ApiKey"), name
        assert (SIGNING_KEYS_SECRET in resources) == (signed_urls == "Required"), name


def test_checkov_would_catch_a_problem(cfn: dict[str, Any], tmp_path: Path) -> None:
    """Guard the guard: a queue without encryption and without its waiver fails."""
    broken = copy.deepcopy(cfn)
    queue = broken["Resources"]["JobsQueue"]
    del queue["Metadata"]
    del queue["Properties"]["SqsManagedSseEnabled"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    failures, _ = _run_checkov(path)["broken.json"]
    assert [f for f in failures if f.startswith("CKV_AWS_27 AWS::SQS::Queue.JobsQueue")]


def test_image_functions_default_memory_works_on_the_contracts_largest_image(
    sam: dict[str, Any],
) -> None:
    """At the default ImageMemorySize a render may convert the contract's largest image (100 MP)
    to every format, AVIF's encoder included; the smallest allowed still converts a 24 MP photo
    to WebP."""
    from progimage_service.config import _work_memory
    from progimage_service.imaging import cost
    from progimage_service.imaging.formats import FORMATS
    from progimage_service.imaging.limits import Limits
    from progimage_service.imaging.pipeline import Pipeline
    from progimage_service.imaging.plan import Source, plan

    parameter = sam["Parameters"]["ImageMemorySize"]

    def peak(megapixels: int, output: str) -> int:
        width = round((megapixels * 1e6 * 1.5) ** 0.5)
        source = Source(width, round(width / 1.5), FORMATS["jpeg"])
        return cost.estimate(plan(Pipeline(format=FORMATS[output]), source), source).peak_bytes

    largest = max(peak(100, name) for name in FORMATS)
    assert largest <= _work_memory(parameter["Default"], Limits().max_memory)
    assert peak(24, "webp") <= _work_memory(parameter["MinValue"], Limits().max_memory)

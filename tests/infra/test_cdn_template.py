"""Cdn (on by default): a CloudFront distribution in front of the HTTP API, checked on the
template as test_template.py translates it (offline, linted, scanned), with the CDN on, off and
with CdnOnly; and its two CloudFront Functions, read from the template and run with node.

The cached behaviour (/images/*) keys on the path, sig/exp/tenant, a normalised Accept and
Authorization (so that an answer to credentials is never another caller's: CloudFront passes
Authorization to the origin only as part of the key); ?download= is neither in the key nor
sent to the origin, and the viewer-response function answers it per viewer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_template import (
    ALL_FUNCTIONS,
    EXPECTED_PERMISSIONS,
    _fmt,
    _granted,
    _holds,
    _is_chosen_reference,
    _is_resolved_condition,
    _lint,
    _load_sam,
    _parameter_values,
    _run_checkov,
    _translate,
)

from progimage_service.imaging.negotiate import CANDIDATES, normalised
from progimage_service.services.delivery import attachment

CORS = "https://app.example.com"
STACKS = {
    "on": {},  # the defaults
    "off": {"Cdn": "Disabled"},
    "only": {"CdnOnly": "true", "CdnOriginShieldRegion": "eu-west-1", "CorsAllowedOrigins": CORS},
}
CDN_RESOURCES = {
    "CdnViewerRequestFunction": "AWS::CloudFront::Function",
    "CdnViewerResponseFunction": "AWS::CloudFront::Function",
    "CdnImagesCachePolicy": "AWS::CloudFront::CachePolicy",
    "CdnImagesOriginRequestPolicy": "AWS::CloudFront::OriginRequestPolicy",
    "CdnOriginVerifySecret": "AWS::SecretsManager::Secret",
    "CdnDistribution": "AWS::CloudFront::Distribution",
    "CdnParameter": "AWS::SSM::Parameter",
    "CdnInvalidationPolicy": "AWS::IAM::Policy",
}
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
PARAMETER_NAME = {"Fn::Sub": "/progimage/${AWS::StackName}/cdn"}
# the functions that serve image bytes (and make links to them) read the parameter; with
# CdnOnly they also read the origin-verify value
IMAGE_FUNCTIONS = ("GetFunction", "TransformFunction")
READ_PARAMETER = ("ssm:GetParameter", "parameter:cdn")
READ_VERIFY = ("secretsmanager:GetSecretValue", "secret:CdnOriginVerifySecret")
QUEUE_INVALIDATIONS = ("sqs:SendMessage", "queue:EdgeQueue")  # a delete's CDN paths


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return _load_sam()


@pytest.fixture(scope="module")
def stacks(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: _translate(sam, **params) for name, params in STACKS.items()}


def _created(cfn: dict[str, Any], logical_id: str) -> bool:
    resource = cfn["Resources"][logical_id]
    return "Condition" not in resource or _holds(
        cfn, resource["Condition"], _parameter_values(cfn, {})
    )


def _config(cfn: dict[str, Any]) -> dict[str, Any]:
    return cfn["Resources"]["CdnDistribution"]["Properties"]["DistributionConfig"]


def _images_behaviour(cfn: dict[str, Any]) -> dict[str, Any]:
    (behaviour,) = _config(cfn)["CacheBehaviors"]
    return behaviour


# --------------------------------------------------------------------------- parameters


def test_the_cdn_is_on_by_default_and_cdn_only_needs_it(sam: dict[str, Any]) -> None:
    params = sam["Parameters"]
    assert (params["Cdn"]["Default"], params["Cdn"]["AllowedValues"]) == (
        "Enabled",
        ["Enabled", "Disabled"],
    )
    assert params["CdnOnly"]["Default"] == "false"
    assert params["CdnOriginShieldRegion"]["Default"] == ""
    pattern = re.compile(params["CdnOriginShieldRegion"]["AllowedPattern"])
    for good in ("", "eu-west-1", "us-east-2", "ap-southeast-1"):
        assert pattern.fullmatch(good), good
    for bad in ("eu-west", "EU-WEST-1", "eu-west-1 ", "use1-az4"):
        assert not pattern.fullmatch(bad), bad
    assert params["CdnPriceClass"]["Default"] == "PriceClass_All"
    rule = sam["Rules"]["CdnOnlyNeedsCdn"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "CdnOnly"}, "true"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "Cdn"}, "Enabled"]}


@pytest.mark.parametrize("name", STACKS)
def test_cdn_resources_exist_exactly_with_the_cdn(
    stacks: dict[str, dict[str, Any]], name: str
) -> None:
    cfn = stacks[name]
    for logical_id, type_ in CDN_RESOURCES.items():
        assert cfn["Resources"][logical_id]["Type"] == type_
        assert _created(cfn, logical_id) == (name != "off"), logical_id
    outputs = cfn["Outputs"]
    assert outputs["CdnUrl"]["Value"] == {"Fn::Sub": "https://${CdnDistribution.DomainName}"}
    assert outputs["CdnDistributionId"]["Value"] == {"Ref": "CdnDistribution"}
    for output in ("CdnUrl", "CdnDistributionId"):
        assert _holds(cfn, outputs[output]["Condition"], _parameter_values(cfn, {})) == (
            name != "off"
        )


# --------------------------------------------------------------------------- distribution


@pytest.mark.parametrize("name", ["on", "only"])
def test_the_distribution_fronts_the_api_with_the_secret_header(
    stacks: dict[str, dict[str, Any]], name: str
) -> None:
    config = _config(stacks[name])
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {
        "Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["OriginCustomHeaders"] == [
        {
            "HeaderName": "X-Origin-Verify",
            "HeaderValue": {
                "Fn::Sub": "{{resolve:secretsmanager:${CdnOriginVerifySecret}:SecretString}}"
            },
        }
    ]
    if name == "only":
        assert origin["OriginShield"] == {
            "Enabled": True,
            "OriginShieldRegion": {"Ref": "CdnOriginShieldRegion"},
        }
    else:
        assert "OriginShield" not in origin
    assert config["PriceClass"] == {"Ref": "CdnPriceClass"}
    secret = stacks[name]["Resources"]["CdnOriginVerifySecret"]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32


def test_the_api_passes_through_uncached_without_host(stacks: dict[str, dict[str, Any]]) -> None:
    default = _config(stacks["on"])["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "api"
    assert default["AllowedMethods"] == ALL_METHODS
    assert default["CachePolicyId"] == CACHING_DISABLED
    # every viewer header (Authorization, Idempotency-Key, Content-Type, conditionals, CORS),
    # cookie and query string, but Host: API Gateway answers only its own
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert default["ViewerProtocolPolicy"] == "https-only"
    assert "FunctionAssociations" not in default


@pytest.mark.parametrize("name", ["on", "only"])
def test_image_bytes_are_cached_on_path_signature_accept_and_credentials(
    stacks: dict[str, dict[str, Any]], name: str
) -> None:
    cfn = stacks[name]
    behaviour = _images_behaviour(cfn)
    assert behaviour["PathPattern"] == "/images/*"  # not /images, the listing: uncached
    assert behaviour["AllowedMethods"] == ALL_METHODS  # DELETE /images/{id} passes
    assert behaviour["CachedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == {"Ref": "CdnImagesCachePolicy"}
    assert behaviour["OriginRequestPolicyId"] == {"Ref": "CdnImagesOriginRequestPolicy"}
    assert behaviour["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["CdnViewerRequestFunction", "FunctionARN"]},
        },
        {
            "EventType": "viewer-response",
            "FunctionARN": {"Fn::GetAtt": ["CdnViewerResponseFunction", "FunctionARN"]},
        },
    ]
    policy = cfn["Resources"]["CdnImagesCachePolicy"]["Properties"]["CachePolicyConfig"]
    # MinTTL 0: no-store (307s), JSON without Cache-Control and errors are not kept
    assert (policy["MinTTL"], policy["DefaultTTL"], policy["MaxTTL"]) == (0, 0, 31536000)
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist",
        "QueryStrings": ["sig", "exp", "tenant"],
    }
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    headers = key["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    # with CORS, Origin too: each origin gets its own Access-Control-Allow-Origin
    cors = ["Origin"] if name == "only" else []
    assert headers["Headers"] == ["Accept", "Authorization", *cors]
    assert "download" not in json.dumps(policy)


def test_the_origin_gets_no_host_and_no_download(stacks: dict[str, dict[str, Any]]) -> None:
    policy = stacks["on"]["Resources"]["CdnImagesOriginRequestPolicy"]["Properties"][
        "OriginRequestPolicyConfig"
    ]
    # nothing beyond the cache key's query strings: ?download= never reaches the origin, so a
    # cached answer never carries one caller's Content-Disposition
    assert policy["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert policy["CookiesConfig"] == {"CookieBehavior": "none"}
    headers = policy["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    names = {h.lower() for h in headers["Headers"]}
    assert "host" not in names and "authorization" not in names  # CloudFront refuses the latter
    assert names == {"access-control-request-method", "access-control-request-headers"}
    assert "download" not in json.dumps(policy)


def test_errors_are_kept_briefly_if_at_all(stacks: dict[str, dict[str, Any]]) -> None:
    kept = {
        e["ErrorCode"]: e["ErrorCachingMinTTL"]
        for e in _config(stacks["on"])["CustomErrorResponses"]
    }
    assert {code: ttl for code, ttl in kept.items() if code >= 500} == dict.fromkeys(
        (500, 501, 502, 503, 504), 1
    )
    assert {code: ttl for code, ttl in kept.items() if code < 500} == dict.fromkeys(
        (400, 403, 404, 405, 414, 416), 0
    )
    for error in _config(stacks["on"])["CustomErrorResponses"]:
        assert set(error) == {"ErrorCode", "ErrorCachingMinTTL"}  # the origin's body, as is


def test_the_functions_run_on_cloudfront_js_2(stacks: dict[str, dict[str, Any]]) -> None:
    for logical_id in ("CdnViewerRequestFunction", "CdnViewerResponseFunction"):
        props = stacks["on"]["Resources"][logical_id]["Properties"]
        assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
        assert props["AutoPublish"] is True
        assert "require(" not in props["FunctionCode"]  # no modules needed


# --------------------------------------------------------------------------- IAM, environment


@pytest.mark.parametrize("name", STACKS)
def test_only_the_job_worker_may_invalidate_and_only_its_distribution(
    stacks: dict[str, dict[str, Any]], name: str
) -> None:
    cfn = stacks[name]
    policy = cfn["Resources"]["CdnInvalidationPolicy"]["Properties"]
    # DELETE /images/{id} queues the paths; the worker invalidates them in batches (edge.py)
    assert policy["Roles"] == [{"Ref": "JobWorkerFunctionRole"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "InvalidateDeletedImages",
        "Effect": "Allow",
        "Action": "cloudfront:CreateInvalidation",
        "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/"
            "${CdnDistribution}"
        },
    }
    others = [
        res
        for res in cfn["Resources"].values()
        if "cloudfront:" in json.dumps(res.get("Properties", {}).get("Policies", []))
    ]
    assert others == []  # no role grants CloudFront actions itself


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_function_permissions_with_the_cdn(
    stacks: dict[str, dict[str, Any]], name: str, function: str
) -> None:
    extra = set()
    if name != "off" and function in IMAGE_FUNCTIONS:
        extra.add(READ_PARAMETER)
    if name == "only" and function in IMAGE_FUNCTIONS:
        extra.add(READ_VERIFY)
    if name != "off" and function == "GetFunction":
        extra.add(QUEUE_INVALIDATIONS)
    assert _granted(stacks[name], function) == EXPECTED_PERMISSIONS[function] | extra


@pytest.mark.parametrize("name", STACKS)
def test_the_functions_are_told_where_the_cdn_is_never_its_secret(
    stacks: dict[str, dict[str, Any]], name: str
) -> None:
    cfn = stacks[name]
    for function in ALL_FUNCTIONS:
        env = cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert env["PROGIMAGE_CDN_PARAMETER"] == ("" if name == "off" else PARAMETER_NAME)
        verify = {"Ref": "CdnOriginVerifySecret"} if name == "only" else ""
        assert env["PROGIMAGE_ORIGIN_VERIFY_SECRET"] == verify  # its ARN, not its value
        assert "{{resolve:" not in json.dumps(env)
    parameter = cfn["Resources"]["CdnParameter"]["Properties"]
    assert parameter["Name"] == PARAMETER_NAME
    assert json.loads(
        parameter["Value"]["Fn::Sub"]
        .replace("${CdnDistribution}", "E1")
        .replace("${CdnDistribution.DomainName}", "d1.cloudfront.net")
    ) == {"distribution_id": "E1", "url": "https://d1.cloudfront.net"}


# --------------------------------------------------------------------------- lint, checkov


def _is_cdn_reference(match: Any) -> bool:
    """W1001 on a CDN resource named where LanguageExtensions chose the branch in which its
    condition holds (as test_template.py's _is_chosen_reference explains)."""
    return match.rule.id == "W1001" and any(
        f"resource '{name}'" in match.message for name in CDN_RESOURCES
    )


@pytest.mark.parametrize("name", STACKS)
def test_cdn_stacks_lint_clean(stacks: dict[str, dict[str, Any]], name: str) -> None:
    problems = [
        m
        for m in _lint(stacks[name])
        if m.rule.id[0] in "EW"
        and not _is_cdn_reference(m)
        and not _is_resolved_condition(m)
        and not _is_chosen_reference(m, "ApiKey", "Off")
    ]
    assert not problems, _fmt(problems)


def test_cdn_stacks_pass_checkov(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    for name in ("on", "only"):
        (tmp_path / f"cdn-{name}.json").write_text(json.dumps(stacks[name], indent=1))
    results = _run_checkov(tmp_path)
    assert set(results) == {"cdn-on.json", "cdn-only.json"}
    for name, (failures, skipped) in results.items():
        assert not failures, f"{name}:\n" + "\n".join(failures)
        assert {resource for _, resource in skipped} >= {"CdnDistribution"}, name


# --------------------------------------------------------------------------- the functions' code

NODE = shutil.which("node")
HARNESS = r"""
const readline = require('readline');
const code = JSON.parse(process.argv[1]);
const request = new Function(code.request + '\nreturn {handler, normaliseAccept};')();
const response = new Function(code.response + '\nreturn {handler, contentDisposition};')();
const calls = {
  accept: (a) => request.normaliseAccept(a),
  request: (e) => request.handler(e),
  disposition: (a) => response.contentDisposition(a),
  response: (e) => response.handler(e),
};
readline.createInterface({input: process.stdin}).on('line', (line) => {
  const {fn, arg} = JSON.parse(line);
  let out;
  try { out = {value: calls[fn](arg)}; } catch (e) { out = {error: String(e)}; }
  process.stdout.write(JSON.stringify(out) + '\n');
});
"""


class Node:
    """The two functions' code, as the template holds it, in one node process."""

    def __init__(self, request: str, response: str) -> None:
        assert NODE is not None
        self.process = subprocess.Popen(
            [NODE, "-e", HARNESS, json.dumps({"request": request, "response": response})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def __call__(self, fn: str, arg: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"fn": fn, "arg": arg}) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer["error"]  # a throw is a 5xx at the edge
        return answer.get("value")


@pytest.fixture(scope="module")
def node(sam: dict[str, Any]) -> Iterator[Node]:
    if NODE is None:
        pytest.skip("node is not installed: the CloudFront Functions' code is not run")
    resources = sam["Resources"]
    running = Node(
        resources["CdnViewerRequestFunction"]["Properties"]["FunctionCode"],
        resources["CdnViewerResponseFunction"]["Properties"]["FunctionCode"],
    )
    yield running
    running.process.terminate()
    running.process.wait()


FORMATS = tuple(f"image/{name}" for name in CANDIDATES)
# The origin's own rule is the reference: the viewer-request function must agree with it, or the
# CDN would key one answer on a header the origin reads otherwise.
reference_accept = normalised


ACCEPT_CASES = {
    "": "",
    "*/*": "",
    "image/*": "",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8": "image/avif,image/webp",
    "image/webp,*/*": "image/webp",
    "IMAGE/WEBP": "image/webp",
    "image/webp;q=0": "",
    "image/webp;q=0.000": "",
    "image/webp;q=0.001": "image/webp",
    "image/webp ; Q=0.5 , image/jxl;q=0": "image/webp",
    "image/jxl;q=1.0, image/avif;q=0.9": "image/avif,image/jxl",
    "image/webp;q=2": "",  # not a qvalue
    "image/webp;q=": "",
    "image/webp;q=0.5;q=0": "image/webp",  # the first q counts
    "image/webp;charset=x": "image/webp",
    "image/webp;q=0,image/webp;q=0.5": "image/webp",
    "text/html,application/xhtml+xml": "",
    "image/webpx,image/avi": "",
    " \timage/avif\t ": "image/avif",
}


def test_accept_cases(node: Node) -> None:
    for header, expected in ACCEPT_CASES.items():
        assert reference_accept(header) == expected, header
        assert node("accept", header) == expected, header


_OWS = st.sampled_from(["", " ", "  ", "\t", " \t"])
_TYPE = st.one_of(
    st.sampled_from(FORMATS).map(
        lambda t: "".join(c.upper() if i % 2 else c for i, c in enumerate(t))
    ),
    st.sampled_from(FORMATS),
    st.sampled_from(["image/*", "*/*", "image/png", "image/jpeg", "text/html", "image/webpx"]),
)
_Q = st.one_of(
    st.sampled_from(["0", "0.0", "0.000", "1", "1.0", "1.000", "0.5", "0.001", "0.9", "1.", "0."]),
    st.sampled_from(["2", "-1", "0.0001", "abc", "", "1.5", ".5", "0,5"]),
    st.decimals(min_value=0, max_value=1, places=3).map(str),
)
_PARAMETER = st.one_of(
    st.builds(lambda n, w1, q: f"{w1}{n}{w1}={q}", st.sampled_from(["q", "Q"]), _OWS, _Q),
    st.sampled_from(["charset=utf-8", "level=1", "q", "foo"]),
)
_ENTRY = st.builds(
    lambda w1, t, ps, w2: f"{w1}{t}" + "".join(f";{p}" for p in ps) + w2,
    _OWS,
    _TYPE,
    st.lists(_PARAMETER, max_size=3),
    _OWS,
)
ACCEPT = st.one_of(
    st.lists(_ENTRY, max_size=8).map(",".join),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)


@settings(max_examples=400, deadline=None)
@given(ACCEPT)
def test_the_viewer_request_function_normalises_accept_as_the_reference(
    node: Node, header: str
) -> None:
    expected = reference_accept(header)
    assert node("accept", header) == expected
    # the handler: the header is replaced (or removed when it names none), nothing else changes
    event = {
        "request": {
            "method": "GET",
            "uri": "/images/x.png",
            "querystring": {"sig": {"value": "s"}},
            "headers": {"accept": {"value": header}, "host": {"value": "h"}},
            "cookies": {},
        }
    }
    request = node("request", event)
    assert request["uri"] == "/images/x.png" and request["querystring"] == {"sig": {"value": "s"}}
    assert request["headers"]["host"] == {"value": "h"}
    assert request["headers"].get("accept") == ({"value": expected} if expected else None)


def test_every_accept_value_a_viewer_sends_counts(node: Node) -> None:
    """A header sent on several lines: CloudFront gives the function each in multiValue."""
    event = {
        "request": {
            "uri": "/images/x",
            "querystring": {},
            "headers": {
                "accept": {
                    "value": "image/webp",
                    "multiValue": [{"value": "image/webp"}, {"value": "image/avif;q=0.5"}],
                }
            },
        }
    }
    assert node("request", event)["headers"]["accept"] == {"value": "image/avif,image/webp"}
    event["request"]["headers"] = {}
    assert "accept" not in node("request", event)["headers"]


DISPOSITION = re.compile(
    r"attachment; filename=\"(?P<plain>[\x20-\x7e]{1,200})\"; "
    r"filename\*=UTF-8''(?P<encoded>[A-Za-z0-9%._~-]+)"
)
FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\"'\\/]")


def _check_disposition(header: str) -> str | None:
    """The name a Content-Disposition value carries, after checking its form; None if none."""
    if header == "":
        return None
    match = DISPOSITION.fullmatch(header)
    assert match, header
    name = unquote(match["encoded"], errors="strict")
    assert not FORBIDDEN.search(name) and not FORBIDDEN.search(match["plain"]), header
    assert name == name.strip() and name
    assert len(name) <= 200  # characters (code points)
    assert len(match["plain"]) == len(name)  # one plain character per character
    for plain, real in zip(match["plain"], name, strict=True):
        assert plain == (real if " " <= real <= "~" else "_")
    return name


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), st.text(max_size=300).map(quote)))
def test_the_download_name_is_sanitised_and_bounded(node: Node, raw: str) -> None:
    name = _check_disposition(node("disposition", raw))
    if name is not None:
        assert len(quote(name, safe="")) <= 200 * 12


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=100,
    ).filter(lambda s: not FORBIDDEN.search(s) and s.strip() == s)
)
def test_a_plain_download_name_comes_back_whole(node: Node, name: str) -> None:
    assert _check_disposition(node("disposition", quote(name))) == name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300))
@example("\ufeff a\u3000\u2028")  # trimmed alike: JavaScript's trim() takes the BOM too
@example("x" * 199 + "\u00e9 b")  # cut at 200 characters, then trimmed
def test_the_cdn_writes_the_download_header_the_origin_writes(node: Node, name: str) -> None:
    """Behind the CDN the viewer-response function answers ?download=; without it, the origin:
    one header for one name either way."""
    assert node("disposition", quote(name)) == (attachment(name) or "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.jpg", "attachment; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg"),
        (
            "my%20photo.jpg",
            "attachment; filename=\"my photo.jpg\"; filename*=UTF-8''my%20photo.jpg",
        ),
        (
            "..%2F..%2Fetc%2Fpasswd",
            "attachment; filename=\"....etcpasswd\"; filename*=UTF-8''....etcpasswd",
        ),
        ('a"b\\c%0Ad', "attachment; filename=\"abcd\"; filename*=UTF-8''abcd"),
        ("%E2%82%AC.png", "attachment; filename=\"_.png\"; filename*=UTF-8''%E2%82%AC.png"),
        ("%ZZ", "attachment; filename=\"%ZZ\"; filename*=UTF-8''%25ZZ"),
        ("", ""),
        ("%22%27%2F", ""),
        ("x" * 300, f"attachment; filename=\"{'x' * 200}\"; filename*=UTF-8''{'x' * 200}"),
    ],
)
def test_download_names(node: Node, raw: str, expected: str) -> None:
    assert node("disposition", raw) == expected


def test_the_viewer_response_function_adds_the_header_to_images_only(node: Node) -> None:
    def respond(status: int, query: dict[str, Any]) -> dict[str, Any]:
        event = {
            "request": {"uri": "/images/x.png", "querystring": query, "headers": {}},
            "response": {"statusCode": status, "headers": {"etag": {"value": '"e"'}}},
        }
        return node("response", event)

    answered = respond(200, {"download": {"value": "cat.png"}})
    assert answered["headers"]["content-disposition"] == {
        "value": "attachment; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    }
    assert answered["headers"]["etag"] == {"value": '"e"'}
    assert "content-disposition" not in respond(200, {})["headers"]
    assert "content-disposition" not in respond(404, {"download": {"value": "x"}})["headers"]
    assert "content-disposition" not in respond(200, {"download": {"value": ""}})["headers"]

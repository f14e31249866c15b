"""Route authorization: the template's authorizers, enforced when the server is given API keys.

A small template (package ``lsauth``) has an HttpApi with a default Lambda authorizer (simple
responses, answering the key's tenant in its context), a second one answering IAM policies from
a query-string identity, an AWS_IAM route and open routes; the repository's template is served
with keys too, in both AuthModes. Keys belong to tenants; without keys the callers act as tenant
``default``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localserver import LocalServer
from localserver.auth import (
    CUSTOM,
    IAM,
    JWT,
    OPEN,
    ApiKeyError,
    access_key_id,
    parse_api_keys,
    route_authorizations,
)
from localserver.intrinsics import REGION, Resolver
from localserver.template import Template, TemplateError

from .test_localserver_cli import CliProcess

REPO = Path(__file__).resolve().parents[2]
TENANTS = {"key-one": "alpha", "key-two": "beta", "key-three": "default"}  # key -> its tenant
KEYS = ("alpha:key-one", "beta:key-two", "key-three")  # as the server is given them

AUTH_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]

Parameters:
  Mode:
    Type: String
    Default: Key
    AllowedValues: [Key, IAM]

Conditions:
  UseKey: !Equals [!Ref Mode, Key]

Globals:
  Function:
    Runtime: python3.13
    CodeUri: src/
    Timeout: 10

Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        EnableIamAuthorizer: true
        DefaultAuthorizer: !If [UseKey, KeyAuth, AWS_IAM]
        Authorizers:
          KeyAuth:
            FunctionArn: !GetAtt KeyAuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
          PolicyAuth:
            FunctionArn: !GetAtt PolicyAuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            Identity:
              QueryStrings: [token]
          Jwt:
            JwtConfiguration:
              issuer: https://issuer.example
              audience: [x]
            IdentitySource: $request.header.Authorization

  KeyAuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsauth.app.authorize
  PolicyAuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsauth.app.policy
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: lsauth.app.echo
      Events:
        Write:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: "/things/{id}"}
        Read:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: "/things/{id}", Auth: {Authorizer: NONE}}
        Policy:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: /policy, Auth: {Authorizer: PolicyAuth}}
        Iam:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: /iam, Auth: {Authorizer: AWS_IAM}}
        Token:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: /jwt, Auth: {Authorizer: Jwt}}
        Implicit:  # the implicit API, which has no authorizers
          Type: HttpApi
          Properties: {Method: POST, Path: /implicit}
"""

AUTH_HANDLERS = '''\
"""An authorizer like the real one (TENANT:SHA256HEX entries in PROGIMAGE_API_KEY_HASHES), and
one that answers IAM policies; both record the events they get."""

import hashlib
import json
import os

CALLS = []


def authorize(event, context):
    CALLS.append(event)
    key = event["headers"].get("authorization", "").removeprefix("Bearer ")
    if key == "boom":
        raise RuntimeError("authorizer failed")
    if key == "weird":
        return {"isAuthorized": "yes"}
    digest = hashlib.sha256(key.encode()).hexdigest()
    for entry in os.environ.get("PROGIMAGE_API_KEY_HASHES", "").split(","):
        tenant, _, stored = entry.rpartition(":")
        if stored == digest:
            return {"isAuthorized": True, "context": {"tenant": tenant}}
    return {"isAuthorized": False}


def policy(event, context):
    CALLS.append(event)
    effect = "Allow" if event["queryStringParameters"].get("token") == "let-me-in" else "Deny"
    return {
        "principalId": "someone",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [event["routeArn"]]}
            ],
        },
        "context": {"via": "policy"},
    }


def echo(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(event)}
'''


def write_auth_app(directory: Path) -> Path:
    package = directory / "src" / "lsauth"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(AUTH_HANDLERS))
    template = directory / "template.yaml"
    template.write_text(AUTH_TEMPLATE)
    return template


@pytest.fixture(scope="module")
def auth_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_auth_app(tmp_path_factory.mktemp("localserver-auth"))


@pytest.fixture(scope="module")
def server(auth_template: Path) -> Iterator[LocalServer]:
    with LocalServer(auth_template, port=0, api_keys=KEYS) as running:
        yield running


@pytest.fixture
def app(server: LocalServer) -> ModuleType:
    module = importlib.import_module("lsauth.app")
    module.CALLS.clear()
    return module


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sigv4(url: str, key: str) -> dict[str, str]:
    """Headers that sign an empty POST to ``url`` with the access key that ``key`` is the
    secret of."""
    request = AWSRequest("POST", url, data=b"")
    SigV4Auth(Credentials(access_key_id(key), key), "execute-api", REGION).add_auth(request)
    return dict(request.headers.items())


def test_routes_take_their_authorization_from_the_template(server: LocalServer) -> None:
    kinds = {key: auth.authorization_type for key, auth in server.route_auth.items()}
    assert kinds == {
        "POST /things/{id}": CUSTOM,
        "GET /things/{id}": OPEN,
        "POST /policy": CUSTOM,
        "POST /iam": IAM,
        "POST /jwt": JWT,
        "POST /implicit": OPEN,
    }
    write = server.route_auth["POST /things/{id}"].authorizer
    assert write is not None
    assert (write.name, write.function) == ("KeyAuth", "KeyAuthFunction")
    assert write.identity_sources == ("$request.header.Authorization",)
    assert write.simple_responses is True
    policy = server.route_auth["POST /policy"].authorizer
    assert policy is not None and policy.simple_responses is False
    assert policy.identity_sources == ("$request.querystring.token",)


def test_a_missing_identity_source_is_401_without_calling_the_authorizer(
    server: LocalServer, app: ModuleType
) -> None:
    for headers in ({}, {"Authorization": ""}):
        answer = requests.post(f"{server.url}/things/1", headers=headers, timeout=10)
        assert answer.status_code == 401
        assert answer.json() == {"message": "Unauthorized"}
        assert answer.headers["apigw-requestid"]
    assert app.CALLS == []


def test_a_refused_key_is_403(server: LocalServer, app: ModuleType) -> None:
    for key in ("wrong", "key-onex", "alpha:key-one", hashlib.sha256(b"key-one").hexdigest()):
        answer = requests.post(f"{server.url}/things/1", headers=bearer(key), timeout=10)
        assert answer.status_code == 403
        assert answer.json() == {"message": "Forbidden"}
    assert len(app.CALLS) == 4


@pytest.mark.parametrize(("key", "tenant"), sorted(TENANTS.items()))
def test_a_good_key_runs_the_handler_with_the_authorizers_context(
    server: LocalServer, app: ModuleType, key: str, tenant: str
) -> None:
    answer = requests.post(
        f"{server.url}/things/42?a=1&a=2", headers=bearer(key), data=b"hi", timeout=10
    )
    assert answer.status_code == 200
    event = answer.json()
    assert event["routeKey"] == "POST /things/{id}"
    assert event["body"] == "aGk="
    assert event["requestContext"]["authorizer"] == {"lambda": {"tenant": tenant}}


def test_the_authorizer_event_has_the_http_api_shape(server: LocalServer, app: ModuleType) -> None:
    requests.post(
        f"{server.url}/things/42?a=1&a=2",
        headers={**bearer("key-one"), "Cookie": "c=1", "X-Custom": "yes"},
        timeout=10,
    )
    (event,) = app.CALLS
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == (
        "arn:aws:execute-api:us-east-1:123456789012:local/$default/POST/things/42"
    )
    assert event["identitySource"] == ["Bearer key-one"]
    assert event["routeKey"] == "POST /things/{id}"
    assert event["rawPath"] == "/things/42"
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["cookies"] == ["c=1"]
    assert event["headers"]["authorization"] == "Bearer key-one"
    assert event["headers"]["x-custom"] == "yes"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["pathParameters"] == {"id": "42"}
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["routeKey"] == "POST /things/{id}"
    assert "authorizer" not in context
    assert "body" not in event


def test_open_routes_stay_open(server: LocalServer, app: ModuleType) -> None:
    assert requests.get(f"{server.url}/things/1", timeout=10).status_code == 200
    assert requests.post(f"{server.url}/implicit", timeout=10).status_code == 200
    answer = requests.post(f"{server.url}/jwt", timeout=10)  # not emulated: open
    assert answer.status_code == 200
    assert app.CALLS == []
    assert "authorizer" not in answer.json()["requestContext"]


def test_an_authorizer_that_fails_is_a_500(
    server: LocalServer, app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    for key in ("boom", "weird"):
        answer = requests.post(f"{server.url}/things/1", headers=bearer(key), timeout=10)
        assert answer.status_code == 500
        assert answer.json() == {"message": "Internal Server Error"}
    assert "authorizer failed" in caplog.text
    assert "isAuthorized must be a boolean" in caplog.text


def test_iam_policy_answers(server: LocalServer, app: ModuleType) -> None:
    url = f"{server.url}/policy"
    assert requests.post(url, timeout=10).status_code == 401  # no ?token=
    assert requests.post(f"{url}?token=nope", timeout=10).status_code == 403
    answer = requests.post(f"{url}?token=let-me-in", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["requestContext"]["authorizer"] == {"lambda": {"via": "policy"}}
    assert [e["identitySource"] for e in app.CALLS] == [["nope"], ["let-me-in"]]


def iam_caller(tenant: str) -> dict[str, Any]:
    """What ``requestContext.authorizer.iam`` says of the tenant's IAM user, but the made-up
    ids (checked by :func:`check_iam_ids`)."""
    return {
        "accountId": "123456789012",
        "userArn": f"arn:aws:iam::123456789012:user/{tenant}",
        "principalOrgId": None,
        "cognitoIdentity": None,
    }


def check_iam_ids(iam: dict[str, Any]) -> dict[str, Any]:
    """The made-up ids are shaped like AWS's: a user id (also the caller id) and an access key
    id; the rest is returned."""
    assert set(iam) == {"accessKey", "callerId", "userId", *iam_caller("x")}
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", iam["userId"])
    assert iam["callerId"] == iam["userId"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", iam["accessKey"])
    return {k: v for k, v in iam.items() if k not in ("accessKey", "callerId", "userId")}


def test_aws_iam_routes_take_requests_signed_with_the_keys(
    server: LocalServer, app: ModuleType
) -> None:
    url = f"{server.url}/iam"
    for headers in ({}, bearer("key-one"), {"Authorization": "key-one"}, bearer("")):
        answer = requests.post(url, headers=headers, timeout=10)
        assert answer.status_code == 403
        assert answer.json() == {"message": "Forbidden"}
    unknown = requests.post(url, headers=sigv4(url, "not-a-key"), timeout=10)
    assert unknown.status_code == 403 and "security token" in unknown.json()["message"]
    callers = {}
    for key, tenant in TENANTS.items():
        answer = requests.post(url, headers=sigv4(url, key), timeout=10)
        assert answer.status_code == 200
        iam = answer.json()["requestContext"]["authorizer"]["iam"]
        assert check_iam_ids(iam) == iam_caller(tenant)
        assert iam["accessKey"] == access_key_id(key)
        callers[tenant] = iam
    assert app.CALLS == []
    # one IAM user per tenant, and each key stands for one access key of it
    assert len({iam["userId"] for iam in callers.values()}) == 3
    assert len({iam["accessKey"] for iam in callers.values()}) == 3
    again = requests.post(url, headers=sigv4(url, "key-two"), timeout=10)
    assert again.json()["requestContext"]["authorizer"]["iam"] == callers["beta"]


def test_the_key_entries_and_iam_tenants_reach_the_functions(server: LocalServer) -> None:
    digest = {key: hashlib.sha256(key.encode()).hexdigest() for key in TENANTS}
    entries = os.environ["PROGIMAGE_API_KEY_HASHES"].split(",")
    assert entries == [f"{tenant}:{digest[key]}" for key, tenant in TENANTS.items()]
    assert os.environ["PROGIMAGE_IAM_TENANTS"] == (
        "arn:aws:iam::123456789012:user/alpha=alpha,"
        "arn:aws:iam::123456789012:user/beta=beta,"
        "arn:aws:iam::123456789012:user/default=default"
    )
    assert "PROGIMAGE_OPEN_TENANT" not in os.environ
    for name in ("PROGIMAGE_API_KEY_HASHES", "PROGIMAGE_IAM_TENANTS"):
        assert server.environment[name] == os.environ[name]
    assert server.tenants == ["alpha", "beta", "default"]


def test_without_keys_every_route_is_open(auth_template: Path, server: LocalServer) -> None:
    server.stop()  # one server per process at a time; the module's server starts again below
    try:
        with LocalServer(auth_template, port=0) as open_server:
            for path in ("/things/1", "/policy", "/iam"):
                answer = requests.post(f"{open_server.url}{path}", timeout=10)
                assert answer.status_code == 200
                assert "authorizer" not in answer.json()["requestContext"]
            assert open_server.route_auth["POST /things/{id}"].authorization_type == CUSTOM
            assert open_server.tenants == []
            # the functions treat callers without credentials as tenant "default"
            assert open_server.environment["PROGIMAGE_OPEN_TENANT"] == "default"
            assert os.environ["PROGIMAGE_OPEN_TENANT"] == "default"
            assert "PROGIMAGE_API_KEY_HASHES" not in os.environ
            assert "PROGIMAGE_IAM_TENANTS" not in os.environ
        assert "PROGIMAGE_OPEN_TENANT" not in os.environ  # restored when the server stops
    finally:
        server.start()


def test_env_values_win_over_the_servers_own(auth_template: Path, server: LocalServer) -> None:
    server.stop()
    try:
        mapping = "arn:aws:iam::123456789012:role/Writer=alpha"
        with LocalServer(
            auth_template,
            port=0,
            api_keys=KEYS,
            env_overrides={"PROGIMAGE_IAM_TENANTS": mapping},
        ) as keyed:
            assert os.environ["PROGIMAGE_IAM_TENANTS"] == mapping
            assert keyed.environment["PROGIMAGE_IAM_TENANTS"] == mapping
            assert os.environ["PROGIMAGE_API_KEY_HASHES"].startswith("alpha:")
        with LocalServer(
            auth_template, port=0, env_overrides={"PROGIMAGE_OPEN_TENANT": "guests"}
        ) as open_server:
            assert os.environ["PROGIMAGE_OPEN_TENANT"] == "guests"
            assert open_server.environment["PROGIMAGE_OPEN_TENANT"] == "guests"
    finally:
        server.start()


def test_parameters_choose_the_default_authorizer(auth_template: Path, server: LocalServer) -> None:
    server.stop()
    try:
        with LocalServer(
            auth_template, port=0, api_keys=KEYS, parameter_overrides={"Mode": "IAM"}
        ) as iam:
            assert iam.route_auth["POST /things/{id}"].authorization_type == IAM
            url = f"{iam.url}/things/1"
            assert requests.post(url, timeout=10).status_code == 403
            answer = requests.post(url, headers=sigv4(url, "key-two"), timeout=10)
            assert answer.status_code == 200
            authorizer = answer.json()["requestContext"]["authorizer"]
            assert check_iam_ids(authorizer["iam"]) == iam_caller("beta")
    finally:
        server.start()


# ------------------------------------------------------------------- template errors


def _authorizations(tmp_path: Path, authorizer: str, event_auth: str = "") -> dict[str, Any]:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            Resources:
              Api:
                Type: AWS::Serverless::HttpApi
                Properties:
                  Auth:
                    DefaultAuthorizer: A
                    Authorizers:
                      A: {authorizer}
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.13
                  CodeUri: src/
                  Handler: x.handler
                  Events:
                    E:
                      Type: HttpApi
                      Properties: {{ApiId: !Ref Api, Method: POST, Path: /x{event_auth}}}
            """
        )
    )
    template = Template.load(path)
    return route_authorizations(template, Resolver(template, resources={}), ["Fn"])


@pytest.mark.parametrize(
    ("authorizer", "event_auth", "message"),
    [
        (
            '{FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: "1.0"}',
            "",
            "only AuthorizerPayloadFormatVersion 2.0",
        ),
        (
            '{FunctionArn: "arn:aws:lambda:us-east-1:1:function:x", '
            'AuthorizerPayloadFormatVersion: "2.0"}',
            "",
            "must be !GetAtt <Function>.Arn",
        ),
        (
            '{FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: "2.0", '
            "Identity: {Context: [x]}}",
            "",
            "Identity.Context is not emulated",
        ),
        ("{JwtConfiguration: {}}", ", Auth: {Authorizer: Other}", "'Other' is not in Api"),
        ("{JwtConfiguration: {}}", ", Auth: {Authorizer: AWS_IAM}", "needs Auth.Enable"),
    ],
)
def test_authorization_the_server_cannot_emulate_fails_loudly(
    tmp_path: Path, authorizer: str, event_auth: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        _authorizations(tmp_path, authorizer, event_auth)


def test_a_default_identity_source_is_the_authorization_header(tmp_path: Path) -> None:
    auth = _authorizations(
        tmp_path, '{FunctionArn: !GetAtt Fn.Arn, AuthorizerPayloadFormatVersion: "2.0"}'
    )["POST /x"]
    assert auth.authorizer is not None
    assert auth.authorizer.identity_sources == ("$request.header.Authorization",)
    assert auth.authorizer.simple_responses is False


# ------------------------------------------------------------------- the repository's template


# Every route needs credentials (they name the tenant) except those serving image bytes.
GUARDED_ROUTES = {
    ("POST", "/images"),
    ("POST", "/uploads"),
    ("DELETE", "/images/01HXAMPLE"),
    ("POST", "/transform"),
    ("POST", "/batch"),
    ("POST", "/jobs"),
    ("GET", "/jobs/01HXAMPLE"),
    ("GET", "/images"),
    ("GET", "/images/01HXAMPLE/info"),
}
BYTES_ROUTES = {
    ("GET", "/images/01HXAMPLE"),
    ("GET", "/images/01HXAMPLE/thumbnail:64.webp"),
}


@pytest.fixture(scope="module")
def repository_server(server: LocalServer) -> Iterator[LocalServer]:
    server.stop()
    try:
        with LocalServer(REPO / "template.yaml", port=0, api_keys=["repo-key"]) as running:
            yield running
    finally:
        server.start()


def test_the_repository_template_guards_all_but_image_bytes(
    repository_server: LocalServer,
) -> None:
    url = repository_server.url
    for method, path in sorted(GUARDED_ROUTES):
        missing = requests.request(method, f"{url}{path}", json={}, timeout=30)
        assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"}), path
        wrong = requests.request(method, f"{url}{path}", json={}, headers=bearer("no"), timeout=30)
        assert (wrong.status_code, wrong.json()) == (403, {"message": "Forbidden"}), path
        right = requests.request(
            method, f"{url}{path}", json={}, headers=bearer("repo-key"), timeout=30
        )
        # the handler ran: an answer of the service's own (an error about the empty request,
        # or the tenant's empty listing)
        assert right.status_code not in (401, 403, 500), (path, right.text)
        assert "message" not in right.json(), (path, right.text)
    for method, path in sorted(BYTES_ROUTES):
        answer = requests.request(method, f"{url}{path}", timeout=30)
        assert answer.status_code in (200, 404), (path, answer.text)
        assert "message" not in answer.json(), path


def test_the_repository_template_in_iam_mode() -> None:
    template = Template.load(REPO / "template.yaml")
    resolver = Resolver(template, resources={}, parameter_overrides={"AuthMode": "IAM"})
    functions = [f for f, spec in template.functions.items() if spec.condition is None]
    kinds = {
        key: auth.authorization_type
        for key, auth in route_authorizations(template, resolver, functions).items()
    }
    assert {key for key, kind in kinds.items() if kind == IAM} == {
        "POST /images",
        "POST /uploads",
        "PATCH /images/{id}",
        "DELETE /images/{id}",
        "POST /transform",
        "POST /batch",
        "POST /jobs",
        "GET /jobs/{job_id}",
        "HEAD /jobs/{job_id}",
        "GET /images",
        "HEAD /images",
        "GET /images/{id}/info",
        "HEAD /images/{id}/info",
        "GET /presets",
        "HEAD /presets",
        "GET /presets/{name}",
        "HEAD /presets/{name}",
        "PUT /presets/{name}",
        "DELETE /presets/{name}",
    }
    assert {key for key, kind in kinds.items() if kind == OPEN} == {
        "GET /images/{id}",
        "HEAD /images/{id}",
        "GET /images/{id}/{pipeline+}",
        "HEAD /images/{id}/{pipeline+}",
    }


# ------------------------------------------------------------------- tenants of keys


def test_keys_belong_to_tenants() -> None:
    assert parse_api_keys(["alpha:k1", "beta:k2", "k3", " gamma-2 : k4 ", "", "  "]) == {
        "k1": "alpha",
        "k2": "beta",
        "k3": "default",
        "k4": "gamma-2",
    }
    # a key with a colon is given with its tenant; a spec given twice is one key
    assert parse_api_keys(["default:a:b", "x" * 32 + ":k", "alpha:k1", "alpha:k1"]) == {
        "a:b": "default",
        "k": "x" * 32,
        "k1": "alpha",
    }
    assert parse_api_keys([]) == {}


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["Alpha:secret-1"], "'Alpha' is not a tenant name"),
        (["-alpha:secret-1"], "'-alpha' is not a tenant name"),
        (["al_pha:secret-1"], "'al_pha' is not a tenant name"),
        (["x" * 33 + ":secret-1"], "is not a tenant name: a tenant is 1 to 32"),
        ([":secret-1"], "'' is not a tenant name"),
        (["alpha:"], "tenant 'alpha' is given an empty API key"),
        (["alpha:secret-1", "beta:secret-1"], "for tenant 'alpha' and for tenant 'beta'"),
        (["secret-1", "beta:secret-1"], "for tenant 'default' and for tenant 'beta'"),
    ],
)
def test_bad_keys_are_refused_without_quoting_them(specs: list[str], message: str) -> None:
    with pytest.raises(ApiKeyError, match=re.escape(message)) as error:
        parse_api_keys(specs)
    assert "secret-1" not in str(error.value)


def test_a_server_refuses_bad_keys(auth_template: Path) -> None:
    with pytest.raises(ApiKeyError, match="a key belongs to one tenant"):
        LocalServer(auth_template, port=0, api_keys=["alpha:k", "beta:k"])


# ------------------------------------------------------------------- the command line


@pytest.mark.e2e
def test_api_keys_on_the_command_line(auth_template: Path) -> None:
    env = {
        **os.environ,
        "PROGIMAGE_LOCAL_AWS": "",
        "PROGIMAGE_API_KEYS": "beta:from-env, alpha:second-alpha",
    }
    process = CliProcess(
        "--port", "0", "--template", str(auth_template),
        "--api-key", "alpha:from-flag", "--api-key", "bare-key",
        env=env,
    )  # fmt: skip
    try:
        url = process.wait_for(r"ProgImage local server: (http://\S+)").group(1)
        process.wait_for(r"POST /jwt +-> EchoFunction  \[Jwt: JWT, not emulated, open\]")
        process.wait_for(r"POST /things/\{id\} +-> EchoFunction  \[KeyAuth -> KeyAuthFunction\]")
        process.wait_for(
            r"Auth: routes marked \[\.\.\.\] need one of 4 API key\(s\) "
            r"\(Authorization: Bearer <key>; AWS_IAM routes: SigV4 in us-east-1, the key as "
            r"the secret access key\); tenants: alpha \(2 keys\), beta \(1 key\), "
            r"default \(1 key\)$"
        )
        ids = ", ".join(access_key_id(key) for key in ("from-flag", "second-alpha"))
        process.wait_for(rf"    alpha's access key ids: {ids}$")
        process.wait_for(r"Press Ctrl-C to stop")
        for key in ("from-env", "second-alpha", "from-flag", "bare-key"):
            assert key not in "".join(process.seen)
        write = f"{url}/things/1"
        assert requests.post(write, timeout=10).status_code == 401
        assert requests.post(write, headers=bearer("nope"), timeout=10).status_code == 403
        expected = {
            "from-flag": "alpha",
            "bare-key": "default",
            "from-env": "beta",
            "second-alpha": "alpha",
        }
        for key, tenant in expected.items():
            answer = requests.post(write, headers=bearer(key), timeout=10)
            assert answer.status_code == 200
            assert answer.json()["requestContext"]["authorizer"] == {"lambda": {"tenant": tenant}}
        assert requests.get(write, timeout=10).status_code == 200
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=30) == 0
    finally:
        process.close()


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("arguments", "from_environment", "message"),
    [
        (["--api-key", "Alpha:secret-1"], "", r"'Alpha' is not a tenant name"),
        (["--api-key", "alpha:secret-1"], "beta:secret-1", r"for tenant 'alpha' and for tenant"),
    ],
)
def test_bad_keys_on_the_command_line_exit_with_a_message(
    auth_template: Path, arguments: list[str], from_environment: str, message: str
) -> None:
    env = {**os.environ, "PROGIMAGE_LOCAL_AWS": "", "PROGIMAGE_API_KEYS": from_environment}
    process = CliProcess("--port", "0", "--template", str(auth_template), *arguments, env=env)
    try:
        assert process.process.wait(timeout=30) == 2
        process.wait_for(f"^localserver: .*{message}")
        assert "secret-1" not in "".join(process.seen)
    finally:
        process.close()


@pytest.mark.e2e
def test_without_keys_the_banner_says_the_server_is_open(auth_template: Path) -> None:
    env = {**os.environ, "PROGIMAGE_LOCAL_AWS": "", "PROGIMAGE_API_KEYS": ""}
    process = CliProcess("--port", "0", "--template", str(auth_template), env=env)
    try:
        url = process.wait_for(r"ProgImage local server: (http://\S+)").group(1)
        process.wait_for(r"Auth: OPEN \(no API keys\), callers act as tenant 'default'\.")
        process.wait_for(r"The 4 routes marked \[\.\.\.\] need credentials on AWS")
        assert requests.post(f"{url}/things/1", timeout=10).status_code == 200
    finally:
        process.close()

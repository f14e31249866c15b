"""``AWS::SecretsManager::Secret``: created in moto with its value, or a generated one;
``!Ref`` is its ARN; resource Conditions are respected.

A tiny template (package ``lssecrets``) has secrets of every kind and a function that reads the
one an environment variable names.
"""

from __future__ import annotations

import json
import re
import string
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from localserver import LocalServer
from localserver.intrinsics import Resolver
from localserver.resources import ProvisionContext, random_password, secretsmanager_secret
from localserver.template import Template, TemplateError

SECRETS_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31

Parameters:
  Hashes:
    Type: String
    Default: alpha:0123
  WithOptional:
    Type: String
    Default: "no"

Conditions:
  HasOptional: !Equals [!Ref WithOptional, "yes"]

Resources:
  Given:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}/given"
      Description: a value from a parameter
      SecretString: !Ref Hashes
  Generated:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 64, ExcludePunctuation: true}
  Defaults:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {}
  Restricted:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        PasswordLength: 200
        ExcludeCharacters: "abcdefABCDEF0123456789!#$"
  FromTemplate:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"user": "app"}'
        GenerateStringKey: password
        PasswordLength: 16
  Empty:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: no value yet
  Optional:
    Type: AWS::SecretsManager::Secret
    Condition: HasOptional
    Properties:
      SecretString: only with WithOptional=yes

  ReadFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      CodeUri: src/
      Handler: lssecrets.app.read
      Environment:
        Variables:
          LSSECRETS_GIVEN: !Ref Given
          LSSECRETS_GENERATED: !GetAtt Generated.Id
          LSSECRETS_OPTIONAL: !If [HasOptional, !Ref Optional, none]
      Events:
        Read:
          Type: HttpApi
          Properties: {Method: GET, Path: "/secrets/{name}"}
"""

SECRETS_HANDLERS = '''\
"""GET /secrets/{name}: the value of the secret LSSECRETS_<NAME> names."""

import os

import boto3


def read(event, context):
    secret_id = os.environ["LSSECRETS_" + event["pathParameters"]["name"].upper()]
    value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    return {"statusCode": 200, "body": value["SecretString"]}
'''

ARN = r"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-[A-Za-z0-9]{{6}}"


@pytest.fixture(scope="module")
def secrets_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("localserver-secrets")
    package = directory / "src" / "lssecrets"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(textwrap.dedent(SECRETS_HANDLERS))
    template = directory / "template.yaml"
    template.write_text(SECRETS_TEMPLATE)
    return template


@pytest.fixture(scope="module")
def server(secrets_template: Path) -> Iterator[LocalServer]:
    with LocalServer(secrets_template, port=0) as running:
        yield running


def secretsmanager(server: LocalServer) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=server.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def value(server: LocalServer, logical_id: str) -> str:
    arn = server.resources[logical_id].ref
    return secretsmanager(server).get_secret_value(SecretId=arn)["SecretString"]


@pytest.mark.e2e
def test_ref_is_the_arn_and_the_functions_read_the_value(server: LocalServer) -> None:
    given = server.resources["Given"]
    assert given.name == "progimage-local/given"
    assert re.fullmatch(ARN.format(name="progimage-local/given"), given.ref)
    assert server.environment["LSSECRETS_GIVEN"] == given.ref
    generated = server.resources["Generated"]
    assert re.fullmatch(ARN.format(name="progimage-local-Generated"), generated.ref)
    assert server.environment["LSSECRETS_GENERATED"] == generated.attributes["Id"] == generated.ref

    answer = requests.get(f"{server.url}/secrets/given", timeout=10)
    assert (answer.status_code, answer.text) == (200, "alpha:0123")
    answer = requests.get(f"{server.url}/secrets/generated", timeout=10)
    assert (answer.status_code, answer.text) == (200, value(server, "Generated"))
    description = secretsmanager(server).describe_secret(SecretId=given.ref)
    assert description["Description"] == "a value from a parameter"


@pytest.mark.e2e
def test_generated_values_follow_their_options(server: LocalServer) -> None:
    generated = value(server, "Generated")
    assert len(generated) == 64
    assert set(generated) <= set(string.ascii_letters + string.digits)
    for kind in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        assert set(generated) & set(kind)  # one of each kind, at least

    defaults = value(server, "Defaults")
    assert len(defaults) == 32
    assert set(defaults) & set(string.punctuation)
    assert " " not in defaults

    restricted = value(server, "Restricted")
    assert len(restricted) == 200
    assert not set(restricted) & set("abcdefABCDEF0123456789!#$")  # every digit, too

    document = json.loads(value(server, "FromTemplate"))
    assert document["user"] == "app"
    assert len(document["password"]) == 16


@pytest.mark.e2e
def test_a_secret_without_a_value_is_empty(server: LocalServer) -> None:
    client = secretsmanager(server)
    arn = server.resources["Empty"].ref
    assert client.describe_secret(SecretId=arn)["Description"] == "no value yet"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_secret_value(SecretId=arn)


@pytest.mark.e2e
def test_a_reset_creates_the_secrets_again_and_the_functions_follow(server: LocalServer) -> None:
    server.reset()
    # new secrets, whose ARNs have new suffixes: the functions' environment follows them
    assert len(secretsmanager(server).list_secrets()["SecretList"]) == 6
    after = server.resources["Given"].ref
    assert server.environment["LSSECRETS_GIVEN"] == after
    answer = requests.get(f"{server.url}/secrets/given", timeout=10)
    assert (answer.status_code, answer.text) == (200, "alpha:0123")


@pytest.mark.e2e
def test_conditions_decide_whether_a_secret_exists(
    secrets_template: Path, server: LocalServer
) -> None:
    assert "Optional" not in server.resources
    assert server.environment["LSSECRETS_OPTIONAL"] == "none"
    names = {s["Name"] for s in secretsmanager(server).list_secrets()["SecretList"]}
    assert "progimage-local-Optional" not in names
    server.stop()  # one server per process at a time; the module's server starts again below
    try:
        with LocalServer(
            secrets_template, port=0, parameter_overrides={"WithOptional": "yes"}
        ) as with_optional:
            optional = with_optional.resources["Optional"]
            assert with_optional.environment["LSSECRETS_OPTIONAL"] == optional.ref
            answer = requests.get(f"{with_optional.url}/secrets/optional", timeout=10)
            assert answer.text == "only with WithOptional=yes"
    finally:
        server.start()


# ------------------------------------------------------------------- without a server


def test_random_password_options() -> None:
    assert len(random_password({}, "S")) == 32
    spaced = random_password({"PasswordLength": 300, "IncludeSpace": True}, "S")
    assert " " in spaced
    letters = random_password({"ExcludeNumbers": "true", "ExcludePunctuation": True}, "S")
    assert letters.isalpha()
    lower = random_password(
        {"ExcludeUppercase": True, "ExcludeNumbers": True, "ExcludePunctuation": True}, "S"
    )
    assert lower.islower() and lower.isalpha()
    assert len(random_password({"PasswordLength": 1, "RequireEachIncludedType": False}, "S")) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"PasswordLength": 0}, "PasswordLength must be 1 to 4096, got 0"),
        ({"PasswordLength": 4097}, "PasswordLength must be 1 to 4096"),
        ({"PasswordLength": "many"}, "PasswordLength must be a number"),
        ({"PasswordLength": 3}, "too short for one character of each kind"),
        (
            {
                "ExcludeLowercase": True,
                "ExcludeUppercase": True,
                "ExcludeNumbers": True,
                "ExcludeCharacters": string.punctuation,
            },
            "leaves no character to use",
        ),
    ],
)
def test_random_password_refuses_what_it_cannot_make(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        random_password(options, "S")


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            "{SecretString: x, GenerateSecretString: {}}",
            "give SecretString or GenerateSecretString, not both",
        ),
        (
            "{GenerateSecretString: {SecretStringTemplate: '{}'}}",
            "SecretStringTemplate and GenerateStringKey go together",
        ),
        (
            "{GenerateSecretString: {SecretStringTemplate: '[1]', GenerateStringKey: k}}",
            "SecretStringTemplate must be a JSON object",
        ),
        (
            "{GenerateSecretString: {SecretStringTemplate: '{', GenerateStringKey: k}}",
            "SecretStringTemplate is not JSON",
        ),
        ("{GenerateSecretString: [x]}", "GenerateSecretString must be a mapping"),
    ],
)
def test_secrets_the_server_cannot_make_fail_loudly(
    tmp_path: Path, properties: str, message: str
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        f"Resources:\n  S:\n    Type: AWS::SecretsManager::Secret\n    Properties: {properties}\n"
    )
    template = Template.load(path)
    # refused before any request: the endpoint is never called
    context = ProvisionContext(
        resolver=Resolver(template, resources={}), endpoint_url="http://127.0.0.1:9"
    )
    with pytest.raises(TemplateError, match=re.escape(message)):
        secretsmanager_secret(template.resources["S"], context)

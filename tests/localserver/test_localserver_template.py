"""Reading templates, resolving intrinsics and the shared environment, without a server."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from localserver.environment import function_environment
from localserver.intrinsics import NO_VALUE, Resolver, references
from localserver.resources import LocalResource
from localserver.routes import Route, RouteTable
from localserver.template import Template, TemplateError, load_yaml, merge_globals

REPO = Path(__file__).resolve().parents[2]


def write_template(directory: Path, body: str) -> Path:
    (directory / "src").mkdir(exist_ok=True)
    path = directory / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return path


MINIMAL = """\
    Parameters:
      Stage: {Type: String, Default: dev}
      Names: {Type: CommaDelimitedList, Default: "a,b"}
      Required: {Type: String}
    Globals:
      Function:
        Runtime: python3.13
        CodeUri: src/
        Layers: [!Ref LayerA]
        Environment:
          Variables:
            SHARED: !Ref Bucket
    Resources:
      Bucket: {Type: AWS::S3::Bucket}
      Api: {Type: AWS::Serverless::HttpApi}
      LayerA: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layer/}}
      One:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg.one.handler
          Timeout: 30
          Layers: [arn:aws:lambda:us-east-1:123456789012:layer:other:1]
          Environment: {Variables: {ONLY_ONE: x, SAME: "1"}}
          Events:
            Get: {Type: HttpApi, Properties: {Method: get, Path: /one}}
            Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 5}}
      Two:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg.two.handler
          Environment: {Variables: {SAME: 1}}
          Events:
            Any: {Type: HttpApi}
"""


@pytest.fixture
def minimal(tmp_path: Path) -> Template:
    return Template.load(write_template(tmp_path, MINIMAL))


def resolver(template: Template, **resources: str) -> Resolver:
    local = {
        logical_id: LocalResource(logical_id, "AWS::S3::Bucket", name, name, {"Arn": f"arn:{name}"})
        for logical_id, name in resources.items()
    }
    return Resolver(template, resources=local)


def test_short_tags_become_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Resources:
              X:
                Type: T
                Properties:
                  A: !Ref Y
                  B: !GetAtt Y.Arn
                  C: !Sub ["${V}", {V: !Ref Z}]
                  D: !If [Cond, !Join ["-", [a, b]], !Ref AWS::NoValue]
                  E: !Condition Cond
            """
        )
    )
    properties = load_yaml(path)["Resources"]["X"]["Properties"]
    assert properties == {
        "A": {"Ref": "Y"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": ["${V}", {"V": {"Ref": "Z"}}]},
        "D": {"Fn::If": ["Cond", {"Fn::Join": ["-", ["a", "b"]]}, {"Ref": "AWS::NoValue"}]},
        "E": {"Condition": "Cond"},
    }


def test_yaml_errors_are_template_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"t\.yaml: invalid YAML"):
        load_yaml(write_template(tmp_path, "Resources: {X: [}").rename(tmp_path / "t.yaml"))


def test_globals_merge_like_sam() -> None:
    merged = merge_globals(
        {"Timeout": 3, "Layers": ["a"], "Environment": {"Variables": {"A": "1", "B": "2"}}},
        {"Timeout": 30, "Layers": ["b"], "Environment": {"Variables": {"B": "3"}}},
    )
    assert merged == {
        "Timeout": 30,
        "Layers": ["a", "b"],
        "Environment": {"Variables": {"A": "1", "B": "3"}},
    }


def test_functions_and_events(minimal: Template) -> None:
    one, two = minimal.functions["One"], minimal.functions["Two"]
    assert (one.module_name, one.attribute_name) == ("pkg.one", "handler")
    assert one.code_dir == minimal.directory / "src"
    assert one.timeout == 30 and two.timeout == 3
    assert one.environment == {"SHARED": {"Ref": "Bucket"}, "ONLY_ONE": "x", "SAME": "1"}
    assert len(one.layers) == 2
    assert [(e.method, e.path) for e in one.http_events] == [("GET", "/one")]
    assert [(e.method, e.path) for e in two.http_events] == [("ANY", "$default")]
    (queue_event,) = one.queue_events
    assert queue_event.queue == {"Fn::GetAtt": ["Q", "Arn"]}
    assert queue_event.batch_size == 5


def test_intrinsics(minimal: Template) -> None:
    minimal.conditions["IsDev"] = {"Fn::Equals": [{"Ref": "Stage"}, "dev"]}
    minimal.conditions["NotDev"] = {"Fn::Not": [{"Condition": "IsDev"}]}
    minimal.mappings["M"] = {"dev": {"size": 3}}
    r = resolver(minimal, Bucket="local-bucket")
    assert r.resolve({"Ref": "Bucket"}) == "local-bucket"
    assert r.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:local-bucket"
    assert r.resolve({"Ref": "Stage"}) == "dev"
    assert r.resolve({"Ref": "Names"}) == ["a", "b"]
    assert r.resolve({"Fn::Sub": "${Bucket}.${Bucket.Arn}.${AWS::Region}.${!X}"}) == (
        "local-bucket.arn:local-bucket.us-east-1.${X}"
    )
    assert r.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Bucket"}}]}) == "local-bucket-dev"
    assert r.resolve({"Fn::Join": [",", {"Ref": "Names"}]}) == "a,b"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": ["-", "x-y-z"]}]}) == "y"
    assert r.resolve({"Fn::If": ["NotDev", "prod", "dev"]}) == "dev"
    assert r.resolve({"Fn::FindInMap": ["M", {"Ref": "Stage"}, "size"]}) == 3
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r.resolve({"A": {"Ref": "AWS::NoValue"}, "B": ["x", {"Ref": "AWS::NoValue"}]}) == {
        "B": ["x"]
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Api"}, "no local stand-in"),
        ({"Ref": "Nope"}, "neither a parameter nor a resource"),
        ({"Ref": "Required"}, "no Default"),
        ({"Fn::GetAtt": ["Bucket", "WebsiteURL"]}, "has only"),
        ({"Fn::ImportValue": "x"}, "not supported"),
    ],
)
def test_unresolvable_values_say_why(minimal: Template, value: dict, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        resolver(minimal, Bucket="b").resolve(value)


def test_parameter_overrides(minimal: Template) -> None:
    r = Resolver(minimal, resources={}, parameter_overrides={"Required": "given", "Stage": "x"})
    assert r.resolve({"Fn::Sub": "${Stage}/${Required}"}) == "x/given"
    with pytest.raises(TemplateError, match="unknown parameters"):
        Resolver(minimal, resources={}, parameter_overrides={"Typo": "1"})


def test_references_finds_dependencies() -> None:
    value = {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": ["${Z.Arn}/${Local}/${!Escaped}", {"Local": {"Ref": "W"}}]},
    }
    assert references(value) == {"X", "Y", "Z", "W"}


def test_shared_environment(minimal: Template) -> None:
    env = function_environment(minimal.functions.values(), resolver(minimal, Bucket="b"))
    # SAME is "1" in one function and the number 1 in the other: the same string.
    assert env == {"SHARED": "b", "ONLY_ONE": "x", "SAME": "1"}
    overridden = function_environment(
        minimal.functions.values(),
        resolver(minimal, Bucket="b"),
        overrides={"SHARED": "mine", "EXTRA": "y"},
    )
    assert overridden["SHARED"] == "mine"
    assert overridden["EXTRA"] == "y"


def test_conflicting_environment_fails_loudly(minimal: Template) -> None:
    minimal.functions["Two"].environment["SAME"] = "2"
    with pytest.raises(TemplateError, match=r"SAME is '1' for One but '2' for Two"):
        function_environment(minimal.functions.values(), resolver(minimal, Bucket="b"))


def test_aws_mode_takes_resource_names_from_the_environment(
    minimal: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_resources = Resolver(minimal, resources={})
    with pytest.raises(TemplateError, match="set SHARED in the environment"):
        function_environment(
            minimal.functions.values(), no_resources, prefer_process_environment=True
        )
    monkeypatch.setenv("SHARED", "real-bucket")
    env = function_environment(
        minimal.functions.values(), no_resources, prefer_process_environment=True
    )
    assert env["SHARED"] == "real-bucket"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("{Handler: nodots}", "Handler must look like"),
        ("{Handler: a.b, Runtime: nodejs20.x}", "only Python runtimes"),
        ("{Handler: a.b, CodeUri: missing/}", "is not a directory"),
        (
            "{Handler: a.b, Events: {E: {Type: HttpApi, "
            "Properties: {PayloadFormatVersion: '1.0'}}}}",
            "only PayloadFormatVersion 2.0",
        ),
    ],
)
def test_invalid_functions(tmp_path: Path, properties: str, message: str) -> None:
    body = f"""\
    Globals: {{Function: {{Runtime: python3.13, CodeUri: src/}}}}
    Resources:
      F:
        Type: AWS::Serverless::Function
        Properties: {properties}
    """
    with pytest.raises(TemplateError, match=message):
        Template.load(write_template(tmp_path, body))


def test_the_repository_template_can_be_served() -> None:
    """The real template's routes parse, and the specific ones win over the greedy one."""
    path = REPO / "template.yaml"
    if not path.exists():
        pytest.skip("no template.yaml in the repository yet")
    template = Template.load(path)
    routes = RouteTable(
        [
            Route.parse(event.method, event.path, function.logical_id)
            for function in template.functions.values()
            for event in function.http_events
        ]
    )
    assert len(routes) > 0
    info = routes.match("GET", "/images/01HX/info")
    variant = routes.match("GET", "/images/01HX/resize:800:600/grayscale.webp")
    if info and variant:
        assert info.route.route_key == "GET /images/{id}/info"
        assert variant.route.route_key == "GET /images/{id}/{pipeline+}"

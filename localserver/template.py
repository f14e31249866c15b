"""Read a SAM template into plain data: resources, functions (Globals merged), events.

Reading has no side effects: nothing is created, imported or resolved here. Intrinsic
functions (``!Ref``, ``!Sub``, ...) stay as CloudFormation's long form
(``{"Ref": "Images"}``) and are resolved later by :mod:`localserver.intrinsics`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
IMPLICIT_HTTP_API = "ServerlessHttpApi"
"""The API SAM creates for HttpApi events that name no ApiId."""


class TemplateError(Exception):
    """The template cannot be served locally (invalid, or uses something not emulated)."""


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form tags (``!Ref`` ...)."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template (YAML or JSON) with short-form tags."""
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=_CfnLoader)
    except yaml.YAMLError as error:
        raise TemplateError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return data


def merge_globals(defaults: Any, own: Any) -> Any:
    """Merge a Globals section into a resource's properties the way SAM does.

    Mappings merge key by key (recursively), lists concatenate (globals first), and any
    other value set on the resource replaces the global one.
    """
    if isinstance(defaults, dict) and isinstance(own, dict):
        merged = dict(defaults)
        for key, value in own.items():
            merged[key] = merge_globals(defaults[key], value) if key in defaults else value
        return merged
    if isinstance(defaults, list) and isinstance(own, list):
        return [*defaults, *own]
    return own


@dataclass(frozen=True)
class ResourceSpec:
    """One entry of the template's Resources."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None = None


@dataclass(frozen=True)
class HttpEventSpec:
    """An ``HttpApi`` event of a function: one route of the HTTP API."""

    name: str
    method: str  # upper case, or "ANY"
    path: str  # "/images/{id}" or "$default"
    payload_format_version: str = "2.0"
    api: str = IMPLICIT_HTTP_API  # logical id of the AWS::Serverless::HttpApi (ApiId: !Ref ...)
    auth: Any = None  # the event's Auth (Authorizer: NAME | NONE | AWS_IAM), unresolved


@dataclass(frozen=True)
class QueueEventSpec:
    """An ``SQS`` event of a function: the queue poller's settings.

    Numbers may be intrinsics (``!Ref BatchSizeParameter``) and are resolved when the
    server starts.
    """

    name: str
    queue: Any  # usually {"Fn::GetAtt": [QueueId, "Arn"]}, resolved later
    batch_size: Any = 10
    maximum_batching_window_s: Any = 0
    function_response_types: tuple[str, ...] = ()
    maximum_concurrency: Any = None  # ScalingConfig.MaximumConcurrency
    enabled: Any = True
    filter_criteria: Any = None  # not emulated: the server says so


def _literal_int(value: Any) -> Any:
    """``value`` as an int if it is a literal number, else unchanged (an intrinsic)."""
    if isinstance(value, bool | dict):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


@dataclass(frozen=True)
class FunctionSpec:
    """An ``AWS::Serverless::Function`` with Globals.Function merged in."""

    logical_id: str
    handler: str  # "upload.app.handler"
    code_dir: Path  # CodeUri, absolute
    runtime: str
    timeout: Any  # seconds; may be an intrinsic such as {"Ref": "TimeoutParameter"}
    memory_size: Any  # MB; likewise
    environment: dict[str, Any]  # raw values, intrinsics unresolved
    layers: tuple[Any, ...]
    http_events: tuple[HttpEventSpec, ...]
    queue_events: tuple[QueueEventSpec, ...]
    condition: str | None = None

    @property
    def module_name(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def attribute_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass
class Template:
    """The parts of a SAM template the local server needs."""

    path: Path
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, ResourceSpec] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    http_api_globals: dict[str, Any] = field(default_factory=dict)  # Globals.HttpApi

    def http_api_properties(self, logical_id: str) -> dict[str, Any]:
        """An HttpApi's properties with Globals.HttpApi merged in (the implicit API's: just
        the globals)."""
        spec = self.resources.get(logical_id)
        own = spec.properties if spec is not None and spec.type == HTTP_API_TYPE else {}
        return merge_globals(copy.deepcopy(self.http_api_globals), copy.deepcopy(own))

    @property
    def directory(self) -> Path:
        return self.path.parent

    @classmethod
    def load(cls, path: str | Path) -> Template:
        path = Path(path).resolve()
        if not path.is_file():
            raise TemplateError(f"template not found: {path}")
        data = load_yaml(path)
        template = cls(
            path=path,
            parameters=dict(data.get("Parameters") or {}),
            conditions=dict(data.get("Conditions") or {}),
            mappings=dict(data.get("Mappings") or {}),
        )
        function_globals = ((data.get("Globals") or {}).get("Function")) or {}
        template.http_api_globals = dict(((data.get("Globals") or {}).get("HttpApi")) or {})
        for logical_id, body in data["Resources"].items():
            if not isinstance(body, dict) or "Type" not in body:
                raise TemplateError(f"resource {logical_id}: missing Type")
            spec = ResourceSpec(
                logical_id=logical_id,
                type=body["Type"],
                properties=dict(body.get("Properties") or {}),
                condition=body.get("Condition"),
            )
            template.resources[logical_id] = spec
            if spec.type == FUNCTION_TYPE:
                properties = merge_globals(copy.deepcopy(function_globals), spec.properties)
                template.functions[logical_id] = _function_spec(
                    logical_id, properties, spec.condition, path.parent
                )
        return template


def _function_spec(
    logical_id: str, properties: dict[str, Any], condition: str | None, base: Path
) -> FunctionSpec:
    def fail(message: str) -> TemplateError:
        return TemplateError(f"function {logical_id}: {message}")

    handler = properties.get("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise fail(f"Handler must look like 'package.module.function', got {handler!r}")
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise fail(f"only Python runtimes can run locally, got Runtime {runtime!r}")
    code_uri = properties.get("CodeUri", ".")
    if not isinstance(code_uri, str):
        raise fail("CodeUri must be a local path to run locally")
    code_dir = (base / code_uri).resolve()
    if not code_dir.is_dir():
        raise fail(f"CodeUri {code_uri!r} is not a directory ({code_dir})")

    environment = ((properties.get("Environment") or {}).get("Variables")) or {}
    http_events: list[HttpEventSpec] = []
    queue_events: list[QueueEventSpec] = []
    for name, event in (properties.get("Events") or {}).items():
        event_props = event.get("Properties") or {}
        if event.get("Type") == "HttpApi":
            api = event_props.get("ApiId")
            if isinstance(api, dict) and isinstance(api.get("Ref"), str):
                api = api["Ref"]
            elif api is not None and not isinstance(api, str):
                raise fail(f"event {name}: ApiId must be !Ref to an HttpApi of the template")
            http_events.append(
                HttpEventSpec(
                    name=name,
                    method=str(event_props.get("Method", "ANY")).upper(),
                    path=str(event_props.get("Path", "$default")),
                    payload_format_version=str(event_props.get("PayloadFormatVersion", "2.0")),
                    api=api or IMPLICIT_HTTP_API,
                    auth=event_props.get("Auth"),
                )
            )
            if http_events[-1].payload_format_version != "2.0":
                raise fail(f"event {name}: only PayloadFormatVersion 2.0 is emulated")
        elif event.get("Type") == "SQS":
            if event_props.get("Queue") is None:
                raise fail(f"event {name}: an SQS event needs a Queue")
            queue_events.append(
                QueueEventSpec(
                    name=name,
                    queue=event_props["Queue"],
                    batch_size=_literal_int(event_props.get("BatchSize", 10)),
                    maximum_batching_window_s=_literal_int(
                        event_props.get("MaximumBatchingWindowInSeconds", 0)
                    ),
                    function_response_types=tuple(event_props.get("FunctionResponseTypes") or ()),
                    maximum_concurrency=_literal_int(
                        (event_props.get("ScalingConfig") or {}).get("MaximumConcurrency")
                    ),
                    enabled=event_props.get("Enabled", True),
                    filter_criteria=event_props.get("FilterCriteria"),
                )
            )
    return FunctionSpec(
        logical_id=logical_id,
        handler=handler,
        code_dir=code_dir,
        runtime=runtime,
        timeout=properties.get("Timeout", 3),
        memory_size=properties.get("MemorySize", 128),
        environment=dict(environment),
        layers=tuple(properties.get("Layers") or ()),
        http_events=tuple(http_events),
        queue_events=tuple(queue_events),
        condition=condition,
    )

"""The OpenAPI document (openapi/openapi.yaml) against the implementation it describes.

The document is written by hand; these tests keep it and the code in step: the template's
routes and their authorization, the error codes, the operation registry, the formats and the
limits.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from localserver import Template
from localserver.auth import IAM, route_authorizations
from localserver.intrinsics import Resolver
from progimage_service import errors
from progimage_service.config import Settings
from progimage_service.ids import new_id
from progimage_service.imaging.formats import EXTENSIONS, FORMATS
from progimage_service.imaging.negotiate import AUTO
from progimage_service.imaging.registry import MAX_OPERATIONS, REGISTRY
from progimage_service.models import INTERNAL_FIELDS, ImageRecord
from progimage_service.services.batch import MAX_BATCH_ITEMS
from progimage_service.services.jobs import MAX_JOB_ITEMS
from progimage_service.services.uploads import CONTENT_TYPES, MAX_UPLOADS

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_TABLE_ROW = re.compile(r"^\| `([^`]+)` \| (.+) \|$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


def deref(document: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s until a node that is not one."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A JSON Schema validator for one of the document's schemas (its refs resolved)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


# -- the document itself ------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_has_an_id_a_summary_and_a_tag(document: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in operations(document)]
    assert all(ids) and len(ids) == len(set(ids))
    for method, path, operation in operations(document):
        assert operation.get("summary"), f"{method} {path}"
        assert operation.get("tags"), f"{method} {path}"


# -- routes -------------------------------------------------------------------------------


def template_routes() -> dict[tuple[str, str], Any]:
    """(method, path) of every HttpApi event, greedy ``{name+}`` written ``{name}`` as in
    OpenAPI, with the event's Auth."""
    template = Template.load(ROOT / "template.yaml")
    return {
        (event.method, event.path.replace("+}", "}")): event.auth
        for function in template.functions.values()
        for event in function.http_events
    }


def test_every_route_of_the_template_is_documented_and_nothing_else(
    document: dict[str, Any],
) -> None:
    documented = {(method, path) for method, path, _ in operations(document)}
    routes = set(template_routes())
    assert documented - routes == set(), "documented, but not a route of template.yaml"
    assert routes - documented == set(), "routes of template.yaml missing from the document"


def test_the_reserved_local_paths_are_not_documented_routes(document: dict[str, Any]) -> None:
    assert "/openapi.json" not in document["paths"]
    assert "/docs" not in document["paths"]


IMAGE_BYTES_PATHS = ("/images/{id}", "/images/{id}/{pipeline}")
CREDENTIALS = [{"apiKey": []}, {"sigv4": []}]  # an API key, or in IAM mode a SigV4 signature


def test_routes_that_need_credentials_declare_the_api_key(document: dict[str, Any]) -> None:
    """The template's routes take its default authorizer unless their event says
    ``Authorizer: NONE``; the document says the same of each operation, and that a route with
    credentials answers 401 without them and 403 with wrong ones."""
    routes = template_routes()
    for method, path, operation in operations(document):
        auth = routes[(method, path)]
        is_open = isinstance(auth, dict) and auth.get("Authorizer") == "NONE"
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        assert ("apiKey" not in schemes) == is_open, f"{method} {path}"
        if not is_open:
            assert operation["security"] == CREDENTIALS, f"{method} {path}"
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_every_route_iam_mode_guards_takes_sigv4(document: dict[str, Any]) -> None:
    """In IAM mode the template's default authorizer is ``AWS_IAM``: each route that takes it
    lists the ``sigv4`` scheme, as the common ``x-amazon-apigateway-authtype`` convention
    describes it, and no other route does."""
    template = Template.load(ROOT / "template.yaml")
    resolver = Resolver(template, resources={}, parameter_overrides={"AuthMode": "IAM"})
    kinds = {
        tuple(key.replace("+}", "}").split(" ", 1)): auth.authorization_type
        for key, auth in route_authorizations(template, resolver, template.functions).items()
    }
    for method, path, operation in operations(document):
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        assert ("sigv4" in schemes) == (kinds[(method, path)] == IAM), f"{method} {path}"
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"


def test_only_the_image_bytes_are_open(document: dict[str, Any]) -> None:
    """Every tenant's data needs credentials; image bytes are read by URL, for embedding."""
    open_operations = {
        (method, path)
        for method, path, operation in operations(document)
        if operation["security"] != CREDENTIALS
    }
    assert open_operations == {
        (method, path) for method in ("GET", "HEAD") for path in IMAGE_BYTES_PATHS
    }


def test_signed_routes_take_the_signature_optionally(document: dict[str, Any]) -> None:
    """Image and variant GETs (and HEADs) are the ones the handlers check signatures on: a
    signature, an expiry, and the tenant whose key signed (absent: ``default``)."""
    for path in IMAGE_BYTES_PATHS:
        for method in ("get", "head"):
            assert document["paths"][path][method]["security"] == [
                {},
                {"urlSignature": []},
                {"urlSignature": [], "urlExpiry": []},
                {"urlTenant": [], "urlSignature": []},
                {"urlTenant": [], "urlSignature": [], "urlExpiry": []},
            ], f"{method} {path}"
    schemes = document["components"]["securitySchemes"]
    names = (schemes[name]["name"] for name in ("urlTenant", "urlSignature", "urlExpiry"))
    assert tuple(names) == ("tenant", "sig", "exp")


def test_an_unknown_format_is_415_for_an_image_and_400_in_a_pipeline(
    document: dict[str, Any],
) -> None:
    """``/images/{id}.svg`` is 415 unsupported_format; in a pipeline, an unknown extension is
    part of the last argument (400 invalid_operation)."""
    for method in ("get", "head"):
        assert "415" in document["paths"]["/images/{id}"][method]["responses"]
        assert "415" not in document["paths"]["/images/{id}/{pipeline}"][method]["responses"]


def test_head_is_the_get_without_its_body(document: dict[str, Any]) -> None:
    """Every GET answers HEAD too: the same parameters, credentials and statuses, no body."""
    for path, item in document["paths"].items():
        if "get" not in item:
            assert "head" not in item, path
            continue
        get, head = item["get"], item["head"]
        assert head.get("parameters") == get.get("parameters"), path
        assert head["security"] == get["security"], path
        assert set(head["responses"]) == set(get["responses"]), path
        for status, response in head["responses"].items():
            assert "content" not in deref(document, response), f"HEAD {path} {status}"


def test_greedy_path_parameters_take_several_segments(document: dict[str, Any]) -> None:
    parameter = deref(document, document["paths"]["/images/{id}/{pipeline}"]["parameters"][1])
    pattern = deref(document, parameter["schema"])["pattern"]
    assert parameter["name"] == "pipeline"
    for pipeline in ("thumbnail:256.jpg", "resize:800:600:fill/rotate:90/grayscale.webp"):
        assert re.search(pattern, pipeline), pipeline
    # /images/{id}/info is the record, a more specific route than the variant's
    assert not re.search(pattern, "info")


# -- errors -------------------------------------------------------------------------------


def error_codes_in_code() -> set[str]:
    """The ``code`` of every error class, and every ``code="..."`` passed when raising one."""
    codes = {
        value.code
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.ProgImageError)
    }
    for source in (ROOT / "functions").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        codes.add(keyword.value.value)
    return codes


def test_the_error_codes_are_exactly_those_of_the_code(document: dict[str, Any]) -> None:
    documented = schema(document, "ErrorBody")["properties"]["code"]["enum"]
    assert len(documented) == len(set(documented))
    assert set(documented) == error_codes_in_code()


def test_every_error_answer_is_the_json_error(document: dict[str, Any]) -> None:
    """Every documented 4xx and 5xx is ``application/json``: the service's error object, or
    (where API Gateway itself may answer: authorizer, payload limit, throttling) its own. (A
    HEAD's has no body.)"""
    allowed = {"#/components/schemas/Error", "#/components/schemas/AnyError"}
    gateway_statuses = {"401", "403", "413", "429"}
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or method == "HEAD":
                continue
            content = deref(document, response)["content"]
            assert list(content) == ["application/json"], f"{method} {path} {status}"
            ref = content["application/json"]["schema"]["$ref"]
            assert ref in allowed, f"{method} {path} {status}"
            if ref.endswith("AnyError"):
                assert status in gateway_statuses, f"{method} {path} {status}"


def test_the_error_schema_holds_a_real_error(document: dict[str, Any]) -> None:
    check = validator(document, "Error")
    error = errors.InvalidOperation("rotate: angle must be a number", param="ops[1]")
    check.validate({"error": error.body()})
    check.validate({"error": errors.NotFound("no image").body()})
    with pytest.raises(jsonschema.ValidationError):
        check.validate({"message": "Not Found"})


# -- operations, formats, records, limits -------------------------------------------------


def pipeline_table(document: dict[str, Any]) -> list[tuple[str, str]]:
    description = document["components"]["parameters"]["Pipeline"]["description"]
    rows = [_TABLE_ROW.match(line) for line in description.splitlines()]
    return [(row.group(1), row.group(2)) for row in rows if row]


def test_the_pipeline_table_is_the_operation_registry(document: dict[str, Any]) -> None:
    expected = [(operation.usage(), operation.summary) for operation in REGISTRY.values()]
    table = pipeline_table(document)
    names = [usage.split(":")[0].split("[")[0] for usage, _ in table]
    assert names == list(REGISTRY), "the operations' names, in the registry's order"
    assert table == expected, "expected rows:\n" + "\n".join(
        f"| `{usage}` | {summary} |" for usage, summary in expected
    )


def test_operation_objects_name_the_registry(document: dict[str, Any]) -> None:
    assert schema(document, "Operation")["properties"]["op"]["enum"] == list(REGISTRY)


def test_formats(document: dict[str, Any]) -> None:
    assert schema(document, "FormatName")["enum"] == sorted([*EXTENSIONS, AUTO])
    record = schema(document, "ImageRecord")["properties"]
    assert set(record["format"]["enum"]) == {*FORMATS, None}
    assert set(record["content_type"]["enum"]) == {
        *(f.content_type for f in FORMATS.values()),
        None,
    }
    uploads = schema(document, "UploadsRequest")["properties"]
    assert uploads["content_type"]["enum"] == CONTENT_TYPES


def test_the_image_record_is_the_model(document: dict[str, Any]) -> None:
    shown = {f.name for f in dataclasses.fields(ImageRecord)} - set(INTERNAL_FIELDS)
    record = schema(document, "ImageRecord")
    assert set(record["properties"]) == shown
    assert set(record["required"]) == shown - {"reason"}
    check = validator(document, "ImageRecord")
    image_id = new_id()
    ready = ImageRecord(
        id=image_id,
        status="ready",
        format="png",
        content_type="image/png",
        width=3,
        height=2,
        bytes=120,
        sha256="0" * 64,
        frames=1,
        created_at="2026-01-02T03:04:05.678Z",
        work_format="webp",
        work_smallest=1024,
    )
    check.validate(ready.to_json())
    check.validate(ImageRecord(image_id, "pending", created_at=ready.created_at).to_json())
    rejected = ImageRecord(image_id, "rejected", created_at=ready.created_at, reason="not an image")
    check.validate(rejected.to_json())


def test_ids(document: dict[str, Any]) -> None:
    pattern = schema(document, "Id")["pattern"]
    assert all(re.search(pattern, new_id()) for _ in range(100))
    image_id = deref(document, document["components"]["parameters"]["ImageIdWithExtension"])
    assert re.search(image_id["schema"]["pattern"], new_id() + ".webp")


def test_limits(document: dict[str, Any]) -> None:
    paths = document["paths"]
    limit = deref(document, paths["/images"]["get"]["parameters"][0])["schema"]
    assert limit["maximum"] == Settings(bucket="b", table="t").list_max_limit

    def items(path: str) -> dict[str, Any]:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return body["properties"]["items"]

    assert items("/batch")["maxItems"] == MAX_BATCH_ITEMS
    assert items("/jobs")["maxItems"] == MAX_JOB_ITEMS
    assert schema(document, "Ops")["oneOf"][2]["maxItems"] == MAX_OPERATIONS
    assert schema(document, "UploadsRequest")["properties"]["count"]["maximum"] == MAX_UPLOADS


# -- links (stateful testing) -------------------------------------------------------------


def test_links_reach_the_operations_they_name(document: dict[str, Any]) -> None:
    targets = {
        operation["operationId"]: (path, operation) for _, path, operation in operations(document)
    }
    seen = set()
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            for name, ref in deref(document, response).get("links", {}).items():
                link = deref(document, ref)
                target_path, target = targets[link["operationId"]]
                declared = [
                    *document["paths"][target_path].get("parameters", []),
                    *target.get("parameters", []),
                ]
                names = {deref(document, parameter)["name"] for parameter in declared}
                assert set(link["parameters"]) <= names, f"{method} {path} {status} {name}"
                seen.add((f"{method} {path}", link["operationId"]))
    # create -> read -> delete -> read, and a job -> its status
    for target_id in ("getImage", "getImageInfo", "getVariant", "deleteImage"):
        assert ("POST /images", target_id) in seen
    assert ("POST /jobs", "getJob") in seen

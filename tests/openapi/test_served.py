"""The local server's own pages: the OpenAPI document at /openapi.json and /docs.

A tiny app of its own (package ``oadocs``) and documents of their own: these tests do not depend
on the real functions or the real document.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from localserver import LocalServer, TemplateError

pytestmark = pytest.mark.e2e

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      CodeUri: src/
      Handler: oadocs.app.echo
      Events:
        GetImage:
          Type: HttpApi
          Properties: {Method: GET, Path: "/images/{id}"}
        Other:
          Type: HttpApi
          Properties: {Method: GET, Path: /other}
"""

HANDLER = """\
import json


def echo(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"routeKey": event["routeKey"]})}
"""

DOCUMENT = """\
openapi: 3.1.0
info: {title: Fixture API, version: "1"}
paths:
  /images/{id}:
    get:
      operationId: getImage
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: the image}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's template and handler, with no document beside it.

    Its handler's package can be imported from one directory per process: the other templates
    live in subdirectories and take their code from here.
    """
    directory = tmp_path_factory.mktemp("apidocs-app")
    (directory / "src" / "oadocs").mkdir(parents=True)
    (directory / "src" / "oadocs" / "__init__.py").write_text("")
    (directory / "src" / "oadocs" / "app.py").write_text(textwrap.dedent(HANDLER))
    template = directory / "template.yaml"
    template.write_text(TEMPLATE)
    return template


def beside(app: Path, name: str, document: str | None, route: str | None = None) -> Path:
    """A copy of the template in ``app/name`` (with the same code), the document in its
    ``openapi/openapi.yaml``, and optionally the /other route moved to ``route``."""
    directory = app.parent / name
    (directory / "openapi").mkdir(parents=True)
    if document is not None:
        (directory / "openapi" / "openapi.yaml").write_text(document)
    text = app.read_text().replace("CodeUri: src/", "CodeUri: ../src/")
    if route is not None:
        text = text.replace("Path: /other}", f"Path: {route}}}")
    template = directory / "template.yaml"
    template.write_text(text)
    return template


class TestPages:
    """One server for these; the tests below start their own (one server per process)."""

    @pytest.fixture(scope="class")
    @classmethod
    def server(cls, app: Path) -> Iterator[LocalServer]:
        with LocalServer(beside(app, "documented", DOCUMENT), port=0) as running:
            yield running

    def test_the_document_is_served_as_json(self, server: LocalServer) -> None:
        answer = requests.get(f"{server.url}/openapi.json", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["info"]["title"] == "Fixture API"
        assert answer.json()["paths"]["/images/{id}"]["get"]["operationId"] == "getImage"

    def test_the_docs_page_is_self_contained(self, server: LocalServer) -> None:
        answer = requests.get(f"{server.url}/docs", timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/html")
        page = answer.text
        assert 'fetch("openapi.json")' in page
        # nothing from elsewhere: no CDN, no external script or stylesheet
        assert "http://" not in page and "https://" not in page
        assert "<script src" not in page and "<link" not in page

    def test_head_works_and_other_methods_are_not_pages(self, server: LocalServer) -> None:
        head = requests.head(f"{server.url}/openapi.json", timeout=10)
        assert head.status_code == 200 and head.content == b""
        for method in ("POST", "DELETE"):
            answer = requests.request(method, f"{server.url}/docs", timeout=10)
            assert answer.status_code == 404
            assert answer.json() == {"message": "Not Found"}

    def test_the_template_s_routes_still_answer(self, server: LocalServer) -> None:
        answer = requests.get(f"{server.url}/images/abc", timeout=10)
        assert answer.status_code == 200
        assert answer.json()["routeKey"] == "GET /images/{id}"


def test_without_a_document_neither_path_is_served(app: Path) -> None:
    with LocalServer(app, port=0) as running:
        assert running.openapi is None
        for path in ("/openapi.json", "/docs"):
            assert requests.get(running.url + path, timeout=10).status_code == 404


def test_a_document_given_explicitly(app: Path, tmp_path: Path) -> None:
    document = tmp_path / "api.json"
    document.write_text('{"openapi": "3.1.0", "info": {"title": "JSON", "version": "2"}}')
    with LocalServer(app, port=0, openapi=document) as running:
        answer = requests.get(f"{running.url}/openapi.json", timeout=10)
        assert answer.json()["info"] == {"title": "JSON", "version": "2"}


@pytest.mark.parametrize(
    ("content", "error"),
    [(None, "cannot read the OpenAPI document"), ("just: yaml\n", "not an OpenAPI document")],
)
def test_a_missing_or_wrong_document_stops_the_start(
    app: Path, tmp_path: Path, content: str | None, error: str
) -> None:
    document = tmp_path / "openapi.yaml"
    if content is not None:
        document.write_text(content)
    with pytest.raises(TemplateError, match=error):
        LocalServer(app, port=0, openapi=document).start()


def test_a_template_route_on_a_reserved_path_is_refused(app: Path) -> None:
    template = beside(app, "reserved", DOCUMENT, route="/docs")
    with pytest.raises(TemplateError, match="reserved for the local server"):
        LocalServer(template, port=0).start()

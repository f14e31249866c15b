"""The API's OpenAPI document and a page to read and try it, served on reserved local paths.

They are the local server's own pages, not routes of the template: ``GET /openapi.json`` (the
document, read from YAML or JSON when the server starts) and ``GET /docs`` (a self-contained
page that lists the operations from that JSON and sends requests to them; no CDN needed).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .events import HttpResponse
from .template import TemplateError

DOCUMENT_PATH = "/openapi.json"
DOCS_PATH = "/docs"
RESERVED_PATHS = (DOCUMENT_PATH, DOCS_PATH)
DEFAULT_DOCUMENT = Path("openapi") / "openapi.yaml"
"""Where the document is looked for, relative to the template's directory."""

_PAGE = Path(__file__).with_name("docs.html")


def load_document(path: Path) -> bytes:
    """The document as compact JSON; a file that is not an OpenAPI document is an error."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot read the OpenAPI document {path}: {error}") from None
    if not isinstance(document, dict) or "openapi" not in document:
        raise TemplateError(f"{path} is not an OpenAPI document (no 'openapi' field)")
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def pages(document: Path) -> dict[str, HttpResponse]:
    """The reserved paths and their answers."""
    headers = [("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")]
    return {
        DOCUMENT_PATH: HttpResponse(
            200, [("Content-Type", "application/json"), *headers], load_document(document)
        ),
        DOCS_PATH: HttpResponse(
            200, [("Content-Type", "text/html; charset=utf-8"), *headers], _PAGE.read_bytes()
        ),
    }

"""Run the ProgImage API locally: the SAM template's routes and handlers, AWS in moto.

``python -m localserver`` serves on http://127.0.0.1:3000; tests use :class:`LocalServer`.
"""

from .server import LocalServer
from .template import Template, TemplateError

__all__ = ["LocalServer", "Template", "TemplateError"]

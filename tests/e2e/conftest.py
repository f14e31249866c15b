"""The local server the end-to-end tests talk to: the real template and handlers, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localserver import LocalServer

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def server_options() -> dict[str, Any]:
    """Keyword arguments for the module's :class:`LocalServer` beyond the template.

    None by default; a module that needs other settings (API keys, say) overrides this fixture.
    """
    return {}


@pytest.fixture(scope="module")
def server(server_options: dict[str, Any]) -> Iterator[LocalServer]:
    """`make serve`'s server with the real template, on a free port, for one test module.

    Not for the whole session: while it runs, the process environment points boto3 at its
    moto server, and only one server may run in a process at a time.
    """
    with LocalServer(TEMPLATE, **server_options) as running:
        yield running

"""Hypothesis profiles for the hostile-input suites, and the plugin that reports their counts.

``ci`` (the default) keeps a run to a minute or two on two cores; ``deep`` (set
``HYPOTHESIS_PROFILE=deep``) tries many more inputs.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from . import report

# The deadline bounds the time of one input: the slowest legitimate one, an AVIF encode of a
# frame near the 4-megapixel limit, takes about a second alone and three on a loaded machine.
_COMMON: dict[str, Any] = {
    "deadline": timedelta(seconds=5),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("deep", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(report.__name__):
        config.pluginmanager.register(report, report.__name__)

"""The functions' records and metrics as the local server prints them: one readable line each."""

from __future__ import annotations

import logging

import pytest

from localserver import logs
from progimage_service import observability


def test_a_record_is_its_message_then_its_fields() -> None:
    record = logging.LogRecord("progimage", logging.INFO, "x.py", 1, "%s %d", ("GET /", 200), None)
    record.__dict__.update(route="GET /images/{id}", status=200, tenant=None, latency_ms=1.25)
    line = logs.Readable().format(record)
    assert line.endswith('INFO GET / 200  route="GET /images/{id}" status=200 latency_ms=1.2')
    assert "tenant" not in line  # (Lambda's JSON format drops None fields too)


def test_the_metrics_of_an_invocation_are_a_line_each(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="localserver.metrics")
    monkeypatch.setattr(observability, "sink", logs.metrics_line)
    with observability.invocation("get", route="GET /images/{id}"):
        observability.add("Latency", 12.345)
        observability.add("Outputs", Format="webp")
    lines = sorted(r.getMessage() for r in caplog.records if r.name == "localserver.metrics")
    assert 'metrics Latency=12.3  Route="GET /images/{id}"' in lines
    assert "metrics Outputs=1  Format=webp" in lines

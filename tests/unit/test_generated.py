"""The registry is the one definition of every operation: what is generated from it is current,
complete, and follows from a registry entry alone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from unittest import mock

import pytest

from codegen import operations as codegen
from progimage_service.imaging.grammar import Grammar, GrammarError, Operation
from progimage_service.imaging.registry import GRAMMAR, integer, optional


def test_every_generated_file_is_current() -> None:
    assert codegen.stale() == [], "generated from an older registry: run `make generate`"


def test_the_export_reads_back_as_the_registry() -> None:
    exported = json.loads(json.dumps(GRAMMAR.to_json()))  # only JSON's types survive
    assert Grammar.from_json(exported) == GRAMMAR


def test_the_client_ships_the_servers_grammar_unchanged() -> None:
    client = codegen.ROOT / "client/src/progimage/_grammar.py"
    assert client.read_text().endswith(codegen._GRAMMAR_SOURCE.read_text())


def test_a_block_without_its_markers_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(ValueError, match="no block 'operations'"):
        codegen.replace_block("a document\n", "operations", ["| row |"])


def test_regenerating_keeps_the_prose_around_a_block() -> None:
    text = "before\n  <!-- BEGIN generated:x -->\n  old\n  <!-- END generated:x -->\nafter\n"
    new = codegen.replace_block(text, "x", ["one", "", "two"])
    assert new == (
        "before\n  <!-- BEGIN generated:x -->\n  one\n\n  two\n  <!-- END generated:x -->\nafter\n"
    )
    assert codegen.replace_block(new, "x", ["one", "", "two"]) == new


# --- adding an operation is one registry entry ----------------------------------------------

SWIRL = Operation(
    "swirl",
    ((integer("degrees", 0, 720), integer("radius", 1, 100, **optional(50))),),
    "twist the picture around its centre",
)


@pytest.fixture
def with_swirl() -> Any:
    grammar = replace(GRAMMAR, operations={**GRAMMAR.operations, "swirl": SWIRL})
    with mock.patch.object(codegen, "GRAMMAR", grammar):
        yield grammar


def test_a_new_entry_gets_a_client_method_that_prints_the_canonical_form(with_swirl: Any) -> None:
    namespace: dict[str, Any] = {}
    source = codegen.client_operations().replace(
        "from ._grammar import", "from progimage._grammar import"
    )
    exec(compile(source, "_operations.py", "exec"), namespace)  # the generated client module
    built = []

    class Builder(namespace["Operations"]):
        def _then(self, name: str, **args: Any) -> Any:
            step = namespace["GRAMMAR"].build(namespace["GRAMMAR"].lookup(name), named=args)
            built.append(step.canonical())
            return self

    Builder().swirl(90)
    Builder().swirl(90, radius=50)
    Builder().swirl(90, 20)
    assert built == ["swirl:90", "swirl:90", "swirl:90:20"]
    assert "radius: int = 50" in source
    with pytest.raises(ValueError, match=r"swirl: degrees must be in \[0, 720\]"):
        Builder().swirl(721)


def test_a_new_entry_appears_in_every_document_table(with_swirl: Any) -> None:
    assert "| `swirl:DEGREES[:RADIUS]` | twist the picture around its centre |" in (
        codegen.pipeline_table()
    )
    assert "- swirl" in codegen.operation_names()
    assert any(row.startswith("| `swirl(degrees, radius=50)` |") for row in codegen.client_table())
    assert any("0 ≤ degrees ≤ 720" in row for row in codegen.reference_table())


def test_a_new_entry_parses_in_both_forms(with_swirl: Any) -> None:
    assert with_swirl.step("swirl:90:50").canonical() == "swirl:90"
    assert (
        with_swirl.step({"op": "swirl", "degrees": 90, "radius": 20}).canonical() == "swirl:90:20"
    )
    with pytest.raises(GrammarError):
        with_swirl.step("swirl")

"""CacheBucket: with express, the translated template has the S3 Express One Zone directory
bucket, the functions' environment names it and the functions that read, write or delete
variants may open a session on it, and nothing else; with regional (the default), none of it.
Translated as test_template.py translates, linted and scanned like the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_template import (
    ALL_FUNCTIONS,
    DEFAULTS,
    EXPECTED_PERMISSIONS,
    NO_CDN,
    _fmt,
    _granted,
    _holds,
    _is_chosen_reference,
    _is_resolved_condition,
    _lint,
    _load_sam,
    _parameter_values,
    _run_checkov,
    _translate,
)

ZONE = "use1-az4"
EXPRESS = {"CacheBucket": "express", "CacheZoneId": ZONE}
BUCKET = "ExpressCacheBucket"
SESSION = ("s3express:CreateSession", "cache-bucket")
# The functions that touch variants/, refs/ or work/ (reads, writes, deletes): ReadWrite
# sessions. Upload and Ingest write working copies.
CACHE_FUNCTIONS = {
    "GetFunction",
    "TransformFunction",
    "JobWorkerFunction",
    "UploadFunction",
    "IngestFunction",
}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return _load_sam()


@pytest.fixture(scope="module")
def express(sam: dict[str, Any]) -> dict[str, Any]:
    return _translate(sam, *DEFAULTS, **EXPRESS, **NO_CDN)


@pytest.fixture(scope="module")
def regional(sam: dict[str, Any]) -> dict[str, Any]:
    return _translate(sam, *DEFAULTS, **NO_CDN)


def _cache_bucket_variable(cfn: dict[str, Any], function: str) -> Any:
    return cfn["Resources"][function]["Properties"]["Environment"]["Variables"][
        "PROGIMAGE_CACHE_BUCKET"
    ]


def test_express_has_the_directory_bucket_named_to_every_function(express: dict[str, Any]) -> None:
    bucket = express["Resources"][BUCKET]
    assert bucket["Type"] == "AWS::S3Express::DirectoryBucket"
    assert _holds(express, bucket["Condition"], _parameter_values(express, {}))
    props = bucket["Properties"]
    assert props["LocationName"] == {"Ref": "CacheZoneId"}
    assert props["DataRedundancy"] == "SingleAvailabilityZone"
    # variants expire as they do in the images bucket; their markers are kept, as there
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Prefix"] == "variants/" and rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "VariantExpirationDays"}
    for function in ALL_FUNCTIONS:
        assert _cache_bucket_variable(express, function) == {"Ref": BUCKET}, function


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_express_lets_only_the_cache_functions_open_a_session_on_it(
    express: dict[str, Any], function: str
) -> None:
    session = {SESSION} if function in CACHE_FUNCTIONS else set()
    assert _granted(express, function) == EXPECTED_PERMISSIONS[function] | session


def test_regional_has_none_of_it(regional: dict[str, Any]) -> None:
    # the resource is declared, under a condition that does not hold with the defaults
    bucket = regional["Resources"][BUCKET]
    assert not _holds(regional, bucket["Condition"], _parameter_values(regional, {}))
    for function in ALL_FUNCTIONS:
        assert _cache_bucket_variable(regional, function) == ""
        assert SESSION not in _granted(regional, function)
    assert "s3express" not in json.dumps(
        {k: v for k, v in regional["Resources"].items() if k != BUCKET}
    )


def test_express_needs_a_zone(sam: dict[str, Any]) -> None:
    assert sam["Conditions"]["ExpressCache"] == {"Fn::Equals": [{"Ref": "CacheBucket"}, "express"]}
    assert sam["Parameters"]["CacheBucket"]["Default"] == "regional"
    (assertion,) = sam["Rules"]["ExpressCacheNeedsZone"]["Assertions"]
    assert sam["Rules"]["ExpressCacheNeedsZone"]["RuleCondition"] == {
        "Fn::Equals": [{"Ref": "CacheBucket"}, "express"]
    }
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CacheZoneId"}, ""]}]}


def _is_cache_bucket_reference(match: Any) -> bool:
    """W1001 on the directory bucket from the functions' environment and policies: they name it
    only because LanguageExtensions resolved the Fn::If with CacheBucket=express, the value that
    makes its condition hold (as test_template.py's _is_chosen_reference explains)."""
    return match.rule.id == "W1001" and f"resource '{BUCKET}'" in match.message


def test_express_translation_lints_clean(express: dict[str, Any]) -> None:
    problems = [
        m
        for m in _lint(express)
        if m.rule.id[0] in "EW"
        and not _is_cache_bucket_reference(m)
        and not _is_resolved_condition(m)
        and not _is_chosen_reference(m, *DEFAULTS)
    ]
    assert not problems, _fmt(problems)


def test_express_translation_passes_checkov(express: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "translated-express.json").write_text(json.dumps(express, indent=1))
    failures, _ = _run_checkov(tmp_path)["translated-express.json"]
    assert not failures, "\n".join(failures)

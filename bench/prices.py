"""AWS prices (us-east-1, on-demand, USD) and the storage latencies the cost bench charges.

One dated table: every figure ``bench/cost.py`` multiplies by is here, with the page it comes
from. Prices are the first (smallest-volume) tier, without free tiers or savings plans, as
published on AWS's public pricing pages on ``PRICES_AS_OF``. Lambda prices have an x86_64 and
an arm64 figure side by side; every other service costs the same whichever architecture calls
it. Update the figures and the date together.

Latencies are not prices but assumptions (a request's wait on S3 or DynamoDB from a Lambda in
the same region), stated here beside the prices so that one table holds everything the
estimate does not measure.
"""

from __future__ import annotations

from typing import Any

PRICES_AS_OF = "2026-12-03"
REGION = "us-east-1"
ARCHITECTURES = ("x86_64", "arm64")

LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
API_GATEWAY_PRICING = "https://aws.amazon.com/api-gateway/pricing/"
S3_PRICING = "https://aws.amazon.com/s3/pricing/"
DYNAMODB_PRICING = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
SQS_PRICING = "https://aws.amazon.com/sqs/pricing/"
CLOUDFRONT_PRICING = "https://aws.amazon.com/cloudfront/pricing/"
TRANSFER_PRICING = "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer"
LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
DYNAMODB_ITEM_SIZE = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"
)


def _entry(usd: Any, unit: str, source: str, note: str = "") -> dict[str, Any]:
    return {"usd": usd, "unit": unit, "source": source, "as_of": PRICES_AS_OF, "note": note}


# ``usd`` is the price of one ``unit``; for Lambda it is a dict by architecture.
PRICES: dict[str, dict[str, Any]] = {
    "lambda_request": _entry(
        {"x86_64": 0.20 / 1e6, "arm64": 0.20 / 1e6},
        "request",
        LAMBDA_PRICING,
        "$0.20 per million requests, both architectures",
    ),
    "lambda_gb_second": _entry(
        {"x86_64": 0.0000166667, "arm64": 0.0000133334},
        "GB-second",
        LAMBDA_PRICING,
        "first 6 billion GB-seconds a month; duration billed in 1 ms steps",
    ),
    "api_http_request": _entry(
        1.00 / 1e6,
        "request",
        API_GATEWAY_PRICING,
        "HTTP API, first 300 million a month; metered in 512 KB increments",
    ),
    "s3_storage_gb_month": _entry(
        0.023, "GB-month", S3_PRICING, "S3 Standard, first 50 TB a month"
    ),
    "s3_put_request": _entry(
        0.005 / 1000, "request", S3_PRICING, "S3 Standard PUT, COPY, POST, LIST: $0.005 per 1,000"
    ),
    "s3_get_request": _entry(
        0.0004 / 1000,
        "request",
        S3_PRICING,
        "S3 Standard GET, SELECT and all other requests (HEAD too): $0.0004 per 1,000",
    ),
    "dynamodb_write_unit": _entry(
        0.625 / 1e6,
        "write request unit",
        DYNAMODB_PRICING,
        "on-demand: $0.625 per million; 1 unit per 1 KB written, to the table and each index",
    ),
    "dynamodb_read_unit": _entry(
        0.125 / 1e6,
        "read request unit",
        DYNAMODB_PRICING,
        "on-demand: $0.125 per million; 1 unit per 4 KB strongly consistent read",
    ),
    "dynamodb_storage_gb_month": _entry(
        0.25, "GB-month", DYNAMODB_PRICING, "Standard table class, beyond the free 25 GB"
    ),
    "sqs_request": _entry(
        0.40 / 1e6, "request", SQS_PRICING, "standard queue; each 64 KB of a payload is a request"
    ),
    "cloudfront_https_request": _entry(
        0.0100 / 10_000,
        "request",
        CLOUDFRONT_PRICING,
        "pay-as-you-go, United States/Mexico/Canada edges: $0.0100 per 10,000 HTTPS requests",
    ),
    "cloudfront_gb_out": _entry(
        0.085,
        "GB",
        CLOUDFRONT_PRICING,
        "to the internet, United States/Mexico/Canada, first 10 TB a month; origin fetches "
        "from AWS origins are free",
    ),
    "internet_gb_out": _entry(
        0.09,
        "GB",
        TRANSFER_PRICING,
        "data transfer out to the internet from us-east-1 (API Gateway responses), first 10 TB "
        "a month; transfer in is free",
    ),
}

# Typical in-region waits, per call, charged to the Lambda's billed duration. The middle of the
# stated range is used; a transfer term adds bytes / throughput for large bodies.
LATENCIES: dict[str, dict[str, Any]] = {
    "s3_request_ms": {
        "value": 27.5,
        "range": (15, 40),
        "note": "S3 GET/PUT/HEAD first byte, same region (middle of 15-40 ms)",
        "as_of": PRICES_AS_OF,
    },
    "dynamodb_request_ms": {
        "value": 5.5,
        "range": (3, 8),
        "note": "DynamoDB GetItem/PutItem, same region (middle of 3-8 ms)",
        "as_of": PRICES_AS_OF,
    },
    "s3_mb_per_s": {
        "value": 100.0,
        "range": (50, 200),
        "note": "one S3 stream's throughput from Lambda, MB/s, for the body of a GET or PUT",
        "as_of": PRICES_AS_OF,
    },
}

# Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB.
MB_PER_VCPU = 1769
MB_PER_VCPU_SOURCE = LAMBDA_MEMORY

# API Gateway HTTP APIs meter a request per 512 KB of payload.
API_METERING_BYTES = 512 * 1024


def price(name: str, architecture: str = "x86_64") -> float:
    """The USD price of one unit of ``name``, for that architecture where it matters."""
    usd = PRICES[name]["usd"]
    return float(usd[architecture] if isinstance(usd, dict) else usd)


def latency(name: str) -> float:
    return float(LATENCIES[name]["value"])

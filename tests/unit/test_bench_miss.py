"""The latency model behind bench/miss.py: what each call is charged, how round trips are
counted, and that the hooks hold a real botocore client's calls to the model (no timing: the
injector's clock and sleep are fakes)."""

from __future__ import annotations

import pytest

from bench.latency import (
    MB,
    PROFILES,
    Call,
    Injector,
    LatencyModel,
    modelled,
    overlap_groups,
    recharged,
    round_trips,
    storage_ms,
)

MODEL = LatencyModel()


def call(start: float, end: float, charged: float | None = None, operation: str = "GetItem"):
    return Call(
        service="dynamodb",
        operation=operation,
        what="",
        status=200,
        sent=0,
        received=0,
        thread="MainThread",
        start_ms=start,
        end_ms=end,
        charged_ms=end - start if charged is None else charged,
        real_ms=0.0,
    )


def test_an_s3_get_is_first_byte_plus_transfer() -> None:
    charged = MODEL.charge_ms("s3", "GetObject", 200, received=MB)
    assert charged == pytest.approx(MODEL.s3_get_ms + MODEL.s3_get_ms_per_mb)
    half = MODEL.charge_ms("s3", "GetObject", 200, received=MB // 2)
    assert half == pytest.approx(MODEL.s3_get_ms + MODEL.s3_get_ms_per_mb / 2)


def test_a_put_is_charged_for_the_body_it_sends() -> None:
    charged = MODEL.charge_ms("s3", "PutObject", 200, sent=3 * MB)
    assert charged == pytest.approx(MODEL.s3_put_ms + 3 * MODEL.s3_put_ms_per_mb)


def test_a_404_and_a_head_carry_no_body() -> None:
    assert MODEL.charge_ms("s3", "GetObject", 404, received=5 * MB) == MODEL.s3_head_ms
    assert MODEL.charge_ms("s3", "HeadObject", 200) == MODEL.s3_head_ms


def test_dynamodb_operations_have_their_own_latency() -> None:
    assert MODEL.charge_ms("dynamodb", "GetItem", 200) == MODEL.dynamodb_get_ms
    assert MODEL.charge_ms("dynamodb", "PutItem", 200) == MODEL.dynamodb_put_ms
    assert MODEL.charge_ms("dynamodb", "UpdateItem", 400) == MODEL.dynamodb_update_ms
    assert MODEL.charge_ms("dynamodb", "Query", 200) == MODEL.dynamodb_other_ms


def test_overrides_replace_only_what_is_given() -> None:
    model = PROFILES["regional"].with_overrides(s3_get_ms=40.0, dynamodb_get_ms=None)
    assert model.s3_get_ms == 40.0
    assert model.dynamodb_get_ms == PROFILES["regional"].dynamodb_get_ms
    assert PROFILES["express"].s3_get_ms < PROFILES["regional"].s3_get_ms


def test_two_overlapping_calls_are_one_round_trip() -> None:
    calls = [call(0, 20), call(5, 30)]
    assert overlap_groups(calls) == [1, 1]
    assert round_trips(calls) == 1
    assert storage_ms(calls) == 30


def test_calls_one_after_another_are_as_many_round_trips() -> None:
    calls = [call(0, 20), call(20, 25), call(40, 60)]
    assert overlap_groups(calls) == [1, 2, 3]
    assert round_trips(calls) == 3
    assert storage_ms(calls) == 45


def test_overlap_is_transitive_and_order_free() -> None:
    # c overlaps a, b overlaps c: one round trip, whatever order they are listed in.
    calls = [call(30, 50), call(0, 20), call(15, 35), call(60, 70)]
    assert overlap_groups(calls) == [1, 1, 1, 2]
    assert round_trips([]) == 0


def test_modelled_gives_every_call_its_charge_and_removes_overruns() -> None:
    # The first call overran its 20 ms by 10; the second starts 5 ms after the first ended.
    timeline, overshoot = modelled([call(0, 30, charged=20), call(35, 40, charged=5)])
    assert overshoot == 10
    assert [(c.start_ms, c.end_ms) for c in timeline] == [(0, 20), (25, 30)]


def test_modelled_takes_a_round_trips_latest_call() -> None:
    # Two calls at once: the round trip ends when the slower one would (its 25 ms).
    calls = [call(0, 40, charged=25), call(1, 12, charged=10), call(45, 50, charged=5)]
    timeline, overshoot = modelled(calls)
    assert overshoot == 15
    assert timeline[2].start_ms == 30


def test_a_cache_bucket_charges_only_cache_keys_at_its_figures() -> None:
    # A miss's shape: the variant's 404, the working copy's GET, the variant's PUT, one after
    # another, each held to the regional model.
    regional, express = PROFILES["regional"], PROFILES["express"]
    shapes = [
        ("GetObject", "variants/{id}/x.webp", 404, 0, 0),
        ("GetObject", "work/{id}", 200, 0, MB),
        ("PutObject", "variants/{id}/x.webp", 200, MB // 2, 0),
    ]
    calls, start = [], 0.0
    for operation, key, status, sent, received in shapes:
        charged = regional.charge_ms("s3", operation, status, sent, received)
        calls.append(
            Call(
                "s3",
                operation,
                key,
                status,
                sent,
                received,
                "MainThread",
                start,
                start + charged,
                charged,
                0.0,
            )
        )
        start += charged
    routed = recharged(calls, regional, express, lambda key: key.startswith("variants/"))
    assert [c.charged_ms for c in routed] == [
        express.s3_head_ms,
        calls[1].charged_ms,  # the working copy stays regional
        express.s3_put_ms + 0.5 * express.s3_put_ms_per_mb,
    ]
    _, saved = modelled(routed)
    assert saved == pytest.approx(
        regional.s3_head_ms - express.s3_head_ms + regional.s3_put_ms - express.s3_put_ms
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_hooks_hold_a_botocore_call_to_the_model() -> None:
    from botocore.session import get_session
    from botocore.stub import Stubber

    clock = FakeClock()
    injector = Injector(MODEL, clock=clock, sleep=clock.sleep)
    client = get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    injector.instrument(client)
    key = {"pk": {"S": "IMG#x"}, "sk": {"S": "META"}}
    with Stubber(client) as stub:
        stub.add_response("get_item", {}, {"TableName": "t", "Key": key})
        stub.add_response("get_item", {}, {"TableName": "t", "Key": key})
        client.get_item(TableName="t", Key=key)  # outside a request: not held, not recorded
        assert clock.slept == []
        with injector.request() as calls:
            client.get_item(TableName="t", Key=key)
    assert clock.slept == [pytest.approx(MODEL.dynamodb_get_ms / 1000)]
    (recorded,) = calls
    assert (recorded.service, recorded.operation, recorded.what) == ("dynamodb", "GetItem", "IMG#x")
    assert recorded.end_ms - recorded.start_ms == pytest.approx(MODEL.dynamodb_get_ms)

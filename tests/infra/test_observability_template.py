"""The template makes the service operable: JSON logs with retention, alarms, a dashboard,
tracing and the architecture, checked on the translated template (as test_template.py
translates it: offline, with the language extensions resolved first) with the default parameters
and with an alarm topic and tracing, linted and scanned like the rest.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_template import (
    ALL_FUNCTIONS,
    AUTHORIZER,
    EXPECTED_QUEUES,
    _fmt,
    _function_timeout,
    _is_chosen_reference,
    _is_resolved_condition,
    _lint,
    _load_sam,
    _resources_of,
    _run_checkov,
    _translate,
)

from progimage_service.observability import DEFAULT_NAMESPACE, METRICS

TOPIC = "arn:aws:sns:us-east-1:123456789012:progimage-alarms"
STACK = "progimage-test"  # what ${AWS::StackName} stands for when the dashboard is read

# The variants checked here: the defaults, and an operated stack (alarms notify a topic, the
# functions are traced); IAM mode, where the authorizer and what watches it do not exist.
OPERATED = {"AlarmTopicArn": TOPIC, "Tracing": "Enabled"}
VARIANTS = {
    "defaults": ("ApiKey", "Off", {}),
    "operated": ("ApiKey", "Required", OPERATED),
    "iam": ("IAM", "Off", OPERATED),
}

# The service's own metrics (namespace ProgImage), as the code defines them: every one has the
# dimension Service besides its own.
NAMESPACE = DEFAULT_NAMESPACE
# dimensions whose values are open-ended: the dashboard must find them with SEARCH
OPEN_DIMENSIONS = {"Route", "StatusClass", "Format", "Reason", "Function"}

# What CloudWatch Logs accepts as RetentionInDays.
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
RETENTION_DAYS += [2192, 2557, 2922, 3288, 3653]

XRAY_POLICIES = {"AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess"}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return _load_sam()


@pytest.fixture(scope="module")
def stacks(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: _translate(sam, mode, signed, **extra)
        for name, (mode, signed, extra) in VARIANTS.items()
    }


def _functions(cfn: dict[str, Any]) -> list[str]:
    """The functions this translation deploys (the authorizer in ApiKey mode only)."""
    api_keys = cfn["Parameters"]["AuthMode"]["Default"] == "ApiKey"
    return [f for f in ALL_FUNCTIONS if f != AUTHORIZER or api_keys]


def _policy_name(arn: Any) -> str:
    text = arn if isinstance(arn, str) else arn["Fn::Sub"]
    return text.rsplit("/", 1)[1]


# ------------------------------------------------------------------ parameters


def test_operations_parameters(sam: dict[str, Any]) -> None:
    parameters = sam["Parameters"]
    level = parameters["LogLevel"]
    assert (level["Default"], level["AllowedValues"]) == (
        "INFO",
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"],
    )
    retention = parameters["LogRetentionDays"]
    assert (retention["Type"], retention["Default"]) == ("Number", 30)
    assert retention["AllowedValues"] == RETENTION_DAYS
    rate = parameters["DebugSampleRate"]
    assert (rate["Type"], rate["Default"], rate["MinValue"], rate["MaxValue"]) == (
        "Number",
        0,
        0,
        1,
    )
    tracing = parameters["Tracing"]
    assert (tracing["Default"], tracing["AllowedValues"]) == ("Disabled", ["Enabled", "Disabled"])
    architecture = parameters["Architecture"]
    assert (architecture["Default"], architecture["AllowedValues"]) == (
        "x86_64",
        ["x86_64", "arm64"],
    )
    topic = parameters["AlarmTopicArn"]
    assert topic["Default"] == ""
    pattern = re.compile(topic["AllowedPattern"])
    for good in ("", TOPIC, "arn:aws-us-gov:sns:us-gov-west-1:123456789012:ops.fifo"):
        assert pattern.fullmatch(good), good
    for bad in ("none", "arn:aws:sqs:us-east-1:123456789012:q", TOPIC + " ", "my-topic"):
        assert not pattern.fullmatch(bad), bad
    assert set(sam["Conditions"]) == {
        "UseApiKeyAuth",
        "SignUrls",
        "TraceFunctions",
        "NotifyAlarms",
        "ExpressCache",
        "AllowCors",
        "UseCdn",  # the CDN's (test_cdn_template.py)
        "EnforceCdn",
        "UseOriginShield",
        "PresetsOnly",  # strict presets' (test_template.py)
    }
    assert sam["Conditions"]["TraceFunctions"] == {"Fn::Equals": [{"Ref": "Tracing"}, "Enabled"]}
    assert sam["Conditions"]["NotifyAlarms"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }


# ------------------------------------------------------------------ logs


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_function_logs_json_into_its_own_log_group(
    stacks: dict[str, dict[str, Any]], variant: str
) -> None:
    cfn = stacks[variant]
    resources = cfn["Resources"]
    groups = _resources_of(cfn, "AWS::Logs::LogGroup")
    # the functions' groups, and the HTTP API's access log (kept 90 days: test_template.py)
    assert set(groups) == {f"{f}Logs" for f in ALL_FUNCTIONS} | {"ApiAccessLogs"}
    for function in _functions(cfn):
        props = resources[function]["Properties"]
        assert props["LoggingConfig"] == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": {"Ref": "LogLevel"},
            "SystemLogLevel": "WARN",
            "LogGroup": {"Ref": f"{function}Logs"},
        }, function
        group = groups[f"{function}Logs"]
        # exists exactly when its function does, and goes with the stack
        assert group.get("Condition") == resources[function].get("Condition"), function
        assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Delete", "Delete")
        assert group["Properties"] == {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{function}"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        }
        # the role may write to it: Lambda's basic execution policy (logs on any group)
        role = resources[f"{function}Role"]["Properties"]
        names = {_policy_name(arn) for arn in role["ManagedPolicyArns"]}
        assert "AWSLambdaBasicExecutionRole" in names, function
    # LOG_LEVEL is gone (LoggingConfig says it, and Lambda passes it on)
    assert "LOG_LEVEL" not in json.dumps(cfn["Resources"])


def test_log_groups_names_are_distinct_per_stack(sam: dict[str, Any]) -> None:
    names = [
        sam["Resources"][f"{f}Logs"]["Properties"]["LogGroupName"]["Fn::Sub"] for f in ALL_FUNCTIONS
    ]
    assert len(set(names)) == len(names)
    assert all("${AWS::StackName}" in name for name in names)


# ------------------------------------------------------------------ environment, tracing


@pytest.mark.parametrize("variant", VARIANTS)
def test_environment_for_metrics_logs_and_traces(
    stacks: dict[str, dict[str, Any]], variant: str
) -> None:
    cfn = stacks[variant]
    traced = VARIANTS[variant][2].get("Tracing") == "Enabled"
    for function in _functions(cfn):
        env = cfn["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "progimage"  # the tracer's
        assert env["PROGIMAGE_SERVICE"] == {"Ref": "AWS::StackName"}
        assert env["PROGIMAGE_METRICS_NAMESPACE"] == NAMESPACE
        assert env["PROGIMAGE_DEBUG_SAMPLE_RATE"] == {"Ref": "DebugSampleRate"}
        assert env["PROGIMAGE_TRACING"] == ("true" if traced else "false")
        assert "LOG_LEVEL" not in env


@pytest.mark.parametrize("variant", VARIANTS)
def test_tracing_flips_every_function_to_active_with_xray_access(
    stacks: dict[str, dict[str, Any]], variant: str
) -> None:
    cfn = stacks[variant]
    traced = VARIANTS[variant][2].get("Tracing") == "Enabled"
    for function in _functions(cfn):
        props = cfn["Resources"][function]["Properties"]
        # Disabled: no TracingConfig, which is Lambda's PassThrough, and no X-Ray access
        assert props.get("TracingConfig") == ({"Mode": "Active"} if traced else None), function
        role = cfn["Resources"][f"{function}Role"]["Properties"]
        names = {_policy_name(arn) for arn in role["ManagedPolicyArns"]}
        assert bool(names & XRAY_POLICIES) == traced, function
    # HTTP APIs have no X-Ray tracing (REST APIs do): nothing to switch on there
    (stage,) = _resources_of(cfn, "AWS::ApiGatewayV2::Stage").values()
    assert "TracingEnabled" not in stage["Properties"]


def test_tracing_changes_only_the_tracing(
    stacks: dict[str, dict[str, Any]], sam: dict[str, Any]
) -> None:
    """Tracing=Enabled: TracingConfig, the X-Ray policy and PROGIMAGE_TRACING; nothing else."""
    plain = _translate(sam)
    traced = copy.deepcopy(_translate(sam, Tracing="Enabled"))
    for function in _functions(traced):
        props = traced["Resources"][function]["Properties"]
        assert props.pop("TracingConfig") == {"Mode": "Active"}
        props["Environment"]["Variables"]["PROGIMAGE_TRACING"] = "false"
        role = traced["Resources"][f"{function}Role"]["Properties"]
        role["ManagedPolicyArns"] = [
            arn for arn in role["ManagedPolicyArns"] if _policy_name(arn) not in XRAY_POLICIES
        ]
    traced["Parameters"]["Tracing"] = plain["Parameters"]["Tracing"]
    assert traced == plain


# ------------------------------------------------------------------ alarms


def _alarm_metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(namespace, metric name, dimensions, statistic) of every metric an alarm watches."""
    props = alarm["Properties"]
    if "MetricName" in props:
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        yield props["Namespace"], props["MetricName"], dims, props["Statistic"]
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            yield metric["Namespace"], metric["MetricName"], dims, query["MetricStat"]["Stat"]


def _alarms_on(cfn: dict[str, Any], namespace: str, metric: str, **dims: Any) -> list[str]:
    return [
        name
        for name, alarm in _resources_of(cfn, "AWS::CloudWatch::Alarm").items()
        if any(
            (ns, m) == (namespace, metric) and all(d.get(k) == v for k, v in dims.items())
            for ns, m, d, _ in _alarm_metrics(alarm)
        )
    ]


def _only(cfn: dict[str, Any], namespace: str, metric: str, **dims: Any) -> dict[str, Any]:
    (name,) = _alarms_on(cfn, namespace, metric, **dims)
    return cfn["Resources"][name]


def _expression(cfn: dict[str, Any], expression: Any) -> str:
    """A metric math expression, its Fn::Sub resolved (its variables are FindInMap lookups)."""
    if isinstance(expression, str):
        return expression
    text, variables = expression["Fn::Sub"]
    for name, value in variables.items():
        _, key, attribute = value["Fn::FindInMap"]
        number = cfn["Mappings"][value["Fn::FindInMap"][0]][key][attribute]
        text = text.replace(f"${{{name}}}", str(number))
    return text


def _limit(cfn: dict[str, Any], alarm: dict[str, Any]) -> float:
    """The value of the watched metric at which the alarm's threshold is crossed: for metric
    math, the expression (linear in the one metric it reads) solved for the threshold."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return props["Threshold"]
    (returned,) = [q for q in props["Metrics"] if "Expression" in q]
    (metric,) = [q["Id"] for q in props["Metrics"] if "MetricStat" in q]
    text = _expression(cfn, returned["Expression"])
    assert re.fullmatch(r"[\w\s.*/()+-]+", text), text
    # only numbers, operators and the metric's id, as checked above
    slope = eval(text, {}, {metric: 1.0})
    assert eval(text, {}, {metric: 0.0}) == 0
    return props["Threshold"] / slope


@pytest.mark.parametrize("variant", VARIANTS)
def test_alarms(stacks: dict[str, dict[str, Any]], variant: str) -> None:
    cfn = stacks[variant]
    alarms = _resources_of(cfn, "AWS::CloudWatch::Alarm")
    covered = set()
    for function in ALL_FUNCTIONS:
        ref = {"Ref": function}
        condition = cfn["Resources"][function].get("Condition")
        for metric in ("Errors", "Throttles"):
            (name,) = _alarms_on(cfn, "AWS/Lambda", metric, FunctionName=ref)
            props = alarms[name]["Properties"]
            assert (props["Statistic"], props["Threshold"]) == ("Sum", 0), name
            assert props["ComparisonOperator"] == "GreaterThanThreshold", name
            assert props["TreatMissingData"] == "notBreaching", name
            assert alarms[name].get("Condition") == condition, name
            covered.add(name)
        (name,) = _alarms_on(cfn, "AWS/Lambda", "Duration", FunctionName=ref)
        alarm = alarms[name]
        ((_, _, _, stat),) = _alarm_metrics(alarm)
        assert stat == "Maximum", name
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold", name
        # 90 % of the function's own Timeout, in milliseconds
        timeout_ms = 1000 * _function_timeout(cfn, function)
        assert _limit(cfn, alarm) == pytest.approx(0.9 * timeout_ms), name
        assert alarm.get("Condition") == condition, name
        covered.add(name)
    # every dead-letter queue: any message in it
    dead_letter_queues = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in _resources_of(cfn, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dead_letter_queues == {dlq for dlq, *_ in EXPECTED_QUEUES.values()}
    for dlq in dead_letter_queues:
        queue_name = {"Fn::GetAtt": [dlq, "QueueName"]}
        alarm = _only(cfn, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=queue_name)
        props = alarm["Properties"]
        assert (props["Statistic"], props["Threshold"]) == ("Maximum", 0), dlq
        assert props["ComparisonOperator"] == "GreaterThanThreshold", dlq
        assert props["TreatMissingData"] == "notBreaching", dlq
        covered |= set(_alarms_on(cfn, "AWS/SQS", "ApproximateNumberOfMessagesVisible"))
    # the jobs queue's oldest item: longer than two visibility timeouts (a retried item alone
    # is no alarm), far shorter than the retention
    jobs = cfn["Resources"]["JobsQueue"]["Properties"]
    (name,) = _alarms_on(
        cfn,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        QueueName={"Fn::GetAtt": ["JobsQueue", "QueueName"]},
    )
    age = alarms[name]["Properties"]
    assert age["Statistic"] == "Maximum"
    assert 2 * jobs["VisibilityTimeout"] < age["Threshold"] < jobs["MessageRetentionPeriod"] / 24
    covered.add(name)
    # the HTTP API's 5xx rate: its 5xx and Count metrics (ApiId and Stage), as a percentage
    api = {"ApiId": {"Ref": "HttpApi"}, "Stage": "$default"}
    (name,) = _alarms_on(cfn, "AWS/ApiGateway", "5xx", **api)
    assert _alarms_on(cfn, "AWS/ApiGateway", "Count", **api) == [name]
    rate = alarms[name]["Properties"]
    (returned,) = [q for q in rate["Metrics"] if "Expression" in q]
    assert re.search(r"100 \* errors / requests", returned["Expression"])
    assert 0 < rate["Threshold"] < 100
    assert rate["TreatMissingData"] == "notBreaching"
    covered.add(name)
    assert set(alarms) == covered
    assert len(covered) == 3 * len(ALL_FUNCTIONS) + len(dead_letter_queues) + 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_alarms_notify_the_topic_only_when_one_is_given(
    stacks: dict[str, dict[str, Any]], variant: str
) -> None:
    topic = VARIANTS[variant][2].get("AlarmTopicArn")
    for name, alarm in _resources_of(stacks[variant], "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        for actions in ("AlarmActions", "OKActions"):
            assert props.get(actions) == ([{"Ref": "AlarmTopicArn"}] if topic else None), name
        assert "InsufficientDataActions" not in props, name
        assert props["EvaluationPeriods"] >= 1 and "AlarmDescription" in props, name


# ------------------------------------------------------------------ dashboard


_SEARCH = re.compile(
    r"SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<metric>\w+)\""
    r" Service=\"(?P<service>[^\"]*)\"', '(?P<stat>\w+)', (?P<period>\d+)\)"
)


def _dashboard(cfn: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's body as CloudWatch gets it: ${AWS::StackName} is STACK, the region a
    region, ${X} of a resource "<X>" and ${X.Attr} "<X.Attr>"; valid JSON or a failure."""
    (dashboard,) = _resources_of(cfn, "AWS::CloudWatch::Dashboard").values()
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    resources = cfn["Resources"]

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "AWS::StackName":
            return STACK
        if name == "AWS::Region":
            return "us-east-1"
        if name in variables:
            var = variables[name]
            return f"<{var['Ref']}>" if isinstance(var, dict) else var
        assert name.split(".")[0] in resources, name
        return f"<{name}>"

    return json.loads(re.sub(r"\$\{([^}!]+)\}", value, text))


def _dashboard_metrics(body: dict[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """ProgImage metric name -> the dimension names of each reference to it on the dashboard
    (a SEARCH's schema, or a metric's own dimensions); every reference names the stack."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            for item in row:
                if isinstance(item, dict) and "expression" in item:
                    for m in _SEARCH.finditer(item["expression"]):
                        namespace, *dims = m["schema"].split(",")
                        assert namespace == NAMESPACE and m["service"] == STACK, item
                        found.setdefault(m["metric"], []).append(tuple(dims))
            if row and row[0] == NAMESPACE:
                fields = [x for x in row if not isinstance(x, dict)]
                dims = dict(zip(fields[2::2], fields[3::2], strict=True))
                assert dims["Service"] == STACK, row
                # a listed value is one of a closed set: open-ended dimensions are searched
                assert not set(dims) & OPEN_DIMENSIONS, row
                found.setdefault(fields[1], []).append(tuple(dims))
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_dashboard_shows_every_metric(stacks: dict[str, dict[str, Any]], variant: str) -> None:
    cfn = stacks[variant]
    body = _dashboard(cfn)
    found = _dashboard_metrics(body)
    assert set(found) == set(METRICS)  # every metric the code emits, and no other
    for metric, references in found.items():
        for dims in references:
            assert set(dims) == {"Service", *METRICS[metric].dimensions}, (metric, dims)
    # the basics beside them: the HTTP API, every function and every queue
    text = json.dumps(body)
    assert '"AWS/ApiGateway"' in text and "<HttpApi>" in text
    for function in _functions(cfn):
        assert f"<{function}>" in text, function
    for queue in (*EXPECTED_QUEUES, *(dlq for dlq, *_ in EXPECTED_QUEUES.values())):
        assert f"<{queue}.QueueName>" in text, queue
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "us-east-1"


# ------------------------------------------------------------------ architecture


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_architecture_reaches_every_function_and_the_layer(
    sam: dict[str, Any], architecture: str
) -> None:
    cfn = _translate(sam, Architecture=architecture)
    assert cfn["Parameters"]["Architecture"]["AllowedValues"] == [architecture]
    for function in ALL_FUNCTIONS:
        props = cfn["Resources"][function]["Properties"]
        assert props["Architectures"] == [{"Ref": "Architecture"}], function
    (layer,) = _resources_of(cfn, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    # `sam build` builds the layer for the same parameter (it resolves this Ref)
    assert sam["Resources"]["PillowLayer"]["Metadata"]["BuildArchitecture"] == {
        "Ref": "Architecture"
    }
    assert not [m for m in _lint(cfn) if m.rule.id[0] == "E"]


# ------------------------------------------------------------------ lint, checkov


@pytest.mark.parametrize("variant", ["operated", "iam"])
def test_operated_stack_lints_clean(stacks: dict[str, dict[str, Any]], variant: str) -> None:
    mode, signed_urls, _ = VARIANTS[variant]
    problems = [
        m
        for m in _lint(stacks[variant])
        if m.rule.id[0] in "EW"
        and not _is_chosen_reference(m, mode, signed_urls)
        and not _is_resolved_condition(m)
    ]
    assert not problems, _fmt(problems)


def test_operated_stack_passes_checkov(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """The stack with an alarm topic and tracing passes checkov as the defaults do
    (test_template.py scans those, and checks the waivers)."""
    for variant in ("operated", "iam"):
        (tmp_path / f"{variant}.json").write_text(json.dumps(stacks[variant], indent=1))
    results = _run_checkov(tmp_path)
    assert set(results) == {"operated.json", "iam.json"}
    for name, (failures, _) in results.items():
        assert not failures, f"{name}:\n" + "\n".join(failures)

"""Assertions on infra/producer.yaml and infra/consumer.yaml (the contract is docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hydration.observability import RUN_SERVICE
from hydration_cli.ops.alarms import ALARMS
from tests.infra.cfn_model import (
    INFRA,
    Evaluator,
    as_list,
    dashboard_body,
    dashboard_metrics,
    doc_function_environment,
    doc_metric_names,
    doc_outputs,
    load_template,
    references,
    statements,
)

NAMESPACE = "S3Hydration"
SERVICES = {"planner", "copier", "finalizer"}
FUNCTIONS = {"planner": "PlannerFunction", "copier": "CopierFunction", "finalizer": "FinalizerFunction"}
FOURTEEN_DAYS = 14 * 24 * 3600
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _resources_of(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == rtype}


# ------------------------------------------------------------------------------------------ lint


def test_monitoring_is_a_section_the_pipeline_does_not_depend_on() -> None:
    """Everything after the MONITORING banner only watches: alarms, the topic, the dashboard, queries. Nothing
    before it refers to anything in it, so it reads alone (and could be removed or moved to its own stack)."""
    text = (INFRA / "consumer.yaml").read_text()
    banner = text.index("  # MONITORING")
    source = load_template("consumer.yaml", expand=False)["Resources"]
    after = {name for name in source if text.index(f"\n  {name}:\n") > banner}
    before = {name: resource for name, resource in source.items() if name not in after}
    assert {"AlarmTopic", "Dashboard", "SyncStaleAlarm", "FailedKeysQuery"} <= after
    assert {r["Type"].split("::")[1] for name, r in source.items() if name in after} <= {
        "SNS",
        "CloudWatch",
        "Events",
        "Logs",
    }
    assert not [(a, b) for a, resource in before.items() for b in after if references(resource, b)]


def test_the_functions_share_their_settings_through_globals() -> None:
    """Runtime, code, tracing, VPC and the shared state are said once (SAM Globals), not per function."""
    source = load_template("consumer.yaml", expand=False)
    shared = source["Globals"]["Function"]
    assert {"Runtime", "CodeUri", "Tracing", "VpcConfig", "Environment"} <= set(shared)
    for name in FUNCTIONS.values():
        own = source["Resources"][name]["Properties"]
        assert not {"Runtime", "CodeUri", "Tracing", "VpcConfig"} & set(own), name
        assert not set(shared["Environment"]["Variables"]) & set(own["Environment"]["Variables"]), name


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    templates = sorted(str(p) for p in INFRA.glob("*.yaml"))
    result = subprocess.run([str(cfn_lint), *templates], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ metrics


def _s3hydration_metrics(consumer: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(where, metric name, dimensions) of every S3Hydration metric an alarm or the dashboard uses."""
    used = []
    for name, alarm in _resources_of(consumer, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
            used.append((name, props["MetricName"], dims))
        for query in props.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                used.append((name, metric["MetricName"], dims))
    for namespace, metric, dims, _ in dashboard_metrics(consumer):
        if namespace == NAMESPACE:
            used.append(("Dashboard", metric, dims))
    return used


def test_alarms_and_dashboard_use_only_metrics_the_code_emits(consumer: dict[str, Any]) -> None:
    emitted = doc_metric_names()
    used = _s3hydration_metrics(consumer)
    assert used, "no S3Hydration metric found: the test would prove nothing"
    unknown = [(where, metric) for where, metric, _ in used if metric not in emitted]
    assert not unknown, f"metrics not in docs/architecture.md's Metrics section: {unknown}"


# Metrics emitted with a dimension beyond `service` (hydration.observability.dimensioned_metric).
EXTRA_DIMENSIONS = {"RunsNotStarted": {"kind"}}


def test_custom_metrics_carry_the_powertools_service_dimension(consumer: dict[str, Any]) -> None:
    for where, metric, dims in _s3hydration_metrics(consumer):
        assert set(dims) == {"service", *EXTRA_DIMENSIONS.get(metric, ())}, (where, metric, dims)
        assert dims["service"] in {*SERVICES, "planner-worker", RUN_SERVICE}, (where, metric, dims)


def test_run_metrics_carry_the_runs_dimension_whoever_closes_the_run(consumer: dict[str, Any]) -> None:
    run_level = {"RunDurationSeconds", "RunFailedObjects", "RunsIncomplete"}
    found = [(metric, dims["service"]) for _, metric, dims in _s3hydration_metrics(consumer) if metric in run_level]
    assert found
    assert {service for _, service in found} == {RUN_SERVICE}


def test_documented_metrics_agree_with_the_code() -> None:
    try:
        from hydration.observability import METRIC_NAMES
    except ImportError:
        pytest.skip("hydration.observability.METRIC_NAMES not available")
    assert set(METRIC_NAMES) == doc_metric_names()


def test_objects_failed_alarm_watches_the_copier(consumer: dict[str, Any]) -> None:
    props = consumer["Resources"]["ObjectsFailedAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        NAMESPACE,
        "ObjectsFailed",
        "Sum",
    )
    assert props["Dimensions"] == [{"Name": "service", "Value": "copier"}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_dashboard_shows_copy_latency_percentiles(consumer: dict[str, Any]) -> None:
    stats = {
        options.get("stat")
        for namespace, metric, _, options in dashboard_metrics(consumer)
        if (namespace, metric) == (NAMESPACE, "CopyLatency")
    }
    assert {"p50", "p99"} <= stats


def test_dashboard_shows_sync_age_backlog_and_run_history(consumer: dict[str, Any]) -> None:
    widgets = {w["properties"].get("title"): w for w in dashboard_body(consumer)["widgets"]}

    def lines(title: str) -> list[tuple[str, str, dict[str, str], str | None]]:
        props = widgets[title]["properties"]
        result = []
        for line in props["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            namespace, metric, *dims = [p for p in line if not isinstance(p, dict)]
            result.append((namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True)), options.get("stat")))
        return result

    assert lines("Sync age (finalizer)") == [(NAMESPACE, "SyncAgeSeconds", {"service": "finalizer"}, None)]
    sync = widgets["Sync age (finalizer)"]["properties"]
    assert sync["annotations"]["horizontal"][0]["value"] == "SUB:SyncAgeThresholdSeconds"
    queue = {"QueueName": "SUB:TransferQueue.QueueName"}
    assert [(m, d) for _, m, d, _ in lines("Backlog (transfer queue)")] == [
        ("ApproximateNumberOfMessagesVisible", queue),
        ("ApproximateNumberOfMessagesNotVisible", queue),
        ("ApproximateNumberOfMessagesDelayed", queue),
        ("ApproximateAgeOfOldestMessage", queue),
    ]
    assert lines("Run history") == [
        (NAMESPACE, "RunsStarted", {"service": "planner"}, "Sum"),
        (NAMESPACE, "RunsIncomplete", {"service": RUN_SERVICE}, "Sum"),
        (NAMESPACE, "RunFailedObjects", {"service": RUN_SERVICE}, "Sum"),
        (NAMESPACE, "RunDurationSeconds", {"service": RUN_SERVICE}, "Maximum"),
    ]
    shown = {arn.rsplit("SUB:ResourcePrefix-", 1)[1] for arn in widgets["Alarms"]["properties"]["alarms"]}
    assert shown == EXPECTED_ALARMS


# ------------------------------------------------------------------------------------------ tracing


def test_tracing_parameter_defaults_to_active(consumer: dict[str, Any]) -> None:
    tracing = consumer["Parameters"]["Tracing"]
    assert (tracing["Default"], tracing["AllowedValues"]) == ("Active", ["Active", "PassThrough"])
    for name in FUNCTIONS.values():
        assert consumer["Resources"][name]["Properties"]["TracingConfig"] == {"Mode": {"Ref": "Tracing"}}, name
    passthrough = Evaluator(consumer, {"Tracing": "PassThrough"}).resources()
    assert passthrough["CopierFunction"]["Properties"]["TracingConfig"] == {"Mode": "PassThrough"}


def test_each_function_role_may_send_traces(consumer: dict[str, Any]) -> None:
    granted = {
        name
        for name, _, kind, statement in statements(consumer)
        if kind == "identity" and set(as_list(statement.get("Action"))) == XRAY_ACTIONS and statement["Resource"] == "*"
    }
    assert granted == {"PlannerRole", "CopierRole", "FinalizerRole"}


# ------------------------------------------------------------------------------------------ alarms


# The runbook's alarms, as the CLI (status, health) reads them: the template must create exactly these, and
# the two parts of the composite RunNotStartedAlarm, which notify through it.
EXPECTED_ALARMS = set(ALARMS)
COMPOSITE_PARTS = {
    "ScheduleInvocationFailedAlarm",
    "NoRunStartedAlarm",
    "ReconcileInvocationFailedAlarm",
    "ReconcileRefusedAlarm",
}
# Missing data means "nothing vouches for it" for these two (while the schedules run); for the others it
# means "nothing happened"
BREACHING_WHEN_MISSING = {"SyncStaleAlarm", "NoRunStartedAlarm"}
# Reported once per run: between runs these keep the state the last run reported.
STATE_KEPT_WHEN_MISSING = {"InflightUploadPinsMarkerAlarm"}
WEEK = 7 * 24 * 3600


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        **_resources_of(template, "AWS::CloudWatch::Alarm"),
        **_resources_of(template, "AWS::CloudWatch::CompositeAlarm"),
    }


def test_every_alarm_is_named_and_notifies_the_topic_on_alarm_and_ok(consumer: dict[str, Any]) -> None:
    alarms = _alarms(consumer)
    assert set(alarms) == EXPECTED_ALARMS | COMPOSITE_PARTS
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmName"] == {"Fn::Sub": f"${{ResourcePrefix}}-{name}"}
        if name in COMPOSITE_PARTS:
            assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(props), name
        else:
            assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
            assert props["OKActions"] == [{"Ref": "AlarmTopic"}], name


def test_missing_data_is_breaching_only_where_it_means_nobody_vouches(consumer: dict[str, Any]) -> None:
    for name, alarm in _resources_of(consumer, "AWS::CloudWatch::Alarm").items():
        treat = alarm["Properties"]["TreatMissingData"]
        if name in BREACHING_WHEN_MISSING:
            assert treat == {"Fn::If": ["SchedulesOn", "breaching", "notBreaching"]}, name
        elif name in STATE_KEPT_WHEN_MISSING:
            assert treat == "ignore", name
        else:
            assert treat == "notBreaching", name
    # with the schedules off, nothing is expected and every alarm stays quiet on missing data
    quiet = Evaluator(consumer, {"SchedulesEnabled": "false"}).resources()
    assert {quiet[name]["Properties"]["TreatMissingData"] for name in BREACHING_WHEN_MISSING} == {"notBreaching"}
    on = Evaluator(consumer).resources()
    assert {on[name]["Properties"]["TreatMissingData"] for name in BREACHING_WHEN_MISSING} == {"breaching"}


def test_sync_stale_alarm_reads_the_finalizers_sync_age(consumer: dict[str, Any]) -> None:
    props = consumer["Resources"]["SyncStaleAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (NAMESPACE, "SyncAgeSeconds", "Maximum")
    assert props["Dimensions"] == [{"Name": "service", "Value": "finalizer"}]
    assert (props["ComparisonOperator"], props["Threshold"]) == (
        "GreaterThanThreshold",
        {"Ref": "SyncAgeThresholdSeconds"},
    )
    # the finalizer reports every 5 minutes: a period holds several reports, one missing report is no alarm
    finalizer_every = 300
    assert props["Period"] >= 3 * finalizer_every
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 2
    threshold = consumer["Parameters"]["SyncAgeThresholdSeconds"]
    assert threshold["Default"] == 26 * 3600  # a daily schedule plus a margin (health's --max-sync-age)


def test_run_not_started_alarm_combines_the_schedules_failures_and_no_run_started(consumer: dict[str, Any]) -> None:
    resources = consumer["Resources"]
    composite = resources["RunNotStartedAlarm"]["Properties"]
    rule = composite["AlarmRule"]["Fn::Sub"]
    assert rule == (
        'ALARM("${ResourcePrefix}-ScheduleInvocationFailedAlarm") OR ALARM("${ResourcePrefix}-NoRunStartedAlarm")'
    )
    assert set(resources["RunNotStartedAlarm"]["DependsOn"]) == {"ScheduleInvocationFailedAlarm", "NoRunStartedAlarm"}
    # EventBridge could not invoke the planner from its schedule
    failed = resources["ScheduleInvocationFailedAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"], failed["Statistic"]) == (
        "AWS/Events",
        "FailedInvocations",
        "Sum",
    )
    assert failed["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "PlannerSchedule"}}]
    assert (failed["ComparisonOperator"], failed["Threshold"]) == ("GreaterThanThreshold", 0)
    # no RunsStarted in the window: every hourly period of it breaching (missing = breaching)
    started = resources["NoRunStartedAlarm"]["Properties"]
    assert (started["Namespace"], started["MetricName"], started["Statistic"]) == (NAMESPACE, "RunsStarted", "Sum")
    assert started["Dimensions"] == [{"Name": "service", "Value": "planner"}]
    assert (started["ComparisonOperator"], started["Threshold"]) == ("LessThanThreshold", 1)
    assert started["EvaluationPeriods"] == started["DatapointsToAlarm"] == {"Ref": "RunStartWindowHours"}
    window = consumer["Parameters"]["RunStartWindowHours"]
    # CloudWatch: Period x EvaluationPeriods <= 7 days, and <= 1 day for periods under an hour
    assert started["Period"] == 3600
    assert started["Period"] * window["MaxValue"] <= WEEK
    # the default covers the daily schedule (cron(0 6 * * ? *)) plus a margin, and fits the limits
    assert consumer["Parameters"]["ScheduleExpression"]["Default"] == "cron(0 6 * * ? *)"
    assert 24 < window["Default"] <= window["MaxValue"]


def test_a_failing_reconcile_schedule_alarms_like_the_daily_one(consumer: dict[str, Any]) -> None:
    """Issue 15: only the daily schedule's failures alarmed. The reconcile schedule's now do: EventBridge could
    not invoke the planner from it, or the planner refused the reconcile (a run was active)."""
    resources = consumer["Resources"]
    composite = resources["ReconcileNotStartedAlarm"]["Properties"]
    assert composite["AlarmRule"]["Fn::Sub"] == (
        'ALARM("${ResourcePrefix}-ReconcileInvocationFailedAlarm") OR ALARM("${ResourcePrefix}-ReconcileRefusedAlarm")'
    )
    assert set(resources["ReconcileNotStartedAlarm"]["DependsOn"]) == {
        "ReconcileInvocationFailedAlarm",
        "ReconcileRefusedAlarm",
    }
    assert composite["AlarmActions"] == composite["OKActions"] == [{"Ref": "AlarmTopic"}]
    daily = resources["ScheduleInvocationFailedAlarm"]["Properties"]
    failed = resources["ReconcileInvocationFailedAlarm"]["Properties"]
    same = ("Namespace", "MetricName", "Statistic", "Period", "Threshold", "ComparisonOperator", "TreatMissingData")
    assert {k: failed[k] for k in same} == {k: daily[k] for k in same}
    assert failed["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": "ReconcileSchedule"}}]
    refused = resources["ReconcileRefusedAlarm"]["Properties"]
    assert (refused["Namespace"], refused["MetricName"], refused["Statistic"]) == (NAMESPACE, "RunsNotStarted", "Sum")
    assert refused["Dimensions"] == [{"Name": "service", "Value": "planner"}, {"Name": "kind", "Value": "reconcile"}]
    assert (refused["ComparisonOperator"], refused["Threshold"]) == ("GreaterThanThreshold", 0)


def test_an_upload_pinning_the_marker_alarms_and_the_planner_names_it(consumer: dict[str, Any]) -> None:
    resources = consumer["Resources"]
    props = resources["InflightUploadPinsMarkerAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (
        NAMESPACE,
        "OldestInflightUploadAgeSeconds",
        "Maximum",
    )
    assert props["Dimensions"] == [{"Name": "service", "Value": "planner"}]
    assert (props["ComparisonOperator"], props["Threshold"]) == (
        "GreaterThanThreshold",
        {"Ref": "InflightUploadAlarmSeconds"},
    )
    # the planner logs the upload's key past the same time, and a saved query finds those lines
    planner_env = resources["PlannerFunction"]["Properties"]["Environment"]["Variables"]
    assert planner_env["INFLIGHT_UPLOAD_ALARM_SECONDS"] == {"Ref": "InflightUploadAlarmSeconds"}
    query = resources["InflightUploadsQuery"]["Properties"]["QueryString"]
    assert 'filter message = "InflightUploadPinsMarker"' in query
    assert "key" in query.split("|")[0]
    # it fires before SyncStaleAlarm, which sees the same stuck marker without naming the upload
    parameters = consumer["Parameters"]
    assert parameters["InflightUploadAlarmSeconds"]["Default"] < parameters["SyncAgeThresholdSeconds"]["Default"]


def test_the_lookback_cannot_be_set_below_the_clock_skew_floor(consumer: dict[str, Any]) -> None:
    from hydration.settings import LOOKBACK_FLOOR_SECONDS

    lookback = consumer["Parameters"]["LookbackSeconds"]
    assert lookback["MinValue"] == LOOKBACK_FLOOR_SECONDS == 900
    assert lookback["Default"] >= lookback["MinValue"]


def test_copier_throttles_alarm(consumer: dict[str, Any]) -> None:
    props = consumer["Resources"]["CopierThrottlesAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"], props["Statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "CopierFunction"}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_run_end_failures_go_to_the_alarm_topic(consumer: dict[str, Any]) -> None:
    from hydration.aws.events import DETAIL_TYPES, SOURCE
    from hydration.models import RunStatus

    rule = consumer["Resources"]["RunEndFailuresRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": [SOURCE],
        "detail-type": [
            DETAIL_TYPES[RunStatus.COMPLETED_WITH_FAILURES],
            DETAIL_TYPES[RunStatus.FAILED],
            DETAIL_TYPES[RunStatus.INCOMPLETE],
        ],
    }
    assert rule["Targets"] == [{"Id": "alarm-topic", "Arn": {"Ref": "AlarmTopic"}}]
    (statement,) = consumer["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["RunEndFailuresRule", "Arn"]}}}


def test_retention_risk_alarms_fire_at_10_days(consumer: dict[str, Any]) -> None:
    for name, queue in (("RetentionRiskAlarm", "TransferQueue"), ("DlqRetentionRiskAlarm", "TransferDlq")):
        props = consumer["Resources"][name]["Properties"]
        assert (props["MetricName"], props["Statistic"], props["Threshold"]) == (
            "ApproximateAgeOfOldestMessage",
            "Maximum",
            10 * 24 * 3600,
        )
        assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]


def test_run_incomplete_alarm_reads_the_run_level_metric(consumer: dict[str, Any]) -> None:
    props = consumer["Resources"]["RunIncompleteAlarm"]["Properties"]
    assert (props["MetricName"], props["Dimensions"]) == ("RunsIncomplete", [{"Name": "service", "Value": RUN_SERVICE}])


def test_lambda_error_alarm_sums_every_function(consumer: dict[str, Any]) -> None:
    queries = consumer["Resources"]["LambdaErrorAlarm"]["Properties"]["Metrics"]
    (expression,) = [q for q in queries if "Expression" in q]
    assert expression["Expression"].startswith("SUM(")
    functions = {
        q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for q in queries
        if "MetricStat" in q and q["MetricStat"]["Metric"]["MetricName"] == "Errors"
    }
    assert functions == {*FUNCTIONS.values(), "PlannerWorkerFunction"}


def test_planner_duration_alarm_fires_at_13_minutes(consumer: dict[str, Any]) -> None:
    props = consumer["Resources"]["LambdaDurationAlarm"]["Properties"]
    assert (props["MetricName"], props["Statistic"], props["Threshold"]) == ("Duration", "Maximum", 780000)
    assert props["Dimensions"][0]["Value"] == {"Ref": "PlannerFunction"}


# ------------------------------------------------------------------------------------------ IAM


@pytest.mark.parametrize("template_name", ["producer", "consumer"])
def test_no_allow_statement_grants_a_wildcard_action_or_resource(
    template_name: str, request: pytest.FixtureRequest
) -> None:
    template = request.getfixturevalue(template_name)
    checked = 0
    for name, rtype, kind, statement in statements(template):
        if statement.get("Effect") != "Allow" or kind == "trust":
            continue
        checked += 1
        where = f"{name}/{statement.get('Sid', '?')}"
        assert "NotAction" not in statement, where
        assert "NotResource" not in statement, where
        for action in as_list(statement.get("Action")):
            if isinstance(action, str):
                is_wildcard = action == "*" or action.endswith(":*")
                # the key policy's account-root administration statement (kms:*) is the KMS idiom
                assert not is_wildcard or (rtype == "AWS::KMS::Key" and action == "kms:*"), where
        for resource in as_list(statement.get("Resource")):
            if resource == "*":
                # in a key policy, "*" means "this key"; X-Ray's PutTraceSegments/PutTelemetryRecords take no resource
                xray_only = set(as_list(statement.get("Action"))) <= XRAY_ACTIONS
                assert rtype == "AWS::KMS::Key" or xray_only, where
        principal = statement.get("Principal")
        assert principal not in ("*", {"AWS": "*"}), where
    assert checked > 5


OPERATORS = "arn:aws:iam::111111111111:role/ops-a,arn:aws:iam::111111111111:role/ops-b"


@pytest.mark.parametrize("operators", ["", OPERATORS], ids=["functions-only", "restore-operators"])
def test_producer_role_trust_requires_external_id_and_organisation(producer: dict[str, Any], operators: str) -> None:
    role = Evaluator(producer, {"RestoreOperatorArns": operators}).resources()["ProducerAccessRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]
    assert len(trust["Statement"]) == (2 if operators else 1)
    for statement in trust["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Principal"] != "*"
        condition = statement["Condition"]
        assert condition["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}
        assert condition["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganisationId"}
        principals = condition["ArnEquals"]["aws:PrincipalArn"]
        assert len(principals) == 2
    if operators:
        assert trust["Statement"][1]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == OPERATORS.split(",")


@pytest.mark.parametrize("operators", ["", OPERATORS], ids=["functions-only", "restore-operators"])
def test_the_producer_role_may_restore_archived_objects_only_for_restore_operators(
    producer: dict[str, Any], operators: str
) -> None:
    params = {"ProducerBucket": "src-bucket", "TransferPrefix": "data/", "RestoreOperatorArns": operators}
    (policy,) = Evaluator(producer, params).resources()["ProducerAccessRole"]["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert ("RestoreArchivedObjects" in by_sid) == bool(operators)
    if operators:
        assert by_sid["RestoreArchivedObjects"]["Action"] == "s3:RestoreObject"
        assert by_sid["RestoreArchivedObjects"]["Resource"]["Fn::Sub"][0].endswith("/${TransferPrefix}*")


def test_producer_trusts_exactly_the_consumer_planner_and_copier_roles(
    producer: dict[str, Any], consumer: dict[str, Any]
) -> None:
    trust = producer["Resources"]["ProducerAccessRole"]["Properties"]["AssumeRolePolicyDocument"]
    trusted = {
        arn["Fn::Sub"].rsplit("/", 1)[1].replace("${ConsumerResourcePrefix}", "${ResourcePrefix}")
        for arn in trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    }
    names = {
        name: consumer["Resources"][name]["Properties"]["RoleName"]["Fn::Sub"]
        for name in ("PlannerRole", "CopierRole", "FinalizerRole")
    }
    assert trusted == {names["PlannerRole"], names["CopierRole"]}
    assert (
        producer["Parameters"]["ConsumerResourcePrefix"]["Default"]
        == consumer["Parameters"]["ResourcePrefix"]["Default"]
    )


def test_producer_role_reads_only_the_transfer_prefix(producer: dict[str, Any]) -> None:
    evaluator = Evaluator(producer, {"ProducerBucket": "src-bucket", "TransferPrefix": "data/"})
    role = evaluator.resources()["ProducerAccessRole"]
    (policy,) = role["Properties"]["Policies"]
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid["ListTransferPrefix"]["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${TransferPrefix}*"}}}
    assert set(by_sid["ReadTransferPrefix"]["Action"]) == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
    }
    assert by_sid["ReadTransferPrefix"]["Resource"]["Fn::Sub"][0].endswith("/${TransferPrefix}*")
    assert "DecryptProducerObjects" not in by_sid  # no key given, no demo key


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"CopyMode": "server-side"}, True),  # one deployment: nothing from the consumer stack needed
        ({"CopyMode": "server-side", "ConsumerBucket": "dst"}, True),
        ({"CopyMode": "stream", "ConsumerBucket": "dst", "ConsumerKmsKeyArn": "arn:aws:kms:us-east-1:1:key/k"}, False),
    ],
)
def test_producer_role_writes_to_the_consumer_only_in_server_side_mode(
    producer: dict[str, Any], params: dict[str, str], expected: bool
) -> None:
    resources = Evaluator(producer, {"ProducerBucket": "src", **params}).resources()
    assert ("ConsumerWritePolicy" in resources) is expected
    if expected:
        statements_ = resources["ConsumerWritePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        write, kms = statements_
        assert set(write["Action"]) == {
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        }
        template, values = write["Resource"]["Fn::Sub"]
        assert template.endswith(":::${Bucket}/${DestinationPrefix}${TransferPrefix}*")
        assert values["Bucket"] == params.get("ConsumerBucket", "*")
        assert write["Condition"] == {"StringEquals": {"aws:ResourceAccount": {"Ref": "ConsumerAccountId"}}}
        assert set(kms["Action"]) == {"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}


def _resource_policy_principals(resources: dict[str, dict[str, Any]]) -> list[tuple[str, Any]]:
    found = []
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        document = props.get("KeyPolicy") if resource["Type"] == "AWS::KMS::Key" else props.get("PolicyDocument")
        if resource["Type"] in {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} or not document:
            continue
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                found.append((f"{name}/{statement.get('Sid')}", statement.get("Principal")))
    return found


def test_stream_mode_grants_no_producer_principal_anything(consumer: dict[str, Any]) -> None:
    resources = Evaluator(consumer, {"CopyMode": "stream"}).resources()
    principals = _resource_policy_principals(resources)
    assert principals, "no resource policy found: the test would prove nothing"
    for where, principal in principals:
        assert not references(principal, "ProducerRoleArn"), where
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        # only this account's root (key administration) or AWS services
        assert aws is None or aws == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}, where
    # and nothing else in the stack names the producer role, except the functions' own AssumeRole grants
    for name, resource in resources.items():
        if references(resource, "ProducerRoleArn"):
            assert resource["Type"] in {"AWS::IAM::Role", "AWS::Lambda::Function"}, name
    for name, _, kind, statement in statements(consumer):
        if kind == "identity" and references(statement.get("Resource"), "ProducerRoleArn"):
            assert statement["Action"] == "sts:AssumeRole", name


def test_server_side_mode_lets_the_producer_role_write_only_the_target_prefix(
    consumer: dict[str, Any],
) -> None:
    resources = Evaluator(consumer, {"CopyMode": "server-side"}).resources()
    bucket_statements = resources["ConsumerBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (grant,) = [s for s in bucket_statements if s["Effect"] == "Allow"]
    assert grant["Principal"] == {"AWS": {"Ref": "ProducerRoleArn"}}
    assert set(grant["Action"]) == {
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert grant["Resource"] == {"Fn::Sub": "${ConsumerBucket.Arn}/${DestinationPrefix}${TransferPrefix}*"}
    key_statements = resources["ConsumerKey"]["Properties"]["KeyPolicy"]["Statement"]
    (key_grant,) = [s for s in key_statements if references(s.get("Principal"), "ProducerRoleArn")]
    assert set(key_grant["Action"]) == {"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}


def test_consumer_bucket_denies_plain_http(consumer: dict[str, Any]) -> None:
    statements_ = consumer["Resources"]["ConsumerBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements_ if s.get("Effect") == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny)


def test_each_function_logs_only_to_its_own_log_group(consumer: dict[str, Any]) -> None:
    """The planner's role is the coordinator's and the planner workers': their two log groups."""
    for service in SERVICES:
        role = consumer["Resources"][f"{service.capitalize()}Role"]
        (policy,) = role["Properties"]["Policies"]
        (logs,) = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "OwnLogGroup"]
        groups = [resource["Fn::Sub"] for resource in as_list(logs["Resource"])]
        own = [service, "planner-worker"] if service == "planner" else [service]
        assert [g.rsplit(":log-group:", 1)[1] for g in groups] == [
            f"/aws/lambda/${{ResourcePrefix}}-{n}:*" for n in own
        ]


# ------------------------------------------------------------------------------------------ queues


def test_visibility_timeout_is_at_least_six_copier_timeouts(consumer: dict[str, Any]) -> None:
    queue = consumer["Resources"]["TransferQueue"]["Properties"]
    copier = consumer["Resources"]["CopierFunction"]["Properties"]
    mapping_name = queue["VisibilityTimeout"]["Fn::FindInMap"][0]
    assert queue["VisibilityTimeout"]["Fn::FindInMap"][1] == {"Ref": "CopierTimeout"}
    assert copier["Timeout"] == {"Fn::FindInMap": [mapping_name, {"Ref": "CopierTimeout"}, "FunctionTimeout"]}
    mapping = consumer["Mappings"][mapping_name]
    allowed = consumer["Parameters"]["CopierTimeout"]["AllowedValues"]
    assert set(allowed) == set(mapping)
    for key, row in mapping.items():
        assert row["FunctionTimeout"] == int(key)
        assert row["QueueVisibilityTimeout"] >= 6 * row["FunctionTimeout"], key


def test_the_copier_holds_its_batch_in_steps_shorter_than_any_queue_visibility_timeout(
    consumer: dict[str, Any],
) -> None:
    """The visibility heartbeat (copier.visibility): the queue keeps AWS's 6x timeout for the time before a
    copier runs; from then on the copier holds its messages a step at a time, so a crash costs a step."""
    copier = consumer["Resources"]["CopierFunction"]["Properties"]
    assert copier["Environment"]["Variables"]["VISIBILITY_STEP_SECONDS"] == {"Ref": "VisibilityStepSeconds"}
    step = consumer["Parameters"]["VisibilityStepSeconds"]
    assert (step["Default"], step["MinValue"]) == (60, 3)
    shortest = min(row["QueueVisibilityTimeout"] for row in consumer["Mappings"]["CopierTimeouts"].values())
    assert step["MaxValue"] < shortest
    (consume,) = [
        s
        for name, _, kind, s in statements(consumer)
        if name == "CopierRole" and s.get("Sid") == "ConsumeTransferQueue"
    ]
    assert "sqs:ChangeMessageVisibility" in consume["Action"]  # the action of ChangeMessageVisibilityBatch too
    assert consume["Resource"] == {"Fn::GetAtt": ["TransferQueue", "Arn"]}


def test_transfer_queue_redrives_to_a_14_day_dlq(consumer: dict[str, Any]) -> None:
    queue = consumer["Resources"]["TransferQueue"]["Properties"]
    dlq = consumer["Resources"]["TransferDlq"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["TransferDlq", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert consumer["Parameters"]["MaxReceiveCount"]["Default"] == 5
    # Both 14 days, the maximum: a backlog has two weeks (RetentionRiskAlarm fires at 10 days), and a message's
    # age carries over to the DLQ, so its key is swept into the ledger by its run's books before it could expire.
    assert dlq["MessageRetentionPeriod"] == queue["MessageRetentionPeriod"] == FOURTEEN_DAYS
    alarm = consumer["Resources"]["RetentionRiskAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"]) == ("ApproximateAgeOfOldestMessage", 10 * 86400)
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"
    (source,) = dlq["RedriveAllowPolicy"]["sourceQueueArns"]
    assert source["Fn::Sub"].endswith(":" + queue["QueueName"]["Fn::Sub"])


def test_every_queue_is_encrypted(consumer: dict[str, Any]) -> None:
    queues = _resources_of(consumer, "AWS::SQS::Queue")
    assert set(queues) == {"TransferQueue", "TransferDlq", "InvocationDlq", "PlannerQueue", "PlannerDlq"}
    for name, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
    assert consumer["Resources"]["InvocationDlq"]["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert consumer["Resources"]["InvocationDlq"]["Properties"]["QueueName"] == {"Fn::Sub": "${ResourcePrefix}-dlq"}


def _event_source(consumer: dict[str, Any], function: str) -> dict[str, Any]:
    mappings = _resources_of(consumer, "AWS::Lambda::EventSourceMapping").values()
    (esm,) = [m for m in mappings if m["Properties"]["FunctionName"] == {"Ref": function}]
    return dict(esm["Properties"])


def test_copier_event_source_reports_batch_item_failures(consumer: dict[str, Any]) -> None:
    props = _event_source(consumer, "CopierFunction")
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["TransferQueue", "Arn"]}
    assert props["FunctionName"] == {"Ref": "CopierFunction"}
    assert props["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaximumConcurrency"}
    parameters = consumer["Parameters"]
    assert parameters["MaximumConcurrency"]["MinValue"] == 2
    # Batches of 10 messages of 10 keys with a 1 s window: per-invocation costs are paid once per 100 objects,
    # and the last batch of a run settles and closes it in one books transaction (docs/benchmark.md).
    assert (parameters["BatchSize"]["Default"], parameters["MaximumBatchingWindowInSeconds"]["Default"]) == (10, 1)
    assert parameters["KeysPerMessage"]["Default"] == 10


def test_planner_workers_take_one_shard_each_from_their_own_queue(consumer: dict[str, Any]) -> None:
    """The planner queue's event source: one shard an invocation, at most PlannerConcurrency at once; its
    visibility timeout six worker timeouts; a shard failing its fifth receive goes to the planner DLQ, and the
    worker knows which receive is the last (it fails the shard and the run then)."""
    props = _event_source(consumer, "PlannerWorkerFunction")
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["PlannerQueue", "Arn"]}
    assert (props["BatchSize"], props["FunctionResponseTypes"]) == (1, ["ReportBatchItemFailures"])
    assert props["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "PlannerConcurrency"}
    parameters = consumer["Parameters"]
    assert (parameters["PlannerConcurrency"]["Default"], parameters["PlannerShards"]["Default"]) == (32, 64)
    assert parameters["PlannerShards"]["MaxValue"] == 99  # the first cut is one transaction
    queue = consumer["Resources"]["PlannerQueue"]["Properties"]
    worker = consumer["Resources"]["PlannerWorkerFunction"]["Properties"]
    assert queue["VisibilityTimeout"]["Fn::FindInMap"][1] == {"Ref": "PlannerWorkerTimeout"}
    assert worker["Timeout"] == {
        "Fn::FindInMap": ["PlannerWorkerTimeouts", {"Ref": "PlannerWorkerTimeout"}, "FunctionTimeout"]
    }
    for key, row in consumer["Mappings"]["PlannerWorkerTimeouts"].items():
        assert row["FunctionTimeout"] == int(key)
        assert row["QueueVisibilityTimeout"] >= 6 * row["FunctionTimeout"], key
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["PlannerDlq", "Arn"]}
    assert (
        str(queue["RedrivePolicy"]["maxReceiveCount"])
        == worker["Environment"]["Variables"]["PLANNER_MAX_RECEIVE_COUNT"]
    )
    assert worker["Handler"] == "planner.worker_handler.lambda_handler"
    assert worker["Role"] == {"Fn::GetAtt": ["PlannerRole", "Arn"]}
    assert consumer["Resources"]["PlannerWorkerFunction"]["DependsOn"] == "PlannerWorkerLogGroup"


def test_inventory_reports_start_runs_and_only_the_producer_bucket_writes_them(consumer: dict[str, Any]) -> None:
    resources = consumer["Resources"]
    for name in ("InventoryBucket", "InventoryBucketPolicy", "InventoryReportRule", "InventoryReportPermission"):
        assert resources[name]["Condition"] == "InventoryOn", name
    assert consumer["Parameters"]["InventoryEnabled"]["Default"] == "false"
    (allow,) = [
        s
        for s in resources["InventoryBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert set(allow["Condition"]["StringEquals"]) == {"aws:SourceAccount"}
    assert set(allow["Condition"]["ArnLike"]) == {"aws:SourceArn"}
    rule = resources["InventoryReportRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"suffix": "manifest.checksum"}]
    assert rule["Targets"][0]["InputTransformer"]["InputTemplate"] == '{"inventory": "s3://<bucket>/<key>"}'
    bucket = resources["InventoryBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True


def test_guarded_deletes_are_off_by_default_and_capped(consumer: dict[str, Any]) -> None:
    parameters = consumer["Parameters"]
    assert parameters["DeleteMode"]["Default"] == "off"
    assert (parameters["MaxDeleteCount"]["Default"], parameters["MaxDeletePercent"]["Default"]) == (1000, 1)
    planner = consumer["Resources"]["PlannerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    deletes = [s for s in planner if "Fn::If" in s and s["Fn::If"][0] == "DeletesOn"]
    assert {s["Fn::If"][1]["Sid"] for s in deletes} == {"GuardedDeletes", "ForgetDeletedKeys"}
    rules = consumer["Resources"]["ConsumerBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (trash,) = [r["Fn::If"][1] for r in rules if "Fn::If" in r]
    assert (trash["Prefix"], trash["ExpirationInDays"]) == ("_s3_hydration_trash/", {"Ref": "TrashExpirationDays"})


def test_planner_and_finalizer_failures_go_to_the_invocation_dlq(consumer: dict[str, Any]) -> None:
    for name in ("PlannerFunction", "FinalizerFunction"):
        props = consumer["Resources"][name]["Properties"]
        assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["InvocationDlq", "Arn"]}}
    configs = _resources_of(consumer, "AWS::Lambda::EventInvokeConfig")
    assert {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()} == {
        "PlannerFunction",
        "FinalizerFunction",
    }


# ------------------------------------------------------------------------------------------ functions


def test_functions_run_the_documented_handlers(consumer: dict[str, Any]) -> None:
    for service, logical in FUNCTIONS.items():
        props = consumer["Resources"][logical]["Properties"]
        assert props["Handler"] == f"{service}.handler.lambda_handler"
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["x86_64"]
        assert props["FunctionName"] == {"Fn::Sub": f"${{ResourcePrefix}}-{service}"}
        assert props["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
        assert consumer["Resources"][logical]["DependsOn"] == f"{service.capitalize()}LogGroup"
        log_group = consumer["Resources"][f"{service.capitalize()}LogGroup"]["Properties"]
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{ResourcePrefix}}-{service}"}
    assert consumer["Resources"]["PlannerFunction"]["Properties"]["Timeout"] == 900
    assert consumer["Resources"]["FinalizerFunction"]["Properties"]["Timeout"] == 60


def test_function_environment_matches_the_contract(consumer: dict[str, Any]) -> None:
    documented = doc_function_environment()
    for service, logical in {**FUNCTIONS, "planner-worker": "PlannerWorkerFunction"}.items():
        variables = consumer["Resources"][logical]["Properties"]["Environment"]["Variables"]
        assert set(variables) - {"LOG_LEVEL"} == documented[service], service
        assert variables["POWERTOOLS_SERVICE_NAME"] == service
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_only_the_planner_is_invoked_by_the_functions(consumer: dict[str, Any]) -> None:
    """The planner continues its own checkpointed runs; the finalizer continues a run whose planner stopped."""
    invokers = set()
    for name, _, kind, statement in statements(consumer):
        if kind == "identity" and "lambda:InvokeFunction" in as_list(statement.get("Action")):
            invokers.add(name)
            assert statement["Resource"]["Fn::Sub"].endswith(":function:${ResourcePrefix}-planner")
    assert invokers == {"PlannerRole", "FinalizerRole"}


def test_schedules_and_runbook_names(consumer: dict[str, Any]) -> None:
    resources = consumer["Resources"]
    planner_rule = resources["PlannerSchedule"]["Properties"]
    assert planner_rule["Name"] == {"Fn::Sub": "${ResourcePrefix}-schedule"}
    assert planner_rule["Targets"][0]["Input"] == "{}"
    assert consumer["Parameters"]["ScheduleExpression"]["Default"] == "cron(0 6 * * ? *)"
    assert consumer["Parameters"]["FinalizerScheduleExpression"]["Default"] == "rate(5 minutes)"
    assert consumer["Parameters"]["ResourcePrefix"]["Default"] == "s3-hydration"
    assert resources["AlarmTopic"]["Properties"]["TopicName"] == {"Fn::Sub": "${ResourcePrefix}-alarms"}
    permissions = _resources_of(consumer, "AWS::Lambda::Permission")
    assert {p["Properties"]["SourceArn"]["Fn::GetAtt"][0] for p in permissions.values()} == {
        "PlannerSchedule",
        "FinalizerSchedule",
        "ReconcileSchedule",
        "InventoryReportRule",
    }
    reconcile = resources["ReconcileSchedule"]["Properties"]
    assert reconcile["Targets"][0]["Input"] == '{"reconcile": true}'
    assert reconcile["State"] == {"Fn::If": ["ReconcileOn", "ENABLED", "DISABLED"]}


def test_runbook_parameter_names_exist(consumer: dict[str, Any]) -> None:
    expected = {
        "ExternalId",
        "OrganisationId",
        "ProducerBucket",
        "ProducerRoleArn",
        "TransferPrefix",
        "DestinationPrefix",
        "ScheduleExpression",
        "PlannerMemorySize",
        "CopierMemorySize",
        "FinalizerMemorySize",
        "CopyMode",
        "MaxReceiveCount",
        "MultipartThresholdBytes",
        "PartSizeBytes",
        "CopyConcurrency",
        "LookbackSeconds",
        "KeysPerMessage",
        "CodeBucket",
        "CodeKey",
    }
    assert expected <= set(consumer["Parameters"])
    assert consumer["Parameters"]["ExternalId"]["NoEcho"] is True
    # Faults are injected from the test side: no test-only switch in what users deploy.
    assert not [name for name in consumer["Parameters"] if "fault" in name.lower()]


# ------------------------------------------------------------------------------------------ data


def test_tables_are_on_demand_encrypted_and_recoverable(consumer: dict[str, Any]) -> None:
    keys = {
        "RunsTable": ["run_id"],
        "BooksTable": ["run_id", "key"],
        "FailuresTable": ["key"],
        "ManifestTable": ["key"],
        "UploadsTable": ["key"],
    }
    tables = _resources_of(consumer, "AWS::DynamoDB::Table")
    assert set(tables) == set(keys)
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["KeySchema"] == [
            {"AttributeName": key, "KeyType": kind} for key, kind in zip(keys[name], ["HASH", "RANGE"], strict=False)
        ]
    for name in ("RunsTable", "BooksTable", "UploadsTable"):
        assert tables[name]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_consumer_bucket_and_key(consumer: dict[str, Any]) -> None:
    bucket = consumer["Resources"]["ConsumerBucket"]["Properties"]
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    lifecycle, trash = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert trash["Fn::If"][0] == "TrashExpires"  # soft deletes expire (test_guarded_deletes_...)
    assert consumer["Resources"]["ConsumerKey"]["Properties"]["EnableKeyRotation"] is True


def test_existing_bucket_and_key_replace_the_created_ones(consumer: dict[str, Any]) -> None:
    key_arn = "arn:aws:kms:us-east-1:111111111111:key/abc"
    evaluator = Evaluator(consumer, {"ExistingBucketName": "existing-bucket", "ExistingKmsKeyArn": key_arn})
    resources = evaluator.resources()
    assert not {"ConsumerBucket", "ConsumerBucketPolicy", "ConsumerKey", "ConsumerKeyAlias"} & set(resources)
    copier_env = resources["CopierFunction"]["Properties"]["Environment"]["Variables"]
    assert (copier_env["CONSUMER_BUCKET"], copier_env["CONSUMER_KMS_KEY_ID"]) == ("existing-bucket", key_arn)
    outputs = evaluator.resolve(consumer["Outputs"])
    assert outputs["ConsumerBucketName"]["Value"] == "existing-bucket"


def test_vpc_is_optional(consumer: dict[str, Any]) -> None:
    without = Evaluator(consumer).resources()
    assert "VpcConfig" not in without["CopierFunction"]["Properties"]
    assert "S3GatewayEndpoint" not in without
    with_vpc = Evaluator(
        consumer,
        {
            "SubnetIds": "subnet-1,subnet-2",
            "SecurityGroupIds": "sg-1",
            "VpcId": "vpc-1",
            "RouteTableIds": "rtb-1",
        },
    ).resources()
    assert with_vpc["CopierFunction"]["Properties"]["VpcConfig"]["SubnetIds"] == ["subnet-1", "subnet-2"]
    assert with_vpc["S3GatewayEndpoint"]["Properties"]["VpcEndpointType"] == "Gateway"


def test_logs_insights_queries(consumer: dict[str, Any]) -> None:
    queries = {
        q["Properties"]["Name"]["Fn::Sub"]: q["Properties"]["QueryString"]
        for q in _resources_of(consumer, "AWS::Logs::QueryDefinition").values()
    }
    by_code = queries["${ResourcePrefix}/object-transfer-errors-by-code"]
    assert 'filter message = "ObjectTransferError"' in by_code
    assert "stats count() by error_code" in by_code
    assert "correlation_id" in queries["${ResourcePrefix}/run-by-correlation-id"]
    assert "${ResourcePrefix}/errors-by-function" in queries


# ------------------------------------------------------------------------------------------ outputs


def test_outputs_cover_the_contract(producer: dict[str, Any], consumer: dict[str, Any]) -> None:
    consumer_outputs, producer_outputs = doc_outputs()
    assert consumer_outputs <= set(consumer["Outputs"])
    assert producer_outputs <= set(producer["Outputs"])


def test_the_clis_parameter_defaults_are_the_templates(consumer: dict[str, Any]) -> None:
    """`estimate`, `runs report` and `trigger` fall back on these when the stack does not list a parameter."""
    from hydration_cli.ops.stack import PARAMETERS, DeployedSettings
    from tests.cli.conftest import PARAMETERS as TEST_STACK

    defaults = DeployedSettings()
    for field, parameter in PARAMETERS.items():
        assert str(getattr(defaults, field)) == str(consumer["Parameters"][parameter]["Default"]), parameter
    for parameter, value in TEST_STACK.items():
        assert value == str(consumer["Parameters"][parameter]["Default"]), parameter


def test_the_template_refuses_exactly_the_copier_timeouts_that_cannot_finish_a_5_tib_object(
    consumer: dict[str, Any],
) -> None:
    """The Rule is derived from the copier's own constants (hydration.parts, DEADLINE_MARGIN_SECONDS): every
    allowed CopierTimeout it lets through progresses a 5 TiB copy in every invocation, and it refuses the rest."""
    from hydration.parts import finishes_largest_object
    from hydration.settings import CopierSettings

    margin = CopierSettings.model_fields["deadline_margin_seconds"].default
    (assertion,) = consumer["Rules"]["CopierTimeoutFinishesTheLargestObject"]["Assertions"]
    refused = set()
    for clause in assertion["Assert"]["Fn::Not"]:
        ref, value = clause["Fn::Equals"]
        assert ref == {"Ref": "CopierTimeout"}
        refused.add(value)
    allowed = consumer["Parameters"]["CopierTimeout"]["AllowedValues"]
    assert refused == {t for t in allowed if not finishes_largest_object(int(t) - margin)}
    assert "5 TiB" in assertion["AssertDescription"]

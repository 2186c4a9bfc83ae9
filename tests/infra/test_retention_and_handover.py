"""The consumer stack keeps its state when it is deleted or a change would replace it; the producer stack is
deployed once, from values the producer team knows before the consumer stack exists; the copier's duration
alarm; optional access logging of the consumer bucket."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cfn_model import Evaluator

TABLES = {"RunsTable", "BooksTable", "FailuresTable", "ManifestTable", "UploadsTable"}
# Every stateful resource of the consumer stack: what it copied (bucket), how it is encrypted (key), and the
# tables that prove it (runs, books, ledger, manifest, uploads).
STATEFUL = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key"}


def test_every_stateful_resource_is_retained_on_delete_and_on_replacement(consumer: dict[str, Any]) -> None:
    stateful = {name: r for name, r in consumer["Resources"].items() if r["Type"] in STATEFUL}
    assert TABLES | {"ConsumerBucket", "ConsumerKey"} <= set(stateful)
    for name, resource in stateful.items():
        assert resource.get("DeletionPolicy") == "Retain", name
        assert resource.get("UpdateReplacePolicy") == "Retain", name


def test_the_runs_table_lists_the_newest_runs_through_an_index(consumer: dict[str, Any]) -> None:
    assert _only_index(consumer, "RunsTable") == ("ByStart", "kind", "started_at", "KEYS_ONLY")
    assert _attributes(consumer, "RunsTable") == {"run_id": "S", "kind": "S", "started_at": "S"}


def _only_index(consumer: dict[str, Any], table: str) -> tuple[str, str, str, str]:
    """A table's one global secondary index: its name, hash key, range key and projection."""
    [index] = consumer["Resources"][table]["Properties"]["GlobalSecondaryIndexes"]
    keys = {key["KeyType"]: key["AttributeName"] for key in index["KeySchema"]}
    assert len(index["KeySchema"]) == 2
    return index["IndexName"], keys["HASH"], keys["RANGE"], index["Projection"]["ProjectionType"]


def _attributes(consumer: dict[str, Any], table: str) -> dict[str, str]:
    return {
        d["AttributeName"]: d["AttributeType"]
        for d in consumer["Resources"][table]["Properties"]["AttributeDefinitions"]
    }


def test_copier_duration_alarm_fires_when_an_invocation_runs_into_its_timeout(consumer: dict[str, Any]) -> None:
    alarm = consumer["Resources"]["CopierDurationAlarm"]["Properties"]
    assert alarm["AlarmName"] == {"Fn::Sub": "${ResourcePrefix}-CopierDurationAlarm"}
    by_id = {m["Id"]: m for m in alarm["Metrics"]}
    stat = by_id["duration"]["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
        "AWS/Lambda",
        "Duration",
        "Maximum",
    )
    assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "CopierFunction"}}]
    # seconds left = the deployed timeout - the longest invocation; alarm under 5 s (the copier hands on at 15 s)
    assert by_id["secondsleft"]["Expression"] == {"Fn::Sub": "${CopierTimeout} - duration / 1000"}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (5, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"  # an idle copier is healthy
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize(("log_bucket", "expected"), [("", None), ("access-logs", "access-logs")])
def test_access_logging_of_the_consumer_bucket_is_optional(
    consumer: dict[str, Any], log_bucket: str, expected: str | None
) -> None:
    bucket = Evaluator(consumer, {"AccessLogBucket": log_bucket}).resources()["ConsumerBucket"]["Properties"]
    if expected is None:
        assert "LoggingConfiguration" not in bucket
    else:
        assert bucket["LoggingConfiguration"] == {
            "DestinationBucketName": expected,
            "LogFilePrefix": {"Fn::Sub": "${ResourcePrefix}-consumer/"},
        }


def test_the_producer_grants_the_key_by_the_alias_the_consumer_stack_gives_it(
    producer: dict[str, Any], consumer: dict[str, Any]
) -> None:
    # Given a server-side producer deployed before anything of the consumer stack exists
    resources = Evaluator(producer, {"ProducerBucket": "src", "CopyMode": "server-side"}).resources()
    _, kms = resources["ConsumerWritePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    # Then the key is the consumer account's key that carries the consumer stack's alias
    assert kms["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${ConsumerAccountId}:key/*"}
    alias = kms["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
    assert alias == {"Fn::Sub": "alias/${ConsumerResourcePrefix}-consumer"}
    consumer_alias = consumer["Resources"]["ConsumerKeyAlias"]["Properties"]["AliasName"]
    assert consumer_alias == {"Fn::Sub": "alias/${ResourcePrefix}-consumer"}  # the same name, prefix for prefix


def test_a_named_consumer_key_is_granted_by_its_arn(producer: dict[str, Any]) -> None:
    arn = "arn:aws:kms:eu-west-1:111111111111:key/existing"
    params = {"ProducerBucket": "src", "CopyMode": "server-side", "ConsumerKmsKeyArn": arn}
    resources = Evaluator(producer, params).resources()
    _, kms = resources["ConsumerWritePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert kms["Resource"] == arn
    assert "Condition" not in kms


def test_the_handover_outputs_are_the_consumer_stacks_parameters(
    producer: dict[str, Any], consumer: dict[str, Any]
) -> None:
    # What the producer team hands over: its outputs name the consumer stack's parameters
    handover = {"ProducerRoleArn": "ProducerRoleArn", "ProducerBucketName": "ProducerBucket"}
    for output, parameter in handover.items():
        assert output in producer["Outputs"]
        assert parameter in consumer["Parameters"]


def test_planner_workers_read_the_ledger_by_key_range_through_an_index(consumer: dict[str, Any]) -> None:
    """Every ledger entry has an `origin` (four values): a worker queries its range once per origin instead of
    scanning the whole ledger (hydration.aws.ledger.within), with a grant on that index only."""
    assert _only_index(consumer, "FailuresTable") == ("ByKey", "origin", "key", "ALL")
    assert _attributes(consumer, "FailuresTable") == {"key": "S", "origin": "S"}
    statements = consumer["Resources"]["PlannerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [grant] = [s for s in statements if s.get("Resource") == {"Fn::Sub": "${FailuresTable.Arn}/index/ByKey"}]
    assert grant["Action"] == "dynamodb:Query"

"""The pipeline end to end on LocalStack: real event plumbing (SQS event source mapping with partial batch
responses and redrive, Lambda invokes), our functions running from the deployment zip.

The tests run in file order and build on each other's state, as a day in the life of a deployment:
first run, incremental run, nothing-changed run, a poison key, its redrive.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tools.sample_data import MIB, Sample, demo_set, seed, verify

from hydration.marker import parse
from tests.e2e.bounds import SLACK_SECONDS, Bounds
from tests.e2e.conftest import poll
from tests.faults import Faults

SCHEDULED_EVENT = {"version": "0", "id": "e2e", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
PREFIX = "e2e/"
POISON = Sample(key=PREFIX + "poison/always-fails.bin", size=123, metadata={"kind": "poison"})

state: dict[str, Any] = {}


def run_to_end(deployment: Any, payload: dict[str, Any], timeout: float = 300) -> Any:
    """Start a run through the planner and follow it (nudging the finalizer) until it ends."""
    from hydration_cli.ops import trigger

    plan = deployment.functions.invoke(deployment.function_name("planner"), payload)
    assert plan["started"], plan
    import time

    return trigger.follow(
        deployment,
        plan["run_id"],
        timeout=timedelta(seconds=timeout),
        interval=0.5,
        clock=lambda: datetime.now(UTC),
        sleep=time.sleep,
    )


def marker(deployment: Any) -> Any:
    body = deployment.client("s3").get_object(Bucket=deployment.bucket, Key="_s3_hydration_last_sync")["Body"]
    return parse(body.read().decode())


def copier_env(deployment: Any, **changes: str) -> None:
    """Change the copier's environment the way a stack update would (new execution environments)."""
    lam = deployment.client("lambda")
    name = deployment.function_name("copier")
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    env.update(changes)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})
    poll(
        lambda: lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "Successful",
        timeout=60,
        what="the copier's configuration update",
    )


def test_a_scheduled_run_hydrates_everything(deployment: Any, producer_s3: Any, outputs: dict[str, Any]) -> None:
    threshold = int(deployment.parameter("MultipartThresholdBytes", str(64 * MIB)))
    samples = demo_set(count=60, big_bytes=threshold + MIB, prefix=PREFIX)
    seed(producer_s3, outputs["ProducerBucketName"], samples)
    state["samples"] = samples

    run = run_to_end(deployment, SCHEDULED_EVENT)

    assert run.status.value == "COMPLETED", run
    assert run.keys_enqueued >= len(samples)
    assert verify(deployment.client("s3"), deployment.bucket, samples, outputs["ConsumerKmsKeyArn"]) == []
    # The marker is the run's watermark: the time its listing started.
    assert marker(deployment).synced_to == run.watermark
    state["first_run"] = run


def test_the_functions_metrics_reach_cloudwatch(deployment: Any) -> None:
    """The copier emits EMF log lines; on AWS CloudWatch Logs turns them into metrics, here our executor does.
    The dashboard and alarms read exactly these (namespace S3Hydration, dimension service)."""
    cloudwatch = deployment.client("cloudwatch")
    end = datetime.now(UTC) + timedelta(minutes=5)

    def transferred() -> float:
        result = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "t",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "S3Hydration",
                            "MetricName": "ObjectsTransferred",
                            "Dimensions": [{"Name": "service", "Value": "copier"}],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=end - timedelta(hours=1),
            EndTime=end,
        )
        return sum(result["MetricDataResults"][0]["Values"])

    total = poll(lambda: transferred() >= len(state["samples"]), timeout=60, what="ObjectsTransferred in CloudWatch")
    assert total


def test_an_incremental_run_copies_only_what_changed(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any]
) -> None:
    samples: list[Sample] = state["samples"]
    changed = [Sample(**{**s.__dict__, "generation": 1}) for s in samples[10:12]]
    added = [Sample(key=f"{PREFIX}added/{i}.txt", size=100 + i, content_type="text/plain") for i in range(3)]
    seed(producer_s3, outputs["ProducerBucketName"], changed + added)

    run = run_to_end(deployment, SCHEDULED_EVENT)

    assert run.status.value == "COMPLETED"
    assert run.objects_transferred == len(changed) + len(added)
    assert verify(deployment.client("s3"), deployment.bucket, changed + added, outputs["ConsumerKmsKeyArn"]) == []
    assert marker(deployment).synced_to == run.watermark > state["first_run"].watermark


def test_a_rerun_copies_nothing(deployment: Any) -> None:
    run = run_to_end(deployment, SCHEDULED_EVENT)
    assert run.status.value == "COMPLETED"
    assert run.objects_transferred == 0
    assert run.keys_enqueued == 0
    assert run.keys_unchanged >= len(state["samples"])  # re-selected by the lookback, held per the manifest


def test_a_poison_key_reaches_the_dlq_alone_and_lands_after_redrive(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any]
) -> None:
    sqs = deployment.client("sqs")
    healthy = [Sample(key=f"{PREFIX}beside-poison/{i}.txt", size=50 + i) for i in range(5)]
    seed(producer_s3, outputs["ProducerBucketName"], [POISON, *healthy])
    with Faults() as faults:
        faults.add(
            service="s3",
            operation="CopyObject",
            match=f"^{POISON.key}$",
            action="error",
            code="AccessDenied",
            status=403,
        )

        run = run_to_end(deployment, SCHEDULED_EVENT, timeout=400)

        # Retried, then alone in the DLQ and in the ledger; the other keys landed.
        assert run.status.value == "COMPLETED_WITH_FAILURES"
        assert run.failed_count == 1
        assert verify(deployment.client("s3"), deployment.bucket, healthy, outputs["ConsumerKmsKeyArn"]) == []
        failure = deployment.ledger.get(POISON.key)
        assert failure is not None
        assert failure.error_code == "AccessDenied"

        # Settled as failed on its final receive, its message reaches the DLQ on the receive after (the run may
        # have closed before that)
        def dead_letters() -> list[str]:
            peeked = sqs.receive_message(QueueUrl=deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            return [o["key"] for m in peeked.get("Messages", []) for o in json.loads(m["Body"])["objects"]]

        bound = Bounds.of(deployment).delivery + SLACK_SECONDS
        assert poll(dead_letters, timeout=bound, what="the poison key in the DLQ") == [POISON.key]
        # The marker did not move past the key that did not land.
        poison_modified = producer_s3.head_object(Bucket=outputs["ProducerBucketName"], Key=POISON.key)["LastModified"]
        assert marker(deployment).synced_to <= poison_modified

    # Fault removed: redrive the DLQ into the transfer queue; the key lands, the ledger forgets it.
    task = sqs.start_message_move_task(SourceArn=deployment.dlq_arn, DestinationArn=deployment.transfer_queue_arn)
    assert task["TaskHandle"]
    moved = poll(
        lambda: next(
            (
                t
                for t in sqs.list_message_move_tasks(SourceArn=deployment.dlq_arn)["Results"]
                if t["Status"] == "COMPLETED"
            ),
            None,
        ),
        timeout=60,
        what="the DLQ move task",
    )
    assert moved["ApproximateNumberOfMessagesMoved"] == 1
    poll(lambda: deployment.ledger.get(POISON.key) is None, timeout=180, what="the redriven poison key to land")
    assert verify(deployment.client("s3"), deployment.bucket, [POISON], outputs["ConsumerKmsKeyArn"]) == []


def test_stream_mode_copies_through_the_function_with_checksums(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any]
) -> None:
    """The stream mode runs from the same package: GET with the producer role, PUT (and multipart UploadPart
    above the threshold) with the copier's own role, each with a CRC that S3 verifies, and the copy's
    full-object checksum equal to the source's (awscrt is in the package)."""
    threshold = int(deployment.parameter("MultipartThresholdBytes", str(64 * MIB)))
    samples = [
        Sample(key=f"{PREFIX}stream/small.json", size=2048, content_type="application/json", metadata={"m": "1"}),
        Sample(key=f"{PREFIX}stream/large.bin", size=threshold + 3 * MIB, tags={"mode": "stream"}),
    ]
    copier_env(deployment, COPY_MODE="stream")
    try:
        seed(producer_s3, outputs["ProducerBucketName"], samples)
        run = run_to_end(deployment, SCHEDULED_EVENT)
    finally:
        copier_env(deployment, COPY_MODE="server-side")
    assert run.status.value == "COMPLETED", run
    assert run.objects_transferred == len(samples)
    assert verify(deployment.client("s3"), deployment.bucket, samples, outputs["ConsumerKmsKeyArn"]) == []
    for sample in samples:  # the copy's full-object checksum is the source's
        copy = deployment.client("s3").head_object(Bucket=deployment.bucket, Key=sample.key, ChecksumMode="ENABLED")
        source = producer_s3.head_object(Bucket=outputs["ProducerBucketName"], Key=sample.key, ChecksumMode="ENABLED")
        algorithms = [name for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME") if source.get(name)]
        assert algorithms, source
        assert [copy.get(name) for name in algorithms] == [source[name] for name in algorithms]


def test_invalid_payload_is_rejected_and_starts_nothing(deployment: Any) -> None:
    from hydration_cli.errors import FunctionInvocationError

    before = len(deployment.runs.list(limit=1000))
    with pytest.raises(FunctionInvocationError, match="since"):
        deployment.functions.invoke(deployment.function_name("planner"), {"since": "not-a-time"})
    assert len(deployment.runs.list(limit=1000)) == before

"""An archived source on LocalStack (which refuses CopyObject on a GLACIER object with InvalidObjectState, as
S3 does, and restores at once): the key settles archived through the deployed functions, `failures restore`
restores it through the producer role, and the next run copies it under the consumer key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hydration.models import RunRecord, RunStatus
from hydration_cli.ops import trigger
from hydration_cli.ops.archived import Tier, restore

KEY = "e2e/archived/cold.bin"
BODY = b"archived bytes " * 64


def _keys_run(deployment: Any) -> RunRecord:
    plan = deployment.functions.invoke(deployment.function_name("planner"), {"keys": [KEY]})
    assert plan["started"], plan
    return trigger.follow(
        deployment,
        plan["run_id"],
        timeout=timedelta(seconds=300),
        interval=0.5,
        clock=lambda: datetime.now(UTC),
        sleep=time.sleep,
    )


def test_an_archived_key_settles_archived_then_lands_after_a_restore(
    deployment: Any, producer_s3: Any, outputs: dict[str, Any]
) -> None:
    producer_s3.put_object(Bucket=outputs["ProducerBucketName"], Key=KEY, Body=BODY, StorageClass="GLACIER")

    archived = _keys_run(deployment)
    assert (archived.status, archived.objects_archived, archived.objects_failed) == (RunStatus.COMPLETED, 1, 0)
    entry = deployment.ledger.get(KEY)
    assert entry is not None
    assert (entry.archived, entry.storage_class, entry.error_code) == (True, "GLACIER", "InvalidObjectState")

    report = restore(deployment, [entry], days=1, tier=Tier.BULK, now=datetime.now(UTC), dry_run=False)
    assert (report.refused, report.requested + report.in_progress) == ({}, [KEY])

    landed = _keys_run(deployment)
    assert (landed.status, landed.objects_transferred, landed.objects_archived) == (RunStatus.COMPLETED, 1, 0)
    copy = deployment.client("s3").get_object(Bucket=deployment.bucket, Key=KEY)
    assert copy["Body"].read() == BODY
    assert copy["SSEKMSKeyId"] == outputs["ConsumerKmsKeyArn"]
    assert deployment.ledger.get(KEY) is None

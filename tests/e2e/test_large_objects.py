"""Objects larger than one copier invocation can copy, through the deployed pipeline on LocalStack.

The copier is configured as a deployment would for this: 5 MiB parts, a 12 s timeout (the function's own
configuration, changed for this module and restored after), and each part of these objects made slow by the
LocalStack fault plugin (2 s per part), so that a copy needs several invocations or several copiers.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hydration.models import RunStatus
from tests.e2e.conftest import poll
from tests.e2e.support import Matrix
from tests.faults import Faults

MIB = 1024 * 1024
SLOW_PART_MS = 2000


@pytest.fixture(scope="module")
def large(deployment: Any, producer_s3: Any, outputs: dict[str, Any]) -> Iterator[Matrix]:
    matrix = Matrix(deployment, producer_s3, outputs)
    lam = deployment.client("lambda")
    copier = deployment.function_name("copier")
    before = lam.get_function_configuration(FunctionName=copier)
    variables = {
        **before["Environment"]["Variables"],
        "MULTIPART_THRESHOLD_BYTES": str(5 * MIB),
        "PART_SIZE_BYTES": str(5 * MIB),
        "SINGLE_COPY_MAX_BYTES": str(5 * MIB),  # these objects are copied in parts, not by one CopyObject
        "PARTS_IN_FLIGHT": "2",
        "DEADLINE_MARGIN_SECONDS": "3",
        "PARTS_PER_MESSAGE": "2",
    }
    _configure(deployment, Timeout=12, Environment={"Variables": variables})
    try:
        with matrix.queue_visibility(20):  # at least the function's timeout, as Lambda requires
            yield matrix
    finally:
        _configure(deployment, Timeout=before["Timeout"], Environment=before["Environment"])


def _configure(deployment: Any, **config: Any) -> None:
    lam = deployment.client("lambda")
    name = deployment.function_name("copier")
    lam.update_function_configuration(FunctionName=name, **config)
    poll(
        lambda: lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "Successful",
        timeout=60,
        what="the copier's configuration update",
    )


def _copier_env(large: Matrix, **variables: str) -> None:
    lam = large.deployment.client("lambda")
    current = lam.get_function_configuration(FunctionName=large.deployment.function_name("copier"))
    _configure(large.deployment, Environment={"Variables": {**current["Environment"]["Variables"], **variables}})


@pytest.fixture
def prefix(large: Matrix) -> Iterator[str]:
    name = f"large/{uuid.uuid4().hex[:8]}/"
    yield name
    large.forget(name)


def _put_large(large: Matrix, key: str, size: int) -> bytes:
    block = hashlib.sha256(key.encode()).digest() * (MIB // 32)
    body = (block * (size // len(block) + 1))[:size]
    large.producer.put_object(
        Bucket=large.bucket,
        Key=key,
        Body=body,
        ContentType="application/x-large",
        Metadata={"case": "large"},
        Tagging="size=large&kind=test",
    )
    return body


def _assert_landed(large: Matrix, key: str, body: bytes) -> None:
    copy = large.consumer.get_object(Bucket=large.deployment.bucket, Key=key)
    assert copy["Body"].read() == body
    assert copy["SSEKMSKeyId"] == large.key_arn
    assert (copy["ContentType"], copy["Metadata"]) == ("application/x-large", {"case": "large"})
    tags = large.consumer.get_object_tagging(Bucket=large.deployment.bucket, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"size": "large", "kind": "test"}
    uploads = large.consumer.list_multipart_uploads(Bucket=large.deployment.bucket, Prefix=key).get("Uploads", [])
    assert uploads == []  # nothing left behind


def _handoffs(large: Matrix, key: str, since: float) -> int:
    logs = large.deployment.client("logs")
    events = logs.filter_log_events(
        logGroupName=large.deployment.log_group("copier"),
        startTime=int(since * 1000),
        filterPattern='{ $.message = "copy handed on" }',
    )["events"]
    return sum(1 for e in events if key in e["message"])


@pytest.mark.parametrize("mode", ["server-side", "stream"])
def test_a_copy_that_outlives_an_invocation_resumes_where_it_stopped(
    large: Matrix, faults: Faults, prefix: str, mode: str
) -> None:
    _copier_env(large, COPY_MODE=mode, FANOUT_THRESHOLD_BYTES=str(1024 * MIB))
    key = f"{prefix}resumed.bin"
    body = _put_large(large, key, 36 * MIB + 123)  # 8 parts: ~4 fit in one 12 s invocation
    operation = "UploadPartCopy" if mode == "server-side" else "GetObject"
    faults.add(service="s3", operation=operation, match=f"^{key}$", action="delay", delay_ms=SLOW_PART_MS)
    started = time.time()

    run = large.run(timeout=large.bounds.run_end(deliveries=1 + 8))  # at least a part an invocation

    assert run.status is RunStatus.COMPLETED
    _assert_landed(large, key, body)
    assert _handoffs(large, key, started) >= 2  # at least three invocations copied it


def test_a_very_large_object_is_copied_by_many_copiers_in_parallel(large: Matrix, faults: Faults, prefix: str) -> None:
    _copier_env(large, COPY_MODE="server-side", FANOUT_THRESHOLD_BYTES=str(20 * MIB))
    key = f"{prefix}fanned-out.bin"
    body = _put_large(large, key, 41 * MIB)  # 9 parts, 2 per parts message
    faults.add(service="s3", operation="UploadPartCopy", match=f"^{key}$", action="delay", delay_ms=SLOW_PART_MS)

    run = large.run(timeout=large.bounds.run_end(deliveries=1 + 5))  # the fan-out, then 5 parts messages

    assert (run.status, run.keys_enqueued, run.objects_transferred) == (RunStatus.COMPLETED, 1, 1)
    _assert_landed(large, key, body)


def test_a_copier_killed_mid_part_loses_nothing_and_leaves_no_upload(
    large: Matrix, faults: Faults, prefix: str
) -> None:
    _copier_env(large, COPY_MODE="server-side", FANOUT_THRESHOLD_BYTES=str(1024 * MIB))
    key = f"{prefix}killed.bin"
    body = _put_large(large, key, 26 * MIB)
    faults.add(service="s3", operation="UploadPartCopy", match=f"^{key}$", action="delay", delay_ms=SLOW_PART_MS)
    faults.lambda_fault(
        function=large.deployment.function_name("copier"), match=key, action="kill", after_ms=5000, times=1
    )

    run = large.run(timeout=large.bounds.run_end(deliveries=1 + 6, crashes=1))  # 6 parts

    assert run.status is RunStatus.COMPLETED
    _assert_landed(large, key, body)

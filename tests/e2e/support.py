"""The deployed pipeline as the e2e tests drive it: start a run, follow it to its end (nudging the finalizer
as `runs watch` does), change a function's configuration as a stack update would, and check the books:
every producer object under a prefix landed (equal bytes, content type and metadata, the consumer key) or
is in the failure ledger with the marker before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hydration import MARKER_KEY
from hydration.marker import parse
from hydration.models import RunRecord
from tests.e2e.conftest import poll


@dataclass
class Books:
    """What the invariant found for a prefix."""

    landed: list[str] = field(default_factory=list)
    failed_visibly: list[str] = field(default_factory=list)  # in the ledger, the marker before it
    lost: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)


class Matrix:
    def __init__(self, deployment: Any, producer_s3: Any, outputs: dict[str, Any]) -> None:
        self.deployment = deployment
        self.producer = producer_s3
        self.outputs = outputs
        self.bucket = outputs["ProducerBucketName"]
        self.consumer = deployment.client("s3")
        self.key_arn = outputs["ConsumerKmsKeyArn"]

    # -------------------------------------------------------------- data

    def put(self, key: str, body: bytes | None = None, **extra: Any) -> bytes:
        body = body if body is not None else hashlib.sha256(key.encode()).digest() * 8
        self.producer.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=extra.pop("ContentType", "application/x-matrix"),
            Metadata=extra.pop("Metadata", {"case": key.split("/")[1]}),
            **extra,
        )
        return body

    def keys(self, prefix: str) -> list[str]:
        pages = self.producer.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    # -------------------------------------------------------------- runs

    def start(self, payload: dict[str, Any] | None = None) -> str:
        answer = self.deployment.functions.invoke(self.deployment.function_name("planner"), payload or {})
        assert answer["started"], answer
        return str(answer["run_id"])

    def finalize(self, run_id: str) -> dict[str, Any]:
        return dict(self.deployment.functions.invoke(self.deployment.function_name("finalizer"), {"run_id": run_id}))

    def wait(self, run_id: str, timeout: float = 240, nudge: bool = True) -> RunRecord:
        """Until the run ends, nudging the finalizer (as `runs watch` does)."""

        def ended() -> RunRecord | None:
            run = self.deployment.runs.get(run_id)
            if run.status.active and nudge:
                self.finalize(run_id)
                run = self.deployment.runs.get(run_id)
            return None if run.status.active else run

        return poll(ended, timeout=timeout, interval=1, what=f"run {run_id} to end")

    def run(self, payload: dict[str, Any] | None = None, timeout: float = 240) -> RunRecord:
        run = self.wait(self.start(payload), timeout)
        assert run.keys_settled == run.keys_enqueued, run  # the books balance
        return run

    def marker(self) -> datetime:
        body = self.consumer.get_object(Bucket=self.deployment.bucket, Key=MARKER_KEY)["Body"].read().decode()
        return parse(body).synced_to

    # -------------------------------------------------------------- the invariant

    def books(self, prefix: str) -> Books:
        books = Books()
        marker = self.marker()
        for key in self.keys(prefix):
            source = self.producer.get_object(Bucket=self.bucket, Key=key)
            body = source["Body"].read()
            try:
                copy = self.consumer.get_object(Bucket=self.deployment.bucket, Key=key)
            except self.consumer.exceptions.NoSuchKey:
                copy = None
            if copy is not None and copy["Body"].read() == body:
                same = (
                    copy.get("SSEKMSKeyId") == self.key_arn
                    and copy.get("ContentType") == source.get("ContentType")
                    and copy.get("Metadata") == source.get("Metadata")
                )
                (books.landed if same else books.corrupted).append(key)
            elif copy is not None:
                books.corrupted.append(key)
            elif self.deployment.ledger.get(key) is not None and marker <= source["LastModified"]:
                books.failed_visibly.append(key)
            else:
                books.lost.append(key)
        return books

    def assert_nothing_lost(self, prefix: str) -> Books:
        books = self.books(prefix)
        assert (books.lost, books.corrupted) == ([], []), books
        return books

    def assert_all_landed(self, prefix: str) -> None:
        books = self.assert_nothing_lost(prefix)
        assert books.failed_visibly == [], books
        assert books.landed, books

    # -------------------------------------------------------------- queues

    def dlq_keys(self) -> list[str]:
        sqs = self.deployment.client("sqs")
        got = sqs.receive_message(QueueUrl=self.deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        keys = []
        for message in got.get("Messages", []):
            try:
                keys += [o["key"] for o in json.loads(message["Body"])["objects"]]
            except (ValueError, KeyError):
                keys.append("<malformed>")
        return keys

    def purge_dlq(self, prefix: str) -> None:
        sqs = self.deployment.client("sqs")
        for _ in range(10):
            got = sqs.receive_message(QueueUrl=self.deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=5)
            if not got.get("Messages"):
                return
            for message in got["Messages"]:
                if prefix in message["Body"] or "not a transfer message" in message["Body"]:
                    sqs.delete_message(QueueUrl=self.deployment.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    sqs.change_message_visibility(
                        QueueUrl=self.deployment.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )

    def forget(self, prefix: str) -> None:
        """Remove a case's traces: its producer objects and uploads in flight, DLQ messages, ledger entries."""
        self.purge_dlq(prefix)
        for failure in list(self.deployment.ledger):
            if failure.key.startswith(prefix):
                self.deployment.ledger.remove(failure.key)
        for upload in self.producer.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix).get("Uploads", []):
            self.producer.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for key in self.keys(prefix):
            self.producer.delete_object(Bucket=self.bucket, Key=key)

    def function_env(self, service: str, **changes: str) -> Callable[[], None]:
        """Change a function's environment as a stack update would (new execution environments); returns the
        undo."""
        lam = self.deployment.client("lambda")
        name = self.deployment.function_name(service)
        before = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]

        def apply(variables: dict[str, str]) -> None:
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
            poll(
                lambda: lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "Successful",
                timeout=60,
                what=f"the {service}'s configuration update",
            )

        apply({**before, **changes})
        return lambda: apply(before)

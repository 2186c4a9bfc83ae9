"""The deployed pipeline as the e2e tests drive it: start a run, follow it to its end (nudging the finalizer
as `runs watch` does), change a function's configuration as a stack update would, change the transfer queue's
visibility timeout safely, leave the deployment quiet (no run, no message, no invocation) whatever a test
left, and check the books: every producer object under a prefix landed (equal bytes, content type and
metadata, the consumer key) or is in the failure ledger with the marker before it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hydration import MARKER_KEY
from hydration.marker import parse
from hydration.models import RunRecord
from tests.e2e.bounds import SLACK_SECONDS, Bounds
from tests.e2e.conftest import poll
from tests.faults import Faults

LOG = logging.getLogger(__name__)


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

    @property
    def bounds(self) -> Bounds:
        """The wait bounds, from the deployment as it is configured now."""
        return Bounds.of(self.deployment)

    def wait(self, run_id: str, timeout: float | None = None, nudge: bool = True) -> RunRecord:
        """Until the run ends, nudging the finalizer (as `runs watch` does); by default within the bound of a
        run that nothing goes wrong in (`Bounds.run_end`)."""
        timeout = timeout if timeout is not None else self.bounds.run_end()

        def ended() -> RunRecord | None:
            run = self.deployment.runs.get(run_id)
            if run.status.active and nudge:
                self.finalize(run_id)
                run = self.deployment.runs.get(run_id)
            return None if run.status.active else run

        return poll(ended, timeout=timeout, interval=1, what=f"run {run_id} to end")

    def run(self, payload: dict[str, Any] | None = None, timeout: float | None = None) -> RunRecord:
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

    def queue_empty(self) -> bool:
        """Nothing visible, in flight or delayed on the transfer queue."""
        attributes = self.deployment.client("sqs").get_queue_attributes(
            QueueUrl=self.deployment.transfer_queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return not any(int(value) for value in attributes.values())

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
            pollers = Faults().async_pollers(name)
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
            poll(
                lambda: lam.get_function_configuration(FunctionName=name).get("LastUpdateStatus") == "Successful",
                timeout=60,
                what=f"the {service}'s configuration update",
            )
            # LocalStack replaces the function's asynchronous-invocation poller; the old one, inside its 2-second
            # receive, would drop an event sent now (invisible for the function's timeout + 60 s): wait until
            # only a new poller is left, as an asynchronous invocation (the schedule, trigger) may come next.
            poll(
                lambda: (now := Faults().async_pollers(name)) and not now & pollers and len(now) == 1,
                timeout=60,
                interval=0.2,
                what=f"the {service}'s old asynchronous-invocation poller to stop",
            )

        apply({**before, **changes})
        return lambda: apply(before)

    # -------------------------------------------------------------- the queue's visibility timeout

    @contextlib.contextmanager
    def queue_visibility(self, seconds: int) -> Iterator[None]:
        """The transfer queue's visibility timeout set to `seconds` for a while, then put back. Changed only while
        the event source mapping is disabled (all its poll loops stopped): a receive in progress reads the
        timeout when it starts, so a message it hands out a moment after the change would still get the old
        one (with the template's, 35 minutes in flight)."""
        sqs = self.deployment.client("sqs")
        url = self.deployment.transfer_queue_url
        before = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )
        self._set_visibility(seconds)
        try:
            yield
        finally:
            self._set_visibility(before)

    def _set_visibility(self, seconds: int) -> None:
        lam = self.deployment.client("lambda")
        (mapping,) = lam.list_event_source_mappings(FunctionName=self.deployment.function_name("copier"))[
            "EventSourceMappings"
        ]
        bound = Bounds.of(self.deployment).delivery + SLACK_SECONDS  # a poll loop finishes its batch first
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        # "Disabled" comes at once (the update replaced the worker); the old worker's loops end on their own.
        poll(
            lambda: Faults().esm_loops().get(mapping["UUID"], 0) == 0,
            timeout=bound,
            what="the mapping's poll loops to stop",
        )
        try:
            self.deployment.client("sqs").set_queue_attributes(
                QueueUrl=self.deployment.transfer_queue_url, Attributes={"VisibilityTimeout": str(seconds)}
            )
        finally:
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
            poll(
                lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled",
                timeout=bound,
                what="the mapping enabled",
            )


# ------------------------------------------------------------------------------------------ a quiet deployment


def running_invocations(deployment: Any, faults: Faults) -> list[dict[str, Any]]:
    """The deployment's function invocations running now (our Lambda executor's registry)."""
    names = {deployment.function_name(service) for service in ("planner", "planner-worker", "copier", "finalizer")}
    return [invocation for invocation in faults.running() if invocation["function"] in names]


def leave_quiet(deployment: Any, why: str, *, purge_at_once: bool) -> list[str]:
    """No active run, no message on the transfer or planner queue, no function running: what every e2e test starts
    from and ends with. An active run is cancelled (its marker stays); what is left on a queue is consumed, or, when
    `purge_at_once` (a test that failed: its leftovers are not worth waiting for) or once a crashed batch had
    time to come back (`Bounds.quiet`), purged. Returns what it had to do, for the log. Raises if the
    deployment does not become quiet within the bounds (the test that left it so errors, not the next)."""
    done: list[str] = []
    faults = Faults()
    faults.clear()  # nothing injected keeps killing or delaying what has to finish
    active = deployment.runs.active_run_id()
    if active and deployment.runs.cancel(active, f"e2e: {why}"):
        done.append(f"cancelled run {active}")
    bounds = Bounds.of(deployment)
    started = time.monotonic()
    purge_after = 0 if purge_at_once else bounds.quiet
    # what runs when the queues are purged finishes
    give_up = purge_after + max(bounds.delivery, bounds.planner_delivery) + SLACK_SECONDS
    sqs = deployment.client("sqs")
    # The planner workers' queue too, purged at once: what a test leaves there is a shard message of a run that
    # has ended (consumed as a no-op) or a killed worker's, in flight until the queue's visibility timeout (6x
    # the worker's timeout: 6 minutes) although its shard was sent again long ago; nothing is learnt by
    # waiting for either.
    queues = [url for url in (deployment.transfer_queue_url, deployment.planner_queue_url) if url]
    purge_after_of = {url: 0 if url == deployment.planner_queue_url else purge_after for url in queues}
    while True:
        depths = {url: _depth(sqs, url) for url in queues}
        left = sum(sum(int(v) for v in attributes.values()) for attributes in depths.values())
        running = running_invocations(deployment, faults)
        if not left and not running and deployment.runs.active_run_id() is None:
            return done
        elapsed = time.monotonic() - started
        for url, attributes in depths.items():
            if any(int(v) for v in attributes.values()) and elapsed >= purge_after_of[url]:
                sqs.purge_queue(QueueUrl=url)
                done.append(f"purged {url.rsplit('/', 1)[-1]} ({attributes})")
        if elapsed > give_up:
            raise AssertionError(
                f"the deployment did not become quiet within {give_up} s ({why}): {depths}, running {running}, "
                f"active run {deployment.runs.active_run_id()}"
            )
        time.sleep(0.5)


def _depth(sqs: Any, url: str) -> dict[str, str]:
    return dict(
        sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
    )


def forget_runs(deployment: Any, run_ids: set[str]) -> list[str]:
    """The failure ledger entries and transfer DLQ messages of these runs, removed (a failed test's)."""
    removed: list[str] = []
    for failure in list(deployment.ledger):
        if failure.run_id in run_ids:
            deployment.ledger.remove(failure.key)
            removed.append(f"ledger {failure.key}")
    sqs = deployment.client("sqs")
    handles = []
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=deployment.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        messages = got.get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                run_id = json.loads(message["Body"]).get("run_id")
            except (ValueError, AttributeError):
                run_id = None
            if run_id in run_ids:
                sqs.delete_message(QueueUrl=deployment.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                removed.append(f"DLQ message of {run_id}")
            else:
                handles.append(message["ReceiptHandle"])
    for handle in handles:  # the others, visible again
        sqs.change_message_visibility(QueueUrl=deployment.dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return removed

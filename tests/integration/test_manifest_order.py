"""The manifest says what the consumer bucket holds even when two copies of a key are in flight at once: its
writes are conditional (one PutItem per entry) and ordered by when each copy wrote the consumer object."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hydration.aws.manifest import Manifest
from hydration.models import ManifestEntry, Precedence, iso
from tests.integration.harness import (
    FakeContext,
    World,
    cold_start,
    consumer_object,
    hydrate,
    invoke_planner,
    put_object,
    sqs_event,
)
from tests.moto_faults import Faults

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
OLD = (T0 - timedelta(hours=1), '"old"')
NEW = (T0 - timedelta(minutes=1), '"new"')


def _entry(version: tuple[datetime, str], start: float | None, end: float | None, **extra: Any) -> ManifestEntry:
    """An entry for `k` of a source version, whose copy wrote the consumer object between start and end
    (seconds after T0)."""
    return ManifestEntry(
        key="k",
        etag=version[1],
        last_modified=version[0],
        size=3,
        copied_at=T0,
        written_after=None if start is None else T0 + timedelta(seconds=start),
        written_before=None if end is None else T0 + timedelta(seconds=end),
        **extra,
    )


@pytest.fixture
def manifest(world: World) -> Manifest:
    return world.stores.manifest  # type: ignore[no-any-return]


def test_a_late_copy_whose_write_came_first_never_overwrites_the_entry_of_the_later_write(manifest: Manifest) -> None:
    """Two copies in flight at once: the older version's copy wrote the consumer object first (0-5 s), the
    newer one's after it (10-12 s), but the older copy's entry arrives last. Last-writer-wins let it replace
    the newer entry; the entry that says what the consumer holds now stays."""
    manifest.put_many([_entry(NEW, 10, 12)])
    assert manifest.put_many([_entry(OLD, 0, 5)]) == []
    assert manifest.get_many(["k"], consistent=True)["k"].etag == '"new"'


def test_a_copy_that_wrote_after_the_entrys_copy_replaces_it_whatever_the_versions(manifest: Manifest) -> None:
    manifest.put_many([_entry(OLD, 0, 5)])
    assert manifest.put_many([_entry(NEW, 10, 12)]) == []
    assert manifest.get_many(["k"], consistent=True)["k"].etag == '"new"'


def test_two_copies_of_different_versions_writing_at_once_are_contested(manifest: Manifest) -> None:
    """The consumer holds whichever write S3 kept: the entry cannot say which, the caller learns it."""
    manifest.put_many([_entry(NEW, 4, 6)])
    late = _entry(OLD, 0, 5)
    assert manifest.put_many([late]) == [late]
    assert manifest.get_many(["k"], consistent=True)["k"].etag == '"new"'  # unchanged


def test_the_entry_a_copy_read_before_it_began_is_replaced_however_close_the_clocks(manifest: Manifest) -> None:
    """Two runs a moment apart copy two versions in turn: the second read the first's entry before copying, so
    its write came after, whatever the clocks say (no clock margin needed)."""
    first = _entry(OLD, 0, 0.1)
    manifest.put_many([first])
    second = _entry(NEW, 0.2, 0.3, replaces=first.token)
    assert manifest.put_many([second]) == []
    assert manifest.get_many(["k"], consistent=True)["k"].etag == '"new"'


def test_the_same_version_written_twice_is_not_contested(manifest: Manifest) -> None:
    manifest.put_many([_entry(NEW, 0, 5, run_id="first")])
    assert manifest.put_many([_entry(NEW, 1, 4, run_id="duplicate")]) == []
    assert manifest.get_many(["k"], consistent=True)["k"].run_id == "duplicate"


def test_an_entry_written_before_windows_were_recorded_is_ordered_by_source_version(manifest: Manifest) -> None:
    manifest.put_many([_entry(NEW, None, None)])
    older = _entry(OLD, 0, 5)
    assert manifest.put_many([older]) == [older]
    assert manifest.put_many([_entry((T0, '"newest"'), 0, 5)]) == []
    assert manifest.get_many(["k"], consistent=True)["k"].etag == '"newest"'


def test_the_adapter_and_the_model_agree_on_every_case(manifest: Manifest) -> None:
    """The ConditionExpression encodes `ManifestEntry.precedence`'s WRITE cases: each pair decided both ways."""
    cases = [
        (_entry(OLD, 0, 5), _entry(NEW, 10, 12)),
        (_entry(NEW, 10, 12), _entry(OLD, 0, 5)),
        (_entry(NEW, 4, 6), _entry(OLD, 0, 5)),
        (_entry(NEW, 0, 5), _entry(NEW, 1, 4)),
        (_entry(NEW, None, None), _entry(OLD, 0, 5)),
        (_entry(OLD, None, None), _entry(NEW, 0, 5)),
        (_entry(NEW, 0, 5), _entry(OLD, None, None)),
        (_entry(NEW, 0, 5), _entry(OLD, 1, 2, replaces=iso(T0))),  # read before it began: replaced
        (_entry(NEW, 0, 5), _entry(OLD, 1, 2, replaces="2026-11-30T00:00:00.000000Z")),  # another one read
    ]
    for index, (old, new) in enumerate(cases):
        old, new = old.model_copy(update={"key": f"k{index}"}), new.model_copy(update={"key": f"k{index}"})
        manifest.put_many([old])
        expected = new.precedence(old)
        assert manifest.put(new) is expected, (index, expected)
        stored = manifest.get_many([new.key], consistent=True)[new.key]
        assert stored.etag == (new.etag if expected is Precedence.WRITE else old.etag), index


def test_a_redelivery_while_the_producer_rewrites_the_key_never_leaves_a_stale_copy_behind(
    world: World, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    """Issue 15 (a suspect, reproduced here). Copier A reads version 1 of `k` and is slow to write it; meanwhile
    the producer rewrites `k` and a redelivery of the same message (copier B) copies version 2 and writes it
    first. A's write lands last: the consumer holds version 1. With last-writer-wins, B's entry (version 2),
    written after A's, claimed the consumer held version 2: every later run skipped `k` for good."""
    cold_start(monkeypatch, COPY_MODE="stream")
    put_object(world, "k", b"version 1")
    planned = invoke_planner({})
    version_2 = b"version 2, rewritten"
    md5 = hashlib.md5(version_2).hexdigest()  # noqa: S324 - the ETag S3 gives a single-part object
    b_at_manifest, a_committed = threading.Event(), threading.Event()
    b_failed: list[BaseException] = []
    b_thread: list[threading.Thread] = []
    [message] = world.sqs.receive_message(QueueUrl=world.queue_url, AttributeNames=["All"])["Messages"]
    queue_arn = world.sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    def copier_b() -> None:  # the message delivered again, while A still holds it
        from copier.handler import lambda_handler

        again = dict(message, Attributes=dict(message["Attributes"], ApproximateReceiveCount="2"))
        try:
            lambda_handler(sqs_event([again], queue_arn), FakeContext(function_name="s3-hydration-copier"))
        except BaseException as exc:
            b_failed.append(exc)

    def while_a_is_about_to_write() -> None:
        put_object(world, "k", version_2)
        b_thread.append(threading.Thread(target=copier_b, daemon=True))
        b_thread[0].start()
        assert b_at_manifest.wait(timeout=60), "copier B never reached its manifest write"

    def b_writes_its_entry_after_a() -> None:
        b_at_manifest.set()
        assert a_committed.wait(timeout=60), "copier A never committed"

    # A's write to the consumer waits until B has written version 2 and is about to record it.
    faults.add("s3.PutObject", "^k$", action="call", times=1, before=while_a_is_about_to_write)
    b_entry = f"{world.manifest_table}.*{md5}"
    for operation in ("dynamodb.PutItem", "dynamodb.BatchWriteItem"):  # the manifest write, now and before
        faults.add(operation, b_entry, action="call", times=1, before=b_writes_its_entry_after_a)
    from copier.handler import lambda_handler

    lambda_handler(sqs_event([message], queue_arn), FakeContext(function_name="s3-hydration-copier"))
    a_committed.set()
    world.sqs.delete_message(QueueUrl=world.queue_url, ReceiptHandle=message["ReceiptHandle"])
    b_thread[0].join(timeout=60)  # B finishes its batch once A has committed
    assert not b_thread[0].is_alive()
    assert not b_failed, b_failed

    # The consumer holds version 1 (A's write came last): the key must not be taken as held
    assert consumer_object(world, "k")["body"] == b"version 1"
    contested = world.stores.ledger.get("k")
    # The next run copies it again
    faults.clear()
    after = hydrate(world)
    assert consumer_object(world, "k")["body"] == version_2
    assert after["status"] == "COMPLETED"
    # because the contested key was in the failure ledger, forced; it left it once copied
    assert contested is not None
    assert (contested.error_code, contested.force) == ("ConcurrentCopy", True)
    assert world.stores.ledger.get("k") is None
    assert world.stores.runs.get(planned["run_id"]).status.value in ("COMPLETED", "COMPLETED_WITH_FAILURES")

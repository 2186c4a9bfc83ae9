"""The copier's batch logic over in-memory fakes of its ports (no AWS, no moto): what each message's keys
become, the exact batchItemFailures, the books, the ledger, what is re-enqueued, when the run closes."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from copier.service import CopierDeps, handle_batch
from hydration.closing import Closing
from hydration.copying import CopyRequest, CopyResult, Deadline, Handoff, HandoffReason, PartsOutcome
from hydration.errors import ObjectTransferError, SourceArchivedError, SourceVanishedError
from hydration.models import ObjectRef, PartsMessage, RunKind, RunRecord, RunStatus, Sheet, Task, TransferMessage
from hydration.settings import CopierSettings
from tests.fakes import FakeEvents, FakeLedger, FakeManifest, FakeMarker, FakeRuns
from tests.integration.harness import FakeContext

LISTED = datetime(2026, 11, 1, 6, tzinfo=UTC)
RUN = "run-1"
SHEET = "00000001.00"


class FakeTransfer:
    """Copies succeed unless a key is told to fail, vanish or hand on."""

    def __init__(self) -> None:
        self.failing: dict[str, str] = {}
        self.vanished: set[str] = set()
        self.fanned_out: dict[str, tuple[int, ...]] = {}
        self.copied: list[str] = []
        self.parts_copied: list[int] = []
        self.aborted: list[str] = []
        self.stalled: set[str] = set()  # keys whose parts never fit the time left: no part starts
        self.requests: list[CopyRequest] = []
        self.archived: dict[str, bool] = {}  # key -> a restore in progress

    def copy(self, request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff:
        key = request.source_key
        self.requests.append(request)
        if key in self.vanished:
            raise SourceVanishedError(key)
        if key in self.archived:
            raise SourceArchivedError(key, "DEEP_ARCHIVE", None, restoring=self.archived[key])
        if key in self.failing:
            raise ObjectTransferError(key, self.failing[key], "injected")
        if key in self.fanned_out:
            parts = self.fanned_out[key]
            return Handoff(HandoffReason.FANOUT, request, "upload-1", 5, len(parts), parts)
        self.copied.append(key)
        return CopyResult(request.size, 1, request.etag, request.last_modified, "CRC64NVME:x", "crc")

    def copy_parts(
        self, request: CopyRequest, upload_id: str, part_numbers: tuple[int, ...], deadline: Deadline
    ) -> PartsOutcome:
        if request.source_key in self.stalled:
            return PartsOutcome(remaining=part_numbers)
        self.parts_copied += part_numbers
        total = self.fanned_out[request.source_key]
        if set(total) <= set(self.parts_copied):
            result = CopyResult(request.size, len(total), request.etag, request.last_modified, None, "crc")
            return PartsOutcome(done=part_numbers, result=result)
        return PartsOutcome(done=part_numbers)

    def abort(self, request: CopyRequest, upload_id: str | None = None) -> None:
        self.aborted.append(request.source_key)


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []
        self.deleted: list[str] = []
        self.visibility: dict[str, int] = {}

    def send(self, messages: list[Any]) -> list[Any]:
        self.sent += [(json.loads(m.body), m.delay_seconds) for m in messages]
        return []

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.visibility[receipt_handle] = seconds

    def delete(self, receipt_handles: list[str]) -> None:
        self.deleted += receipt_handles

    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]:
        for handle in receipt_handles:
            self.visibility[handle] = seconds
        return []


class World:
    def __init__(self, keys: list[str], **settings: Any) -> None:
        self.runs = FakeRuns()
        self.ledger = FakeLedger()
        self.manifest = FakeManifest(ledger=self.ledger)
        self.marker = FakeMarker()
        self.events = FakeEvents()
        self.transfer = FakeTransfer()
        self.queue = FakeQueue()
        self.runs.create(
            RunRecord(
                run_id=RUN,
                status=RunStatus.PLANNING,
                kind=RunKind.INCREMENTAL,
                watermark=LISTED,
                started_at=LISTED,
                shards_cut=True,  # its shards are all done: finish_planning may move it on
            )
        )
        tasks = [
            Task(run_id=RUN, bucket="producer", **ObjectRef(**self.ref(k).model_dump()).model_dump()) for k in keys
        ]
        self.slots = {key: slot for slot, key in enumerate(keys)}  # one sheet holds the run's keys
        self.runs.books.open(RUN, [Sheet.of(RUN, SHEET, "producer", tasks, LISTED)])
        self.runs.finish_planning(self.runs.get(RUN))
        self.deps = CopierDeps(
            settings=CopierSettings(
                consumer_bucket="consumer",
                runs_table="r",
                books_table="b",
                failures_table="f",
                manifest_table="m",
                uploads_table="u",
                producer_bucket="producer",
                producer_role_arn="arn:aws:iam::222222222222:role/p",
                external_id="ext",
                transfer_queue_url="q",
                consumer_kms_key_id="key",
                max_receive_count=3,
                retry_base_seconds=10,
                **settings,
            ),
            copier=self.transfer,
            lookup=self.manifest.lookup,
            manifest=self.manifest,
            ledger=self.ledger,
            books=self.runs.books,
            runs=self.runs,
            queue=self.queue,
            closing=Closing(runs=self.runs, ledger=self.ledger, marker=self.marker, events=self.events),
            pool=ThreadPoolExecutor(max_workers=4),
        )

    def ref(self, key: str, **extra: Any) -> ObjectRef:
        slot = getattr(self, "slots", {}).get(key)
        return ObjectRef(key=key, size=7, etag=f'"{key}"', last_modified=LISTED, slot=slot, **extra)

    def record(self, message: TransferMessage | PartsMessage, receive_count: int = 1, mid: str = "") -> dict[str, Any]:
        mid = mid or f"m-{'-'.join(message.keys)}"
        return {
            "messageId": mid,
            "receiptHandle": f"rh-{mid}",
            "body": message.to_body(),
            "attributes": {
                "ApproximateReceiveCount": str(receive_count),
                "SentTimestamp": "1",
                "SenderId": "s",
                "ApproximateFirstReceiveTimestamp": "1",
            },
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            "awsRegion": "us-east-1",
        }

    def objects(self, *keys: str) -> TransferMessage:
        return TransferMessage(run_id=RUN, bucket="producer", sheet=SHEET, objects=[self.ref(k) for k in keys])

    def copy(self, *records: dict[str, Any], remaining_ms: int = 900_000) -> list[str]:
        context = FakeContext(function_name="copier", remaining_ms=remaining_ms)
        response = handle_batch({"Records": list(records)}, context, self.deps)  # type: ignore[arg-type]
        return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_a_batch_that_copies_every_key_settles_them_and_closes_the_run() -> None:
    world = World(["a", "b", "c"])
    assert world.copy(world.record(world.objects("a", "b")), world.record(world.objects("c"))) == []
    run = world.runs.get(RUN)
    assert (run.status, run.keys_settled, run.objects_transferred) == (RunStatus.COMPLETED, 3, 3)
    assert sorted(world.manifest.entries) == ["a", "b", "c"]
    assert [m.synced_to for m in world.marker.writes] == [LISTED]
    assert [e.status for e in world.events.ended] == [RunStatus.COMPLETED]


def test_a_failed_key_of_a_multi_key_message_is_re_enqueued_alone_after_its_backoff() -> None:
    world = World(["a", "b"])
    world.transfer.failing["b"] = "SlowDown"
    assert world.copy(world.record(world.objects("a", "b"))) == []
    ((body, delay),) = world.queue.sent
    assert [(o["key"], o["attempts"]) for o in body["objects"]] == [("b", 1)]
    assert delay == 10
    run = world.runs.get(RUN)
    assert (run.status, run.objects_transferred, run.keys_unsettled) == (RunStatus.DRAINING, 1, 1)


def test_a_one_key_message_fails_until_its_final_receive_then_the_key_is_in_the_ledger() -> None:
    world = World(["x"])
    world.transfer.failing["x"] = "AccessDenied"
    record = world.record(world.objects("x"), receive_count=2)
    assert world.copy(record) == ["m-x"]
    assert world.ledger.get("x") is None
    assert world.queue.visibility == {"rh-m-x": 20}  # base x 2^(2-1)
    assert world.copy(world.record(world.objects("x"), receive_count=3)) == ["m-x"]
    failure = world.ledger.get("x")
    assert failure is not None
    assert (failure.error_code, failure.attempts) == ("AccessDenied", 3)
    assert world.transfer.aborted == ["x"]  # nothing left behind
    run = world.runs.get(RUN)
    assert (run.status, run.objects_failed, run.failed_count) == (RunStatus.COMPLETED_WITH_FAILURES, 1, 1)
    assert world.marker.writes[-1].synced_to == LISTED  # the ledger key's LastModified


def test_duplicate_deliveries_are_counted_once() -> None:
    world = World(["a"])
    record = world.record(world.objects("a"))
    assert world.copy(record) == []
    assert world.copy(record) == []
    assert world.runs.get(RUN).objects_transferred == 1
    assert len(world.events.ended) == 1


def test_a_vanished_source_settles_and_clears_its_ledger_entry() -> None:
    world = World(["gone"])
    world.transfer.vanished.add("gone")
    world.ledger.record(_failure("gone"))
    assert world.copy(world.record(world.objects("gone"))) == []
    assert world.ledger.get("gone") is None
    assert world.runs.get(RUN).objects_vanished == 1


def test_a_held_version_is_skipped_unless_forced() -> None:
    from hydration.models import ManifestEntry

    world = World(["a", "b"])
    for key in ("a", "b"):
        world.manifest.entries[key] = ManifestEntry(
            key=key, etag=f'"{key}"', last_modified=LISTED, size=7, copied_at=LISTED, checksum=f"CRC32:{key}"
        )
    forced = TransferMessage(
        run_id=RUN, bucket="producer", sheet=SHEET, objects=[world.ref("a"), world.ref("b", force=True)]
    )
    assert world.copy(world.record(forced)) == []
    assert world.transfer.copied == ["b"]
    # the version is the one the manifest holds: its recorded checksum verifies the copy, no HEAD needed
    assert [r.known_checksum for r in world.transfer.requests] == ["CRC32:b"]
    run = world.runs.get(RUN)
    assert (run.objects_skipped, run.objects_transferred) == (1, 1)


def test_a_copy_whose_settlement_was_lost_counts_as_transferred_when_it_comes_back() -> None:
    """The copier dies after the manifest write and before the books: the key comes back held by its own
    run's copy, and settles as transferred (once, with its bytes), not as skipped, and is not copied again."""
    world = World(["a"])
    books = world.deps.books
    settle = books.settle

    def dies(run_id: str, settlements: list[Any]) -> list[str]:
        raise RuntimeError("killed before the books")

    books.settle = dies  # type: ignore[method-assign]
    assert world.copy(world.record(world.objects("a"))) == ["m-a"]
    assert world.manifest.entries["a"].run_id == RUN
    books.settle = settle  # type: ignore[method-assign]

    assert world.copy(world.record(world.objects("a"), receive_count=2)) == []
    assert world.transfer.copied == ["a"]
    run = world.runs.get(RUN)
    assert (run.objects_transferred, run.objects_skipped, run.bytes_transferred) == (1, 0, 7)


def test_a_redelivered_multi_key_message_is_split() -> None:
    world = World(["a", "b"])
    assert world.copy(world.record(world.objects("a", "b"), receive_count=2)) == []
    assert sorted(o["key"] for body, _ in world.queue.sent for o in body["objects"]) == ["a", "b"]
    assert all(len(body["objects"]) == 1 for body, _ in world.queue.sent)
    assert world.transfer.copied == []


def test_suspects_go_after_the_fresh_messages_which_are_deleted_first() -> None:
    world = World(["fresh", "suspect"])
    fresh = world.record(world.objects("fresh"))
    suspect = world.record(world.objects("suspect"), receive_count=2)
    assert world.copy(suspect, fresh) == []
    assert world.transfer.copied == ["fresh", "suspect"]
    assert world.queue.deleted == ["rh-m-fresh", "rh-m-suspect"]


def test_no_copy_starts_too_close_to_the_deadline() -> None:
    world = World(["a", "b"])
    assert world.copy(world.record(world.objects("a", "b")), remaining_ms=10_000) == []  # margin: 15 s
    assert world.transfer.copied == []
    ((body, delay),) = world.queue.sent
    assert ([o["key"] for o in body["objects"]], delay) == (["a", "b"], 0)


def test_a_large_object_fans_out_and_the_last_part_settles_it_once() -> None:
    world = World(["huge"], parts_per_message=2)
    world.transfer.fanned_out["huge"] = (1, 2, 3, 4, 5)
    assert world.copy(world.record(world.objects("huge"))) == []
    parts = [body for body, _ in world.queue.sent]
    assert [(b["kind"], b["parts"]) for b in parts] == [("parts", [1, 2]), ("parts", [3, 4]), ("parts", [5])]
    assert world.runs.get(RUN).status is RunStatus.DRAINING
    for i, body in enumerate(parts):
        message = PartsMessage.model_validate(body)
        assert world.copy(world.record(message, mid=f"p{i}")) == []
    run = world.runs.get(RUN)
    assert (run.status, run.objects_transferred) == (RunStatus.COMPLETED, 1)


def test_a_malformed_message_is_reported_alone() -> None:
    world = World(["a"])
    bad = {**world.record(world.objects("a"), mid="bad"), "body": '{"v": 2, "kind": "objects"}'}
    assert world.copy(bad, world.record(world.objects("a"))) == ["bad"]
    assert world.runs.get(RUN).objects_transferred == 1


@pytest.mark.parametrize("receive_count", [1, 3])
def test_a_state_write_that_fails_delivers_the_whole_batch_again(receive_count: int) -> None:
    world = World(["a"])

    def broken(entries: list[Any]) -> None:
        raise RuntimeError("DynamoDB is down")

    world.deps.manifest = type("Broken", (), {"put_many": staticmethod(broken)})()
    assert world.copy(world.record(world.objects("a"), receive_count=receive_count)) == ["m-a"]
    assert world.runs.get(RUN).keys_settled == 0


def _failure(key: str) -> Any:
    from hydration.models import FailureRecord

    return FailureRecord(
        key=key,
        size=7,
        etag=f'"{key}"',
        last_modified=LISTED,
        bucket="producer",
        run_id="earlier",
        error_code="AccessDenied",
        error_message="x",
        attempts=3,
        failed_at=LISTED,
    )


def test_the_batch_messages_are_held_for_a_step_before_any_copy_and_a_retried_one_keeps_its_backoff() -> None:
    """The visibility heartbeat: a crash from the first copy on costs a step (VISIBILITY_STEP_SECONDS), not the
    queue's visibility timeout; the message that failed comes back after its backoff, not after a step."""
    world = World(["a", "b", "c"], visibility_step_seconds=45)
    seen: list[dict[str, int]] = []
    copy = world.transfer.copy

    def copying(request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff:
        seen.append(dict(world.queue.visibility))
        return copy(request, deadline)

    world.transfer.copy = copying  # type: ignore[method-assign]
    world.transfer.failing["c"] = "SlowDown"
    assert world.copy(world.record(world.objects("a", "b")), world.record(world.objects("c"))) == ["m-c"]
    # the first copy to start (before any could fail) saw both held; c's copies run beside a's and b's, so
    # one of those may start after c failed and its message was set to come back after its backoff
    assert seen[0] == {"rh-m-a-b": 45, "rh-m-c": 45}
    assert all(v["rh-m-a-b"] == 45 and v["rh-m-c"] in (45, 10) for v in seen), seen
    assert world.queue.visibility == {"rh-m-a-b": 45, "rh-m-c": 10}  # c: base x 2^0
    assert not [t for t in threading.enumerate() if t.name == "visibility-heartbeat"]  # stopped before returning


def test_parts_that_never_start_fail_the_key_visibly_after_max_stalled_handoffs() -> None:
    """No part of the message fits the time left (a part size too large for the timeout): the parts message
    is sent again with its no-progress count, and at MAX_STALLED_HANDOFFS the key fails like any failed copy:
    SQS retries it, then the ledger (NoProgress), its upload aborted, the run closed with the failure."""
    world = World(["huge"], parts_per_message=5, max_stalled_handoffs=3)
    world.transfer.fanned_out["huge"] = (1, 2, 3, 4, 5)
    world.transfer.stalled.add("huge")
    assert world.copy(world.record(world.objects("huge"))) == []
    message = PartsMessage.model_validate(world.queue.sent[-1][0])
    for stalled in (1, 2):
        assert world.copy(world.record(message, mid=f"p{stalled}")) == []
        message = PartsMessage.model_validate(world.queue.sent[-1][0])
        assert (message.parts, message.object.stalled) == ([1, 2, 3, 4, 5], stalled)
    sent = len(world.queue.sent)

    assert world.copy(world.record(message, mid="p3")) == ["p3"]  # the third: a failure, retried by SQS
    assert world.ledger.get("huge") is None
    assert world.copy(world.record(message, receive_count=3, mid="p3")) == ["p3"]  # its final receive

    assert len(world.queue.sent) == sent  # nothing handed on any more
    failure = world.ledger.get("huge")
    assert failure is not None
    assert failure.error_code == "NoProgress"
    assert world.transfer.aborted == ["huge"]
    run = world.runs.get(RUN)
    assert (run.status, run.objects_failed) == (RunStatus.COMPLETED_WITH_FAILURES, 1)


def test_a_key_re_enqueued_alone_keeps_its_sheet_and_slot_and_settles_there_once() -> None:
    world = World(["a", "b", "c"])
    world.transfer.failing["b"] = "SlowDown"
    assert world.copy(world.record(world.objects("a", "b", "c"))) == []
    ((body, _),) = world.queue.sent
    assert (body["sheet"], [(o["key"], o["slot"]) for o in body["objects"]]) == (SHEET, [("b", 1)])
    del world.transfer.failing["b"]
    again = world.record(TransferMessage.model_validate(body), mid="again")
    assert world.copy(again) == []
    assert world.copy(again) == []  # delivered twice: counted once
    run = world.runs.get(RUN)
    assert (run.status, run.objects_transferred, run.sheet_settles) == (RunStatus.COMPLETED, 3, 2)


def test_a_split_message_keeps_the_sheet_and_slots(caplog: pytest.LogCaptureFixture) -> None:
    world = World(["a", "b"])
    assert world.copy(world.record(world.objects("a", "b"), receive_count=2)) == []
    assert sorted((b["sheet"], o["key"], o["slot"]) for b, _ in world.queue.sent for o in b["objects"]) == [
        (SHEET, "a", 0),
        (SHEET, "b", 1),
    ]


def test_a_message_from_before_sheets_is_copied_but_settles_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A version 2 message (a DLQ outlives an upgrade): its key is copied; its run's books cannot be read, so
    it settles nothing and says so."""
    world = World(["a"])
    old = json.dumps({"v": 2, "kind": "objects", "run_id": RUN, "bucket": "producer", "objects": [
        {"key": "a", "size": 7, "etag": '"a"', "last_modified": "2026-11-01T06:00:00Z", "version_id": None,
         "force": False, "attempts": 0}]})  # fmt: skip
    record = {**world.record(world.objects("a")), "body": old}
    assert world.copy(record) == []
    assert world.transfer.copied == ["a"]
    assert world.runs.get(RUN).keys_settled == 0
    assert "a message without a sheet settles nothing" in caplog.text


def test_a_key_two_copies_of_different_versions_wrote_at_once_settles_as_failed_with_its_ledger_entry() -> None:
    """Main's ConcurrentCopy (two copies of different versions wrote the consumer object at once: S3 kept one,
    nobody knows which) puts the key in the ledger, forced; in the books it settles as failed, so that the run's
    books say what its ledger says (it settled as transferred before)."""
    from datetime import timedelta

    from hydration.models import ManifestEntry

    world = World(["a"])
    copy = world.transfer.copy

    def another_copy_writes_meanwhile(request: CopyRequest, deadline: Deadline) -> CopyResult | Handoff:
        now = datetime.now(UTC)
        world.manifest.entries["a"] = ManifestEntry(
            key="a", etag='"a2"', last_modified=LISTED + timedelta(seconds=5), size=8, copied_at=now,
            written_after=now, written_before=now,
        )  # fmt: skip
        return copy(request, deadline)

    world.transfer.copy = another_copy_writes_meanwhile  # type: ignore[method-assign]
    assert world.copy(world.record(world.objects("a"))) == []
    failure = world.ledger.get("a")
    assert failure is not None
    assert (failure.error_code, failure.force) == ("ConcurrentCopy", True)
    assert world.manifest.entries["a"].etag == '"a2"'  # the entry is left alone: it holds nothing for this copy
    run = world.runs.get(RUN)
    assert (run.keys_settled, run.objects_transferred, run.objects_failed) == (1, 0, 1)
    assert (run.status, run.failed_count) == (RunStatus.COMPLETED_WITH_FAILURES, 1)


# ---------------------------------------------------------------------- archived sources (issue 15)

EARLIER = datetime(2026, 10, 30, 6, tzinfo=UTC)


def _archived_world(*keys: str) -> World:
    world = World(list(keys))
    world.runs.runs[RUN].watermark = datetime(2026, 11, 2, 6, tzinfo=UTC)  # the keys are older than the run
    return world


def test_an_archived_source_settles_archived_at_once_and_the_run_completes_past_it() -> None:
    world = _archived_world("a", "cold")
    world.transfer.archived["cold"] = False
    assert world.copy(world.record(world.objects("a", "cold"))) == []  # nothing retried, nothing re-enqueued
    assert world.queue.sent == []
    run = world.runs.get(RUN)
    assert (run.status, run.objects_transferred, run.objects_archived, run.objects_failed) == (
        RunStatus.COMPLETED,
        1,
        1,
        0,
    )
    assert (run.keys_settled, run.failed_count) == (2, 0)
    assert world.marker.writes[-1].synced_to == run.watermark  # the marker passes the archived key
    entry = world.ledger.get("cold")
    assert entry is not None
    assert (entry.archived, entry.storage_class, entry.restore_requested_at) == (True, "DEEP_ARCHIVE", None)
    assert entry.error_code == "InvalidObjectState"
    assert list(world.ledger) == []  # not re-enqueued by runs
    assert [f.key for f in world.ledger.archived()] == ["cold"]


def test_an_archived_key_of_a_one_key_message_is_not_retried_by_sqs() -> None:
    world = _archived_world("cold")
    world.transfer.archived["cold"] = False
    assert world.copy(world.record(world.objects("cold"))) == []
    assert world.queue.visibility == {"rh-m-cold": 60}  # the heartbeat's hold only: no retry backoff
    assert world.runs.get(RUN).status is RunStatus.COMPLETED


def test_a_restore_still_in_progress_settles_archived_again_and_keeps_the_request() -> None:
    world = _archived_world("cold")
    requested = datetime(2026, 11, 1, 7, tzinfo=UTC)
    world.ledger.record(_failure("cold").model_copy(update={"archived": True, "restore_requested_at": requested}))
    world.transfer.archived["cold"] = True
    assert world.copy(world.record(world.objects("cold"))) == []
    entry = world.ledger.get("cold")
    assert entry is not None
    assert (entry.archived, entry.restore_requested_at) == (True, requested)
    assert "restore is still in progress" in entry.error_message
    assert [f.key for f in world.ledger] == ["cold"]  # the next run tries it again
    run = world.runs.get(RUN)
    assert (run.status, run.objects_archived, run.objects_failed) == (RunStatus.COMPLETED, 1, 0)


def test_a_restore_that_is_no_longer_running_leaves_the_key_to_the_operator_again() -> None:
    world = _archived_world("cold")
    requested = datetime(2026, 10, 1, tzinfo=UTC)  # expired, or never started
    world.ledger.record(_failure("cold").model_copy(update={"archived": True, "restore_requested_at": requested}))
    world.transfer.archived["cold"] = False
    assert world.copy(world.record(world.objects("cold"))) == []
    entry = world.ledger.get("cold")
    assert entry is not None
    assert (entry.archived, entry.restore_requested_at) == (True, None)
    assert list(world.ledger) == []


def test_a_restored_key_lands_and_leaves_the_ledger() -> None:
    world = _archived_world("cold")
    restored = _failure("cold").model_copy(update={"archived": True, "restore_requested_at": EARLIER})
    world.ledger.record(restored)
    assert world.copy(world.record(world.objects("cold"))) == []
    assert world.ledger.get("cold") is None
    assert "cold" in world.manifest.entries
    run = world.runs.get(RUN)
    assert (run.status, run.objects_transferred, run.objects_archived) == (RunStatus.COMPLETED, 1, 0)


def test_a_key_that_fails_otherwise_holds_the_marker_unlike_an_archived_one() -> None:
    world = _archived_world("x")
    world.transfer.failing["x"] = "AccessDenied"
    assert world.copy(world.record(world.objects("x"), receive_count=3)) == ["m-x"]
    run = world.runs.get(RUN)
    assert run.status is RunStatus.COMPLETED_WITH_FAILURES
    assert world.marker.writes[-1].synced_to == LISTED  # held before the failed key

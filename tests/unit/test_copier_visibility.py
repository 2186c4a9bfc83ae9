"""The copier's visibility heartbeat (copier.visibility) over a fake queue that applies visibility changes the way
SQS does (the last change wins): the batch's messages are held for a step before any copy starts, extended while
it works, and a message given a backoff of its own or deleted early is never touched again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from copier.visibility import Heartbeat

STEP = 60


def poll(check: Callable[[], bool], timeout: float) -> None:
    """Bounded polling."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        threading.Event().wait(0.01)


class FakeQueue:
    """Records every call in order; `visibility` is each message's visibility as SQS would have it now."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.calls: list[tuple[str, Any, ...]] = []
        self.visibility: dict[str, int] = {}
        self.deleted: set[str] = set()
        self.refuse = refuse or set()
        self.fail_holds = 0
        self.in_hold = threading.Event()  # set while a hold call is in progress (when `gate` is used)
        self.gate: threading.Event | None = None  # a hold waits for it before it takes effect

    def hold(self, receipt_handles: list[str], seconds: int) -> list[str]:
        if self.fail_holds:
            self.fail_holds -= 1
            raise ConnectionError("SQS unreachable")
        if self.gate is not None:
            self.in_hold.set()
            self.gate.wait()
        refused = [h for h in receipt_handles if h in self.refuse or h in self.deleted]
        for handle in receipt_handles:
            if handle not in refused:
                self.visibility[handle] = seconds
        self.calls.append(("hold", list(receipt_handles), seconds))
        return refused

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.visibility[receipt_handle] = seconds
        self.calls.append(("retry_later", receipt_handle, seconds))

    def delete(self, receipt_handles: list[str]) -> None:
        self.deleted.update(receipt_handles)
        self.calls.append(("delete", list(receipt_handles)))

    def send(self, messages: list[Any]) -> list[Any]:
        self.calls.append(("send", len(messages)))
        return []

    def holds(self) -> list[list[str]]:
        return [call[1] for call in self.calls if call[0] == "hold"]


def records(*names: str) -> list[dict[str, Any]]:
    return [{"messageId": name, "receiptHandle": f"rh-{name}", "body": "{}"} for name in names]


def test_the_first_beat_holds_every_message_of_the_batch_before_start_returns() -> None:
    queue = FakeQueue()
    heartbeat = Heartbeat(queue, records("a", "b"), STEP)
    heartbeat.start()
    try:
        assert queue.calls == [("hold", ["rh-a", "rh-b"], STEP)]
        assert queue.visibility == {"rh-a": STEP, "rh-b": STEP}
    finally:
        heartbeat.stop()


def test_a_message_given_a_backoff_or_deleted_is_not_extended_again() -> None:
    queue = FakeQueue()
    heartbeat = Heartbeat(queue, records("a", "b", "c"), STEP)
    heartbeat.beat()
    heartbeat.retry_later("rh-a", 30)
    heartbeat.delete(["rh-b"])
    heartbeat.beat()
    assert queue.holds() == [["rh-a", "rh-b", "rh-c"], ["rh-c"]]
    assert queue.visibility["rh-a"] == 30  # its backoff, not a step
    assert heartbeat.held == ["rh-c"]


def test_a_message_sqs_refuses_is_dropped_and_a_failed_call_is_tried_again() -> None:
    queue = FakeQueue(refuse={"rh-b"})  # received again by another consumer, say
    heartbeat = Heartbeat(queue, records("a", "b"), STEP)
    heartbeat.beat()
    assert heartbeat.held == ["rh-a"]
    queue.fail_holds = 1
    heartbeat.beat()  # logged, not raised: the previous step still holds the message
    assert heartbeat.held == ["rh-a"]
    heartbeat.beat()
    assert queue.holds() == [["rh-a", "rh-b"], ["rh-a"]]


def test_a_batch_of_nothing_it_can_hold_starts_no_thread() -> None:
    queue = FakeQueue()
    with Heartbeat(queue, [{"messageId": "no-handle"}], STEP) as heartbeat:
        assert heartbeat.held == []
    assert queue.calls == []


def test_the_beats_go_on_while_the_batch_works_and_stop_before_it_returns() -> None:
    queue = FakeQueue()
    with Heartbeat(queue, records("a"), STEP, interval_seconds=0.01):
        poll(lambda: len(queue.holds()) >= 3, timeout=30)
    beats = len(queue.holds())
    assert not [t for t in threading.enumerate() if t.name == "visibility-heartbeat"]  # joined
    assert len(queue.holds()) == beats


def test_a_backoff_set_while_a_beat_is_in_flight_is_not_overwritten_by_it() -> None:
    """The batch's retry_later waits for a beat in flight, so the backoff is the last change SQS sees."""
    queue = FakeQueue()
    heartbeat = Heartbeat(queue, records("a", "b"), STEP)
    queue.gate = threading.Event()
    beat = threading.Thread(target=heartbeat.beat)
    beat.start()
    assert queue.in_hold.wait(30)  # the beat is inside its SQS call
    retry = threading.Thread(target=heartbeat.retry_later, args=("rh-a", 30))
    retry.start()
    retry.join(0.5)  # without the lock it would have run by now, before the beat took effect
    queue.gate.set()
    beat.join()
    retry.join()
    assert [call[0] for call in queue.calls] == ["hold", "retry_later"]
    assert queue.visibility == {"rh-a": 30, "rh-b": STEP}
    queue.gate = None
    heartbeat.beat()
    assert queue.holds()[-1] == ["rh-b"]


def test_the_batch_own_calls_pass_through() -> None:
    queue = FakeQueue()
    heartbeat = Heartbeat(queue, records("a"), STEP)
    assert heartbeat.send(["m1", "m2"]) == []
    assert heartbeat.hold(["rh-x"], 5) == []
    assert queue.calls == [("send", 2), ("hold", ["rh-x"], 5)]

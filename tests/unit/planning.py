"""The sharded planner on in-memory fakes: the coordinator, then planner workers taking shard messages in
an order the test chooses (as many workers as it likes, each invocation with a page budget that forces
hand-ons), until the planner queue is empty."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hydration.closing import Closing
from hydration.models import FailureRecord, PlannerRequest, PlanResult, RunRecord
from hydration.settings import PlannerSettings
from planner.context import Budget, PlannerDeps
from planner.coordinator import plan
from planner.enqueue import Queue
from planner.worker import work
from tests.fakes import (
    FakeEvents,
    FakeLedger,
    FakeListingS3,
    FakeManifest,
    FakeMarker,
    FakeRuns,
    FakeShardQueue,
    FakeShards,
    FakeSqs,
    RecordingContinuation,
)

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def settings(**overrides: object) -> PlannerSettings:
    values: dict[str, object] = {
        "consumer_bucket": "consumer",
        "runs_table": "runs",
        "books_table": "books",
        "failures_table": "failures",
        "manifest_table": "manifest",
        "producer_bucket": "producer",
        "producer_role_arn": "arn:aws:iam::222222222222:role/p",
        "external_id": "ext",
        "transfer_queue_url": "q",
        "planner_queue_url": "pq",
        "enqueue_concurrency": 2,
        "heartbeat_seconds": 3600,
    } | overrides
    return PlannerSettings(**values)  # type: ignore[arg-type]


@dataclass
class Planning:
    """A planner deployment in memory."""

    s3: FakeListingS3
    config: PlannerSettings = field(default_factory=settings)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    manifest: FakeManifest | None = None
    sqs: FakeSqs = field(default_factory=FakeSqs)
    runs: FakeRuns = field(default_factory=FakeRuns)
    shard_queue: FakeShardQueue = field(default_factory=FakeShardQueue)
    marker: FakeMarker = field(default_factory=FakeMarker)
    now: datetime = BASE + timedelta(days=30)
    invocations: int = 0

    def __post_init__(self) -> None:
        self.manifest = self.manifest or FakeManifest(ledger=self.ledger)
        self.shards = FakeShards(self.runs, clock=lambda: self.now)
        self.deps = PlannerDeps(
            settings=self.config,
            producer_s3=self.s3,  # type: ignore[arg-type]
            consumer_s3=self.s3,  # type: ignore[arg-type]
            runs=self.runs,
            books=self.runs.books,
            shards=self.shards,
            ledger=self.ledger,
            held=self.manifest.held,
            lookup=self.manifest.lookup,
            queue=Queue(self.sqs, "q", self.config.keys_per_message, self.config.enqueue_attempts),  # type: ignore[arg-type]
            dispatch=self.shard_queue,
            closing=Closing(runs=self.runs, ledger=self.ledger, marker=self.marker, events=FakeEvents()),
            continuation=RecordingContinuation(),
            clock=lambda: self.now,
        )

    def start(self, request: PlannerRequest, run_id: str = "run-1", request_id: str = "req") -> PlanResult:
        return plan(request, self.deps, run_id=run_id, request_id=request_id)

    def work_one(self, index: int = 0, pages: int = 0, *, attempt: int = 1) -> str:
        message = self.shard_queue.messages.pop(index)
        self.invocations += 1
        budget = Budget(None, 60, pages, heartbeat_seconds=self.config.heartbeat_seconds)
        last = attempt >= self.config.planner_max_receive_count
        return work(message, self.deps, budget, owner=f"worker-{self.invocations}", last_attempt=last)

    def drain(self, pages: int = 0, rng: random.Random | None = None, limit: int = 5000) -> int:
        """Work every shard message, in random order if `rng` is given; the number of invocations."""
        done = 0
        while self.shard_queue.messages:
            index = rng.randrange(len(self.shard_queue.messages)) if rng else 0
            self.work_one(index, pages)
            done += 1
            assert done < limit, "the planner queue does not drain"
        return done

    def run(self, run_id: str = "run-1") -> RunRecord:
        return self.runs.get(run_id)

    def sent_objects(self) -> list[dict[str, Any]]:
        return [o for body in self.sqs.bodies for o in json.loads(body)["objects"]]


def failure(key: str, force: bool = False) -> FailureRecord:
    return FailureRecord(
        key=key,
        size=1,
        etag='"old"',
        last_modified=BASE,
        bucket="producer",
        run_id="earlier",
        force=force,
        error_code="AccessDenied",
        error_message="x",
        attempts=5,
        failed_at=BASE,
    )

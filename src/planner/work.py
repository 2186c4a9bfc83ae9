"""One shard in one worker invocation: what the walks share (the run, the shard, the budget, the enqueue
pipeline) and how progress is recorded: the shard's position and counts are its checkpoints, each written in
the books transaction that opens the sheets it covers, conditional on the lease and the version this worker
holds (`enqueue.Checkpoint`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hydration.errors import CheckpointMovedError
from hydration.models import RunRecord, Shard
from hydration.selection import excluded_key
from planner.context import Budget, PlannerDeps, ShardLostError
from planner.enqueue import Enqueue


class Walked(StrEnum):
    DONE = "done"  # the shard's range (file, keys) is covered: finish it
    HAND_ON = "hand-on"  # the invocation's budget is spent: checkpoint and hand it on


@dataclass
class ShardWork:
    run: RunRecord
    shard: Shard
    deps: PlannerDeps
    budget: Budget
    enqueue: Enqueue = field(init=False)

    @property
    def excluded(self) -> str | None:
        return excluded_key(self.deps.settings.destination_prefix)

    def lease_until(self) -> datetime:
        return self.deps.clock() + timedelta(seconds=self.deps.settings.shard_lease_seconds)

    # ------------------------------------------------------------------ the enqueue's checkpoints (enqueue.Checkpoint)

    @property
    def prefix(self) -> str:
        """Of the sheet ids this shard opens: its id (unique in the run), or a digest of a long one."""
        shard_id = self.shard.shard_id
        return (shard_id if len(shard_id) <= 60 else hashlib.sha256(shard_id.encode()).hexdigest()[:24]) + "."

    def snapshot(self) -> Shard:
        self.shard.checkpoints += 1  # this one (if it does not commit, the shard is another worker's)
        return self.shard.model_copy(deep=True)

    def actions(self, snapshot: Shard, expected: int) -> list[Any]:
        """The shard's progress (if this worker still holds it at that version), and the run still planning (a
        cancelled or failed run stops its workers at their next transaction)."""
        lease = self.lease_until()
        return [self.deps.shards.checkpoint_action(snapshot, expected, lease), self.deps.runs.planning_check(self.run)]

    # ------------------------------------------------------------------ progress

    def flushed(self) -> None:
        """Everything put so far opened in the books (with the checkpoint that covers it) and sent; the shard
        at the version that checkpoint wrote. ShardLostError if another worker holds it now."""
        try:
            self.shard.version = self.enqueue.flush()
        except CheckpointMovedError as moved:
            raise ShardLostError(f"shard {self.shard.shard_id} of run {self.run.run_id}: {moved}") from moved

    def checkpoint(self) -> None:
        """Everything enqueued so far is in the books and on the queue, written with the shard's position and
        counts (and its lease renewed)."""
        self.flushed()

    def page_done(self) -> None:
        """After a page: checkpoint when a heartbeat is due (a cancelled run is noticed then too)."""
        self.budget.page_done()
        if self.budget.beat_due():
            if not self.deps.runs.heartbeat(self.run):
                raise ShardLostError(f"run {self.run.run_id} is no longer planning")
            self.checkpoint()

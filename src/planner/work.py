"""One shard in one worker invocation: what the walks share (the run, the shard, the budget, the enqueue
pipeline) and how progress is recorded: a checkpoint waits for everything enqueued so far, then writes the
shard's position and counts, conditional on the lease this worker holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

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
    enqueue: Enqueue

    @property
    def excluded(self) -> str | None:
        return excluded_key(self.deps.settings.destination_prefix)

    def lease_until(self) -> datetime:
        return self.deps.clock() + timedelta(seconds=self.deps.settings.shard_lease_seconds)

    def checkpoint(self) -> None:
        """Everything enqueued so far is in the books and on the queue; then the shard's position and counts
        are written (and the lease renewed). ShardLostError if this worker no longer holds the shard."""
        self.enqueue.flush()
        if not self.deps.shards.save(self.shard, self.lease_until()):
            raise ShardLostError(f"shard {self.shard.shard_id} of run {self.run.run_id}: lease lost or run stopped")

    def page_done(self) -> None:
        """After a page: checkpoint when a heartbeat is due (a cancelled run is noticed then too)."""
        self.budget.page_done()
        if self.budget.beat_due():
            if not self.deps.runs.heartbeat(self.run):
                raise ShardLostError(f"run {self.run.run_id} is no longer planning")
            self.checkpoint()

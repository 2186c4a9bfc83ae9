"""How long an e2e test may wait for the deployed pipeline, derived from the deployment's own settings (read from
the deployed queue, functions and event source mapping), not guessed: the wait bounds of the cases whose outcome
depends on where a fault lands, and of the teardown that leaves every test with no run and no message behind.

Each bound is an upper limit on what the rules allow, not a prediction: a run normally ends in seconds, and a
test never asserts that it was fast (speed is measured by `make bench`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hydration.closing import CLAIM_STALE_AFTER
from hydration.settings import CopierSettings, FinalizerSettings, PlannerSettings

# The test's own calls between two readings, and a LocalStack sharing a loaded 2-core machine: a margin on top
# of every bound, never a bound by itself.
SLACK_SECONDS = 30
FINALIZER_TIMEOUT_SECONDS = 60  # a finalizer pass (the template's finalizer timeout)


def _default(model: Any, field: str) -> int:
    return int(model.model_fields[field].default)


@dataclass(frozen=True)
class Bounds:
    queue_visibility: int  # the transfer queue's VisibilityTimeout
    copier_timeout: int
    step: int  # VISIBILITY_STEP_SECONDS: the copier's heartbeat holds its batch this long at a time
    max_receive_count: int
    retry_base: int
    retry_max: int
    batching_window: int
    drain_confirm: int
    stale_planning: int
    planner_worker_timeout: int = 60
    planner_shards: int = 1  # PLANNER_SHARDS: the most shards a run has (cut, then split)
    planner_concurrency: int = 1  # the planner workers' event source's MaximumConcurrency
    shard_lease: int = 120  # SHARD_LEASE_SECONDS
    claim_stale: int = int(CLAIM_STALE_AFTER.total_seconds())

    @classmethod
    def of(cls, deployment: Any) -> Bounds:
        lam, sqs = deployment.client("lambda"), deployment.client("sqs")

        def config(service: str) -> tuple[int, dict[str, str]]:
            got = lam.get_function_configuration(FunctionName=deployment.function_name(service))
            return int(got["Timeout"]), got.get("Environment", {}).get("Variables", {})

        copier_timeout, copier = config("copier")
        _, finalizer = config("finalizer")
        _, planner = config("planner")
        worker_timeout, worker = config("planner-worker")
        (workers,) = lam.list_event_source_mappings(FunctionName=deployment.function_name("planner-worker"))[
            "EventSourceMappings"
        ]
        (mapping,) = lam.list_event_source_mappings(FunctionName=deployment.function_name("copier"))[
            "EventSourceMappings"
        ]
        queue = sqs.get_queue_attributes(QueueUrl=deployment.transfer_queue_url, AttributeNames=["VisibilityTimeout"])
        return cls(
            queue_visibility=int(queue["Attributes"]["VisibilityTimeout"]),
            copier_timeout=copier_timeout,
            step=int(copier.get("VISIBILITY_STEP_SECONDS", _default(CopierSettings, "visibility_step_seconds"))),
            max_receive_count=int(copier.get("MAX_RECEIVE_COUNT", _default(CopierSettings, "max_receive_count"))),
            retry_base=int(copier.get("RETRY_BASE_SECONDS", _default(CopierSettings, "retry_base_seconds"))),
            retry_max=int(copier.get("RETRY_MAX_SECONDS", _default(CopierSettings, "retry_max_seconds"))),
            batching_window=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
            drain_confirm=int(
                finalizer.get("DRAIN_CONFIRM_SECONDS", _default(FinalizerSettings, "drain_confirm_seconds"))
            ),
            stale_planning=int(
                planner.get("STALE_PLANNING_SECONDS", _default(PlannerSettings, "stale_planning_seconds"))
            ),
            planner_worker_timeout=worker_timeout,
            planner_shards=int(worker.get("PLANNER_SHARDS", _default(PlannerSettings, "planner_shards"))),
            planner_concurrency=int(workers.get("ScalingConfig", {}).get("MaximumConcurrency", 1000)),
            shard_lease=int(worker.get("SHARD_LEASE_SECONDS", _default(PlannerSettings, "shard_lease_seconds"))),
        )

    # ------------------------------------------------------------------ the pieces

    @property
    def delivery(self) -> int:
        """A visible message is received (the mapping's batching window, a second of poll back-off) and its
        invocation ends (the copier's timeout at most)."""
        return self.batching_window + 1 + self.copier_timeout

    def comeback(self, *, before_heartbeat: bool) -> int:
        """A crashed (or timed-out) copier's messages are visible again: within a heartbeat step once its batch
        started; if it died before its first beat, after the queue's visibility timeout."""
        return max(self.step, self.queue_visibility) if before_heartbeat else self.step

    @property
    def retries(self) -> int:
        """A key that fails until its final receive: each attempt's backoff and delivery."""
        backoffs = sum(
            min(self.retry_max, self.retry_base * 2 ** (a - 1)) for a in range(1, self.max_receive_count + 1)
        )
        return backoffs + self.max_receive_count * self.delivery

    @property
    def close(self) -> int:
        """The run closes once its books balance (the copier that settles the last key, or the finalizer), or
        its unsettled keys are swept once the queue was seen empty twice; a closer that died holding the claim
        is taken over once the claim is stale."""
        return self.claim_stale + 2 * self.drain_confirm + FINALIZER_TIMEOUT_SECONDS

    @property
    def planner_delivery(self) -> int:
        """A shard message is received and its worker's invocation ends (the worker's timeout at most)."""
        return 1 + self.planner_worker_timeout

    def planning(self, *, hand_ons: int = 0, lost_shards: int = 0) -> int:
        """A run's planning: its shards (at most PLANNER_SHARDS) worked MaximumConcurrency at a time, `hand_ons`
        more deliveries one after the other; a shard whose worker died or whose message was lost is sent again
        once its lease expired and nobody planned the run for STALE_PLANNING_SECONDS (the finalizer has the
        coordinator pick it up), whatever the planner queue's visibility timeout."""
        rounds = math.ceil(self.planner_shards / max(1, self.planner_concurrency)) + hand_ons
        seconds = rounds * self.planner_delivery
        recovery = max(self.shard_lease, self.stale_planning) + FINALIZER_TIMEOUT_SECONDS + self.planner_delivery
        return seconds + lost_shards * recovery

    # ------------------------------------------------------------------ what tests wait for

    def run_end(
        self,
        *,
        deliveries: int = 2,
        crashes: int = 0,
        before_heartbeat: bool = True,
        failing_keys: bool = False,
        hand_ons: int = 0,
        lost_shards: int = 0,
    ) -> int:
        """A run's end, after the planner answered: its planning (`planning`), its messages delivered
        `deliveries` times one after the other (the first, then a split or a hand-on; a large copy, once per
        invocation it takes), each crash's batch back and delivered twice (split into one-key messages, then
        copied), the retries of keys that fail, and the close."""
        seconds = self.planning(hand_ons=hand_ons, lost_shards=lost_shards) + deliveries * self.delivery + self.close
        seconds += crashes * (self.comeback(before_heartbeat=before_heartbeat) + 2 * self.delivery)
        if failing_keys:
            seconds += self.retries
        return seconds + SLACK_SECONDS

    @property
    def quiet(self) -> int:
        """After a run ended: what is left on the queue (a crashed batch's duplicates, held by a heartbeat) comes
        back and is consumed."""
        return self.comeback(before_heartbeat=False) + self.delivery + SLACK_SECONDS

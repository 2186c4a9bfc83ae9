"""The pipeline as a contender: reset the consumer side, start a run through the planner, follow it until the
finalizer has advanced the marker (hydration_cli.ops.trigger.follow), and collect what it cost.

Copy mode and tuning knobs are switched on the deployed functions directly (Lambda UpdateFunctionConfiguration,
UpdateEventSourceMapping): seconds instead of a stack update, and restored by `restore()`.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import data
from bench.env import (
    RequestLog,
    Stack,
    cpu_seconds,
    environment_pids,
    localstack_pid,
    peak_rss_mb,
    reset_peak_rss,
)
from hydration_cli.deployment import Deployment
from hydration_cli.errors import FunctionInvocationError
from hydration_cli.ops import trigger
from hydration_cli.ops.runs import Progress

COPIER = "copier.handler.lambda_handler"
PLANNER = "planner.handler.lambda_handler"
ESM_KNOBS = ("BatchSize", "MaximumBatchingWindowInSeconds")


@dataclass
class PipelineRun:
    run_id: str
    status: str
    seconds: float  # planner invoked -> run COMPLETED (marker advanced)
    drained_seconds: float | None  # planner invoked -> first poll that saw every key settled
    keys_enqueued: int
    transferred: int
    skipped: int
    failed: int
    copier_rss_mb: float | None
    localstack_cpu_seconds: float | None
    requests: Counter[str] = field(default_factory=Counter)


class Pipeline:
    def __init__(self, stack: Stack, poll_interval: float = 0.5) -> None:
        self.stack = stack
        self.deployment = Deployment(stack=stack.consumer_stack)
        self.poll_interval = poll_interval
        self.requests = RequestLog()
        self._saved_env: dict[str, dict[str, str]] = {}
        self._saved_esm: dict[str, Any] | None = None

    # ------------------------------------------------------------------ clients and names

    @property
    def _lambda(self) -> Any:
        return self.deployment.client("lambda")

    @property
    def copier_name(self) -> str:
        return self.deployment.function_name("copier")

    @property
    def planner_name(self) -> str:
        return self.deployment.function_name("planner")

    def esm(self) -> dict[str, Any]:
        mappings = self._lambda.list_event_source_mappings(FunctionName=self.copier_name)["EventSourceMappings"]
        return dict(mappings[0])

    def env(self, function: str) -> dict[str, str]:
        config = self._lambda.get_function_configuration(FunctionName=function)
        return dict(config.get("Environment", {}).get("Variables", {}))

    # ------------------------------------------------------------------ configuration (bench-time overrides)

    def configure(self, function: str, **variables: str) -> None:
        """Set environment variables of a function (the change restarts its execution environments)."""
        current = self.env(function)
        wanted = current | {k: str(v) for k, v in variables.items()}
        if wanted == current:
            return
        self._saved_env.setdefault(function, current)
        self._lambda.update_function_configuration(FunctionName=function, Environment={"Variables": wanted})
        self._wait_updated(function)
        self.warm()

    def configure_esm(self, **knobs: int | bool) -> None:
        mapping = self.esm()
        if all(mapping.get(k) == v for k, v in knobs.items()):
            return
        if self._saved_esm is None:
            self._saved_esm = {k: mapping[k] for k in ESM_KNOBS}
            self._saved_esm["Enabled"] = mapping.get("State") == "Enabled"
        self._lambda.update_event_source_mapping(UUID=mapping["UUID"], **knobs)
        wanted = "Disabled" if knobs.get("Enabled") is False else "Enabled"
        deadline = time.monotonic() + 60
        while self.esm().get("State") != wanted and time.monotonic() < deadline:
            time.sleep(0.2)

    def set_copy_mode(self, mode: str) -> None:
        self.configure(self.copier_name, COPY_MODE=mode)

    def restore(self) -> None:
        for function, variables in self._saved_env.items():
            self._lambda.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
            self._wait_updated(function)
        self._saved_env.clear()
        if self._saved_esm is not None:
            saved, self._saved_esm = self._saved_esm, None
            self.configure_esm(**saved)
            self._saved_esm = None

    def _wait_updated(self, function: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            config = self._lambda.get_function_configuration(FunctionName=function)
            if config.get("LastUpdateStatus", "Successful") == "Successful" and config.get("State") == "Active":
                return
            time.sleep(0.2)

    def warm(self) -> None:
        """Start the copier's execution environment (cold start outside the timing): an empty SQS batch."""
        with contextlib.suppress(FunctionInvocationError):  # the handler rejects an empty batch, after init
            self.deployment.functions.invoke(self.copier_name, {"Records": []})

    # ------------------------------------------------------------------ state between runs

    def reset(self) -> None:
        """A fresh, empty destination: the consumer bucket emptied (marker included), the manifest and the
        failure ledger cleared, no active run, the transfer queue empty."""
        active = self.deployment.runs.active_run_id()
        if active:
            raise RuntimeError(f"run {active} is still active: the bench needs an idle deployment")
        data.empty(self.stack.consumer_s3, self.stack.consumer_bucket)
        db = self.deployment.client("dynamodb")
        for table in (self.deployment.output("ManifestTableName"), self.deployment.output("FailuresTableName")):
            _clear_table(db, table)
        depth = self.deployment.client("sqs").get_queue_attributes(
            QueueUrl=self.deployment.transfer_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if any(int(v) for v in depth.values()):
            raise RuntimeError(f"the transfer queue is not empty: {depth}")

    # ------------------------------------------------------------------ one run

    def run(self, payload: dict[str, Any], timeout: float = 600) -> PipelineRun:
        pids = environment_pids(COPIER)
        reset_peak_rss(pids)
        ls = localstack_pid()
        cpu_before = cpu_seconds(ls) if ls else None
        offset = self.requests.mark()
        started = time.perf_counter()
        plan = self.deployment.functions.invoke(self.planner_name, payload)
        if not plan.get("started"):
            raise RuntimeError(f"no run started: {plan}")
        drained: list[float] = []

        def on_progress(p: Progress) -> None:
            if not drained and p.planning_complete and p.keys_settled >= p.keys_enqueued:
                drained.append(time.perf_counter() - started)

        run = trigger.follow(
            self.deployment,
            plan["run_id"],
            timeout=timedelta(seconds=timeout),
            interval=self.poll_interval,
            clock=lambda: datetime.now(UTC),
            sleep=time.sleep,
            on_progress=on_progress,
        )
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(ls) - cpu_before if ls and cpu_before is not None else None
        return PipelineRun(
            run_id=run.run_id,
            status=run.status.value,
            seconds=seconds,
            drained_seconds=drained[0] if drained else None,
            keys_enqueued=run.keys_enqueued,
            transferred=run.objects_transferred,
            skipped=run.objects_skipped,
            failed=run.objects_failed,
            copier_rss_mb=peak_rss_mb(environment_pids(COPIER) or pids),
            localstack_cpu_seconds=cpu,
            requests=self.requests.since(offset),
        )


def _clear_table(db: Any, table: str) -> None:
    keys: list[dict[str, Any]] = []
    for page in db.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="#k", ExpressionAttributeNames={"#k": "key"}
    ):
        keys += page.get("Items", [])
    chunks = [keys[i : i + 25] for i in range(0, len(keys), 25)]

    def delete(chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in chunk]}
        while pending:
            pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(delete, chunks))

"""The pipeline as a contender: reset the consumer side, invoke the planner the way the schedule does, wait
for the run to close (the copier that settles the last key closes it: nothing else is invoked), and collect
what it cost and when each phase ended.

Copy mode and tuning knobs are switched on the deployed functions and the event source mapping directly
(Lambda UpdateFunctionConfiguration, UpdateEventSourceMapping): seconds instead of a stack update, restored by
`restore()`. The bench talks to the stacks through the shared package's stores and plain boto3 clients (not
through the operator CLI), so that it measures only what the pipeline does.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from bench import data
from bench.costs import aws_cost
from bench.env import (
    RequestLog,
    Stack,
    client,
    cpu_seconds,
    cpu_since,
    environment_pids,
    environments_cpu,
    localstack_pid,
    peak_rss_mb,
    reset_peak_rss,
)
from hydration.aws.wiring import StateStores
from hydration.models import TERMINAL, RunRecord, RunStatus

COPIER = "copier.handler.lambda_handler"
PLANNER = "planner.handler.lambda_handler"
ESM_KNOBS = ("BatchSize", "MaximumBatchingWindowInSeconds")
# Requests that write an object's bytes into the consumer bucket (the marker's PutObject is told apart).
DATA_WRITES = ("s3.CopyObject", "s3.UploadPartCopy", "s3.CompleteMultipartUpload", "s3.UploadPart", "s3.PutObject")
_REPORT = re.compile(r"Max Memory Used: (\d+) MB")


@dataclass
class PipelineRun:
    run_id: str
    status: str
    seconds: float  # planner invoked -> run closed (the run record's ended_at)
    planned_seconds: float  # planner invoked -> planning complete (its last shard done)
    first_copy_seconds: float | None  # planner invoked -> LocalStack answered the first data write
    last_copy_seconds: float | None  # planner invoked -> the last data write landed
    last_settled_seconds: float | None  # planner invoked -> the last key settled in the books
    keys_listed: int
    keys_enqueued: int
    keys_unchanged: int
    keys_settled: int
    transferred: int
    skipped: int
    failed: int
    copier_invocations: int
    cold_starts: int
    copier_rss_mb: float | None
    localstack_cpu_seconds: float | None
    functions_cpu_seconds: float | None  # the planner's and the copiers' processes (their own CPU)
    requests: Counter[str] = field(default_factory=Counter)
    aws: dict[str, Any] = field(default_factory=dict)  # its cost on AWS, modeled from its books (bench.costs)

    @property
    def close_lag(self) -> float | None:
        """Last copy landed -> run closed."""
        return None if self.last_copy_seconds is None else self.seconds - self.last_copy_seconds

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.COMPLETED.value


class Pipeline:
    def __init__(self, stack: Stack, poll_interval: float = 0.2) -> None:
        self.stack = stack
        self.outputs = stack.outputs
        self.poll_interval = poll_interval
        self.log = RequestLog()
        self.db = client("dynamodb")
        self.sqs = client("sqs")
        self.logs = client("logs")
        # parameter validation off: LocalStack takes ScalingConfig.MaximumConcurrency=1 (AWS's minimum is 2)
        self.lambda_ = client("lambda", config=Config(parameter_validation=False, read_timeout=900))
        self.stores = StateStores.of(
            self.db,
            runs=self.outputs["RunsTableName"],
            books=self.outputs["BooksTableName"],
            failures=self.outputs["FailuresTableName"],
            manifest=self.outputs["ManifestTableName"],
        )
        self._saved_env: dict[str, dict[str, str]] = {}
        self._saved_esm: dict[str, Any] | None = None
        self._saved_planner_esm: int | None = None
        self._enabled = True  # the deployment enables the mapping
        self._warm_ids: set[str] = set()  # invocations of the warm-up (their REPORT lines are not the runs')

    # ------------------------------------------------------------------ names

    @property
    def copier_name(self) -> str:
        return self.outputs["CopierFunctionName"]

    @property
    def planner_name(self) -> str:
        return self.outputs["PlannerFunctionName"]

    @property
    def planner_worker_name(self) -> str:
        return self.outputs["PlannerWorkerFunctionName"]

    def configure_planner_esm(self, concurrency: int) -> None:
        """The planner queue's event source: at most `concurrency` workers at once (restored by `restore`)."""
        (mapping,) = self.lambda_.list_event_source_mappings(FunctionName=self.planner_worker_name)[
            "EventSourceMappings"
        ]
        if self._saved_planner_esm is None:
            self._saved_planner_esm = (mapping["ScalingConfig"] or {}).get("MaximumConcurrency")
        self.lambda_.update_event_source_mapping(
            UUID=mapping["UUID"], Enabled=True, ScalingConfig={"MaximumConcurrency": concurrency}
        )
        time.sleep(2.5)  # the old worker's loops end after their current (empty) poll (configure_esm)

    def invoke(self, function: str, payload: dict[str, Any]) -> Any:
        response = self.lambda_.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        answer = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            raise RuntimeError(f"{function} failed: {str(answer)[:300]}")
        return answer

    def esm(self) -> dict[str, Any]:
        mappings = self.lambda_.list_event_source_mappings(FunctionName=self.copier_name)["EventSourceMappings"]
        return dict(mappings[0])

    def env(self, function: str) -> dict[str, str]:
        config = self.lambda_.get_function_configuration(FunctionName=function)
        return dict(config.get("Environment", {}).get("Variables", {}))

    def settings(self) -> dict[str, Any]:
        """What the next run works with: the mapping's knobs, the copier's and the planner's tuning."""
        esm = self.esm()
        copier, planner = self.env(self.copier_name), self.env(self.planner_name)
        (workers,) = self.lambda_.list_event_source_mappings(FunctionName=self.planner_worker_name)[
            "EventSourceMappings"
        ]
        return {
            "PlannerConcurrency": (workers.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            "BatchSize": esm.get("BatchSize"),
            "MaximumBatchingWindowInSeconds": esm.get("MaximumBatchingWindowInSeconds"),
            "MaximumConcurrency": (esm.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            "KEYS_PER_MESSAGE": planner.get("KEYS_PER_MESSAGE", "10"),
            **{k: copier.get(k) for k in ("COPY_MODE", "COPY_CONCURRENCY", "MULTIPART_THRESHOLD_BYTES")},
            **{k: copier.get(k) for k in ("PART_SIZE_BYTES", "PARTS_IN_FLIGHT") if copier.get(k)},
        }

    # ------------------------------------------------------------------ configuration (bench-time overrides)

    def configure(self, function: str, **variables: str | int) -> None:
        """Set environment variables of a function (the change restarts its execution environments)."""
        current = self.env(function)
        wanted = current | {k: str(v) for k, v in variables.items()}
        if wanted == current:
            return
        self._saved_env.setdefault(function, current)
        self.lambda_.update_function_configuration(FunctionName=function, Environment={"Variables": wanted})
        self._wait_updated(function)

    def configure_esm(self, **knobs: Any) -> None:
        """BatchSize, MaximumBatchingWindowInSeconds, MaximumConcurrency (ScalingConfig), Enabled.

        LocalStack re-creates the mapping's worker on every update; the old one stops after its current poll
        and then marks the mapping Disabled in the store, although the new worker polls (a race in
        LocalStack 2026.3.0): the state shown is not waited for. Every update names `Enabled`, which
        LocalStack otherwise takes as false."""
        mapping = self.esm()
        current = {k: mapping.get(k) for k in ESM_KNOBS}
        current["MaximumConcurrency"] = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        current["Enabled"] = self._enabled  # not the State shown, which may be stale (above)
        wanted = current | knobs
        if wanted == current and self._saved_esm is not None:
            return
        if self._saved_esm is None:
            self._saved_esm = dict(current)
        update = {k: wanted[k] for k in ESM_KNOBS}
        if wanted["MaximumConcurrency"]:
            update["ScalingConfig"] = {"MaximumConcurrency": wanted["MaximumConcurrency"]}
        self.lambda_.update_event_source_mapping(UUID=mapping["UUID"], Enabled=bool(wanted["Enabled"]), **update)
        self._enabled = bool(wanted["Enabled"])
        time.sleep(2.5)  # the old worker's loops end after their current (empty) poll

    def restore(self) -> None:
        for function, variables in self._saved_env.items():
            self.lambda_.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
            self._wait_updated(function)
        self._saved_env.clear()
        if self._saved_esm is not None:
            saved = self._saved_esm
            self.configure_esm(**saved)
            self._saved_esm = None
        if self._saved_planner_esm is not None:
            self.configure_planner_esm(self._saved_planner_esm)
            self._saved_planner_esm = None

    def _wait_updated(self, function: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            config = self.lambda_.get_function_configuration(FunctionName=function)
            if config.get("LastUpdateStatus", "Successful") == "Successful" and config.get("State") == "Active":
                return
            time.sleep(0.2)

    def warm(self, environments: int = 1) -> None:
        """Start the copier's execution environments outside the timing (one per poll loop): as many empty
        SQS batches at once (the handler rejects them, after its cold start), and the planner's."""

        def one(_: int) -> None:
            response = self.lambda_.invoke(FunctionName=self.copier_name, Payload=b'{"Records": []}')
            self._warm_ids.add(str(response.get("ResponseMetadata", {}).get("RequestId", "")))

        with ThreadPoolExecutor(max_workers=environments) as pool:
            list(pool.map(one, range(environments)))
        self.invoke(self.planner_name, {"prefix": "zz-warm/", "dry_run": True})  # the coordinator's environment

    # ------------------------------------------------------------------ state between runs

    def reset(self) -> None:
        """A fresh, empty destination: the consumer bucket emptied (marker included), the manifest, the failure
        ledger, the uploads table and the books of earlier runs cleared, no active run, the transfer queue empty.

        The books of earlier runs go because moto (LocalStack's DynamoDB here) answers a Query by sorting every
        item of the table: the counters' Query of each run would cost more with every earlier run kept, which
        DynamoDB does not do."""
        active = self.stores.runs.active_run_id()
        if active:
            raise RuntimeError(f"run {active} is still active: the bench needs an idle deployment")
        data.empty(self.stack.consumer_s3, self.stack.consumer_bucket)
        for table in ("ManifestTableName", "FailuresTableName", "UploadsTableName", "BooksTableName"):
            _clear_table(self.db, self.outputs[table])
        depth = self.queue_depth()
        if depth:
            raise RuntimeError(f"the transfer queue is not empty: {depth} messages")

    def reset_quietly(self) -> None:
        """Leave the deployment as the bench found it (a consumer bucket and tables without the bench's data)."""
        with contextlib.suppress(Exception):
            self.reset()

    def abandon(self, run_id: str) -> None:
        """Drop a run the bench only planned: its messages purged, the run cancelled (the lock released, the
        marker untouched)."""
        self.sqs.purge_queue(QueueUrl=self.outputs["TransferQueueUrl"])
        self.stores.runs.cancel(run_id, "bench: a planning pass only")
        deadline = time.monotonic() + 60
        while self.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.5)

    def queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs["TransferQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    # ------------------------------------------------------------------ one run

    def run(self, payload: dict[str, Any], timeout: float = 600) -> PipelineRun:
        pids = environment_pids(COPIER)
        reset_peak_rss(pids)
        ls = localstack_pid()
        cpu_before = cpu_seconds(ls) if ls else None
        functions_before = environments_cpu()
        offset = self.log.mark()
        invoked_at = time.time()
        plan = self.invoke(self.planner_name, payload)
        if not plan.get("started"):
            raise RuntimeError(f"no run started: {plan}")
        run_id = str(plan["run_id"])
        polls = self._wait_closed(run_id, invoked_at + timeout)
        cpu = cpu_seconds(ls) - cpu_before if ls and cpu_before is not None else None
        functions_cpu = cpu_since(functions_before)
        window = self.log.window(offset)
        requests = window.counts
        requests["dynamodb.GetItem"] -= polls  # the bench's own polls of the run record
        requests += Counter()  # drop zero counts
        # everything below reads after the window: the bench's reads are not counted
        run = self.stores.runs.get(run_id)
        ended = run.ended_at.timestamp() if run.ended_at else time.time()
        planned = (run.heartbeat_at.timestamp() if run.heartbeat_at else ended) - invoked_at
        writes = sorted(window.times(*DATA_WRITES[:-1]) + _data_puts(window, run))
        reports = self._reports(invoked_at)
        settled = [t.settled_at.timestamp() for t in self.stores.books.tasks(run_id) if t.settled_at]
        return PipelineRun(
            run_id=run_id,
            status=run.status.value,
            seconds=ended - invoked_at,
            planned_seconds=planned,
            first_copy_seconds=writes[0] - invoked_at if writes else None,
            last_copy_seconds=writes[-1] - invoked_at if writes else None,
            last_settled_seconds=max(settled) - invoked_at if settled else None,
            keys_listed=run.keys_listed,
            keys_enqueued=run.keys_enqueued,
            keys_unchanged=run.keys_unchanged,
            keys_settled=run.keys_settled,
            transferred=run.objects_transferred,
            skipped=run.objects_skipped,
            failed=run.objects_failed,
            copier_invocations=len(reports),
            cold_starts=sum(1 for line in reports if "Init Duration" in line),
            copier_rss_mb=max(
                [float(m.group(1)) for line in reports if (m := _REPORT.search(line))]
                + [peak_rss_mb(environment_pids(COPIER) or pids) or 0.0]
            )
            or None,
            localstack_cpu_seconds=cpu,
            functions_cpu_seconds=functions_cpu,
            requests=requests,
            aws=aws_cost(run, self.settings()),
        )

    def _wait_closed(self, run_id: str, deadline: float) -> int:
        """Poll the run record's status (one consistent GetItem a poll) until the run has ended; the polls."""
        polls = 0
        while True:
            item = self.db.get_item(
                TableName=self.outputs["RunsTableName"],
                Key={"run_id": {"S": run_id}},
                ConsistentRead=True,
                ProjectionExpression="#s",
                ExpressionAttributeNames={"#s": "status"},
            ).get("Item", {})
            polls += 1
            if RunStatus(item["status"]["S"]) in TERMINAL:
                return polls
            if time.time() > deadline:
                raise TimeoutError(f"run {run_id} is still {item['status']['S']}")
            time.sleep(self.poll_interval)

    def _reports(self, since: float) -> list[str]:
        """The copier's REPORT lines since then (what the executor says each invocation took and peaked at)."""
        group = f"/aws/lambda/{self.copier_name}"
        found: list[str] = []
        for _ in range(10):  # the executor forwards log lines asynchronously: wait until they stop coming
            lines: list[str] = []
            with contextlib.suppress(Exception):
                for page in self.logs.get_paginator("filter_log_events").paginate(
                    logGroupName=group, startTime=int(since * 1000) - 1000, filterPattern="REPORT"
                ):
                    lines += [
                        e["message"]
                        for e in page.get("events", [])
                        if e["message"].startswith("REPORT") and e["message"].split()[2] not in self._warm_ids
                    ]
            if lines and len(lines) == len(found):
                return lines
            found = lines
            time.sleep(0.5)
        return found


def _data_puts(window: Any, run: RunRecord) -> list[float]:
    """PutObject times that wrote data: all of them but the marker's (the run's last PutObject)."""
    puts = sorted(window.times("s3.PutObject"))
    return puts[:-1] if run.marker_written is not None and puts else puts


def _clear_table(db: Any, table: str) -> int:
    """Delete every item of a table (Scan of its keys, BatchWriteItem deletes side by side); the count."""
    schema = db.describe_table(TableName=table)["Table"]["KeySchema"]
    names = {f"#k{i}": key["AttributeName"] for i, key in enumerate(schema)}
    keys: list[dict[str, Any]] = []
    for page in db.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
    ):
        keys += page.get("Items", [])
    chunks = [keys[i : i + 25] for i in range(0, len(keys), 25)]

    def delete(chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in chunk]}
        while pending:
            pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(delete, chunks))
    return len(keys)

"""In-memory stand-ins for the AWS adapters, honouring the same contracts (tests prefer fakes to mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from hydration.errors import RunAlreadyActiveError, RunNotFoundError
from hydration.models import FailureRecord, ManifestEntry, RunRecord, RunStatus


class FakeListingS3:
    """ListObjectsV2 over a dict of key -> (size, etag, last_modified), paginated, key-ordered."""

    def __init__(self, objects: dict[str, tuple[int, str, datetime]]) -> None:
        self.objects = objects
        self.list_calls = 0

    def get_paginator(self, name: str) -> FakeListingS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str = "", PaginationConfig: dict | None = None, **kw: Any) -> Iterator:
        config = PaginationConfig or {}
        size = config.get("PageSize", 1000)
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        start = int(config.get("StartingToken") or 0)
        while True:
            self.list_calls += 1
            chunk = keys[start : start + size]
            truncated = start + size < len(keys)
            page: dict[str, Any] = {
                "Contents": [
                    {
                        "Key": k,
                        "Size": self.objects[k][0],
                        "ETag": self.objects[k][1],
                        "LastModified": self.objects[k][2],
                    }
                    for k in chunk
                ],
                "IsTruncated": truncated,
            }
            if truncated:
                page["NextContinuationToken"] = str(start + size)
            yield page
            if not truncated:
                return
            start += size

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "no marker"}}, "GetObject")


class FakeSqs:
    """SendMessageBatch into a list; `fail_first` entries (by key) are reported Failed the first time."""

    def __init__(self, fail_first: set[str] | None = None, fail_always: set[str] | None = None) -> None:
        self.bodies: list[str] = []
        self.fail_first = set(fail_first or ())
        self.fail_always = set(fail_always or ())
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        import json

        self.calls += 1
        assert len(Entries) <= 10
        ok, failed = [], []
        for entry in Entries:
            key = json.loads(entry["MessageBody"])["key"]
            if key in self.fail_always or key in self.fail_first:
                self.fail_first.discard(key)
                failed.append(
                    {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                )
            else:
                self.bodies.append(entry["MessageBody"])
                ok.append({"Id": entry["Id"], "MessageId": "m", "MD5OfMessageBody": "x"})
        return {"Successful": ok, "Failed": failed}

    def keys(self) -> list[str]:
        import json

        return [json.loads(b)["key"] for b in self.bodies]


class FakeRuns:
    """RunStore's contract in memory."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.lock: str | None = None

    def create(self, run: RunRecord) -> None:
        if self.lock:
            active = self.runs[self.lock]
            raise RunAlreadyActiveError(active.run_id, active.status.value)
        self.lock = run.run_id
        self.runs[run.run_id] = run.model_copy(deep=True)

    def get(self, run_id: str) -> RunRecord:
        if run_id not in self.runs:
            raise RunNotFoundError(run_id)
        return self.runs[run_id].model_copy(deep=True)

    def active(self) -> RunRecord | None:
        return self.get(self.lock) if self.lock else None

    def checkpoint(self, run: RunRecord) -> None:
        assert self.runs[run.run_id].status is RunStatus.PLANNING
        self.runs[run.run_id] = run.model_copy(deep=True)

    def finish_planning(self, run: RunRecord) -> None:
        assert self.runs[run.run_id].status is RunStatus.PLANNING
        stored = run.model_copy(deep=True)
        stored.status = RunStatus.DRAINING
        stored.planning_complete = True
        stored.cursor = None
        self.runs[run.run_id] = stored

    def fail(self, run_id: str, error: str) -> None:
        self.runs[run_id].status = RunStatus.FAILED
        self.runs[run_id].error = error
        if self.lock == run_id:
            self.lock = None


class FakeLedger:
    def __init__(self, failures: list[FailureRecord] | None = None) -> None:
        self.failures = {f.key: f for f in failures or []}
        self.table = "failures"

    def __iter__(self) -> Iterator[FailureRecord]:
        return iter(list(self.failures.values()))

    def record(self, failure: FailureRecord) -> None:
        self.failures[failure.key] = failure


class FakeManifest:
    def __init__(self, entries: dict[str, ManifestEntry] | None = None) -> None:
        self.entries = entries or {}
        self.table = "manifest"

    def get_many(self, keys: Any) -> dict[str, ManifestEntry]:
        return {k: self.entries[k] for k in keys if k in self.entries}


class RecordingContinuation:
    """Stands in for the planner's self-invocation: records the run ids it was asked to continue."""

    def __init__(self) -> None:
        self.run_ids: list[str] = []

    def continue_run(self, run_id: str) -> None:
        self.run_ids.append(run_id)

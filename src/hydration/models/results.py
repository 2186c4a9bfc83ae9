"""What the planner and the finalizer answer when invoked (their handlers return these as JSON; the CLI
reads them back), and the run id format a caller may choose for a new run."""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel

from hydration.models.runs import Drift, QueueDepth

RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def new_run_id(now: datetime) -> str:
    """`20240501T060000Z-a1b2c3`: the start time (UTC) and 6 random hex digits."""
    return now.strftime(RUN_ID_TIME_FORMAT) + "-" + secrets.token_hex(3)


class PlanResult(BaseModel):
    """What the planner answers."""

    started: bool
    run_id: str | None = None
    status: str | None = None
    kind: str | None = None
    watermark: datetime | None = None
    since: datetime | None = None
    keys_listed: int = 0
    keys_enqueued: int = 0
    bytes_enqueued: int = 0
    ledger_keys_enqueued: int = 0
    keys_unchanged: int = 0
    enqueue_failed: int = 0
    continued: bool = False
    dry_run: bool = False
    shards: int = 0  # the shards the run was cut into (so far)
    sample_keys: list[str] = []
    drift: Drift | None = None
    refused_run_id: str | None = None  # not started (`run_id` is the active run): recorded as REFUSED if asked for
    message: str = ""


class FinalizeResult(BaseModel):
    """What the finalizer answers."""

    run_id: str | None = None
    status: str | None = None
    action: str  # idle | planning | resumed-planning | waiting | confirming | completed | claimed-elsewhere | finished
    queue: QueueDepth | None = None
    marker: datetime | None = None
    failed_count: int | None = None
    keys_enqueued: int | None = None
    keys_settled: int | None = None
    unsettled_swept: int = 0
    dlq_keys_added: int = 0
    message: str = ""

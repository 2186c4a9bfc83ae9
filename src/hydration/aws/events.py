"""EventBridge adapter: each run's end is published on the account's default event bus, so users route it
(SNS, chat, a ticket) with a rule. Source `s3-hydration`; detail-type by the run's end status."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from hydration.models import RunRecord, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "s3-hydration"
DETAIL_TYPES = {
    RunStatus.COMPLETED: "Run Completed",
    RunStatus.COMPLETED_WITH_FAILURES: "Run Completed With Failures",
    RunStatus.FAILED: "Run Failed",
    RunStatus.INCOMPLETE: "Run Incomplete",
    RunStatus.CANCELLED: "Run Cancelled",
}


def run_detail(run: RunRecord) -> dict[str, object]:
    """What a subscriber needs to act: the run, its end, its books and where the marker went."""
    return {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "status": run.status.value,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "keys_enqueued": run.keys_enqueued,
        "keys_settled": run.keys_settled,
        "objects_transferred": run.objects_transferred,
        "objects_skipped": run.objects_skipped,
        "objects_vanished": run.objects_vanished,
        "objects_archived": run.objects_archived,
        "objects_failed": run.objects_failed,
        "bytes_transferred": run.bytes_transferred,
        "failed_count": run.failed_count,
        "unsettled_swept": run.unsettled_swept,
        "marker": run.marker_written.isoformat() if run.marker_written else None,
        "error": run.error,
    }


class RunEvents:
    def __init__(self, client: EventBridgeClient, bus: str = "default") -> None:
        self._client = client
        self._bus = bus

    def run_ended(self, run: RunRecord) -> None:
        self._client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPES.get(run.status, f"Run {run.status.value.title()}"),
                    "Detail": json.dumps(run_detail(run)),
                    "EventBusName": self._bus,
                    "Resources": [],
                }
            ]
        )

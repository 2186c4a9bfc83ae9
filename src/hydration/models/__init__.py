"""Every message, payload and record that crosses a boundary, as pydantic models.

Invalid input is rejected here, with an error that names the field. Modules: `common` (field types),
`requests` (the functions' payloads), `messages` (the transfer queue), `runs` (run records and their books),
`state` (per-key records: tasks, failures, manifest), `results` (what the planner and the finalizer answer).
"""

from hydration.models.common import MAX_KEY_BYTES, S3Key, UtcDatetime, as_utc, describe_validation_error, iso
from hydration.models.messages import (
    MAX_BODY_BYTES,
    ObjectRef,
    PartsMessage,
    SourceObject,
    TransferMessage,
    TransferRecord,
    body_cost,
    encode,
    pack,
    parse_message,
)
from hydration.models.requests import (
    FinalizerRequest,
    PlannerRequest,
    RunKind,
    parse_finalizer_event,
    parse_planner_event,
)
from hydration.models.results import FinalizeResult, PlanResult, new_run_id
from hydration.models.runs import TERMINAL, Books, Bound, Drift, QueueDepth, RunRecord, RunStatus, Scope
from hydration.models.shards import (
    InventoryFile,
    Shard,
    ShardCounts,
    ShardMessage,
    ShardRecord,
    ShardSource,
    ShardStatus,
)
from hydration.models.state import (
    FailureRecord,
    ManifestEntry,
    Origin,
    Outcome,
    Precedence,
    Settlement,
    Sheet,
    Task,
)

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_KEY_BYTES",
    "TERMINAL",
    "Books",
    "Bound",
    "Drift",
    "FailureRecord",
    "FinalizeResult",
    "FinalizerRequest",
    "InventoryFile",
    "ManifestEntry",
    "ObjectRef",
    "Origin",
    "Outcome",
    "PartsMessage",
    "PlanResult",
    "PlannerRequest",
    "Precedence",
    "QueueDepth",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "S3Key",
    "Scope",
    "Settlement",
    "Shard",
    "ShardCounts",
    "ShardMessage",
    "ShardRecord",
    "ShardSource",
    "ShardStatus",
    "Sheet",
    "SourceObject",
    "Task",
    "TransferMessage",
    "TransferRecord",
    "UtcDatetime",
    "as_utc",
    "body_cost",
    "describe_validation_error",
    "encode",
    "iso",
    "new_run_id",
    "pack",
    "parse_finalizer_event",
    "parse_message",
    "parse_planner_event",
]

"""The deployment's tuning as its stack parameters set it (the template's default where a parameter is not
given): what `trigger`, `estimate` and `runs report` compute with."""

from __future__ import annotations

from pydantic import BaseModel

from hydration_cli.deployment import Deployment

MIB = 1024 * 1024

# field -> the consumer stack's parameter (tests/infra checks the defaults below are the template's)
PARAMETERS = {
    "copy_mode": "CopyMode",
    "keys_per_message": "KeysPerMessage",
    "batch_size": "BatchSize",
    "maximum_concurrency": "MaximumConcurrency",
    "copy_concurrency": "CopyConcurrency",
    "multipart_threshold_bytes": "MultipartThresholdBytes",
    "part_size_bytes": "PartSizeBytes",
    "copier_timeout_seconds": "CopierTimeout",
    "planner_memory_mb": "PlannerMemorySize",
    "planner_concurrency": "PlannerConcurrency",
    "planner_worker_memory_mb": "PlannerWorkerMemorySize",
    "copier_memory_mb": "CopierMemorySize",
    "finalizer_memory_mb": "FinalizerMemorySize",
    "stale_planning_seconds": "StalePlanningSeconds",
}


class DeployedSettings(BaseModel):
    copy_mode: str = "server-side"
    keys_per_message: int = 10
    batch_size: int = 10
    maximum_concurrency: int = 10
    copy_concurrency: int = 32
    multipart_threshold_bytes: int = 64 * MIB
    part_size_bytes: int = 16 * MIB
    copier_timeout_seconds: int = 300
    planner_memory_mb: int = 512
    planner_concurrency: int = 32  # planner workers at once
    planner_worker_memory_mb: int = 1769
    copier_memory_mb: int = 1024
    finalizer_memory_mb: int = 256
    stale_planning_seconds: int = 1800

    @property
    def keys_per_invocation(self) -> int:
        """Keys one copier invocation gets at most: BatchSize messages of KeysPerMessage keys."""
        return self.batch_size * self.keys_per_message


def deployed_settings(deployment: Deployment) -> DeployedSettings:
    given = {field: deployment.parameter(name, "") for field, name in PARAMETERS.items()}
    return DeployedSettings.model_validate({field: value for field, value in given.items() if value})

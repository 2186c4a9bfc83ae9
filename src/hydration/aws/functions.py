"""Lambda adapter: a planning run continues in a new planner invocation (the planner after a checkpoint, the
finalizer when a planner stopped without a heartbeat)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class PlannerContinuation:
    """Starts `{"continue_run": run_id}` asynchronously on the planner function."""

    def __init__(self, client: LambdaClient, function_arn: str) -> None:
        self._client = client
        self._function_arn = function_arn

    def continue_run(self, run_id: str) -> None:
        self._client.invoke(
            FunctionName=self._function_arn,
            InvocationType="Event",
            Payload=json.dumps({"continue_run": run_id}).encode(),
        )

"""Lambda adapter: the planner continues a checkpointed listing in a new invocation of itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class SelfInvoker:
    """Starts `{"continue_run": run_id}` asynchronously on the given function (the planner itself)."""

    def __init__(self, client: LambdaClient, function_arn: str) -> None:
        self._client = client
        self._function_arn = function_arn

    def continue_run(self, run_id: str) -> None:
        self._client.invoke(
            FunctionName=self._function_arn,
            InvocationType="Event",
            Payload=json.dumps({"continue_run": run_id}).encode(),
        )

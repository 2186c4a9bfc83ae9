"""Lambda: invoke a function synchronously (its JSON answer) or asynchronously (as the schedule does)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from hydration_cli.errors import FunctionInvocationError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class FunctionInvoker(Protocol):
    """Runs the functions (tests replace it with the handlers, in-process)."""

    def invoke(self, function_name: str, payload: dict[str, Any]) -> Any:
        """RequestResponse: the function's JSON answer; FunctionInvocationError if it raised."""
        ...

    def invoke_async(self, function_name: str, payload: Any) -> None:
        """Event: queued by Lambda, retried by Lambda, and sent to the invocation DLQ if it keeps failing."""
        ...


class LambdaInvoker:
    def __init__(self, client: LambdaClient) -> None:
        self._client = client

    def invoke(self, function_name: str, payload: dict[str, Any]) -> Any:
        response = self._client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode("utf-8"),
        )
        raw = response["Payload"].read()
        try:
            data = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            data = None
        if response.get("FunctionError"):
            detail = data if isinstance(data, dict) else {}
            raise FunctionInvocationError(
                function_name,
                str(detail.get("errorType", response["FunctionError"])),
                str(detail.get("errorMessage", raw[:300].decode("utf-8", "replace"))),
            )
        return data

    def invoke_async(self, function_name: str, payload: Any) -> None:
        self._client.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode("utf-8")
        )

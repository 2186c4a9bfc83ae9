"""CloudFormation: the consumer stack's outputs and parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hydration_cli.errors import StackNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient


@dataclass(frozen=True)
class StackInfo:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]


class Stacks:
    def __init__(self, client: CloudFormationClient) -> None:
        self._client = client

    def describe(self, name: str) -> StackInfo:
        """StackNotFoundError if there is no such stack."""
        try:
            stacks = self._client.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationError":  # the code for "no such stack"
                raise StackNotFoundError(name) from exc
            raise
        if not stacks:
            raise StackNotFoundError(name)
        stack = stacks[0]
        return StackInfo(
            name=name,
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        )

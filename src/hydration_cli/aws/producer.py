"""The producer bucket as `failures restore` reaches it: through the producer role (the consumer stack's
`ProducerRoleArn`, with its `ExternalId`), as the planner and the copier do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hydration.aws import s3 as s3_adapter

ARCHIVE_TIERS = frozenset({"ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"})  # Intelligent-Tiering's ArchiveStatus
IN_PROGRESS = "RestoreAlreadyInProgress"


@dataclass
class ProducerObjects:
    s3: Any  # an S3 client with the producer role's credentials

    def restore(
        self, bucket: str, key: str, *, version_id: str | None, days: int, tier: str, intelligent_tiering: bool
    ) -> bool:
        """RestoreObject: True if requested now, False if a restore of it was in progress already. An object in
        an Intelligent-Tiering archive tier takes no Days (it moves back to Frequent Access, no expiry)."""
        request: dict[str, Any] = {"GlacierJobParameters": {"Tier": tier}}
        if not intelligent_tiering:
            request["Days"] = days
        extra = {"VersionId": version_id} if version_id else {}
        try:
            self.s3.restore_object(Bucket=bucket, Key=key, RestoreRequest=request, **extra)
        except ClientError as exc:
            if s3_adapter.error_code(exc) == IN_PROGRESS:
                return False
            raise
        return True


def function_environment(lambda_client: Any, function_name: str) -> dict[str, str]:
    """A function's environment variables (the copier's: the producer role and its ExternalId, which the
    stack keeps NoEcho)."""
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def assumed_s3(session: Any, role_arn: str, external_id: str, config: Any) -> Any:
    """An S3 client with the role's credentials (one AssumeRole, an hour's session)."""
    credentials = session.client("sts", config=config).assume_role(
        RoleArn=role_arn, RoleSessionName="s3-hydration-cli-restore", ExternalId=external_id
    )["Credentials"]
    return session.client(
        "s3",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=config,
    )

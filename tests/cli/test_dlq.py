"""`dlq peek` and `dlq redrive`: read back both queues after each command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hydration.aws.ledger import FailureLedger
from hydration.models import FailureRecord, ObjectRef, TransferMessage
from hydration_cli.deployment import Deployment
from tests.cli.conftest import Deployed, json_out
from tests.moto_faults import Faults

LISTED = datetime(2024, 5, 1, tzinfo=UTC)


def transfer_body(deployed: Deployed, key: str, run_id: str = "r-1") -> str:
    obj = ObjectRef(key=key, size=4, etag='"e"', last_modified=LISTED)
    return TransferMessage(run_id=run_id, bucket=deployed.world.producer_bucket, objects=[obj]).to_body()


def dead_letter(deployed: Deployed, *keys: str, error: bool = True) -> None:
    """Messages in the transfer DLQ (as the redrive policy leaves them) and their failure ledger entries."""
    sqs = deployed.world.sqs
    ledger = FailureLedger(_db(), deployed.world.failures_table)
    for key in keys:
        sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody=transfer_body(deployed, key))
        if error:
            ledger.record(
                FailureRecord(
                    key=key,
                    bucket=deployed.world.producer_bucket,
                    run_id="r-1",
                    etag='"e"',
                    size=4,
                    last_modified=LISTED,
                    error_code="AccessDenied",
                    error_message=f"Access Denied on {key}",
                    attempts=5,
                    failed_at=LISTED,
                )
            )


def _db() -> Any:
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1")


def keys_on(deployed: Deployed, url: str) -> list[str]:
    return sorted(
        m["objects"][0]["key"] if isinstance(m, dict) and "objects" in m else "<invalid>"
        for m in _bodies(deployed, url)
    )


def _bodies(deployed: Deployed, url: str) -> list[Any]:
    sqs = deployed.world.sqs
    seen: list[Any] = []
    handles = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        for m in got:
            try:
                seen.append(json.loads(m["Body"]))
            except json.JSONDecodeError:
                seen.append(m["Body"])
            handles.append(m["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return seen


# --------------------------------------------------------------------------- peek


def test_peek_shows_key_error_receive_count_and_consumes_nothing(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "peek")
    assert result.exit_code == 0, result.output
    assert "data/a.txt" in result.stdout
    assert "AccessDenied" in result.stdout
    assert "Access Denied on data/b.txt" in result.stdout
    # nothing consumed, and everything visible again at once
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt", "data/b.txt"]


def test_peek_json_and_max(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "data/c.txt")
    out = json_out(run_cli("dlq", "peek", "--max", "2", "--json"))
    assert out["visible"] == 3
    assert len(out["messages"]) == 2
    first = out["messages"][0]
    assert first["valid"] is True
    assert first["error_code"] == "AccessDenied"
    assert first["attempts"] == 5
    assert first["receive_count"] == 1
    assert first["age_seconds"] >= 0
    assert len(keys_on(deployed, deployed.world.dlq_url)) == 3


def test_peek_reports_messages_that_are_not_transfer_messages(deployed: Deployed, run_cli) -> None:
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody="{not json")
    out = json_out(run_cli("dlq", "peek", "--json"))
    assert out["messages"][0]["valid"] is False
    assert out["messages"][0]["problem"]


def test_peek_empty_dlq_is_one_line_and_exit_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("dlq", "peek")
    assert result.exit_code == 1
    assert result.stderr == "Error: the transfer DLQ is empty\n"


# --------------------------------------------------------------------------- redrive per key / prefix


def test_redrive_key_moves_only_that_key(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt")
    assert result.exit_code == 0, result.output
    assert "sent back 1 message(s)" in result.stdout
    # K is on the transfer queue, with the same body, and no longer on the DLQ; the others stay
    assert _bodies(deployed, deployed.world.queue_url) == [json.loads(transfer_body(deployed, "data/a.txt"))]
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/b.txt", "other/c.txt"]


def test_redrive_several_keys(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt", "--key", "other/c.txt", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(m["key"] for m in json_out(result)["selected"]) == ["data/a.txt", "other/c.txt"]
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "other/c.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/b.txt"]


def test_redrive_prefix(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    assert run_cli("dlq", "redrive", "--prefix", "data/").exit_code == 0
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "data/b.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == ["other/c.txt"]


def test_redrive_leaves_invalid_messages_alone_and_reports_them(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody='{"key": "data/x"}')
    result = run_cli("dlq", "redrive", "--prefix", "")
    assert result.exit_code == 0, result.output
    assert "left alone, not a transfer message" in result.stdout
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt"]
    assert _bodies(deployed, deployed.world.dlq_url) == [{"key": "data/x"}]


def test_redrive_dry_run_moves_nothing_and_exits_1(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt", "--dry-run")
    assert result.exit_code == 1
    assert "would send back 1" in result.stdout
    assert keys_on(deployed, deployed.world.queue_url) == []
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt", "data/b.txt"]


def test_redrive_unknown_key_exits_1_and_moves_nothing(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--key", "data/zzz")
    assert result.exit_code == 1
    assert "no message in the transfer DLQ matches --key data/zzz" in result.stderr
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt"]


def test_redrive_reports_keys_it_did_not_find(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt", "--key", "data/zzz")
    assert result.exit_code == 1
    assert "not in the transfer DLQ: data/zzz" in result.stderr
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt"]


def test_redrive_empty_dlq_exits_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("dlq", "redrive", "--key", "data/a.txt")
    assert result.exit_code == 1
    assert "the transfer DLQ is empty" in result.stderr


@pytest.mark.parametrize(
    "args", [[], ["--all", "--key", "k"], ["--key", "k", "--prefix", "p"]], ids=["none", "all+key", "key+prefix"]
)
def test_redrive_needs_exactly_one_selection(deployed: Deployed, run_cli, args: list[str]) -> None:
    result = run_cli("dlq", "redrive", *args)
    assert result.exit_code == 2
    assert "choose exactly one of --all, --key K, --prefix P" in result.stderr


def test_a_redriven_key_is_copied_by_the_next_run_end_to_end(
    deployed: Deployed, run_cli, monkeypatch, faults: Faults
) -> None:
    # Given a key that failed every attempt (it is in the DLQ and in the ledger)
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    deployed.world.s3.put_object(Bucket=deployed.world.producer_bucket, Key="data/bad.txt", Body=b"x")
    assert run_cli("trigger", "--wait", "--interval", "0").exit_code == 1
    # When the fault is fixed and the key is redriven
    faults.clear()
    from hydration import settings

    settings.copier_settings.cache_clear()
    from copier import handler

    handler.deps.cache_clear()
    assert run_cli("dlq", "redrive", "--key", "data/bad.txt").exit_code == 0
    assert keys_on(deployed, deployed.world.dlq_url) == []
    from tests.integration.harness import run_copier

    run_copier(deployed.world)
    # Then the copier copies it and the ledger forgets it
    deployed.world.s3.head_object(Bucket=deployed.world.consumer_bucket, Key="data/bad.txt")
    assert FailureLedger(_db(), deployed.world.failures_table).count() == 0


# --------------------------------------------------------------------------- redrive --all (message move task)


class MoveTaskSqs:
    """moto does not implement message move tasks: this fake moves the messages itself, and reports the task
    RUNNING on its first listing and COMPLETED after."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.started: list[dict[str, str]] = []
        self._listings = 0
        self._moved = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _url(self, arn: str) -> str:
        return self._real.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]

    def start_message_move_task(self, SourceArn: str, DestinationArn: str) -> dict[str, str]:
        self.started.append({"SourceArn": SourceArn, "DestinationArn": DestinationArn})
        source, destination = self._url(SourceArn), self._url(DestinationArn)
        while got := self._real.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages", []):
            for m in got:
                self._real.send_message(QueueUrl=destination, MessageBody=m["Body"])
                self._real.delete_message(QueueUrl=source, ReceiptHandle=m["ReceiptHandle"])
                self._moved += 1
        return {"TaskHandle": "task-1"}

    def list_message_move_tasks(self, SourceArn: str, MaxResults: int = 1) -> dict[str, Any]:
        self._listings += 1
        status = "RUNNING" if self._listings == 1 else "COMPLETED"
        return {
            "Results": [
                {
                    "TaskHandle": "task-1",
                    "Status": status,
                    "SourceArn": SourceArn,
                    "ApproximateNumberOfMessagesMoved": self._moved if status == "COMPLETED" else 1,
                    "ApproximateNumberOfMessagesToMove": self._moved,
                    "StartedTimestamp": 1714543200000,
                }
            ]
        }


@pytest.fixture
def move_tasks(monkeypatch: pytest.MonkeyPatch) -> MoveTaskSqs:
    real_client = Deployment.client
    fake: dict[str, MoveTaskSqs] = {}

    def client(self: Deployment, service: str) -> Any:
        real = real_client(self, service)
        if service != "sqs":
            return real
        if "sqs" not in fake:
            fake["sqs"] = MoveTaskSqs(real)
        return fake["sqs"]

    monkeypatch.setattr(Deployment, "client", client)
    import boto3

    return fake.setdefault("sqs", MoveTaskSqs(boto3.client("sqs", region_name="us-east-1")))


def test_redrive_all_uses_a_move_task_and_reports_progress(deployed: Deployed, run_cli, move_tasks) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--all", "--interval", "0")
    assert result.exit_code == 0, result.output
    assert move_tasks.started == [{"SourceArn": deployed.dlq_arn, "DestinationArn": deployed.queue_arn}]
    assert "move task RUNNING" in result.stderr
    assert "COMPLETED, 2/2 moved" in result.stdout
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "data/b.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == []


def test_redrive_all_dry_run_starts_nothing(deployed: Deployed, run_cli, move_tasks) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--all", "--dry-run", "--json")
    assert result.exit_code == 1
    assert json_out(result)["move_task"]["to_move"] == 1
    assert move_tasks.started == []
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt"]

"""`dlq peek` and `dlq redrive` on the transfer DLQ: read back both queues after each command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hydration.aws.ledger import FailureLedger
from hydration.models import ObjectRef, TransferMessage
from hydration_cli.aws.queues import MoveTaskStatus, Queues
from hydration_cli.deployment import Deployment
from hydration_cli.ops.transfer_body import InvalidBodyError, parse
from tests.cli.conftest import LISTED, Deployed, json_out, record_failure, text_records
from tests.moto_faults import Faults


def first_format_body(deployed: Deployed, key: str, run_id: str = "r-1") -> str:
    """The first message format (one object, `"v": 1`), as messages older than an upgrade still are."""
    body = {"v": 1, "run_id": run_id, "bucket": deployed.world.producer_bucket, "key": key, "size": 4}
    return json.dumps({**body, "etag": '"e"', "last_modified": "2024-05-01T00:00:00Z", "version_id": None})


def several_body(deployed: Deployed, *keys: str, run_id: str = "r-2") -> str:
    """A message with several objects, as the planner writes it (JSON with ASCII escapes)."""
    objects = [ObjectRef(key=k, size=4, etag='"e"', last_modified=LISTED) for k in keys]
    return TransferMessage(run_id=run_id, bucket=deployed.world.producer_bucket, objects=objects).to_body()


def transfer_body(deployed: Deployed, key: str, run_id: str = "r-1") -> str:
    return several_body(deployed, key, run_id=run_id)


def dead_letter(deployed: Deployed, *keys: str, error: bool = True) -> None:
    """Messages in the transfer DLQ (as the redrive policy leaves them) and their failure ledger entries."""
    for key in keys:
        deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody=transfer_body(deployed, key))
        if error:
            record_failure(deployed, key)


def _db() -> Any:
    import boto3

    return boto3.client("dynamodb", region_name="us-east-1")


def keys_on(deployed: Deployed, url: str) -> list[str]:
    found: list[str] = []
    for body in _raw_bodies(deployed, url):
        try:
            found += parse(body).keys
        except InvalidBodyError:
            found.append("<invalid>")
    return sorted(found)


def _raw_bodies(deployed: Deployed, url: str) -> list[str]:
    sqs = deployed.world.sqs
    seen: list[str] = []
    handles = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        seen += [m["Body"] for m in got]
        handles += [m["ReceiptHandle"] for m in got]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return seen


# --------------------------------------------------------------------------- peek


def test_peek_shows_key_error_receive_count_exits_3_and_consumes_nothing(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "peek", "--exit-code")
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "transfer DLQ: 2 visible, 0 in flight; showing 2"
    assert lines[1].split() == ["KEY", "RUN", "ERROR", "MESSAGE", "ATTEMPTS", "RECEIVES", "AGE"]
    rows = sorted(line.split("  ")[0] for line in lines[3:])
    assert rows == ["data/a.txt", "data/b.txt"]
    assert "AccessDenied  Access Denied on data/b.txt" in result.stdout
    # nothing consumed, and everything visible again at once
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt", "data/b.txt"]


def test_peek_json_and_max(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "data/c.txt")
    result = run_cli("dlq", "peek", "--max-items", "2", "--output", "json")
    assert result.exit_code == 0  # a read: 0 whatever it found (3 only with --exit-code)
    out = json_out(result)
    assert out["visible"] == 3
    assert len(out["messages"]) == 2
    first = out["messages"][0]
    assert first["valid"] is True
    assert first["receive_count"] == 1
    assert first["age_seconds"] >= 0
    [obj] = first["objects"]
    assert obj["failure"]["error_code"] == "AccessDenied"
    assert obj["failure"]["attempts"] == 5
    assert obj["failure"]["first_failed_at"] == "2024-05-01T00:00:00Z"
    assert obj["failure"]["origin"] == "listing"
    assert len(keys_on(deployed, deployed.world.dlq_url)) == 3


def test_peek_text_one_record_per_object(deployed: Deployed, run_cli) -> None:
    # Given a message in the first format (one object) and a message with several objects
    deployed.world.sqs.send_message(
        QueueUrl=deployed.world.dlq_url, MessageBody=first_format_body(deployed, "data/a.txt")
    )
    record_failure(deployed, "data/a.txt")
    deployed.world.sqs.send_message(
        QueueUrl=deployed.world.dlq_url, MessageBody=several_body(deployed, "data/b.txt", "data/c.txt")
    )
    result = run_cli("--output", "text", "dlq", "peek", "--exit-code")
    assert result.exit_code == 3
    records = sorted(text_records(result), key=lambda r: r[1])
    assert [r[:5] for r in records] == [
        ["OBJECT", "data/a.txt", "r-1", "AccessDenied", "5"],
        ["OBJECT", "data/b.txt", "r-2", "None", "None"],
        ["OBJECT", "data/c.txt", "r-2", "None", "None"],
    ]
    assert records[1][7] == records[2][7]  # one message id for both objects of the second message
    assert records[0][8] == "Access Denied on data/a.txt"


def test_peek_reads_unicode_keys_from_ascii_escaped_bodies(deployed: Deployed, run_cli) -> None:
    key = "données/ünïcode\tkey.txt"
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody=several_body(deployed, key))
    out = json_out(run_cli("dlq", "peek", "--output", "json"))
    assert out["messages"][0]["objects"][0]["key"] == key
    # text escapes the tab: one record per line
    [record] = text_records(run_cli("dlq", "peek", "--output", "text"))
    assert record[1] == "données/ünïcode\\tkey.txt"


def test_peek_reports_messages_that_are_not_transfer_messages(deployed: Deployed, run_cli) -> None:
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody="{not json")
    out = json_out(run_cli("dlq", "peek", "--output", "json"))
    assert out["messages"][0]["valid"] is False
    assert out["messages"][0]["problem"].startswith("payload: Invalid JSON")


def test_peek_empty_dlq_is_success(deployed: Deployed, run_cli) -> None:
    result = run_cli("dlq", "peek")
    assert result.exit_code == 0
    assert result.stdout == "the transfer DLQ is empty\n"
    assert json_out(run_cli("dlq", "peek", "--output", "json"))["messages"] == []


# --------------------------------------------------------------------------- redrive per key / prefix


def test_redrive_key_moves_only_that_key(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/a.txt")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "sent back 1 message(s) to the transfer queue:\n  data/a.txt  (run r-1)\n2 other message(s) left in the DLQ\n"
    )
    # K is on the transfer queue, with the same body, and no longer on the DLQ; the others stay
    assert _raw_bodies(deployed, deployed.world.queue_url) == [transfer_body(deployed, "data/a.txt")]
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/b.txt", "other/c.txt"]


def test_redrive_shows_what_it_would_send_asks_and_a_no_moves_nothing(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt", input="n\n")
    assert result.exit_code == 1
    assert "would send back 1 message(s) to the transfer queue:\n  data/a.txt  (run r-1)" in result.stderr
    assert "Send 1 message(s) back to the transfer queue? [y/N]" in result.stderr
    assert keys_on(deployed, deployed.world.queue_url) == []
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt", "data/b.txt"]
    # a yes sends it
    assert run_cli("dlq", "redrive", "--key", "data/a.txt", input="y\n").exit_code == 0
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt"]


def test_redrive_several_keys(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/a.txt", "--key", "other/c.txt", "--output", "json")
    assert result.exit_code == 0, result.output
    redriven = sorted(o["key"] for m in json_out(result)["selected"] for o in m["objects"])
    assert redriven == ["data/a.txt", "other/c.txt"]
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "other/c.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/b.txt"]


def test_redrive_one_key_of_a_several_object_message_splits_it(deployed: Deployed, run_cli) -> None:
    # Given one message holding three keys
    body = several_body(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody=body)
    # When the keys under data/ are redriven
    result = run_cli("dlq", "redrive", "--yes", "--prefix", "data/")
    assert result.exit_code == 0, result.output
    assert "1 message(s) held other keys too: those stay in the DLQ" in result.stdout
    # Then those two go to the transfer queue in one message, the third stays in the DLQ, nothing else changed
    [sent] = _raw_bodies(deployed, deployed.world.queue_url)
    [kept] = _raw_bodies(deployed, deployed.world.dlq_url)
    original = json.loads(body)
    assert json.loads(sent) == {**original, "objects": original["objects"][:2]}
    assert json.loads(kept) == {**original, "objects": original["objects"][2:]}
    assert sent.isascii()


def test_redrive_prefix(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt", "other/c.txt")
    assert run_cli("dlq", "redrive", "--yes", "--prefix", "data/").exit_code == 0
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "data/b.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == ["other/c.txt"]


def test_redrive_prefix_matching_nothing_is_success(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--yes", "--prefix", "nothing/")
    assert result.exit_code == 0
    assert result.stdout == "sent back 0 message(s) to the transfer queue:\n1 other message(s) left in the DLQ\n"
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt"]


def test_redrive_leaves_invalid_messages_alone_and_reports_them(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    deployed.world.sqs.send_message(QueueUrl=deployed.world.dlq_url, MessageBody='{"key": "data/x"}')
    result = run_cli("dlq", "redrive", "--yes", "--prefix", "")
    assert result.exit_code == 0, result.output
    assert "left alone, not a transfer message" in result.stdout
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt"]
    assert _raw_bodies(deployed, deployed.world.dlq_url) == ['{"key": "data/x"}']


def test_redrive_dry_run_moves_nothing_and_exits_3(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--key", "data/a.txt", "--dry-run", "--exit-code")
    assert result.exit_code == 3
    assert result.stdout.startswith("would send back 1 message(s) to the transfer queue:\n  data/a.txt  (run r-1)\n")
    assert keys_on(deployed, deployed.world.queue_url) == []
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt", "data/b.txt"]


def test_redrive_text_records(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/a.txt", "--output", "text")
    records = text_records(result)
    assert [r[:3] for r in records] == [["REDRIVE", "data/a.txt", "r-1"], ["LEFT", "1"]]


def test_redrive_unknown_key_exits_1_and_moves_nothing(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/zzz")
    assert result.exit_code == 1
    assert result.stderr == "Error: not in the transfer DLQ: data/zzz\n"
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt"]


def test_redrive_reports_keys_it_did_not_find(deployed: Deployed, run_cli) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/a.txt", "--key", "data/zzz")
    assert result.exit_code == 1
    assert "not in the transfer DLQ: data/zzz" in result.stderr
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt"]


def test_redrive_key_on_an_empty_dlq_exits_1(deployed: Deployed, run_cli) -> None:
    result = run_cli("dlq", "redrive", "--yes", "--key", "data/a.txt")
    assert result.exit_code == 1
    assert result.stderr == "Error: not in the transfer DLQ: data/a.txt\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose exactly one of --all, --key K, --prefix P"),
        (["--all", "--key", "k"], "choose exactly one of --all, --key K, --prefix P"),
        (["--key", "k", "--prefix", "p"], "choose exactly one of --all, --key K, --prefix P"),
        (["--message-id", "m"], "--message-id and --function go with --invocation"),
    ],
    ids=["none", "all+key", "key+prefix", "message-id"],
)
def test_redrive_needs_exactly_one_selection(deployed: Deployed, run_cli, args: list[str], message: str) -> None:
    result = run_cli("dlq", "redrive", "--yes", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_redriven_key_is_copied_by_the_next_run_end_to_end(deployed: Deployed, run_cli, faults: Faults) -> None:
    # Given a key that failed every attempt (it is in the DLQ and in the ledger)
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    deployed.world.s3.put_object(Bucket=deployed.world.producer_bucket, Key="data/bad.txt", Body=b"x")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 1
    # When the fault is fixed and the key is redriven
    faults.clear()
    from hydration import settings

    settings.copier_settings.cache_clear()
    from copier import dependencies as handler

    handler.deps.cache_clear()
    assert run_cli("dlq", "redrive", "--yes", "--key", "data/bad.txt").exit_code == 0
    assert keys_on(deployed, deployed.world.dlq_url) == []
    from tests.integration.harness import run_copier

    run_copier(deployed.world)
    # Then the copier copies it and the ledger forgets it
    deployed.world.s3.head_object(Bucket=deployed.world.consumer_bucket, Key="data/bad.txt")
    assert FailureLedger(_db(), deployed.world.failures_table).counts().entries == 0


# --------------------------------------------------------------------------- redrive --all (message move task)


class MoveTaskQueues(Queues):
    """moto does not implement message move tasks: this adapter moves the messages itself (on moto), and
    reports the task RUNNING on its first listing and COMPLETED after."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self._sqs = client
        self.started: list[tuple[str, str]] = []
        self._listings = 0
        self._moved = 0

    def _url(self, arn: str) -> str:
        return str(self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"])

    def start_move_task(self, source_arn: str, destination_arn: str) -> str:
        self.started.append((source_arn, destination_arn))
        source, destination = self._url(source_arn), self._url(destination_arn)
        while got := self._sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages", []):
            for m in got:
                self._sqs.send_message(QueueUrl=destination, MessageBody=m["Body"])
                self._sqs.delete_message(QueueUrl=source, ReceiptHandle=m["ReceiptHandle"])
                self._moved += 1
        return "task-1"

    def latest_move_task(self, source_arn: str) -> MoveTaskStatus | None:
        self._listings += 1
        running = self._listings == 1
        return MoveTaskStatus(
            task_handle="task-1",
            status="RUNNING" if running else "COMPLETED",
            moved=1 if running else self._moved,
            to_move=self._moved,
            failure_reason=None,
            started_at=LISTED,
        )


@pytest.fixture
def move_tasks(monkeypatch: pytest.MonkeyPatch) -> MoveTaskQueues:
    import boto3

    fake = MoveTaskQueues(boto3.client("sqs", region_name="us-east-1"))
    monkeypatch.setattr(Deployment, "queues", property(lambda _self: fake))
    return fake


def test_redrive_all_uses_a_move_task_and_reports_progress(deployed: Deployed, run_cli, move_tasks) -> None:
    dead_letter(deployed, "data/a.txt", "data/b.txt")
    result = run_cli("dlq", "redrive", "--yes", "--all", "--interval", "0")
    assert result.exit_code == 0, result.output
    assert move_tasks.started == [(deployed.dlq_arn, deployed.queue_arn)]
    assert result.stderr.splitlines() == ["move task RUNNING: 1/2 moved", "move task COMPLETED: 2/2 moved"]
    assert result.stdout == "move task task-1: COMPLETED, 2/2 moved\n"
    assert keys_on(deployed, deployed.world.queue_url) == ["data/a.txt", "data/b.txt"]
    assert keys_on(deployed, deployed.world.dlq_url) == []


def test_redrive_all_dry_run_starts_nothing_and_exits_3(deployed: Deployed, run_cli, move_tasks) -> None:
    dead_letter(deployed, "data/a.txt")
    result = run_cli("dlq", "redrive", "--all", "--dry-run", "--output", "json", "--exit-code")
    assert result.exit_code == 3
    assert json_out(result)["move_task"]["to_move"] == 1
    assert move_tasks.started == []
    assert keys_on(deployed, deployed.world.dlq_url) == ["data/a.txt"]


def test_redrive_all_of_an_empty_dlq_is_success(deployed: Deployed, run_cli, move_tasks) -> None:
    result = run_cli("dlq", "redrive", "--yes", "--all")
    assert result.exit_code == 0
    assert result.stdout == "the transfer DLQ is empty: nothing to redrive\n"
    assert move_tasks.started == []

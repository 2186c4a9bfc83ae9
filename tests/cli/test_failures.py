"""`failures list`: the failure ledger, with the fields the functions write (and those they will add)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore import handlers

from hydration.aws.dynamo import to_item
from tests.cli.conftest import Deployed, json_out, put_objects, text_records
from tests.integration.harness import REGION
from tests.moto_faults import Faults


@contextmanager
def watch_scans(hook: Callable[..., None]) -> Iterator[None]:
    """`hook(parsed=...)` after every DynamoDB Scan of the clients built meanwhile (the CLI builds its own)."""
    entry = ("after-call.dynamodb.Scan", hook)
    handlers.BUILTIN_HANDLERS.append(entry)
    try:
        yield
    finally:
        handlers.BUILTIN_HANDLERS.remove(entry)


def ledger(deployed: Deployed, key: str, **extra: object) -> None:
    item = {
        "key": key,
        "bucket": deployed.world.producer_bucket,
        "run_id": "r-1",
        "etag": '"e"',
        "size": 4,
        "last_modified": "2024-05-01T00:00:00Z",
        "error_code": "AccessDenied",
        "error_message": f"Access Denied on {key}",
        "attempts": 5,
        "failed_at": "2024-05-01T06:00:00Z",
        **extra,
    }
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=deployed.world.failures_table, Item=to_item(item))


def test_an_empty_ledger_exits_0(deployed: Deployed, run_cli) -> None:
    result = run_cli("failures", "list")
    assert result.exit_code == 0
    assert result.stdout == "the failure ledger is empty\n"


def test_failures_list_after_a_failed_run_exits_3(deployed: Deployed, run_cli, faults: Faults) -> None:
    # Given a run whose key failed every attempt
    faults.add("s3.CopyObject", "^data/bad.txt$", code="AccessDenied", status=403)
    put_objects(deployed.world, "data/good.txt", "data/bad.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 1
    # When the ledger is listed
    result = run_cli("failures", "list", "--exit-code")
    # Then the key is there with its error and attempts
    assert result.exit_code == 3, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1 failed key(s)"
    assert lines[1].split() == [
        "KEY", "ERROR", "MESSAGE", "ATTEMPTS", "FIRST", "FAILED", "LAST", "FAILED", "RUN", "ARCHIVED"
    ]  # fmt: skip
    row = re.split(r"\s{2,}", lines[3])
    message = "AccessDenied: injected AccessDenied (key 'data/bad.txt')"
    assert row[:4] == ["data/bad.txt", "AccessDenied", message, "4"]
    assert row[4] == row[5]  # first and last failure: the same one
    assert row[4].endswith("Z")


def test_prefix_pages_and_new_fields(deployed: Deployed, run_cli) -> None:
    ledger(deployed, "data/a.txt", first_failed_at="2024-04-30T06:00:00Z", origin="ledger", force=True)
    ledger(deployed, "data/b.txt")
    ledger(deployed, "other/c.txt")
    # When the ledger under data/ is read a page of one entry at a time
    first = json_out(run_cli("failures", "list", "--prefix", "data/", "--max-items", "1", "--output", "json"))
    assert len(first["failures"]) == 1
    assert first["next_token"]
    second = json_out(
        run_cli(
            "failures",
            "list",
            "--prefix",
            "data/",
            "--max-items",
            "1",
            "--starting-token",
            first["next_token"],
            "--output",
            "json",
        )
    )
    # Then the two pages hold the two entries under data/, each once, and the second page is the last
    entries = {e["key"]: e for e in first["failures"] + second["failures"]}
    assert sorted(entries) == ["data/a.txt", "data/b.txt"]
    if second["next_token"]:  # the server may not know yet that nothing follows: one more page says so
        third = run_cli("failures", "list", "--prefix", "data/", "--starting-token", second["next_token"])
        assert third.stdout == "no more entries in the failure ledger under 'data/'\n"
    entry = entries["data/a.txt"]
    assert (entry["first_failed_at"], entry["failed_at"]) == ("2024-04-30T06:00:00Z", "2024-05-01T06:00:00Z")
    assert (entry["origin"], entry["force"], entry["attempts"]) == ("ledger", True, 5)
    # and the table view says how to get the next page
    table = run_cli("failures", "list", "--prefix", "data/", "--max-items", "1")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "1 failed key(s) under 'data/'"
    assert lines[-1].startswith("more: --starting-token ")


def test_a_page_is_read_server_side_not_the_whole_ledger(deployed: Deployed, run_cli) -> None:
    # Given a ledger of 250 entries
    for i in range(250):
        ledger(deployed, f"data/{i:04}.txt")
    scanned: list[int] = []

    def count(parsed: dict[str, Any], **_: object) -> None:
        scanned.append(len(parsed.get("Items", [])))

    # When the first page of 5 is listed
    with watch_scans(count):
        out = json_out(run_cli("failures", "list", "--max-items", "5", "--output", "json"))
    # Then one Scan request read it, not the whole table
    assert len(out["failures"]) == 5
    assert len(scanned) == 1
    assert scanned[0] < 250


def test_a_bad_starting_token_is_a_usage_error(deployed: Deployed, run_cli) -> None:
    result = run_cli("failures", "list", "--starting-token", "not-a-token")
    assert result.exit_code == 2
    assert "is not a token printed by this command" in result.stderr


def test_failures_text_records(deployed: Deployed, run_cli) -> None:
    ledger(deployed, "data/a.txt")
    ledger(deployed, "data/b.txt", error_message="two\tlines\nhere")
    result = run_cli("--output", "text", "failures", "list")
    assert result.exit_code == 0
    fields = ["AccessDenied", "5", "None", "2024-05-01T06:00:00Z", "r-1", "listing", "False"]
    not_archived = ["False", "None", "None"]  # archived, storage class, archive status
    assert text_records(result) == [
        ["FAILURE", "data/a.txt", *fields, "Access Denied on data/a.txt", *not_archived],
        ["FAILURE", "data/b.txt", *fields, "two\\tlines\\nhere", *not_archived],
    ]


def test_prefix_with_nothing_under_it_exits_0(deployed: Deployed, run_cli) -> None:
    ledger(deployed, "data/a.txt")
    result = run_cli("failures", "list", "--prefix", "zzz/")
    assert result.exit_code == 0
    assert result.stdout == "the failure ledger is empty under 'zzz/'\n"

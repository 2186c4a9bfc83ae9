"""`uploads` and `uploads abort`: a copy in progress (a real handoff of the copier) next to an orphaned
upload; read back from the bucket and the uploads table after each command."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hydration.aws.uploads import UploadStore
from hydration.copying import Handoff
from hydration_cli.params import encode_token
from tests.cli.conftest import STACK, Deployed, _stack_template, json_out
from tests.integration.harness import MIB, REGION, put_object
from tests.integration.producer_times import age_upload
from tests.integration.transfer_support import UPLOADS_TABLE, body_of, create_uploads_table, in_progress, interrupted


@pytest.fixture
def uploads(deployed: Deployed) -> UploadStore:
    """The uploads table, and the stack output that names it."""
    store = create_uploads_table()
    outputs = {**deployed.outputs, "UploadsTableName": UPLOADS_TABLE}
    boto3.client("cloudformation", region_name=REGION).update_stack(
        StackName=STACK, TemplateBody=_stack_template(outputs)
    )
    return store


@pytest.fixture
def copying(deployed: Deployed, uploads: UploadStore) -> Handoff:
    """big.bin: a server-side copy stopped by its deadline after 2 of its 3 parts."""
    put_object(deployed.world, "big.bin", body_of(11 * MIB))
    return interrupted(deployed.world, uploads, "big.bin", server_side=True, after_parts=2)


@pytest.fixture
def orphan(deployed: Deployed) -> str:
    """An upload nobody records (a copier that died before recording it)."""
    s3 = deployed.world.s3
    return s3.create_multipart_upload(Bucket=deployed.world.consumer_bucket, Key="lost.bin")["UploadId"]


def _later(hours: float) -> Callable[[], datetime]:
    moment = datetime.now(UTC) + timedelta(hours=hours)
    return lambda: moment


def test_uploads_lists_the_copy_in_progress_and_the_orphan(
    run_cli: Any, deployed: Deployed, copying: Handoff, orphan: str
) -> None:
    result = run_cli("uploads", "list", "--exit-code")

    assert result.exit_code == 3, result.output  # found: an orphaned upload
    assert "2 multipart upload(s), 1 orphaned" in result.stdout
    big = next(line for line in result.stdout.splitlines() if line.startswith("big.bin"))
    assert "in-progress" in big
    assert "2/3" in big
    assert "10.0 MiB of 11.0 MiB" in big
    assert "orphaned (no record)" in next(line for line in result.stdout.splitlines() if line.startswith("lost.bin"))

    listed = json_out(run_cli("uploads", "list", "--output", "json"))
    by_key = {u["key"]: u for u in listed["uploads"]}
    assert by_key["big.bin"]["upload_id"] == copying.upload_id
    assert (by_key["big.bin"]["parts_done"], by_key["big.bin"]["part_count"]) == (2, 3)
    assert by_key["lost.bin"] == {**by_key["lost.bin"], "upload_id": orphan, "state": "orphaned"}


def test_a_copy_without_progress_for_the_stale_time_counts_as_orphaned(
    run_cli: Any, copying: Handoff, orphan: str
) -> None:
    listed = json_out(run_cli("uploads", "list", "--output", "json", clock=_later(7)))

    assert {u["key"]: u["state"] for u in listed["uploads"]} == {"big.bin": "orphaned", "lost.bin": "orphaned"}
    assert json_out(run_cli("uploads", "list", "--output", "json", "--stale-after", "8h", clock=_later(7)))["uploads"][
        0
    ]["state"] == ("in-progress")


def test_abort_dry_run_shows_the_orphans_and_aborts_nothing(
    run_cli: Any, deployed: Deployed, copying: Handoff, orphan: str
) -> None:
    result = run_cli("uploads", "abort", "--dry-run", "--exit-code")

    assert result.exit_code == 3  # pending: a dry run with uploads to abort
    assert "would abort 1 upload(s)" in result.stdout
    assert "lost.bin" in result.stdout
    assert "big.bin" not in result.stdout
    assert sorted(in_progress(deployed.world)) == sorted([("big.bin", copying.upload_id), ("lost.bin", orphan)])


def test_abort_shows_the_orphans_asks_and_a_no_aborts_nothing(
    run_cli: Any, deployed: Deployed, copying: Handoff, orphan: str
) -> None:
    result = run_cli("uploads", "abort", input="n\n")

    assert result.exit_code == 1
    assert "would abort 1 upload(s)" in result.stderr
    assert "Abort 1 upload(s)? [y/N]" in result.stderr
    assert sorted(in_progress(deployed.world)) == sorted([("big.bin", copying.upload_id), ("lost.bin", orphan)])


def test_abort_yes_aborts_the_orphans_and_leaves_the_copy_in_progress(
    run_cli: Any, deployed: Deployed, uploads: UploadStore, copying: Handoff, orphan: str
) -> None:
    result = run_cli("uploads", "abort", "--yes")

    assert result.exit_code == 0, result.output
    assert "aborted 1 upload(s)" in result.stdout
    assert in_progress(deployed.world) == [("big.bin", copying.upload_id)]
    assert uploads.get("big.bin") is not None


def test_abort_a_key_aborts_its_copy_and_forgets_its_record(
    run_cli: Any, deployed: Deployed, uploads: UploadStore, copying: Handoff, orphan: str
) -> None:
    result = run_cli("uploads", "abort", "--key", "big.bin", "--yes", "--output", "json")

    assert result.exit_code == 0, result.output
    assert [u["key"] for u in json.loads(result.stdout)["selected"]] == ["big.bin"]
    assert in_progress(deployed.world) == [("lost.bin", orphan)]
    assert uploads.get("big.bin") is None


def test_abort_older_than_takes_every_upload_started_that_long_ago(
    run_cli: Any, deployed: Deployed, uploads: UploadStore, copying: Handoff, orphan: str
) -> None:
    # Given both uploads started 2 hours ago
    for upload in deployed.world.s3.list_multipart_uploads(Bucket=deployed.world.consumer_bucket)["Uploads"]:
        age_upload(deployed.world.consumer_bucket, upload["UploadId"], timedelta(hours=2))
    assert run_cli("uploads", "abort", "--older-than", "3h", "--yes").stdout == "no upload to abort\n"

    result = run_cli("uploads", "abort", "--older-than", "1h", "--yes")

    assert result.exit_code == 0, result.output
    assert "aborted 2 upload(s)" in result.stdout
    assert in_progress(deployed.world) == []
    assert list(uploads) == []


def test_uploads_list_pages_by_key_and_upload_each_upload_once(
    run_cli: Any, deployed: Deployed, copying: Handoff, orphan: str
) -> None:
    # Given two more orphaned uploads, one of them of a key that has another (the page may end between them)
    s3, bucket = deployed.world.s3, deployed.world.consumer_bucket
    first = s3.create_multipart_upload(Bucket=bucket, Key="a.bin")["UploadId"]
    again = s3.create_multipart_upload(Bucket=bucket, Key="lost.bin")["UploadId"]

    pages, token = [], None
    while True:
        args = ["uploads", "list", "--max-items", "1", "--output", "json"]
        page = json_out(run_cli(*args, *(["--starting-token", token] if token else [])))
        pages.append([(u["key"], u["upload_id"], u["state"]) for u in page["uploads"]])
        token = page["next_token"]
        if token is None:
            break

    assert [upload for page in pages for upload in page] == [
        ("a.bin", first, "orphaned"),
        ("big.bin", copying.upload_id, "in-progress"),  # its record read with its page
        ("lost.bin", orphan, "orphaned"),  # a key's uploads by initiation
        ("lost.bin", again, "orphaned"),
    ]
    assert all(len(page) == 1 for page in pages)
    # the table view says how to get the next page; a token of another command is a usage error
    table = run_cli("uploads", "list", "--max-items", "3")
    assert table.stdout.splitlines()[-1].startswith("more: --starting-token ")
    runs_token = encode_token({"run_id": "20261206T000000Z-abcdef", "started_at": "2026-12-06T00:00:00+00:00"})
    refused = run_cli("uploads", "list", "--starting-token", runs_token)
    assert refused.exit_code == 2
    assert "not a token printed by `uploads list`" in refused.stderr

"""Archived sources (issue 15): a key in GLACIER settles as `archived` (the run COMPLETED, the marker past it,
the ledger listing it as archived), no later run asks S3 for it again until `failures restore`; a copy made
while the restore runs settles archived again; once restored the next run copies it byte for byte under the
consumer key and clears the ledger. The whole pipeline on moto, driven through the CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.s3.models import s3_backends

from hydration.models import RunStatus
from tests.cli.conftest import Deployed, json_out, text_records
from tests.integration.harness import ACCOUNT, consumer_object, put_object
from tests.integration.producer_times import age_object

COLD, WARM = "data/cold.bin", "data/warm.txt"
BODY = b"frozen bytes " * 100


def _restore_state(deployed: Deployed, key: str, status: str) -> None:
    s3_backends[ACCOUNT]["aws"].get_object(deployed.world.producer_bucket, key).status = status


def _last_run(deployed: Deployed, run_cli: Any) -> Any:
    result = run_cli("trigger", "--yes", "--wait", "--interval", "0", "--output", "json")
    run_id = json_out(result)["run_id"]
    return deployed.world.stores.runs.get(run_id), result.exit_code


def test_an_archived_key_settles_archived_and_is_copied_after_a_restore(
    deployed: Deployed, run_cli: Any, restores_held: None
) -> None:
    world = deployed.world
    # Given a producer bucket with a key in GLACIER beside a plain one, both written two hours ago
    put_object(world, COLD, BODY, StorageClass="GLACIER")
    put_object(world, WARM, b"warm")
    written = age_object(world, COLD, timedelta(hours=2))
    age_object(world, WARM, timedelta(hours=2))

    # When a run copies the bucket
    run, code = _last_run(deployed, run_cli)
    # Then the archived key settles as archived, not failed: the run completes and the marker passes it
    assert code == 0
    assert (run.status, run.objects_transferred, run.objects_archived, run.objects_failed) == (
        RunStatus.COMPLETED,
        1,
        1,
        0,
    )
    assert run.marker_written == run.watermark
    assert run.marker_written > written
    # and the ledger lists it as archived, with its storage class
    listed = json_out(run_cli("failures", "list", "--archived", "--output", "json"))
    assert [(f["key"], f["archived"], f["storage_class"]) for f in listed["failures"]] == [(COLD, True, "GLACIER")]
    assert run_cli("failures", "list", "--archived", "--prefix", "data/warm").stdout.startswith("the failure ledger is")
    assert list(world.stores.ledger) == []  # nothing for runs to re-enqueue
    status = json_out(run_cli("status", "--output", "json"))
    assert (status["failure_ledger"], status["archived_keys"]) == (1, 1)

    # When the next incremental run starts, it asks nothing of the archived key
    again, code = _last_run(deployed, run_cli)
    assert (code, again.status, again.keys_enqueued, again.ledger_keys_enqueued) == (0, RunStatus.COMPLETED, 0, 0)

    # When the operator restores it (a dry run first: nothing changes)
    assert run_cli("failures", "restore", "--dry-run", "--exit-code").exit_code == 3
    assert world.stores.ledger.get(COLD).restore_requested_at is None
    restored = run_cli("failures", "restore", "--yes", "--days", "1", "--output", "text")
    assert restored.exit_code == 0, restored.output
    assert text_records(restored) == [["RESTORE", COLD, "GLACIER", "None", "requested"]]
    requested = world.stores.ledger.get(COLD).restore_requested_at
    assert requested is not None
    _restore_state(deployed, COLD, "IN_PROGRESS")

    # Then a run while the restore runs re-enqueues it and settles it archived again ("restore in progress")
    waiting, code = _last_run(deployed, run_cli)
    assert (code, waiting.status, waiting.ledger_keys_enqueued) == (0, RunStatus.COMPLETED, 1)
    assert (waiting.objects_archived, waiting.objects_failed) == (1, 0)
    entry = world.stores.ledger.get(COLD)
    assert (entry.archived, entry.restore_requested_at) == (True, requested)  # still asked for
    assert "restore is still in progress" in entry.error_message

    # And once the restore is done, the next run copies it byte for byte under the consumer key
    _restore_state(deployed, COLD, "RESTORED")
    landed, code = _last_run(deployed, run_cli)
    assert (code, landed.status, landed.objects_transferred, landed.objects_archived) == (0, RunStatus.COMPLETED, 1, 0)
    copy = consumer_object(world, COLD)
    assert copy["body"] == BODY
    assert copy["head"]["SSEKMSKeyId"] == world.kms_key_arn
    assert world.stores.ledger.get(COLD) is None
    assert run_cli("failures", "list", "--exit-code").exit_code == 0


def test_restore_touches_only_archived_entries(deployed: Deployed, run_cli: Any) -> None:
    world = deployed.world
    put_object(world, COLD, BODY, StorageClass="DEEP_ARCHIVE")
    _, code = _last_run(deployed, run_cli)
    assert code == 0
    assert world.stores.ledger.get(COLD).storage_class == "DEEP_ARCHIVE"
    nothing = run_cli("failures", "restore", "--yes", "--key", "data/not-archived")
    assert (nothing.exit_code, nothing.stdout) == (0, "no archived key to restore\n")
    # a 'no' restores nothing
    refused = run_cli("failures", "restore", input="n\n")
    assert refused.exit_code == 1
    assert world.stores.ledger.get(COLD).restore_requested_at is None

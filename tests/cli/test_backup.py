"""`backup FILE` writes the runs, books, failures and manifest tables to one JSON file (the books as raw
items, whatever their layout); `restore FILE` puts them back, never over newer state unless
--overwrite-newer. Read back the tables after each command."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from hydration.aws.dynamo import from_item, to_item
from tests.cli.conftest import Deployed, json_out, put_objects, record_failure, text_records
from tests.integration.harness import REGION


def table_items(table: str) -> dict[str, dict[str, Any]]:
    db = boto3.client("dynamodb", region_name=REGION)
    items = [from_item(i) for i in db.scan(TableName=table)["Items"]]
    return {str(i.get("key", i.get("run_id"))): i for i in items}


def raw_items(table: str) -> list[dict[str, Any]]:
    """Every item of a table as it is stored (any key layout), in a stable order."""
    db = boto3.client("dynamodb", region_name=REGION)
    items = [from_item(i) for page in db.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))


def put_item(table: str, item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=table, Item=to_item(item))


def backed_up(deployed: Deployed, run_cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A deployment after one completed run (2 objects) and one ledger entry, backed up to a file."""
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    record_failure(deployed, "data/bad.txt", failed_at=datetime(2024, 5, 1, 6, tzinfo=UTC), message="in the backup")
    target = tmp_path / "backup.json"
    assert run_cli("backup", str(target)).exit_code == 0
    return target


def test_backup_writes_every_table(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--yes", "--wait", "--interval", "0").exit_code == 0
    target = tmp_path / "backup.json"
    result = run_cli("backup", str(target))
    assert result.exit_code == 0, result.output
    books = raw_items(deployed.world.books_table)
    assert len(books) >= 2  # at least the run's two tasks (and whatever else its books hold)
    assert result.stdout.startswith(f"wrote {target} (runs 1, books {len(books)}, failures 0, manifest 2 items; ")
    data = json.loads(target.read_text())
    # the run's books, item for item as the table holds them
    backed = sorted(data["tables"]["books"]["items"], key=lambda i: json.dumps(i, sort_keys=True, default=str))
    assert json.loads(json.dumps(backed)) == json.loads(json.dumps(books, default=str))
    assert data["stack"] == "s3-hydration-consumer"
    assert sorted(e["key"] for e in data["tables"]["manifest"]["items"]) == ["data/a.txt", "data/b.txt"]
    assert [r["status"] for r in data["tables"]["runs"]["items"]] == ["COMPLETED"]
    assert data["tables"]["failures"]["items"] == []
    records = text_records(run_cli("backup", str(target), "--output", "text"))
    assert records[1:] == [
        ["TABLE", "runs", "1"],
        ["TABLE", "books", str(len(books))],
        ["TABLE", "failures", "0"],
        ["TABLE", "manifest", "2"],
    ]


def test_backup_to_stdout(deployed: Deployed, run_cli) -> None:
    result = run_cli("backup", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tables"]["runs"]["table"] == deployed.world.runs_table


def test_restore_into_empty_tables_writes_everything(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    # Given a backup, and the tables emptied since
    target = backed_up(deployed, run_cli, tmp_path)
    before = {t: table_items(t) for t in (deployed.world.runs_table, deployed.world.manifest_table)}
    books_before = raw_items(deployed.world.books_table)
    db = boto3.client("dynamodb", region_name=REGION)
    for table, key in (
        (deployed.world.runs_table, "run_id"),
        (deployed.world.failures_table, "key"),
        (deployed.world.manifest_table, "key"),
    ):
        for item_id in table_items(table):
            db.delete_item(TableName=table, Key=to_item({key: item_id}))
    for item in books_before:
        db.delete_item(
            TableName=deployed.world.books_table, Key=to_item({"run_id": item["run_id"], "key": item["key"]})
        )
    assert raw_items(deployed.world.books_table) == []
    # When the restore is declined, nothing is written
    declined = run_cli("restore", str(target), input="n\n")
    assert declined.exit_code == 1
    assert "Write " in declined.stderr
    assert "item(s) into the tables? [y/N]" in declined.stderr
    assert table_items(deployed.world.manifest_table) == {}
    # When the backup is restored
    result = run_cli("restore", str(target), "--yes", "--output", "json")
    # Then every item is back, as it was
    assert result.exit_code == 0, result.output
    counts = {name: (c["write"], c["keep"], c["unchanged"]) for name, c in json_out(result)["tables"].items()}
    assert counts == {
        "runs": (1, 0, 0),
        "books": (len(books_before), 0, 0),
        "failures": (1, 0, 0),
        "manifest": (2, 0, 0),
    }
    for table, items in before.items():
        assert table_items(table) == items
    assert raw_items(deployed.world.books_table) == books_before  # the run's books, as they were
    shown = json_out(run_cli("runs", "show", before[deployed.world.runs_table].popitem()[0], "--output", "json"))
    assert shown["run"]["objects_transferred"] == 2  # the restored run counts its copies again
    assert table_items(deployed.world.failures_table)["data/bad.txt"]["error_message"] == "in the backup"


def test_restore_keeps_newer_state_and_dry_run_shows_what_it_would_write(
    deployed: Deployed, run_cli, tmp_path: Path
) -> None:
    # Given a backup; then the key failed again (newer in the table) and a manifest entry was lost
    target = backed_up(deployed, run_cli, tmp_path)
    record_failure(deployed, "data/bad.txt", failed_at=datetime(2024, 5, 2, tzinfo=UTC), message="newer in the table")
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=deployed.world.manifest_table, Key=to_item({"key": "data/a.txt"})
    )
    # When a dry run is asked for
    dry = run_cli("restore", str(target), "--dry-run", "--output", "text", "--exit-code")
    # Then it lists what it would write and keep, exits 3, and writes nothing
    assert dry.exit_code == 3, dry.output
    items = [r[1:4] for r in text_records(dry) if r[0] == "ITEM"]
    assert sorted(items) == [["failures", "keep", "data/bad.txt"], ["manifest", "write", "data/a.txt"]]
    assert "data/a.txt" not in table_items(deployed.world.manifest_table)
    # When it is restored for real
    result = run_cli("restore", str(target), "--yes")
    # Then the lost entry is back and the newer ledger entry is kept
    assert result.exit_code == 0, result.output
    assert "kept, newer in the table:" in result.stdout
    assert "data/a.txt" in table_items(deployed.world.manifest_table)
    assert table_items(deployed.world.failures_table)["data/bad.txt"]["error_message"] == "newer in the table"
    # and a second restore has nothing left to do: exit 0
    again = run_cli("restore", str(target), "--dry-run", "--output", "json")
    assert again.exit_code == 0
    assert [d["action"] for d in json_out(again)["decisions"]] == ["keep"]


def test_restore_force_overwrites_newer_state(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    target = backed_up(deployed, run_cli, tmp_path)
    record_failure(deployed, "data/bad.txt", failed_at=datetime(2024, 5, 2, tzinfo=UTC), message="newer in the table")
    result = run_cli("restore", str(target), "--yes", "--overwrite-newer")
    assert result.exit_code == 0, result.output
    assert table_items(deployed.world.failures_table)["data/bad.txt"]["error_message"] == "in the backup"


def test_restore_keeps_the_tables_books_items_unless_told(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    # Given a backup, and then one books item changed in the table (books items have no time of their own)
    target = backed_up(deployed, run_cli, tmp_path)

    def sheet_of_a() -> dict[str, Any]:  # the books item (a sheet: a message's keys) that holds data/a.txt
        [sheet] = [
            i for i in raw_items(deployed.world.books_table) if ["data/a.txt"] in [e[:1] for e in i.get("objects", [])]
        ]
        return sheet

    put_item(deployed.world.books_table, {**sheet_of_a(), "changed": "in the table"})
    # When restored, Then the table's item is kept
    kept = json_out(run_cli("restore", str(target), "--yes", "--output", "json"))
    assert kept["tables"]["books"]["keep"] == 1
    assert sheet_of_a()["changed"] == "in the table"
    # and with --overwrite-newer the backup's is written
    assert run_cli("restore", str(target), "--yes", "--overwrite-newer").exit_code == 0
    assert "changed" not in sheet_of_a()


def test_a_backup_without_books_restores_the_other_tables(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    target = backed_up(deployed, run_cli, tmp_path)
    data = json.loads(target.read_text())
    del data["tables"]["books"]  # as backups written before the books were backed up
    target.write_text(json.dumps(data))
    result = run_cli("restore", str(target), "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    assert set(json_out(result)["tables"]) == {"runs", "failures", "manifest"}


def test_restore_never_writes_the_active_run_lock(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    # Given a backup taken during a run (the lock item is in it), restored after the run released the lock
    put_objects(deployed.world, "data/a.txt")
    assert run_cli("trigger", "--yes").exit_code == 0
    target = tmp_path / "backup.json"
    assert run_cli("backup", str(target)).exit_code == 0
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=deployed.world.runs_table, Key=to_item({"run_id": "ACTIVE"})
    )
    result = run_cli("restore", str(target), "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json_out(result)["tables"]["runs"]["lock"] == 1
    assert "ACTIVE" not in table_items(deployed.world.runs_table)


def test_restore_of_a_file_that_is_not_a_backup_is_a_usage_error(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"tables": {}}')
    result = run_cli("restore", str(bogus), "--yes")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bogus} is not a backup written by `s3-hydration backup`: stack: ")
    assert run_cli("restore", str(tmp_path / "missing.json")).exit_code == 2


def test_restore_does_not_overwrite_an_item_written_meanwhile(deployed: Deployed, monkeypatch, tmp_path: Path) -> None:
    # Given a restore that read the ledger entry, and a copier that writes it again before the restore writes
    from hydration_cli.aws.tables import Tables
    from hydration_cli.deployment import Deployment
    from hydration_cli.ops.restore import restore

    backup = {
        "stack": "s3-hydration-consumer",
        "exported_at": "2024-05-03T00:00:00Z",
        "tables": {"failures": {"table": "x", "items": [{"key": "k", "failed_at": "2024-05-02T00:00:00Z"}]}},
    }
    target = tmp_path / "backup.json"
    target.write_text(json.dumps(backup))
    put_item(deployed.world.failures_table, {"key": "k", "failed_at": "2024-05-01T00:00:00Z"})
    real_put_if = Tables.put_if

    def put_if_after_a_copier(self: Tables, table: str, item: dict[str, Any], key: str, expected: Any) -> bool:
        put_item(table, {"key": "k", "failed_at": "2024-05-04T00:00:00Z"})
        return real_put_if(self, table, item, key, expected)

    monkeypatch.setattr(Tables, "put_if", put_if_after_a_copier)
    report = restore(Deployment("s3-hydration-consumer"), target, dry_run=False, force=False)
    # Then the restore keeps the copier's entry and says so
    assert [(d.id, d.action) for d in report.decisions] == [("k", "changed")]
    assert table_items(deployed.world.failures_table)["k"]["failed_at"] == "2024-05-04T00:00:00Z"


def test_a_run_restored_from_a_backup_taken_mid_run_settles_on_and_counts_each_key_once(
    deployed: Deployed, run_cli, tmp_path: Path, monkeypatch
) -> None:
    """The books' sheets through `backup` (plain JSON) and `restore`: a run backed up with one sheet settled
    and two pending, its books table lost and restored, settles on: the pending keys once each, the settled
    ones not again (a duplicate delivery after the restore counts nothing), and closes COMPLETED."""
    from hydration.models import Outcome, Settlement
    from tests.cli.conftest import copy_some
    from tests.integration.harness import run_copier

    # Given a run of five keys, two per message (three sheets), of which one message was copied
    monkeypatch.setenv("KEYS_PER_MESSAGE", "2")
    deployed.drain_on_finalize = False
    put_objects(deployed.world, *(f"data/{k}.txt" for k in "abcde"))
    assert run_cli("trigger", "--yes").exit_code == 0
    books = deployed.world.stores.books
    [run_id] = [r.run_id for r in deployed.world.stores.runs.list()]
    copy_some(deployed.world, 1)
    settled = [s for s in books.sheets(run_id) if not s.pending]
    assert [len(s.outcomes) for s in settled] == [2]
    assert books.counters(run_id).keys_settled == 2
    # backed up, then the books table lost
    target = tmp_path / "backup.json"
    assert run_cli("backup", str(target)).exit_code == 0
    db = boto3.client("dynamodb", region_name=REGION)
    for item in raw_items(deployed.world.books_table):
        db.delete_item(
            TableName=deployed.world.books_table, Key=to_item({"run_id": item["run_id"], "key": item["key"]})
        )
    assert books.counters(run_id).keys_enqueued == 0
    # When it is restored
    result = run_cli("restore", str(target), "--yes")
    assert result.exit_code == 0, result.output
    # Then the settled sheet's keys count nothing again (a duplicate delivery after the restore)
    [sheet] = settled
    again = [Settlement(t.key, Outcome.TRANSFERRED, bytes=4, sheet=sheet.id, slot=t.slot) for t in sheet.tasks]
    assert books.settle(run_id, again) == []
    # and the copier settles the rest, each key once, and closes the run
    run_copier(deployed.world)
    run = deployed.world.stores.runs.get(run_id)
    assert (run.status, run.keys_enqueued, run.keys_settled, run.objects_transferred) == ("COMPLETED", 5, 5, 5)
    assert run.bytes_transferred == 5 * len(b"data")
    assert list(books.unsettled(run_id)) == []
    landed = {e["key"] for e in table_items(deployed.world.manifest_table).values()}
    assert landed == {f"data/{k}.txt" for k in "abcde"}

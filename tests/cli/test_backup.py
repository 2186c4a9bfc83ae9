"""`backup FILE`: the three tables in one JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Deployed, put_objects, text_records


def test_backup_writes_every_table(deployed: Deployed, run_cli, tmp_path: Path) -> None:
    put_objects(deployed.world, "data/a.txt", "data/b.txt")
    assert run_cli("trigger", "--wait", "--interval", "0").exit_code == 0
    target = tmp_path / "backup.json"
    result = run_cli("backup", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {target} (runs 1, failures 0, manifest 2 items; ")
    data = json.loads(target.read_text())
    assert data["stack"] == "s3-hydration-consumer"
    assert sorted(e["key"] for e in data["tables"]["manifest"]["items"]) == ["data/a.txt", "data/b.txt"]
    assert [r["status"] for r in data["tables"]["runs"]["items"]] == ["COMPLETED"]
    assert data["tables"]["failures"]["items"] == []
    records = text_records(run_cli("backup", str(target), "--output", "text"))
    assert records[1:] == [["TABLE", "runs", "1"], ["TABLE", "failures", "0"], ["TABLE", "manifest", "2"]]


def test_backup_to_stdout(deployed: Deployed, run_cli) -> None:
    result = run_cli("backup", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tables"]["runs"]["table"] == deployed.world.runs_table

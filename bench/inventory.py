"""Reading an S3 Inventory report's data file, as a planner worker does (no LocalStack): a synthetic gzipped
CSV of N rows (URL-encoded keys, the report's time format, 1 % of the rows modified since the bound, another
1 % multipart objects within the upload window), read with `hydration.inventory.rows` and selected with the
worker's rule (`planner.inventory`'s, times compared as text, keys decoded only for the selected rows).
Prints one JSON line: rows, CPU seconds, rows per second per core, peak RSS.

    python -m bench.inventory --rows 5000000        (the file is cached in bench/work/)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.env import WORK
from hydration.inventory import Row, inventory_time, rows

COLUMNS = ["Bucket", "Key", "Size", "LastModifiedDate", "ETag", "IsMultipartUploaded"]
SINCE = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
UPLOAD_WINDOW = timedelta(days=7)


def synthetic_report(count: int, path: Path) -> Path:
    """A data file of `count` rows (written once, then reused)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    old = inventory_time(SINCE - timedelta(days=30))
    fresh = inventory_time(SINCE + timedelta(hours=1))
    recent = inventory_time(SINCE - timedelta(days=2))
    partial = path.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8", newline="", compresslevel=6) as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for i in range(count):
            modified, multipart = (old, "false")
            if i % 100 == 0:
                modified = fresh  # changed since the bound: selected
            elif i % 100 == 1:
                modified, multipart = recent, "true"  # a multipart object within the upload window: selected
            key = f"data/{i % 997:03d}/part+{i:09d}%20file.json"  # already URL-encoded, as S3 writes keys
            writer.writerow(["producer-bucket", key, i % 4096, modified, f"{i:032x}", multipart])
    partial.rename(path)
    return path


def read(path: Path) -> dict[str, float]:
    """Rows read and selected (the worker's rule), CPU seconds, peak RSS."""
    bound = inventory_time(SINCE)
    multipart_bound = inventory_time(SINCE - UPLOAD_WINDOW)
    selected = total = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    with path.open("rb") as body:
        for row in rows(body, COLUMNS):
            total += 1
            if row.last_modified >= bound or (row.multipart and row.last_modified >= multipart_bound):
                Row.source_object(row)
                selected += 1
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    return {
        "rows": total,
        "selected": selected,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "rows_per_core_second": total / cpu if cpu else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    path = synthetic_report(args.rows, WORK / f"inventory-{args.rows}.csv.gz")
    result = read(path)
    result["file_mb"] = path.stat().st_size / 1e6
    print(json.dumps(result))


if __name__ == "__main__":
    main()

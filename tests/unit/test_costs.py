"""The cost model's sizes against the books' own encoder: a sheet as DynamoDB counts it (hydration.aws.sheets),
opened and once settled, for the key lengths an estimate assumes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hydration.aws.dynamo import item_size, write_units
from hydration.aws.sheets import sheet_item
from hydration.models import Outcome, Sheet, Task
from hydration_cli.ops.costs import OUTCOME_BYTES, SETTLED_BYTES, sheet_bytes_of, units

LISTED = datetime(2026, 11, 1, 6, 0, 7, tzinfo=UTC)
RUN = "20261101T060000Z-a1b2c3"  # run ids are this long
BUCKET = "producer-data-bucket"


def _sheet(keys: int, key_bytes: int) -> Sheet:
    tasks = [
        Task(
            run_id=RUN,
            bucket=BUCKET,
            key=f"{i:03d}".rjust(key_bytes, "k"),
            size=16384,
            etag='"0123456789abcdef0123456789abcdef"',
            last_modified=LISTED,
        )
        for i in range(keys)
    ]
    return Sheet.of(RUN, "00000001.00", BUCKET, tasks, LISTED)


@pytest.mark.parametrize(("keys", "key_bytes"), [(10, 10), (10, 30), (10, 60), (1, 30), (100, 40)])
def test_a_sheets_size_is_what_the_model_counts(keys: int, key_bytes: int) -> None:
    item = sheet_item(_sheet(keys, key_bytes), 1_796_553_469)
    assert abs(item_size(item) - sheet_bytes_of(keys, key_bytes)) <= 2
    # once settled: each slot in `settled` and in its outcome's list (the longest name), the last settle's time
    slots = {"L": [{"N": str(slot)} for slot in range(keys)]}
    item |= {"settled": slots, f"o_{Outcome.TRANSFERRED.value}": slots, "settled_at": {"N": "1796553469123"}}
    assert abs(item_size(item) - (sheet_bytes_of(keys, key_bytes) + keys * OUTCOME_BYTES + SETTLED_BYTES)) <= 2


def test_ten_keys_of_up_to_39_bytes_are_one_write_unit_opened_and_settled() -> None:
    """The estimate's default (`key-bytes` 30, KeysPerMessage 10): 0.2 write units per key each way."""
    for key_bytes in (30, 39):
        opened = sheet_bytes_of(10, key_bytes)
        assert (units(opened), units(opened + 10 * OUTCOME_BYTES + SETTLED_BYTES)) == (1, 1)
        assert write_units(sheet_item(_sheet(10, key_bytes), 1_796_553_469)) == 1
    assert units(sheet_bytes_of(10, 100)) == 2

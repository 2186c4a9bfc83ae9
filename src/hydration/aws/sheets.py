"""How the books table stores a sheet (one transfer message's keys) and a claim: the item formats, compact
because a sheet is written once and updated once or twice per message (DynamoDB bills a write by the item's
size, 1 unit per KB started, twice in a transaction).

A sheet's `objects` entry is `[key, size, etag, last_modified, version_id, force, origin]`: a single-part ETag
(an MD5: quoted hex, 34 bytes) as `~` and its 22 characters of URL-safe base64 (any other ETag, a multipart
one say, as it is), LastModified as microseconds since the epoch, and the last three left out
from the last one at its default (null, false, `listing`). Settling appends to lists of slots: `settled`
(every settled slot) and `o_<outcome>` (the slots of each outcome), 3 bytes a slot in each. Only strings,
numbers, lists and maps: the item survives `backup`'s plain JSON and `restore` as it was. Ten keys of 30 bytes
make a sheet of about 830 bytes, 930 once settled: one write unit either way (up to 39 bytes a key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hydration.aws.dynamo import to_item
from hydration.models import Origin, Outcome, Sheet, Task

SORT_KEY_BYTES = 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORIGIN = Origin.LISTING.value
OUTCOME_PREFIX = "o_"
_MD5_MARK = "~"
_MD5_ETAG = re.compile(r'"[0-9a-f]{32}"')
_TAIL_DEFAULTS: tuple[dict[str, Any], ...] = ({"NULL": True}, {"BOOL": False}, {"S": _ORIGIN})


def sheet_key(sheet_id: str) -> str:
    return f"s#{sheet_id}"


def claim_key(key: str) -> str:
    claim = f"k#{key}"
    return claim if len(claim.encode()) <= SORT_KEY_BYTES else "h#" + hashlib.sha256(key.encode()).hexdigest()


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def sheet_item(sheet: Sheet, expires: int) -> dict[str, Any]:
    """A sheet as its Put writes it (low-level attribute values)."""
    return {
        "run_id": {"S": sheet.run_id},
        "key": {"S": sheet_key(sheet.id)},
        "bucket": {"S": sheet.bucket},
        "n": {"N": str(len(sheet.tasks))},
        "pending": {"N": str(len(sheet.tasks))},
        "objects": {"L": [{"L": _entry(task)} for task in sheet.tasks]},
        "enqueued_at": {"N": str(epoch_ms(sheet.enqueued_at))},
        "ttl": {"N": str(expires)},
    }


def outcome_attribute(outcome: Outcome) -> str:
    """The list of a sheet's slots settled with this outcome (any outcome: a new one is one enum member)."""
    return OUTCOME_PREFIX + outcome.value


def claim_item(run_id: str, key: str, sheet_id: str, expires: int) -> dict[str, Any]:
    return to_item({"run_id": run_id, "key": claim_key(key), "sheet": sheet_id, "ttl": expires})


def _entry(task: Task) -> list[dict[str, Any]]:
    """A task as a sheet's list entry: key, size, etag, last_modified, then version_id, force and origin
    up to the last one that is not its default."""
    head = [{"S": task.key}, {"N": str(task.size)}, _etag(task.etag), {"N": str(epoch_us(task.last_modified))}]
    tail = [
        {"S": task.version_id} if task.version_id else {"NULL": True},
        {"BOOL": task.force},
        {"S": task.origin.value},
    ]
    while tail and tail[-1] == _TAIL_DEFAULTS[len(tail) - 1]:
        tail.pop()
    return head + tail


def _etag(etag: str) -> dict[str, Any]:
    """A single-part ETag (an MD5, quoted hex) as `~` and its 16 bytes in URL-safe base64; any other ETag as it
    is (S3's ETags are quoted, so the two never mix)."""
    if _MD5_ETAG.fullmatch(etag):
        return {"S": _MD5_MARK + base64.urlsafe_b64encode(bytes.fromhex(etag[1:-1])).decode().rstrip("=")}
    return {"S": etag}


def _etag_of(value: str) -> str:
    if not value.startswith(_MD5_MARK):
        return value
    return f'"{base64.urlsafe_b64decode(value[1:] + "==").hex()}"'


def sheet_of(item: dict[str, Any]) -> Sheet:
    """A sheet from its item (as `from_item` reads it)."""
    sheet_id = str(item["key"])[2:]
    enqueued = EPOCH + timedelta(milliseconds=int(item.get("enqueued_at", 0)))
    tasks = []
    for slot, entry in enumerate(item.get("objects") or []):
        key, size, etag, modified, *tail = entry
        version, force, origin = (tail + [None, False, _ORIGIN][len(tail) :])[:3]
        tasks.append(
            Task(
                run_id=item["run_id"],
                bucket=item["bucket"],
                key=key,
                size=size,
                etag=_etag_of(etag),
                last_modified=EPOCH + timedelta(microseconds=int(modified)),
                version_id=version,
                force=bool(force),
                origin=Origin(origin),
                enqueued_at=enqueued,
                sheet=sheet_id,
                slot=slot,
            )
        )
    settled_at = item.get("settled_at")
    return Sheet(
        run_id=item["run_id"],
        id=sheet_id,
        bucket=item["bucket"],
        tasks=tasks,
        enqueued_at=enqueued,
        outcomes={
            int(slot): Outcome(name.removeprefix(OUTCOME_PREFIX))
            for name, slots in item.items()
            if name.startswith(OUTCOME_PREFIX)
            for slot in slots
        },
        settled_at=EPOCH + timedelta(milliseconds=int(settled_at)) if settled_at is not None else None,
    )

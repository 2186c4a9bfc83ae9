"""The planner's listing (`hydration.aws.listing.list_pages`, `iter_objects`) against botocore's own parse, on moto:
the same keys (URL-encoded on the wire, however awkward), sizes, ETags and times, page by page, and the
continuation tokens a checkpoint resumes from."""

from __future__ import annotations

from typing import Any

import boto3

from hydration.aws import listing as source_listing
from tests.integration.harness import REGION, World

AWKWARD = [
    "plain.txt",
    "with space.txt",
    "plus+sign.txt",
    "percent%41.txt",
    "amp&lt;<>\"'.txt",
    "Zürich_δ_漢字.txt",
    "a/deeply/nested/key.txt",
    "tab\tand\u00a0nbsp.txt",
    "trailing/",
]


def _paginated(s3: Any, bucket: str, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **extra):
        items += page.get("Contents", [])
    return items


def _seed(world: World, keys: list[str]) -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    for i, key in enumerate(keys):
        s3.put_object(Bucket=world.producer_bucket, Key=key, Body=b"x" * i)
    return s3


def test_pages_hold_what_botocore_parses_from_the_same_listing(world: World) -> None:
    keys = AWKWARD + [f"many/{i:04}" for i in range(23)]
    s3 = _seed(world, keys)
    pages = list(source_listing.list_pages(s3, world.producer_bucket, "", page_size=7))

    expected = _paginated(s3, world.producer_bucket, "")
    got = [obj for page in pages for obj in page.objects]
    assert [(o.key, o.size, o.etag, o.last_modified) for o in got] == [
        (i["Key"], i["Size"], i["ETag"], i["LastModified"]) for i in expected
    ]
    assert sorted(o.key for o in got) == sorted(keys)
    assert all(len(page.objects) == 7 for page in pages[:-1])
    assert [bool(page.next_token) for page in pages] == [True] * (len(pages) - 1) + [False]
    # the pages came through the lean parse, not botocore's (which the same client still does for others)
    source_listing._LEAN.active = True
    try:
        lean = s3.list_objects_v2(Bucket=world.producer_bucket, MaxKeys=3)
    finally:
        source_listing._LEAN.active = False
    assert "Contents" not in lean
    assert [o.key for o in lean[source_listing._LEAN_OBJECTS]] == [i["Key"] for i in expected[:3]]
    assert len(s3.list_objects_v2(Bucket=world.producer_bucket, MaxKeys=3)["Contents"]) == 3


def test_a_listing_resumes_after_the_last_key_it_handled(world: World) -> None:
    keys = [f"p/{i:03}" for i in range(30)]
    s3 = _seed(world, keys)
    first = source_listing.list_pages(s3, world.producer_bucket, "p/", page_size=4)
    seen = [obj.key for obj in next(first).objects]
    seen += [obj.key for obj in next(first).objects][:3]  # the checkpoint names a key in the middle of a page
    first.close()  # the listing stops (the invocation checkpoints); the page in flight is dropped
    rest = [
        obj.key
        for page in source_listing.list_pages(s3, world.producer_bucket, "p/", start_after=seen[-1], page_size=4)
        for obj in page.objects
    ]
    assert seen + rest == keys


def test_iter_objects_starts_after_a_key_and_keeps_the_key_order(world: World) -> None:
    s3 = _seed(world, AWKWARD)
    ordered = sorted(AWKWARD)
    got = [obj.key for obj in source_listing.iter_objects(s3, world.producer_bucket, "", start_after=ordered[2])]
    assert got == ordered[3:]

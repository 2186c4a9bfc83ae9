"""The planner's listing (`hydration.aws.listing`) against botocore's own parse, on moto: the same keys
(URL-encoded on the wire, however awkward), sizes, ETags and times, page by page; a listing resumed after
any key (StartAfter, what a checkpoint records); probes and delimiter discovery."""

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


def _all_pages(s3: Any, bucket: str, prefix: str, page_size: int) -> list[Any]:
    pages = []
    with source_listing.Pager(s3, bucket, prefix, page_size) as pager:
        after: str | None = None
        while True:
            page = pager.page(after)
            pages.append(page)
            if not page.truncated:
                return pages
            after = page.last_key
            pager.ahead(after)  # the next page in flight while this one is worked


def test_pages_hold_what_botocore_parses_from_the_same_listing(world: World) -> None:
    keys = AWKWARD + [f"many/{i:04}" for i in range(23)]
    s3 = _seed(world, keys)
    pages = _all_pages(s3, world.producer_bucket, "", 7)

    expected = _paginated(s3, world.producer_bucket, "")
    got = [obj for page in pages for obj in page.objects]
    assert [(o.key, o.size, o.etag, o.last_modified) for o in got] == [
        (i["Key"], i["Size"], i["ETag"], i["LastModified"]) for i in expected
    ]
    assert sorted(o.key for o in got) == sorted(keys)
    assert all(len(page.objects) == 7 for page in pages[:-1])
    assert [page.truncated for page in pages] == [True] * (len(pages) - 1) + [False]
    # the pages came through the lean parse, not botocore's (which the same client still does for others)
    source_listing._LEAN.active = True
    try:
        lean = s3.list_objects_v2(Bucket=world.producer_bucket, MaxKeys=3)
    finally:
        source_listing._LEAN.active = False
    assert "Contents" not in lean
    assert [o.key for o in lean[source_listing._LEAN_OBJECTS]] == [i["Key"] for i in expected[:3]]
    assert len(s3.list_objects_v2(Bucket=world.producer_bucket, MaxKeys=3)["Contents"]) == 3


def test_a_listing_resumes_after_the_last_key_it_listed(world: World) -> None:
    """A checkpoint is the last key listed (StartAfter): any worker resumes exactly after it, whatever the
    key (a space, a plus sign, a percent sign, non-ASCII)."""
    s3 = _seed(world, AWKWARD)
    ordered = sorted(AWKWARD)
    for stop in range(len(ordered)):
        with source_listing.Pager(s3, world.producer_bucket, "", 3) as pager:
            rest = [obj.key for obj in pager.page(ordered[stop]).objects]
        assert rest == ordered[stop + 1 : stop + 4]


def test_probes_and_discovery_find_where_keys_are(world: World) -> None:
    s3 = _seed(world, [*AWKWARD, "b/1", "b/2", "c/x/1"])
    bucket = world.producer_bucket
    assert source_listing.first_key_after(s3, bucket, "", "b/1") == "b/2"
    assert source_listing.first_key_after(s3, bucket, "", max(AWKWARD)) is None
    assert source_listing.first_key_after(s3, bucket, "b/", None) == "b/1"
    assert source_listing.common_prefixes(s3, bucket, "") == ["a/", "b/", "c/", "trailing/"]
    first = source_listing.first_page(s3, bucket, "", 2)
    assert (first.truncated, first.last_key) == (True, sorted([*AWKWARD, "b/1", "b/2", "c/x/1"])[1])

"""Raw ceilings, each run as its own process (so that its wall time and peak RSS are measured like a tool's):

  python -m bench.raw copy   SRC_BUCKET PREFIX DEST_BUCKET KMS_ARN --threads N   threaded CopyObject loop
  python -m bench.raw stream SRC_BUCKET PREFIX DEST_BUCKET KMS_ARN --threads N   threaded GetObject + PutObject
  python -m bench.raw list   BUCKET PREFIX                                       boto3 ListObjectsV2 paginator
  python -m bench.raw http-list BUCKET PREFIX                                    ListObjectsV2 over bare HTTP

Each lists the source (as every contender must), then copies. Prints one JSON line: what it did.
Credentials: the consumer account's, reading the producer bucket (LocalStack does not enforce IAM).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

from bench.env import CONSUMER_ACCOUNT, ENDPOINT, REGION, client


def list_keys(s3: Any, bucket: str, prefix: str, limit: int = 0) -> list[str]:
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [obj["Key"] for obj in page.get("Contents", [])]
        if limit and len(found) >= limit:
            return found[:limit]
    return found


def copy_loop(s3: Any, src: str, keys: list[str], dest: str, kms: str, threads: int) -> int:
    def copy(key: str) -> int:
        s3.copy_object(
            CopySource={"Bucket": src, "Key": key},
            Bucket=dest,
            Key=key,
            MetadataDirective="COPY",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=kms,
        )
        return 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(copy, keys))


def stream_loop(s3: Any, src: str, keys: list[str], dest: str, kms: str, threads: int) -> int:
    def stream(key: str) -> int:
        got = s3.get_object(Bucket=src, Key=key)
        body = got["Body"].read()
        s3.put_object(
            Bucket=dest,
            Key=key,
            Body=body,
            ContentType=got.get("ContentType", "binary/octet-stream"),
            Metadata=got.get("Metadata", {}),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=kms,
        )
        return len(body)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(stream, keys))


_TOKEN = re.compile(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>")


def http_list(bucket: str, prefix: str) -> int:
    """ListObjectsV2 with bare http.client on one connection: the listing ceiling without SDK overhead.
    LocalStack takes the account from the Authorization header's access key id and checks no signature."""
    endpoint = urlsplit(ENDPOINT)
    conn = http.client.HTTPConnection(endpoint.hostname or "127.0.0.1", endpoint.port or 80, timeout=120)
    scope = f"{CONSUMER_ACCOUNT}/20260101/{REGION}/s3/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"
    count = 0
    token = b""
    while True:
        query = f"list-type=2&max-keys=1000&prefix={quote(prefix, safe='')}"
        if token:
            query += "&continuation-token=" + quote(token.decode(), safe="")
        conn.request("GET", f"/{bucket}?{query}", headers={"Authorization": auth})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"ListObjectsV2 answered {response.status}: {body[:300]!r}")
        count += body.count(b"<Key>")
        match = _TOKEN.search(body)
        if not match:
            return count
        token = match.group(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["copy", "stream", "list", "http-list"])
    parser.add_argument("bucket")
    parser.add_argument("prefix")
    parser.add_argument("dest", nargs="?")
    parser.add_argument("kms", nargs="?")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--limit", type=int, default=0, help="copy only the first N keys (thread-count scan)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if args.what == "http-list":
        print(json.dumps({"keys": http_list(args.bucket, args.prefix), "seconds": time.perf_counter() - started}))
        return 0
    s3 = client("s3", CONSUMER_ACCOUNT, pool=max(args.threads, 10))
    keys = list_keys(s3, args.bucket, args.prefix, args.limit)
    listed = time.perf_counter() - started
    if args.what == "list":
        print(json.dumps({"keys": len(keys), "seconds": listed}))
        return 0
    if not args.dest or not args.kms:
        parser.error("copy and stream need DEST_BUCKET and KMS_ARN")
    loop = copy_loop if args.what == "copy" else stream_loop
    loop(s3, args.bucket, keys, args.dest, args.kms, args.threads)
    print(json.dumps({"keys": len(keys), "list_seconds": listed, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the local LocalStack listens, and whether it is up (shared by the e2e and smoke tiers)."""

from __future__ import annotations

import os
import urllib.request

ENDPOINT = os.environ.get("S3H_LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")


def healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False

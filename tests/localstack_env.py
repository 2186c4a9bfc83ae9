"""Where the local LocalStack listens, and whether it is up (shared by the e2e and smoke tiers).

The port is ``S3H_LOCALSTACK_PORT`` (default 4566, as for tools/localstack/up.sh); ``S3H_LOCALSTACK_ENDPOINT``
overrides the whole endpoint.
"""

from __future__ import annotations

import os
import urllib.request

PORT = int(os.environ.get("S3H_LOCALSTACK_PORT") or 4566)
ENDPOINT = os.environ.get("S3H_LOCALSTACK_ENDPOINT") or f"http://127.0.0.1:{PORT}"


def healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False

"""`make demo`: a full hydration on the local LocalStack, with sample data, verified object by object.

Expects LocalStack running with both stacks deployed (`make localstack-up`); `make demo` does all of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # a script run from the checkout, not an installed module

from hydration_cli.deployment import Deployment  # noqa: E402
from hydration_cli.ops import trigger  # noqa: E402
from hydration_cli.ops.runs import Progress  # noqa: E402
from tools.sample_data import MIB, demo_set, seed, verify  # noqa: E402

# What EventBridge sends the planner at 06:00 UTC.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "demo",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


def producer_s3(outputs: dict[str, Any]) -> Any:
    session = boto3.Session(
        aws_access_key_id=outputs.get("ProducerAccountId", "222222222222"),
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's dummy secret
        region_name=outputs.get("Region", "us-east-1"),
    )
    return session.client("s3")


_last_shown: list[tuple[str, int]] = []


def show(p: Progress) -> None:
    """One progress line per change (redrawn in place on a terminal)."""
    state = (p.status.value, p.keys_settled)
    if _last_shown and _last_shown[-1] == state:
        return
    _last_shown.append(state)
    rate = f"{p.keys_per_second:.0f} keys/s" if p.keys_per_second else ""
    line = f"  {p.status.value:<24} keys settled {p.keys_settled:>6}/{p.keys_enqueued:<6} {rate}"
    if sys.stdout.isatty():
        print("\r" + line, end="", flush=True)
    else:
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--big-mib", type=int, default=9, help="size of the object above the multipart threshold")
    parser.add_argument("--outputs", type=Path, default=ROOT / ".localstack" / "outputs.json")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    if not os.environ.get("AWS_ENDPOINT_URL"):
        print('AWS_ENDPOINT_URL is not set: run `eval "$(tools/localstack/env.sh)"` first', file=sys.stderr)
        return 2
    outputs = json.loads(args.outputs.read_text())
    deployment = Deployment(stack=outputs.get("ConsumerStackName", "s3-hydration-consumer"))
    samples = demo_set(args.objects, args.big_mib * MIB)

    print(f"seeding {len(samples)} objects into s3://{outputs['ProducerBucketName']} (producer account)")
    total = seed(producer_s3(outputs), outputs["ProducerBucketName"], samples)

    print("starting a run the way the 06:00 UTC schedule does")
    started = time.monotonic()
    event = SCHEDULED_EVENT | {"time": datetime.now(UTC).isoformat()}
    plan = deployment.functions.invoke(deployment.function_name("planner"), event)
    if not plan.get("started"):
        print(f"no run started: {plan.get('message')}", file=sys.stderr)
        return 1
    run = trigger.follow(
        deployment,
        plan["run_id"],
        timeout=timedelta(seconds=args.timeout),
        interval=1.0,
        clock=lambda: datetime.now(UTC),
        sleep=time.sleep,
        on_progress=show,
    )
    seconds = time.monotonic() - started
    print()
    marker = deployment.client("s3").get_object(Bucket=deployment.bucket, Key="_s3_hydration_last_sync")
    print("sync marker: " + marker["Body"].read().decode().splitlines()[0])

    print(f"verifying {len(samples)} objects (bytes, KMS key, content type, metadata, tags)")
    problems = verify(deployment.client("s3"), deployment.bucket, samples, outputs["ConsumerKmsKeyArn"])
    for problem in problems[:20]:
        print("  PROBLEM " + problem)
    failures = run.objects_failed
    print()
    print("summary")
    print(f"  run          {run.run_id} {run.status.value}")
    print(f"  objects      {len(samples)} ({run.objects_transferred} copied, {run.objects_skipped} skipped)")
    print(f"  bytes        {total:,}")
    print(f"  seconds      {seconds:.1f}")
    print(f"  objects/s    {len(samples) / seconds:.1f}")
    print(f"  failures     {failures}")
    print(f"  verified     {len(samples) - len({p.split(':')[0] for p in problems})}/{len(samples)}")
    return 0 if not problems and run.status.value == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main())

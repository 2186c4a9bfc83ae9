"""`estimate`: the time and cost of a full hydration, from given totals or from the planner's dry run, for
the deployed parameters; the time model of hydration_cli.ops.estimate, checked against worked numbers."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import Deployed, json_out, put_objects, set_stack_parameters, text_records

MIB = 1024 * 1024
LATENCY = 0.1  # copy-request-ms
THROUGHPUT = 80 * MIB  # copy-mib-per-second


def test_a_million_small_objects_is_bound_by_planning(deployed: Deployed, run_cli) -> None:
    """Two planner workers (PlannerConcurrency's least) at 500 keys/s each: the planning takes 1,000 s."""
    set_stack_parameters(deployed, PlannerConcurrency="2")
    result = run_cli(
        "estimate",
        *("--objects", "1000000", "--bytes", "1TB", "--assume", "planner-keys-per-second=500", "--output", "json"),
    )
    assert result.exit_code == 0, result.output
    out = json_out(result)
    assert (out["source"], out["objects"], out["bytes"], out["keys_listed"]) == ("given", 10**6, 10**12, 10**6)
    # one CopyObject per object of 1 MB: 100 ms + 1 MB at 80 MiB/s
    per_object = LATENCY + 10**6 / THROUGHPUT
    assert out["shape"] == {
        "size": 10**6,
        "multipart": False,
        "parts": 1,
        "writes": 1,
        "reads": 1,  # the pinned HEAD
        "seconds": pytest.approx(per_object),
    }
    time = out["time"]
    assert time["copies_in_flight"] == 10 * 32  # MaximumConcurrency x CopyConcurrency
    # 320 in flight, plus 10,000 invocations (100,000 messages, 10 a batch) of 250 ms over 10 copiers; S3
    # (3,500/s) would allow 286 s
    assert time["copying_seconds"] == pytest.approx(10**6 * per_object / 320 + 10_000 * 0.25 / 10)
    assert time["planning_seconds"] == pytest.approx(1000)  # 2 workers x 500 keys/s
    assert time["total_seconds"] == pytest.approx(1000 + per_object)
    assert time["bound"] == "planning (listing and enqueueing): copies keep pace with the planner"
    lines = {line["item"]: line["quantity"] for line in out["cost"]["lines"]}
    assert lines["copies: PUT, COPY, UploadPartCopy"] == 10**6
    assert lines["copies: HEAD, GET"] == 10**6
    assert lines["listing (LIST)"] == 1000 + 1
    assert lines["send, receive, delete"] == 3 * 10**4  # 100,000 messages, 10 per request
    assert lines["planner workers compute"] == pytest.approx(2 * 1000 * 1769 / 1024)  # GB-s: 2 workers x 1,000 s
    assert out["cost"]["total_usd"] == pytest.approx(sum(line["usd"] for line in out["cost"]["lines"]))


def test_the_template_s_planner_workers_keep_a_million_keys_planning_under_half_a_minute(
    deployed: Deployed, run_cli
) -> None:
    """PlannerConcurrency 32 (the template's) at 1,500 keys/s a worker: 48,000 keys/s, so copying bounds it."""
    time = json_out(run_cli("estimate", "--objects", "1000000", "--bytes", "1TB", "--output", "json"))["time"]
    assert time["planning_seconds"] == pytest.approx(10**6 / (32 * 1500))
    assert time["bound"].startswith("the copier's concurrency")


def test_a_million_small_objects_cost_about_what_batch_replication_does(deployed: Deployed, run_cli) -> None:
    """The books at their write units (a sheet of ten 30-byte keys: one unit, opened and settled once, in
    transactions) and KMS with S3 Bucket Keys: within 1.1x of S3 Batch Replication's published price for the
    same million objects ($1 per million, a job, one PUT each)."""
    out = json_out(run_cli("estimate", "--objects", "1000000", "--bytes", "16GiB", "--output", "json"))
    cost = out["cost"]
    lines = {line["item"]: line["quantity"] for line in cost["lines"]}
    assert lines["books: sheets opened"] == 2 * 100_000  # 100,000 sheets of 829 bytes, 2 units each in a transaction
    assert lines["books: sheets settled"] == 2 * 100_000  # 933 bytes once settled: still one unit
    assert lines["data keys (S3 Bucket Keys)"] == pytest.approx(20_000)  # 2 per object, 99 % saved
    assert cost["dynamodb_write_units"] / 10**6 == pytest.approx(1.43, abs=0.01)  # books 0.42, manifest 1
    replication = {peer["name"]: peer for peer in cost["peers"]}["S3 Batch Replication"]
    assert replication["per_million_objects_usd"] == pytest.approx(0.25 + 1 + 5 + 0.06)
    assert cost["per_million_objects_usd"] <= 1.1 * replication["per_million_objects_usd"]
    # Without S3 Bucket Keys, KMS alone would be 6 USD a million (2 requests per object at 0.03 per 10,000)
    plain = json_out(
        run_cli(
            "estimate",
            "--objects",
            "1000000",
            "--bytes",
            "16GiB",
            "--assume",
            "bucket-key-reduction=0",
            "--output",
            "json",
        )
    )["cost"]
    assert plain["total_usd"] - cost["total_usd"] == pytest.approx(6 - 0.06)


def test_fast_copies_are_bound_by_s3s_request_rate(deployed: Deployed, run_cli) -> None:
    result = run_cli(
        "estimate",
        "--objects", "1000000",
        "--bytes", "1TB",
        "--assume", "copy-request-ms=1",
        "--assume", "invocation-overhead-ms=25",
        "--assume", "planner-keys-per-second=100000",
        "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    time = json_out(result)["time"]
    assert time["copying_seconds"] == pytest.approx(10**6 / 3500)
    assert time["bound"] == "S3's request rate per prefix (3,500 PUT/COPY per second x 1)"
    assert time["planning_seconds"] == pytest.approx(10**6 / (100_000 * 32))  # 32 workers


def test_large_objects_are_copied_in_parts(deployed: Deployed, run_cli) -> None:
    result = run_cli("estimate", "--objects", "10", "--bytes", "10GiB", "--output", "json")
    assert result.exit_code == 0, result.output
    out = json_out(result)
    # 1 GiB each: 64 parts of 16 MiB, 4 in flight: 2 + 16 request rounds, the bytes over 4 streams
    per_object = 18 * LATENCY + 1024 * MIB / (THROUGHPUT * 4)
    assert out["shape"] == {
        "size": 1024 * MIB,
        "multipart": True,
        "parts": 64,
        "writes": 66,
        "reads": 1,
        "seconds": pytest.approx(per_object),
    }
    assert out["time"]["copies_in_flight"] == 10
    assert out["time"]["copying_seconds"] == pytest.approx(per_object + 0.25 / 10)
    assert out["time"]["bound"] == "the copier's concurrency (10 copies in flight)"


def test_the_deployed_parameters_are_used(deployed: Deployed, run_cli) -> None:
    # Given a deployment in stream mode with more copiers
    set_stack_parameters(deployed, CopyMode="stream", MaximumConcurrency="50", CopyConcurrency="8")
    out = json_out(run_cli("estimate", "--objects", "1000", "--bytes", "1GB", "--output", "json"))
    assert (out["settings"]["copy_mode"], out["time"]["copies_in_flight"]) == ("stream", 400)
    assert (out["shape"]["writes"], out["shape"]["reads"]) == (1, 1)
    assert out["shape"]["seconds"] == pytest.approx(2 * (LATENCY + 10**6 / THROUGHPUT))  # GET, then PUT
    items = [line["item"] for line in out["cost"]["lines"]]
    assert items[:2] == ["copies: PUT, COPY, UploadPartCopy", "copies: HEAD, GET"]


def test_from_a_dry_run_of_the_producer_bucket(deployed: Deployed, run_cli) -> None:
    # Given three objects in the producer bucket
    put_objects(deployed.world, "data/a.txt", "data/b.txt", "other/c.txt")
    result = run_cli("estimate")
    # Then the planner's dry run counted them, and nothing was started
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == "objects     3, 12 B (average 4 B; the planner's dry run of a full run (3 keys listed))"
    assert re.search(r"^time\s+about \d+s$", result.stdout, re.MULTILINE)
    assert "limits:" in result.stdout
    assert [run.dry_run for run in deployed.world.stores.runs.list()] == [True]  # its record only
    assert deployed.world.stores.runs.active() is None


def test_text_records(deployed: Deployed, run_cli) -> None:
    result = run_cli("estimate", "--objects", "1000", "--bytes", "1000000", "--output", "text")
    assert result.exit_code == 0
    records = text_records(result)
    assert records[0] == ["ESTIMATE", "given", "1000", "1000000", "1000"]
    assert records[1][0] == "TIME"
    assert {r[0] for r in records} >= {"LIMIT", "COST", "TOTAL", "PRICE", "ASSUME"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objects", "10"], "give both --objects and --bytes, or neither"),
        (["--objects", "10", "--bytes", "2XB"], "'2XB' is not a size"),
        (["--objects", "0", "--bytes", "1"], "0 is not in the range x>=1"),
        (["--assume", "speed=9"], "expected NAME=VALUE with NAME one of planner-keys-per-second"),
    ],
)
def test_bad_input_is_a_usage_error(deployed: Deployed, run_cli, args: list[str], message: str) -> None:
    result = run_cli("estimate", *args)
    assert result.exit_code == 2
    assert message in result.stderr

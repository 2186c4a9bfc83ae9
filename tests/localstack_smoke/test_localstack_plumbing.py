"""The local LocalStack runs Lambda functions the way the project needs (tools/localstack).

Throwaway functions built here, not the project's: sync invoke, warm state, isolation from the dev venv,
errors, timeouts, logs in CloudWatch Logs, EMF metrics in CloudWatch, the SQS event source mapping with
partial batch failures and a DLQ, a DLQ redrive with StartMessageMoveTask, and a CloudFormation stack with a
table, a queue and a function.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hydration.aws import queue
from tests.faults import Faults
from tests.localstack_env import ENDPOINT, PORT

from .conftest import CONSUMER_ACCOUNT, Clients, wait_for

SERIALIZER = "x-s3h-serializer"  # s3h_localstack.listing_index: this page by LocalStack's own serializer

pytestmark = pytest.mark.e2e


def invoke(aws: Clients, name: str, event: dict[str, Any] | None = None) -> tuple[str | None, Any]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read() or b"null")


PROBE = textwrap.dedent(
    """
    import os
    import sys

    import boto3

    INVOCATIONS = 0

    def handler(event, context):
        global INVOCATIONS
        INVOCATIONS += 1
        try:
            import pytest  # in the dev venv, not in the package: must not be importable
            pytest_importable = True
        except ImportError:
            pytest_importable = False
        return {
            "echo": event,
            "invocations": INVOCATIONS,
            "account": boto3.client("sts").get_caller_identity()["Account"],
            "isolated": bool(sys.flags.isolated and sys.flags.no_site),
            "pytest_importable": pytest_importable,
            "python": list(sys.version_info[:2]),
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
            "request_id": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "log_group": context.log_group_name,
            "env": {k: os.environ.get(k) for k in
                    ("AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL", "GREETING")},
        }
    """
)


def test_sync_invoke_runs_the_zip_on_an_isolated_python_313_and_keeps_warm_state(aws: Clients, make_function):
    # Given a function whose package has only its module, with an environment variable and 256 MB
    name = make_function({"app.py": PROBE}, MemorySize=256, Timeout=7, Environment={"Variables": {"GREETING": "hi"}})

    # When it is invoked twice
    error, first = invoke(aws, name, {"n": 1})
    _, second = invoke(aws, name, {"n": 2})

    # Then the handler's result comes back, from the same warm process the second time
    assert error is None
    assert (first["echo"], second["echo"]) == ({"n": 1}, {"n": 2})
    assert (first["invocations"], second["invocations"]) == (1, 2)
    # on Python 3.13 without the dev venv, with the runtime's boto3, as the function's account
    assert first["python"] == [3, 13]
    assert first["isolated"] is True
    assert first["pytest_importable"] is False
    assert first["account"] == CONSUMER_ACCOUNT
    # with the Lambda context and environment
    assert 0 < first["remaining_ms"] <= 7000
    assert first["function_name"] == name
    assert first["arn"].endswith(f":function:{name}")
    assert first["memory"] == "256"
    assert first["log_group"] == f"/aws/lambda/{name}"
    assert first["env"] == {
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{PORT}",
        "GREETING": "hi",
    }


def test_handler_exceptions_and_missing_dependencies_fail_as_on_aws(aws: Clients, make_function):
    # Given a function that raises, and one whose module imports a library the package does not hold
    raising = make_function({"app.py": "def handler(event, context):\n    raise ValueError('boom')\n"})
    unpackaged = make_function({"app.py": "import pydantic\n\ndef handler(event, context):\n    return 1\n"})

    # When they are invoked
    raised_error, raised = invoke(aws, raising)
    import_error, imported = invoke(aws, unpackaged)

    # Then both are function errors with the AWS error shapes
    assert raised_error == "Unhandled"
    assert raised["errorType"] == "ValueError"
    assert raised["errorMessage"] == "boom"
    assert import_error == "Unhandled"
    assert imported["errorType"] == "Runtime.ImportModuleError"
    assert imported["errorMessage"] == "Unable to import module 'app': No module named 'pydantic'"


def test_a_timed_out_invocation_is_killed_and_the_next_one_starts_cold(aws: Clients, make_function):
    # Given a function with a 1 s timeout that sleeps when asked to
    source = textwrap.dedent(
        """
        import time
        CALLS = 0
        def handler(event, context):
            global CALLS
            CALLS += 1
            time.sleep(event.get("sleep", 0))
            return CALLS
        """
    )
    name = make_function({"app.py": source}, Timeout=1)

    # When one invocation outlives the timeout
    error, timed_out = invoke(aws, name, {"sleep": 5})

    # Then it fails at its timeout (it did not answer), and the next invocation runs in a fresh process
    assert error == "Unhandled"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert timed_out["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert invoke(aws, name) == (None, 1)


def test_a_runtime_that_exits_fails_the_invocation_and_is_restarted(aws: Clients, make_function):
    # Given a function whose process exits when asked to
    source = textwrap.dedent(
        """
        import os
        CALLS = 0
        def handler(event, context):
            global CALLS
            CALLS += 1
            if event.get("exit"):
                os._exit(3)
            return CALLS
        """
    )
    name = make_function({"app.py": source})
    assert invoke(aws, name) == (None, 1)

    # When one invocation kills the process
    error, exited = invoke(aws, name, {"exit": True})

    # Then it fails with Runtime.ExitError and the next invocation runs in a new process
    assert error == "Unhandled"
    assert exited["errorType"] == "Runtime.ExitError"
    assert invoke(aws, name) == (None, 1)


def test_function_output_reaches_cloudwatch_logs(aws: Clients, make_function):
    # Given a function that prints a marker and logs an error through the root logger
    marker = uuid.uuid4().hex
    source = (
        "import logging\n"
        "def handler(event, context):\n"
        f"    print('printed {marker}')\n"
        f"    logging.getLogger().error('logged {marker}')\n"
    )
    name = make_function({"app.py": source})

    # When it is invoked
    invoke(aws, name)

    # Then its log group holds the lines, between START and REPORT
    logs = aws("logs")

    def messages() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        found = [e["message"] for e in events]
        return found if any(m.startswith("REPORT") for m in found) else []

    found = wait_for(messages, timeout=20, message="log events")
    assert f"printed {marker}\n" in found
    assert any(m.startswith("[ERROR]") and m.rstrip().endswith(f"logged {marker}") for m in found)
    assert found[0].startswith("INIT_START")
    assert any(m.startswith("START RequestId:") for m in found)


def test_emf_log_lines_become_cloudwatch_metrics(aws: Clients, make_function):
    # Given a function that prints an EMF document with two metrics (one with two values)
    namespace = f"Smoke{uuid.uuid4().hex[:8]}"
    source = textwrap.dedent(
        f"""
        import json, time
        def handler(event, context):
            print(json.dumps({{
                "_aws": {{"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{{
                    "Namespace": "{namespace}", "Dimensions": [["service"]],
                    "Metrics": [{{"Name": "ObjectsTransferred", "Unit": "Count"}},
                                {{"Name": "CopyLatency", "Unit": "Milliseconds"}}]}}]}},
                "service": "copier", "ObjectsTransferred": event["n"], "CopyLatency": [10, 30],
            }}))
        """
    )
    name = make_function({"app.py": source})

    # When it is invoked twice
    invoke(aws, name, {"n": 2})
    invoke(aws, name, {"n": 3})

    # Then CloudWatch has the numbers, in the function's account
    cloudwatch = aws("cloudwatch")
    now = datetime.now(UTC)

    def query(metric: str, stat: str) -> dict[str, Any]:
        return {
            "Id": metric.lower(),
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "service", "Value": "copier"}],
                },
                "Period": 3600,
                "Stat": stat,
            },
        }

    def sums() -> dict[str, float] | None:
        results = cloudwatch.get_metric_data(
            MetricDataQueries=[query("ObjectsTransferred", "Sum"), query("CopyLatency", "Maximum")],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=10),
        )["MetricDataResults"]
        values = {r["Id"]: sum(r["Values"]) for r in results}
        return values if values.get("objectstransferred") == 5 else None

    assert wait_for(sums, timeout=20, message="EMF metrics") == {
        "objectstransferred": 5.0,
        "copylatency": 30.0,
    }


BATCH_HANDLER = textwrap.dedent(
    """
    import json

    def handler(event, context):
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if json.loads(record["body"]).get("fail")
        ]
        return {"batchItemFailures": failures}
    """
)


def queue_depth(sqs: Any, url: str) -> int:
    """Visible + in flight + delayed, read the way the finalizer reads it."""
    depth = queue.depth(sqs, url)
    return depth.visible + depth.in_flight + depth.delayed


def visible_messages(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def make_queue_pair(sqs: Any, visibility_timeout: int, max_receive_count: int) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"smoke-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(
        QueueName=f"smoke-src-{suffix}",
        Attributes={"VisibilityTimeout": str(visibility_timeout), "RedrivePolicy": redrive},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dlq_url": dlq_url, "dlq_arn": dlq_arn}


def send_all(sqs: Any, url: str, bodies: list[dict[str, Any]]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies[start : start + 10])]
        assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")


def enabled_mapping(lam: Any, function_name: str, queue_arn: str, **config: Any) -> str:
    """An SQS event source mapping (batches of 10 unless ``config`` says otherwise, partial batch responses),
    once LocalStack enables it."""
    mapping = lam.create_event_source_mapping(
        FunctionName=function_name,
        EventSourceArn=queue_arn,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        **{"BatchSize": 10, **config},
    )["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled", timeout=30, message="ESM")
    return mapping


def test_esm_partial_batch_failures_reach_the_dlq_and_move_back(aws: Clients, make_function):
    # Given a queue (visibility 2 s, maxReceiveCount 2) with a DLQ, consumed by a function through an event
    # source mapping that reports batch item failures for the messages marked "fail"
    sqs, lam = aws("sqs"), aws("lambda")
    queues = make_queue_pair(sqs, visibility_timeout=2, max_receive_count=2)
    name = make_function({"app.py": BATCH_HANDLER})
    mapping = enabled_mapping(lam, name, queues["arn"])

    # When 10 messages arrive, 3 of them failing
    bodies = [{"key": f"k{i}", "fail": i in (2, 5, 7)} for i in range(10)]
    send_all(sqs, queues["url"], bodies)

    # Then the 3 failing ones end up in the DLQ and the others are deleted from the source queue
    wait_for(lambda: queue_depth(sqs, queues["dlq_url"]) == 3, timeout=60, message="3 messages in the DLQ")
    wait_for(lambda: queue_depth(sqs, queues["url"]) == 0, timeout=30, message="an empty source queue")
    dead = sqs.receive_message(QueueUrl=queues["dlq_url"], MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert sorted(json.loads(m["Body"])["key"] for m in dead) == ["k2", "k5", "k7"]

    # When the mapping is gone and the DLQ is redriven to its source queue
    lam.delete_event_source_mapping(UUID=mapping)
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"], timeout=30)
    wait_for(lambda: visible_messages(sqs, queues["dlq_url"]) == 3, timeout=10, message="visible DLQ messages")
    task = sqs.start_message_move_task(SourceArn=queues["dlq_arn"], DestinationArn=queues["arn"])["TaskHandle"]
    assert task

    # Then the 3 messages are back in the source queue and the DLQ is empty
    def moved() -> bool:
        tasks = sqs.list_message_move_tasks(SourceArn=queues["dlq_arn"])["Results"]
        return bool(tasks) and tasks[0]["Status"] == "COMPLETED"

    wait_for(moved, timeout=30, message="the message move task")
    assert queue_depth(sqs, queues["dlq_url"]) == 0
    back = sqs.receive_message(QueueUrl=queues["url"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["key"] for m in back) == ["k2", "k5", "k7"]


def test_esm_throughput(aws: Clients, make_function, record_property):
    # Given a mapping with batches of 10 on a function that succeeds
    sqs, lam = aws("sqs"), aws("lambda")
    queues = make_queue_pair(sqs, visibility_timeout=30, max_receive_count=5)
    name = make_function({"app.py": BATCH_HANDLER})
    mapping = enabled_mapping(lam, name, queues["arn"])

    # When 300 messages arrive
    count = 300
    started = time.monotonic()
    send_all(sqs, queues["url"], [{"key": f"k{i}"} for i in range(count)])

    # Then they are all consumed, none dead-lettered; the rate is recorded, not asserted (a loaded machine is
    # slower: speed is measured by `make bench`)
    try:
        wait_for(lambda: queue_depth(sqs, queues["url"]) == 0, timeout=120, interval=0.2, message="a drained queue")
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
    rate = count / (time.monotonic() - started)
    record_property("esm_messages_per_second", round(rate, 1))
    print(f"ESM throughput: {rate:.1f} messages/s")
    assert queue_depth(sqs, queues["dlq_url"]) == 0


SLOW_BATCH_HANDLER = textwrap.dedent(
    """
    import json, os, time

    def handler(event, context):
        started = time.time()
        time.sleep(1.5)
        print(json.dumps({"batch": {"start": started, "end": time.time(), "pid": os.getpid(),
                                    "messages": len(event["Records"])}}))
        return {"batchItemFailures": []}
    """
)


def recorded_batches(aws: Clients, function_name: str, messages: int) -> list[dict[str, Any]]:
    """The batches the function logged, once they account for ``messages`` messages."""
    logs = aws("logs")

    def batches() -> list[dict[str, Any]]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        found = [json.loads(e["message"])["batch"] for e in events if e["message"].startswith('{"batch"')]
        return found if sum(b["messages"] for b in found) >= messages else []

    return wait_for(batches, timeout=60, message=f"batches covering {messages} messages")


def most_at_once(batches: list[dict[str, Any]]) -> int:
    """The largest number of batches running at the same moment."""
    edges = sorted([(b["start"], 1) for b in batches] + [(b["end"], -1) for b in batches])
    running = peak = 0
    for _, step in edges:  # at equal times an end (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    return peak


def consume_slowly(aws: Clients, make_function, messages: int, **mapping_config: Any) -> list[dict[str, Any]]:
    """Sends ``messages`` messages to a fresh queue whose mapping (batches of 1) feeds a function that takes
    1.5 s per batch; the batches it logged, once all were consumed and the mapping is gone."""
    sqs, lam = aws("sqs"), aws("lambda")
    queues = make_queue_pair(sqs, visibility_timeout=60, max_receive_count=5)
    name = make_function({"app.py": SLOW_BATCH_HANDLER})
    send_all(sqs, queues["url"], [{"key": f"k{i}"} for i in range(messages)])
    mapping = enabled_mapping(lam, name, queues["arn"], BatchSize=1, **mapping_config)
    try:
        wait_for(lambda: queue_depth(sqs, queues["url"]) == 0, timeout=90, message="a drained queue")
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
        wait_for(lambda: not lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"], timeout=30)
    return recorded_batches(aws, name, messages)


def test_an_sqs_mapping_runs_batches_concurrently_in_separate_environments(aws: Clients, make_function):
    # Given a mapping without a ScalingConfig (LocalStack started with the default 5 poll loops per mapping)
    # When 10 messages are consumed one per batch by a function that takes 1.5 s per batch
    batches = consume_slowly(aws, make_function, messages=10)

    # Then several batches ran at the same moment, each in an execution environment (process) of its own
    assert sum(b["messages"] for b in batches) == 10
    assert most_at_once(batches) >= 3
    assert len({b["pid"] for b in batches}) >= 3


def test_maximum_concurrency_caps_the_batches_running_at_once(aws: Clients, make_function):
    # Given a mapping with ScalingConfig.MaximumConcurrency 2
    # When 8 messages are consumed one per batch by a function that takes 1.5 s per batch
    batches = consume_slowly(aws, make_function, messages=8, ScalingConfig={"MaximumConcurrency": 2})

    # Then two batches ran at once, never more
    assert sum(b["messages"] for b in batches) == 8
    assert most_at_once(batches) == 2


def test_disabling_a_mapping_stops_all_its_poll_loops(aws: Clients, make_function):
    # Given a mapping whose concurrent poll loops are running (they consumed a first lot of messages)
    sqs, lam = aws("sqs"), aws("lambda")
    queues = make_queue_pair(sqs, visibility_timeout=60, max_receive_count=5)
    name = make_function({"app.py": BATCH_HANDLER})
    mapping = enabled_mapping(lam, name, queues["arn"], BatchSize=1)
    send_all(sqs, queues["url"], [{"key": f"first{i}"} for i in range(10)])
    wait_for(lambda: queue_depth(sqs, queues["url"]) == 0, timeout=30, message="a drained queue")

    # When it is disabled (the update replaces its worker: "Disabled" at once, the old worker's loops end their
    # current receive on their own, which the plugin counts), and messages arrive once none runs
    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == "Disabled", timeout=30)
    wait_for(lambda: Faults(ENDPOINT).esm_loops().get(mapping, 0) == 0, timeout=60, message="its loops to stop")
    send_all(sqs, queues["url"], [{"key": f"k{i}"} for i in range(5)])

    # Then no loop receives them: after longer than a loop's longest wait between polls, all are still visible
    time.sleep(3)
    lam.delete_event_source_mapping(UUID=mapping)
    assert visible_messages(sqs, queues["url"]) == 5


STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "key", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "key", "KeyType": "HASH"}],
                "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.13",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
                "Code": {
                    "ZipFile": textwrap.dedent(
                        """
                        import os
                        import boto3

                        def handler(event, context):
                            table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
                            table.put_item(Item={"key": event["key"], "status": "seen"})
                            return table.get_item(Key={"key": event["key"]})["Item"]
                        """
                    )
                },
            },
        },
    },
    "Outputs": {
        "TableName": {"Value": {"Ref": "Table"}},
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "FunctionName": {"Value": {"Ref": "Function"}},
    },
}


def test_a_stack_with_a_table_a_queue_and_a_function_deploys_quickly(aws: Clients):
    # Given a template with a DynamoDB table, an SQS queue and a function writing to the table
    cloudformation = aws("cloudformation")
    stack = f"smoke-{uuid.uuid4().hex[:8]}"

    # When it is deployed
    started = time.monotonic()
    cloudformation.create_stack(
        StackName=stack, TemplateBody=json.dumps(STACK_TEMPLATE), Capabilities=["CAPABILITY_IAM"]
    )
    try:
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        elapsed = time.monotonic() - started

        # Then it is complete within a minute, and the function uses the table through the runtime's boto3
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        }
        print(f"stack created in {elapsed:.1f} s")  # within the waiter's minute, or it raised
        assert aws("dynamodb").describe_table(TableName=outputs["TableName"])["Table"]["TableStatus"] == "ACTIVE"
        assert aws("sqs").get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]
        assert invoke(aws, outputs["FunctionName"], {"key": "a/b.txt"}) == (
            None,
            {"key": "a/b.txt", "status": "seen"},
        )
    finally:
        cloudformation.delete_stack(StackName=stack)
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )


def test_a_listing_resumes_after_any_string_in_s3s_key_order(aws: Clients):
    """StartAfter is compared with the keys themselves (UTF-8 binary order), whatever botocore's
    EncodingType=url does to the answer: the planner's shards start after midpoints such as `p/:` and
    resume after keys with spaces, `+`, `%` and non-ASCII characters."""
    import uuid

    bucket = f"order-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    keys = sorted(f"p/{i:03d}{' +%ü'[i % 4]}.bin" for i in range(12))
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for after in [*keys, "p/:", "p/0:", "p/\x7f", "p/ü", "p/\U0001f600", "p/", "p/005"]:
        listed = [
            o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="p/", StartAfter=after).get("Contents", [])
        ]
        assert listed == [key for key in keys if key > after], after


def test_listings_over_the_key_index_answer_as_a_full_scan_would(aws: Clients):
    """The sorted key index (s3h_localstack.listing_index) under writes, overwrites, deletes and delete
    markers: pages, continuation tokens, StartAfter, prefixes and delimiters list exactly the live keys."""
    import uuid

    bucket = f"index-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    live = {f"{top}/{sub}/{i:02d}" for top in ("a", "b", "c") for sub in ("x", "y") for i in range(7)}
    s3.list_objects_v2(Bucket=bucket)  # the index exists from here on: later writes keep it up to date
    for key in sorted(live):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for key in ("a/x/03", "b/y/00", "c/y/06"):
        s3.delete_object(Bucket=bucket, Key=key)  # a delete marker on top
        live.discard(key)
    s3.put_object(Bucket=bucket, Key="a/x/03", Body=b"again")  # back above its delete marker
    live.add("a/x/03")
    s3.put_object(Bucket=bucket, Key="b/x/00", Body=b"overwritten")

    def pages(**request: object) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = s3.list_objects_v2(Bucket=bucket, MaxKeys=4, **request, **token)
            keys += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            if not page["IsTruncated"]:
                return keys
            token = {"ContinuationToken": page["NextContinuationToken"]}

    ordered = sorted(live)
    assert pages() == ordered
    assert pages(Prefix="b/") == [key for key in ordered if key.startswith("b/")]
    assert pages(StartAfter="b/x/04") == [key for key in ordered if key > "b/x/04"]
    assert pages(Prefix="c/", StartAfter="a/") == [key for key in ordered if key.startswith("c/")]
    assert pages(Prefix="a/", Delimiter="/") == ["a/x/", "a/y/"]
    assert pages(Delimiter="/") == ["a/", "b/", "c/"]
    one = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, StartAfter="a/x/02")
    assert [o["Key"] for o in one["Contents"]] == ["a/x/03"]
    assert one["IsTruncated"]


def test_a_listing_page_written_by_the_plugin_reads_as_localstacks_own(aws: Clients):
    """ListObjectsV2 pages are written by the plugin (`listing_index.page_xml`) rather than LocalStack's
    generic serializer (which a request with `x-s3h-serializer: localstack` still gets): both answer the
    same for keys that need escaping or encoding, with and without botocore's EncodingType=url, with a
    delimiter, StartAfter, a short page, and an owner per object."""
    import urllib.request
    from xml.etree import ElementTree

    import boto3

    def by_localstack(request: Any, **_: Any) -> None:
        request.headers[SERIALIZER] = "localstack"

    bucket = f"pages-{uuid.uuid4().hex[:8]}"
    s3 = aws("s3")
    serialized = boto3.client(
        "s3", endpoint_url=ENDPOINT, region_name=s3.meta.region_name, aws_access_key_id=CONSUMER_ACCOUNT,
        aws_secret_access_key="test",
    )  # fmt: skip
    serialized.meta.events.register("before-sign.s3.ListObjectsV2", by_localstack)
    s3.create_bucket(Bucket=bucket)
    keys = ["p/a&b", "p/<x>", 'p/q"uote', "p/sp ace", "p/plus+", "p/ü", "p/%41", "p/d/1", "p/d/2", "p/\U0001f600"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    shapes: list[dict[str, Any]] = [{}, {"Delimiter": "/"}, {"StartAfter": "p/b"}, {"MaxKeys": 2}, {"FetchOwner": True}]
    for request in [{"Prefix": "p/", **shape} for shape in shapes] + [{"Prefix": "p/d/"}]:
        written = s3.list_objects_v2(Bucket=bucket, **request)
        expected = serialized.list_objects_v2(Bucket=bucket, **request)
        written.pop("ResponseMetadata")
        expected.pop("ResponseMetadata")
        assert written == expected, request
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"]] == sorted(keys)

    def raw(**headers: str) -> bytes:  # no EncodingType: the keys as they are, XML-escaped
        url = f"{ENDPOINT}/{bucket}?list-type=2&prefix=p%2F"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:  # noqa: S310
            return answer.read()

    def canonical(element: Any) -> tuple[Any, ...]:  # members in any order (as S3's are), lists in theirs
        children = sorted((canonical(child) for child in element), key=lambda member: member[0])
        return (element.tag, (element.text or "").strip(), children)

    def members(document: bytes) -> tuple[Any, ...]:
        return canonical(ElementTree.fromstring(document))  # noqa: S314 - our LocalStack's answer

    plain, serializers = raw(), raw(**{SERIALIZER: "localstack"})
    assert b"<Key>p/a&amp;b</Key>" in plain
    assert plain != serializers  # two writers wrote them (the plugin's is in use)
    assert members(plain) == members(serializers)

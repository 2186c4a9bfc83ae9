"""Fault injection from the test side (tools/localstack/s3h_localstack/faults.py through tests/faults.py): each
kind of rule does what it says to the requests it matches, and nothing to the others."""

from __future__ import annotations

import http.client
import json
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, FlexibleChecksumError

from tests.faults import Faults

from .conftest import CONSUMER_ACCOUNT, REGION, Clients, wait_for

pytestmark = pytest.mark.e2e

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def faults(localstack: str) -> Iterator[Faults]:
    with Faults(localstack) as client:
        yield client


@pytest.fixture
def client(localstack: str) -> Any:
    """``client("s3")``: a consumer-account client that does not retry (each call is one request)."""

    def make(service: str, config: Config = NO_RETRIES) -> Any:
        return boto3.client(
            service,
            endpoint_url=localstack,
            region_name=REGION,
            aws_access_key_id=CONSUMER_ACCOUNT,
            aws_secret_access_key="test",
            config=config,
        )

    return make


@pytest.fixture
def bucket(aws: Clients) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    return name


def error_of(call: Any, **kwargs: Any) -> tuple[int, str] | None:
    """(HTTP status, error code) of a failed call, None if it succeeded."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return None


def test_an_s3_error_hits_the_chosen_key_only_and_only_as_often_as_asked(faults, client, bucket, aws):
    # Given two source objects and a rule failing CopyObject of the first one twice with 503 SlowDown
    s3 = client("s3")
    for key in ("src/k1", "src/k2"):
        aws("s3").put_object(Bucket=bucket, Key=key, Body=key.encode())
    rule = faults.add(
        service="s3", operation="CopyObject", match="^src/k1$", action="error", status=503, code="SlowDown", times=2
    )

    def copy(key: str) -> tuple[int, str] | None:
        return error_of(s3.copy_object, Bucket=bucket, Key=f"dst/{key}", CopySource={"Bucket": bucket, "Key": key})

    # When both are copied three times (the rule matches k1 through the copy source key)
    first, second = [copy("src/k1") for _ in range(3)], [copy("src/k2") for _ in range(3)]

    # Then k1's first two copies fail with the code botocore parsed, its third lands; k2 is never affected
    assert first == [(503, "SlowDown"), (503, "SlowDown"), None]
    assert second == [None, None, None]
    assert aws("s3").get_object(Bucket=bucket, Key="dst/src/k1")["Body"].read() == b"src/k1"
    assert faults.rule(rule)["matched"] == 3
    assert faults.hits(rule) == 2


def test_the_sdk_retries_an_injected_slowdown_and_gets_through(faults, client, bucket, aws):
    # Given a rule failing CopyObject of one key twice with 503 SlowDown
    aws("s3").put_object(Bucket=bucket, Key="src/k", Body=b"k")
    rule = faults.add(
        service="s3", operation="CopyObject", match="^src/k$", action="error", status=503, code="SlowDown", times=2
    )

    # When a client with botocore's standard retries (3 attempts) copies it
    s3 = client("s3", Config(retries={"mode": "standard", "total_max_attempts": 3}))
    response = s3.copy_object(Bucket=bucket, Key="dst/k", CopySource={"Bucket": bucket, "Key": "src/k"})

    # Then the copy succeeded on the third attempt
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert faults.hits(rule) == 2


def test_skip_lets_the_first_matching_requests_through(faults, client, bucket, aws):
    # Given a rule failing GetObject of one key once, after letting one request through
    aws("s3").put_object(Bucket=bucket, Key="k", Body=b"k")
    rule = faults.add(service="s3", operation="GetObject", match="^k$", action="error", status=500, skip=1, times=1)

    # When the key is read three times
    results = [error_of(client("s3").get_object, Bucket=bucket, Key="k") for _ in range(3)]

    # Then only the second read failed
    assert results == [None, (500, "InternalError"), None]
    assert (faults.rule(rule)["matched"], faults.hits(rule)) == (3, 1)


def test_s3_keys_match_decoded_in_virtual_host_and_path_style(faults, client, bucket, aws, localstack):
    # Given an object whose key needs URL encoding, another one, and a rule on the first one's GetObject
    key = "dir/a b+c%.txt"
    aws("s3").put_object(Bucket=bucket, Key=key, Body=b"x")
    aws("s3").put_object(Bucket=bucket, Key="dir/other.txt", Body=b"y")
    faults.add(service="s3", operation="GetObject", match=r"a b\+c%", action="error", status=503, code="SlowDown")

    # When it is read virtual-host style (bucket in the Host header, key URL-encoded in the path)
    endpoint = urlsplit(localstack)
    connection = http.client.HTTPConnection(endpoint.hostname or "127.0.0.1", endpoint.port, timeout=10)
    # LocalStack reads the account from the access key id and checks no signature
    credential = f"{CONSUMER_ACCOUNT}/20260101/{REGION}/s3/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=0"
    connection.request(
        "GET", "/" + quote(key), headers={"Host": f"{bucket}.s3.localhost.localstack.cloud", "Authorization": auth}
    )
    response = connection.getresponse()
    body = response.read()

    # Then it fails with an S3 XML error; path style too; the other key reads fine
    assert response.status == 503
    assert b"<Code>SlowDown</Code>" in body
    assert error_of(client("s3").get_object, Bucket=bucket, Key=key) == (503, "SlowDown")
    assert client("s3").get_object(Bucket=bucket, Key="dir/other.txt")["Body"].read() == b"y"


def test_a_corrupted_get_object_body_fails_checksum_validation(faults, client, bucket, aws):
    # Given an object stored with a CRC32C checksum, and a rule corrupting one GetObject of it
    data = bytes(range(256)) * 4096  # 1 MiB, several chunks
    aws("s3").put_object(Bucket=bucket, Key="blob", Body=data, ChecksumAlgorithm="CRC32C")
    rule = faults.add(service="s3", operation="GetObject", match="^blob$", action="corrupt_body", times=1)
    s3 = client("s3")

    # When it is read with checksum validation
    corrupted = s3.get_object(Bucket=bucket, Key="blob", ChecksumMode="ENABLED")

    # Then the headers are intact but botocore rejects the body; the next read is intact
    assert corrupted["ContentLength"] == len(data)
    with pytest.raises(FlexibleChecksumError):
        corrupted["Body"].read()
    assert s3.get_object(Bucket=bucket, Key="blob", ChecksumMode="ENABLED")["Body"].read() == data
    assert faults.hits(rule) == 1


def make_queue(sqs: Any) -> str:
    return sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def received_bodies(sqs: Any, url: str, expected: int) -> list[str]:
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while len(bodies) < expected and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        bodies += [m["Body"] for m in messages]
    return sorted(bodies)


def test_send_message_batch_fails_the_matching_entries_only(faults, client):
    # Given a rule failing the entries whose body mentions "poison"
    sqs = client("sqs")
    url = make_queue(sqs)
    rule = faults.add(service="sqs", action="partial_batch_failure", match="poison")
    bodies = [json.dumps({"key": key}) for key in ("a", "poison/1", "b", "poison/2")]

    # When a batch of four is sent, then a batch of only matching entries
    mixed = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    only_failing = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "x", "MessageBody": "poison/3"}])

    # Then the matching entries are reported failed (not the sender's fault) and were not enqueued
    assert sorted(e["Id"] for e in mixed["Successful"]) == ["0", "2"]
    assert sorted((e["Id"], e["SenderFault"], e["Code"]) for e in mixed["Failed"]) == [
        ("1", False, "InternalError"),
        ("3", False, "InternalError"),
    ]
    assert only_failing.get("Successful", []) == []
    assert [e["Id"] for e in only_failing["Failed"]] == ["x"]
    assert received_bodies(sqs, url, expected=2) == sorted([bodies[0], bodies[2]])
    assert faults.hits(rule) == 3


def test_dropped_entries_are_answered_as_sent_and_never_arrive(faults, client):
    # Given a rule dropping the entries whose body mentions "lost" (a message lost on its way)
    sqs = client("sqs")
    url = make_queue(sqs)
    rule = faults.add(service="sqs", action="drop", match="lost", times=1)
    bodies = ["kept", "lost/1", "lost/2"]

    # When a batch of three is sent
    result = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )

    # Then every entry is answered as sent, but only the first "lost" one was dropped (times=1)
    assert sorted(e["Id"] for e in result["Successful"]) == ["0", "1", "2"]
    assert result.get("Failed", []) == []
    assert received_bodies(sqs, url, expected=2) == ["kept", "lost/2"]
    assert faults.hits(rule) == 1


def test_a_hidden_key_is_left_out_of_listings_and_nothing_else(faults, client, bucket, aws):
    # Given three objects and a rule hiding one key from ListObjectsV2
    for key in ("a", "b c", "d"):
        aws("s3").put_object(Bucket=bucket, Key=key, Body=b"x")
    rule = faults.add(service="s3", action="hide", match="^b c$")
    s3 = client("s3")

    # Then listings miss it, while the object is still there for a HEAD
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a", "d"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    assert s3.head_object(Bucket=bucket, Key="b c")["ContentLength"] == 1
    assert faults.hits(rule) == 2


def test_delete_message_batch_can_fail_entries_by_message_body(faults, client):
    # Given two received messages and a rule failing the deletion of the one whose body mentions "sticky"
    sqs = client("sqs")
    url = make_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "sticky"}, {"Id": "2", "MessageBody": "gone"}]
    )
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1)[
        "Messages"
    ]
    assert len(messages) == 2
    faults.add(service="sqs", operation="DeleteMessageBatch", action="partial_batch_failure", match="^sticky$")

    # When both are deleted in one batch
    entries = [{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages]
    result = sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    # Then the sticky one is reported failed and comes back once its visibility timeout has passed
    sticky_id = next(m["MessageId"] for m in messages if m["Body"] == "sticky")
    assert [e["Id"] for e in result["Failed"]] == [sticky_id]
    assert received_bodies(sqs, url, expected=1) == ["sticky"]


def test_a_dynamodb_error_is_parsed_by_botocore(faults, client, aws):
    # Given a table and a rule failing PutItem requests that mention "k-fail"
    table = f"faults-{uuid.uuid4().hex[:8]}"
    aws("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
    )
    faults.add(
        service="dynamodb",
        operation="PutItem",
        match="k-fail",
        action="error",
        status=400,
        code="ProvisionedThroughputExceededException",
    )
    ddb = client("dynamodb")

    # When two items are put
    failed = error_of(ddb.put_item, TableName=table, Item={"key": {"S": "k-fail"}})
    ddb.put_item(TableName=table, Item={"key": {"S": "k-ok"}})

    # Then the matching one failed with the DynamoDB error code, and only the other one is in the table
    assert failed == (400, "ProvisionedThroughputExceededException")
    keys = [item["key"]["S"] for item in aws("dynamodb").scan(TableName=table)["Items"]]
    assert keys == ["k-ok"]


def test_a_delay_holds_the_request_back(faults, client):
    # Given a rule delaying GetQueueUrl by 800 ms
    sqs = client("sqs")
    url = make_queue(sqs)
    faults.add(service="sqs", operation="GetQueueUrl", action="delay", delay_ms=800, times=1)

    # When the queue's URL is asked for
    started = time.monotonic()
    found = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"]

    # Then the answer is right, and late
    assert found == url
    assert time.monotonic() - started >= 0.8


def test_invalid_rules_are_refused_with_a_reason(faults):
    with pytest.raises(RuntimeError, match="corrupt_body applies to s3 GetObject only"):
        faults.add(service="sqs", action="corrupt_body")
    with pytest.raises(RuntimeError, match="unknown fields: colour"):
        faults.lambda_fault(function="f", action="kill", colour="red")


COUNTING_SLEEPER = textwrap.dedent(
    """
    import time
    CALLS = 0
    def handler(event, context):
        global CALLS
        CALLS += 1
        time.sleep(event.get("sleep", 0))
        return {"key": event["key"], "calls": CALLS}
    """
)


def invoke(aws: Clients, name: str, event: dict[str, Any]) -> tuple[str | None, Any, float]:
    started = time.monotonic()
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read()), time.monotonic() - started


def test_a_lambda_kill_crashes_the_matching_invocation_once(faults, aws, make_function):
    # Given a warm function and a rule killing the invocation whose payload mentions "victim" after 300 ms
    name = make_function({"app.py": COUNTING_SLEEPER})
    assert invoke(aws, name, {"key": "warm-up"})[:2] == (None, {"key": "warm-up", "calls": 1})
    rule = faults.lambda_fault(function=name, match="victim", action="kill", after_ms=300, times=1)

    # When the victim (which would take 3 s), another invocation, and the victim again are invoked
    error, crashed, _ = invoke(aws, name, {"key": "victim", "sleep": 3})
    other = invoke(aws, name, {"key": "other"})[:2]
    again = invoke(aws, name, {"key": "victim"})[:2]

    # Then the victim crashed (before its 3 s were up: it did not answer) as a process exit does on AWS; the
    # environment then started cold (its call counter restarted), and the rule did not fire again
    assert error == "Unhandled"
    assert crashed["errorType"] == "Runtime.ExitError"
    assert crashed["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert other == (None, {"key": "other", "calls": 1})
    assert again == (None, {"key": "victim", "calls": 2})
    assert faults.hits(rule) == 1


def test_a_lambda_timeout_ends_the_matching_invocation_as_its_timeout_would(faults, aws, make_function):
    # Given a warm function with a 10 s timeout
    name = make_function({"app.py": COUNTING_SLEEPER}, Timeout=10)
    assert invoke(aws, name, {"key": "warm-up"})[0] is None

    # When an invocation is running as a rule for it is added, and one starts after the rule
    running: list[Any] = []
    thread = threading.Thread(target=lambda: running.append(invoke(aws, name, {"key": "slow-1", "sleep": 1.5})))
    thread.start()
    wait_for(lambda: _running(faults, name), timeout=60, message="slow-1 to be running")
    rule = faults.lambda_fault(function=f"{name[:8]}.*", match="slow", action="timeout", after_ms=500)
    error, timed_out, _ = invoke(aws, name, {"key": "slow-2", "sleep": 5})
    thread.join()

    # Then only the later one timed out (before its 5 s were up: it did not answer), with the function's own
    # timeout message
    assert running[0][:2] == (None, {"key": "slow-1", "calls": 2})
    assert error == "Unhandled"
    assert timed_out["errorType"] == "Sandbox.Timedout"
    assert timed_out["errorMessage"].endswith("Task timed out after 10.00 seconds")
    assert faults.hits(rule) == 1


def test_a_lambda_fault_due_after_the_invocation_ended_stays_armed(faults, aws, make_function):
    # Given a rule killing matching invocations after 2 s, once
    name = make_function({"app.py": COUNTING_SLEEPER})
    rule = faults.lambda_fault(function=name, action="kill", after_ms=2000, times=1)

    # When a quick invocation runs, then a slow one
    quick = invoke(aws, name, {"key": "quick"})[:2]
    hits_after_quick = faults.hits(rule)
    slow_error, slow, _ = invoke(aws, name, {"key": "slow", "sleep": 4})

    # Then the quick one was untouched and the rule fired on the slow one
    assert quick == (None, {"key": "quick", "calls": 1})
    assert hits_after_quick == 0
    assert (slow_error, slow["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert faults.hits(rule) == 1


def test_a_running_invocation_is_killed_when_the_test_says_so(faults, aws, make_function):
    # Given a warm function, and an invocation of it running (it would sleep 20 s)
    name = make_function({"app.py": COUNTING_SLEEPER}, Timeout=30)
    assert invoke(aws, name, {"key": "warm-up"})[0] is None
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(invoke(aws, name, {"key": "victim", "sleep": 20})))
    thread.start()
    wait_for(lambda: _running(faults, name), timeout=60, message="the victim to be running")

    # When the running invocations whose payload names someone else, then the victim, are killed
    spared = faults.kill_running(function=name, match="bystander")
    killed = faults.kill_running(function=name, match="victim")
    thread.join()

    # Then only the victim's was, as a process exit is (it did not answer), and the next invocation starts cold
    assert (spared, killed) == (0, 1)
    error, crashed, _ = results[0]
    assert (error, crashed["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert invoke(aws, name, {"key": "after"})[:2] == (None, {"key": "after", "calls": 1})
    assert _running(faults, name) == []
    assert faults.kill_running(function=name) == 0


def _running(faults: Faults, function: str) -> list[dict[str, Any]]:
    return [invocation for invocation in faults.running() if invocation["function"] == function]

"""Bad input and broken environments: one line on stderr, exit 2 for usage errors, 1 for failures; the
global options before and after the command, and their environment fallbacks."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from hydration_cli.aws.functions import LambdaInvoker
from hydration_cli.context import AppConfig
from hydration_cli.errors import FunctionInvocationError
from hydration_cli.main import cli
from hydration_cli.times import parse_duration, parse_time
from tests.cli.conftest import STACK, Deployed, json_out, now, text_records
from tests.integration.harness import REGION


def one_line(stderr: str) -> None:
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr


def test_stack_not_found(deployed: Deployed, run_cli) -> None:
    result = run_cli("status", "--stack", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: stack 'nope' not found")
    one_line(result.stderr)


def test_stack_without_the_outputs(deployed: Deployed, run_cli) -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="other",
        TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"X": {"Value": "1"}}}),
    )
    result = run_cli("last-sync", "--stack", "other")
    assert result.exit_code == 1
    assert "has no output 'ConsumerBucketName'" in result.stderr
    one_line(result.stderr)


def test_stack_from_the_environment(deployed: Deployed, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("S3H_STACK", "nope")
    result = run_cli("status")
    assert result.exit_code == 1
    assert "'nope'" in result.stderr


def test_missing_credentials(deployed: Deployed, run_cli, monkeypatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask the instance metadata service
    result = run_cli("status")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no AWS credentials found")
    one_line(result.stderr)


def test_unknown_profile_is_a_usage_error(deployed: Deployed, run_cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = run_cli("status", "--profile", "nope")
    assert result.exit_code == 2
    assert "AWS profile 'nope' not found" in result.stderr
    one_line(result.stderr)


def test_aws_errors_are_one_line(deployed: Deployed, run_cli) -> None:
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=deployed.world.runs_table)
    result = run_cli("runs", "list")
    assert result.exit_code == 1
    assert "ResourceNotFoundException" in result.stderr
    one_line(result.stderr)


def test_unexpected_errors_are_one_line_and_debug_shows_them(deployed: Deployed, monkeypatch) -> None:
    from hydration_cli.ops import status

    def broken(*_args: Any) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(status, "alarm_states", broken)
    result = CliRunner().invoke(cli, ["status"], obj=AppConfig())
    assert result.exit_code == 1
    assert "unexpected ZeroDivisionError: oops" in result.stderr
    one_line(result.stderr)
    debug = CliRunner().invoke(cli, ["--debug", "status"], obj=AppConfig())
    assert isinstance(debug.exception, ZeroDivisionError)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logs", "--since", "soon"], "is not a time"),
        (["metrics", "--since", "2024-13-45"], "is not a time"),
        (["trigger", "--timeout", "forever"], "is not a duration"),
        (["dlq", "peek", "--max-items", "0"], "0 is not in the range"),
        (["runs", "show"], "Missing argument 'RUN_ID'"),
    ],
)
def test_usage_errors_exit_2(deployed: Deployed, run_cli, args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_no_arguments_prints_help(deployed: Deployed, run_cli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in (
        "status",
        "trigger",
        "last-sync",
        "reset-sync",
        "runs",
        "dlq",
        "logs",
        "metrics",
        "health",
        "backup",
        "restore",
        "failures",
    ):
        assert command in result.stdout
    # the exit codes, one per line, in the help
    assert "  3    with --exit-code only: found/pending (a dry run with changes, DLQ\n" in result.stdout
    assert "  130  interrupted (Ctrl-C)\n" in result.stdout


# --------------------------------------------------------------------------- global options


@pytest.mark.parametrize(
    "args",
    [
        ["--output", "json", "last-sync"],
        ["last-sync", "--output", "json"],
        ["--output", "text", "last-sync", "--output", "json"],  # after the command wins
    ],
    ids=["before", "after", "both"],
)
def test_output_before_or_after_the_command(deployed: Deployed, run_cli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert json_out(result)["exists"] is False


def test_stack_before_the_command_and_after_it_wins(deployed: Deployed, run_cli) -> None:
    before = run_cli("--stack", "nope", "last-sync")
    assert before.exit_code == 1
    assert before.stderr.startswith("Error: stack 'nope' not found")
    after = run_cli("--stack", "nope", "last-sync", "--stack", STACK)
    assert after.exit_code == 0, after.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_region_before_or_after_the_command(deployed: Deployed, run_cli, where: str) -> None:
    args = ["--region", "eu-west-1", "last-sync"] if where == "before" else ["last-sync", "--region", "eu-west-1"]
    result = run_cli(*args)  # the stack lives in us-east-1
    assert result.exit_code == 1
    assert "stack 's3-hydration-consumer' not found" in result.stderr


def test_region_from_the_environment(deployed: Deployed, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert run_cli("last-sync").exit_code == 1
    assert run_cli("--region", "us-east-1", "last-sync").exit_code == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"S3H_OUTPUT": "text"}, "text"),
        ({"AWS_DEFAULT_OUTPUT": "json"}, "json"),
        ({"AWS_DEFAULT_OUTPUT": "yaml"}, "table"),  # aws-cli's other formats are not ours: the default
        ({"S3H_OUTPUT": "table", "AWS_DEFAULT_OUTPUT": "json"}, "table"),
    ],
)
def test_output_from_the_environment(
    deployed: Deployed, run_cli, monkeypatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stdout = run_cli("reset-sync", "--yes").stdout
    shown = {
        "text": "RESETSYNC\tFalse\tconsumer-data\t_s3_hydration_last_sync\tNone\n",
        "table": "no sync marker in s3://consumer-data: nothing to reset\n",
    }
    if expected == "json":
        assert json.loads(stdout)["deleted"] is False
    else:
        assert stdout == shown[expected]
    # an option wins over the environment
    assert text_records(run_cli("reset-sync", "--yes", "--output", "text"))[0][0] == "RESETSYNC"


def test_a_bad_output_is_a_usage_error(deployed: Deployed, run_cli, monkeypatch) -> None:
    assert run_cli("status", "--output", "yaml").exit_code == 2
    monkeypatch.setenv("S3H_OUTPUT", "xml")
    result = run_cli("status")
    assert result.exit_code == 2
    assert "'xml' is not one of 'table', 'text', 'json'" in result.stderr


def test_profile_before_the_command(deployed: Deployed, run_cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = run_cli("--profile", "nope", "status")
    assert result.exit_code == 2
    assert "AWS profile 'nope' not found" in result.stderr


def test_debug_after_the_command(deployed: Deployed, monkeypatch) -> None:
    from hydration_cli.ops import status

    def broken(*_args: Any) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(status, "alarm_states", broken)
    debug = CliRunner().invoke(cli, ["status", "--debug"], obj=AppConfig())
    assert isinstance(debug.exception, ZeroDivisionError)


def test_ctrl_c_exits_130(deployed: Deployed, monkeypatch) -> None:
    from hydration_cli.ops import status

    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(status, "alarm_states", interrupted)
    result = CliRunner().invoke(cli, ["status"], obj=AppConfig())
    assert result.exit_code == 130
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- the real Lambda invoker


class FakeLambda:
    def __init__(self, answer: dict[str, Any], function_error: str | None = None) -> None:
        self.answer = answer
        self.function_error = function_error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_lambda_invoker_sends_request_response_with_the_payload() -> None:
    fake = FakeLambda({"started": True, "run_id": "r"})
    assert LambdaInvoker(fake).invoke("s3-hydration-planner", {"full": True}) == {"started": True, "run_id": "r"}
    assert fake.calls == [
        {"FunctionName": "s3-hydration-planner", "InvocationType": "RequestResponse", "Payload": b'{"full": true}'}
    ]


def test_lambda_invoker_turns_a_function_error_into_one_line() -> None:
    fake = FakeLambda({"errorType": "InvalidRequestError", "errorMessage": "prefix: outside scope"}, "Unhandled")
    with pytest.raises(FunctionInvocationError) as raised:
        LambdaInvoker(fake).invoke("s3-hydration-planner", {"prefix": "x/"})
    assert str(raised.value) == "s3-hydration-planner failed: InvalidRequestError: prefix: outside scope"


# --------------------------------------------------------------------------- time parsing


def test_parse_time_accepts_durations_and_iso() -> None:
    moment = now()
    assert (moment - parse_time("90m", moment)).total_seconds() == 5400
    assert parse_time("2024-05-01", moment).isoformat() == "2024-05-01T00:00:00+00:00"
    assert parse_time("2024-05-01T06:00:00+02:00", moment).isoformat() == "2024-05-01T04:00:00+00:00"
    assert parse_duration("2d").total_seconds() == 172800
    with pytest.raises(ValueError, match="is not a time"):
        parse_time("yesterday", moment)

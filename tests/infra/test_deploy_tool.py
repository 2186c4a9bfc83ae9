"""tools/deploy_stacks.py against moto: both templates create through change sets, the consumer stack updates,
a parameter not given on update keeps its previous value, each change set is shown before it is executed,
nothing is executed without a confirmation, and no stack is deleted without one. The AWS path (`sam deploy
--config-env` from deploy/samconfig.*.toml): the configuration read, the code uploaded, the overrides
merged, RunStartWindowHours derived, termination protection on, the region from the profile.

moto's CloudFormation skips some resource types (alarms, bucket policies, event invoke configs, ...), so the
producer's server-side write policy is covered by the template tests and the LocalStack end-to-end tests,
not here. Nor does moto run the SAM transform (CloudFormation does): the consumer is deployed as the
transform expands it; and `sam` itself is not run here (it needs AWS): a stand-in deploys what it is given.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import moto_patches
from tests.infra.cfn_model import load_template, sam_expand

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
moto_patches.apply()
PRODUCER_PARAMS = {
    "ConsumerAccountId": "123456789012",
    "ExternalId": "ext-id",
    "OrganisationId": "o-localstack00",
    "CreateDemoBucket": "true",
}


def yes(_change_set: Any) -> bool:
    return True


@pytest.fixture(scope="module")
def deploy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_stacks", ROOT / "tools" / "deploy_stacks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_stacks"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def account(deploy: ModuleType) -> Iterator[object]:
    with mock_aws():
        yield deploy.Account(boto3.Session(region_name="us-east-1"), None)


def test_key_values_are_parsed_and_checked(deploy: ModuleType) -> None:
    assert deploy.parse_key_values(["A=1", "B=", "C=x=y"], "--param") == {"A": "1", "B": "", "C": "x=y"}
    with pytest.raises(SystemExit):
        deploy.parse_key_values(["novalue"], "--param")


def test_unknown_parameters_are_refused(deploy: ModuleType, account: object) -> None:
    with pytest.raises(SystemExit, match="NoSuchParameter"):
        deploy.deploy_stack(
            account, "x", deploy.CONSUMER_TEMPLATE, {"NoSuchParameter": "1"}, timeout=5, poll=0.1, confirm=yes
        )


def test_both_stacks_create_and_the_consumer_updates(deploy: ModuleType, account: object, tmp_path: Path) -> None:
    consumer_template = tmp_path / "consumer.json"  # what CloudFormation's SAM transform makes of it
    consumer_template.write_text(json.dumps(sam_expand(load_template("consumer.yaml", expand=False))))
    # Given a code bucket holding a (dummy) zip
    s3 = account.client("s3")
    deploy.ensure_bucket(s3, "code-bucket", "us-east-1")
    package = tmp_path / "lambda.zip"
    package.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    key = deploy.upload_code(s3, "code-bucket", package)
    assert key.startswith("lambda/s3-hydration-lambda-")
    assert deploy.upload_code(s3, "code-bucket", package) == key  # content-addressed

    # When the producer and then the consumer stack are deployed
    shown: list[Any] = []

    def confirm(change_set: Any) -> bool:
        shown.append(change_set)
        return True

    producer = deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=confirm
    )
    producer_out = deploy.stack_outputs(producer)
    params = {
        "CodeBucket": "code-bucket",
        "CodeKey": key,
        "ProducerRoleArn": producer_out["ProducerRoleArn"],
        "ProducerBucket": producer_out["ProducerBucketName"],
        "ExternalId": "ext-id",
        "OrganisationId": "o-localstack00",
    }
    consumer = deploy.deploy_stack(
        account,
        "consumer",
        consumer_template,
        params,
        timeout=30,
        poll=0.1,
        confirm=confirm,
        template_bucket="code-bucket",
    )

    # Then each went through a CREATE change set, shown before it was executed
    assert [(c.stack, c.kind) for c in shown] == [("producer", "CREATE"), ("consumer", "CREATE")]
    assert ("Add", "TransferQueue", "AWS::SQS::Queue", "-") in {
        (c.action, c.logical_id, c.resource_type, c.replacement) for c in shown[1].changes
    }
    # and both created, with the outputs the contract names
    assert producer["StackStatus"] == consumer["StackStatus"] == "CREATE_COMPLETE"
    outputs = deploy.stack_outputs(consumer)
    for name in ("TransferQueueUrl", "CopierFunctionName", "RunsTableName", "ConsumerBucketName"):
        assert outputs[name]
    lam = account.client("lambda")
    env = lam.get_function_configuration(FunctionName=outputs["CopierFunctionName"])["Environment"]["Variables"]
    assert env["PRODUCER_ROLE_ARN"] == producer_out["ProducerRoleArn"]
    assert str(env["KEYS_PER_MESSAGE"]) == "10"

    # When the consumer is updated with one parameter, then without it
    deploy.deploy_stack(
        account,
        "consumer",
        consumer_template,
        {**params, "KeysPerMessage": "3"},
        timeout=30,
        poll=0.1,
        confirm=confirm,
        template_bucket="code-bucket",
    )
    assert shown[-1].kind == "UPDATE"
    updated = deploy.deploy_stack(
        account,
        "consumer",
        consumer_template,
        {"CodeKey": key},
        timeout=30,
        poll=0.1,
        confirm=confirm,
        template_bucket="code-bucket",
    )

    # Then the update applied and the parameter not given kept its value
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert deploy.stack_parameters(updated)["KeysPerMessage"] == "3"
    env = lam.get_function_configuration(FunctionName=outputs["CopierFunctionName"])["Environment"]["Variables"]
    assert str(env["KEYS_PER_MESSAGE"]) == "3"


def test_nothing_is_executed_without_a_confirmation(deploy: ModuleType, account: object) -> None:
    # Given a producer stack
    deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=yes
    )
    cfn = account.client("cloudformation")
    # When an update is not confirmed
    with pytest.raises(deploy.NotConfirmedError, match="change set not executed") as stopped:
        deploy.deploy_stack(
            account,
            "producer",
            deploy.PRODUCER_TEMPLATE,
            {**PRODUCER_PARAMS, "ExternalId": "rotated"},
            timeout=30,
            poll=0.1,
            confirm=lambda _change_set: False,
        )
    # Then the stack is unchanged and the change set is left for review, named in the message
    stack = cfn.describe_stacks(StackName="producer")["Stacks"][0]
    assert deploy.stack_parameters(stack)["ExternalId"] == "ext-id"  # moto shows NoEcho values
    summaries = cfn.list_change_sets(StackName="producer")["Summaries"]
    [pending] = [s for s in summaries if s["ExecutionStatus"] == "AVAILABLE"]
    assert pending["ChangeSetId"] in str(stopped.value)


def test_no_changes_executes_nothing(deploy: ModuleType, account: object) -> None:
    first = deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=yes
    )
    asked: list[Any] = []
    again = deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=asked.append
    )
    assert asked == []
    assert again["StackStatus"] == first["StackStatus"] == "CREATE_COMPLETE"


def test_preview_names_action_resource_type_and_replacement(deploy: ModuleType) -> None:
    change_set = deploy.ChangeSet(
        stack="consumer",
        arn="arn:cs",
        kind="UPDATE",
        changes=[
            deploy.Change("Modify", "CopierFunction", "AWS::Lambda::Function", "False"),
            deploy.Change("Modify", "RunsTable", "AWS::DynamoDB::Table", "True"),
            deploy.Change("Add", "NewAlarm", "AWS::CloudWatch::Alarm", "-"),
        ],
    )
    assert deploy.preview(change_set).splitlines() == [
        "consumer: update, 3 resource change(s) (change set arn:cs)",
        "  ACTION  RESOURCE        TYPE                    REPLACEMENT",
        "  Modify  CopierFunction  AWS::Lambda::Function   False",
        "  Modify  RunsTable       AWS::DynamoDB::Table    True",
        "  Add     NewAlarm        AWS::CloudWatch::Alarm  -",
        "1 resource(s) will be REPLACED (new physical resource, the old one deleted)",
    ]


@pytest.mark.parametrize(
    ("argv", "env", "terminal", "answer", "expected"),
    [
        (["--target", "aws", "--stack", "producer", "--yes"], {}, False, "", True),
        (["--target", "aws", "--stack", "producer"], {"CONFIRM": "1"}, False, "", True),
        (["--target", "localstack"], {}, False, "", True),  # LocalStack never asks
        (["--target", "aws", "--stack", "producer"], {}, False, "", False),  # no terminal, no --yes: show and stop
        (["--target", "aws", "--stack", "producer"], {}, True, "y\n", True),
        (["--target", "aws", "--stack", "producer"], {}, True, "\n", False),
    ],
    ids=["yes", "CONFIRM=1", "localstack", "no-terminal", "answered-y", "answered-no"],
)
def test_confirmation(
    deploy: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    terminal: bool,
    answer: str,
    expected: bool,
) -> None:
    monkeypatch.delenv("CONFIRM", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Stdin(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr(sys, "stdin", Stdin(answer))
    confirm = deploy.confirmation(deploy.parse_args(argv))
    assert confirm(deploy.ChangeSet(stack="s", arn="arn:cs", kind="UPDATE", changes=[])) is expected


def test_main_stops_with_exit_3_when_nobody_confirms(
    deploy: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stopped(_args: Any) -> dict[str, Any]:
        raise deploy.NotConfirmedError("producer: change set not executed. Review it: ...")

    monkeypatch.setattr(deploy, "deploy_aws", stopped)
    assert deploy.main(["--target", "aws", "--stack", "producer"]) == 3
    assert capsys.readouterr().err == "deploy stopped: producer: change set not executed. Review it: ...\n"


# --------------------------------------------------------------------------- no deletion without confirmation


def _force_status(name: str, status: str) -> None:
    """moto cannot fail a stack on purpose: set the status a failed create leaves."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends["123456789012"]["us-east-1"]
    [stack] = [s for s in backend.stacks.values() if s.name == name]
    stack.status = status


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"])
def test_a_stack_that_cannot_be_updated_is_not_deleted_without_confirmation(
    deploy: ModuleType, account: object, status: str
) -> None:
    # Given a stack left in a state it cannot be updated from
    deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=yes
    )
    _force_status("producer", status)
    asked: list[tuple[str, str]] = []

    def refuse(name: str, current: str) -> bool:
        asked.append((name, current))
        return False

    # When a deployment is not confirmed to delete it (and when nothing was asked at all)
    for confirm_delete in (refuse, None):
        with pytest.raises(deploy.NotConfirmedError, match="cannot be updated: delete it first"):
            deploy.deploy_stack(
                account,
                "producer",
                deploy.PRODUCER_TEMPLATE,
                PRODUCER_PARAMS,
                timeout=30,
                poll=0.1,
                confirm=yes,
                confirm_delete=confirm_delete,
            )
    # Then it was asked once, and the stack is still there, as it was
    assert asked == [("producer", status)]
    [stack] = account.client("cloudformation").describe_stacks(StackName="producer")["Stacks"]
    assert stack["StackStatus"] == status


def test_a_confirmed_recreation_deletes_and_creates_the_stack_again(deploy: ModuleType, account: object) -> None:
    deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=yes
    )
    cfn = account.client("cloudformation")
    first_id = cfn.describe_stacks(StackName="producer")["Stacks"][0]["StackId"]
    _force_status("producer", "ROLLBACK_COMPLETE")
    again = deploy.deploy_stack(
        account,
        "producer",
        deploy.PRODUCER_TEMPLATE,
        PRODUCER_PARAMS,
        timeout=30,
        poll=0.1,
        confirm=yes,
        confirm_delete=lambda _name, _status: True,
    )
    assert again["StackStatus"] == "CREATE_COMPLETE"
    assert again["StackId"] != first_id


def test_teardown_deletes_only_once_confirmed_and_lists_what_it_retains(deploy: ModuleType, account: object) -> None:
    # Given a protected stack holding a table (a stateful resource)
    deploy.deploy_stack(
        account, "producer", deploy.PRODUCER_TEMPLATE, PRODUCER_PARAMS, timeout=30, poll=0.1, confirm=yes
    )
    cfn = account.client("cloudformation")
    deploy.protect(cfn, "producer")
    # When the deletion is not confirmed
    with pytest.raises(deploy.NotConfirmedError, match="not deleted"):
        deploy.delete_stack(account, "producer", confirmed=lambda _name: False, timeout=30, poll=0.1)
    # Then the stack is there, still protected
    [stack] = cfn.describe_stacks(StackName="producer")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["EnableTerminationProtection"] is True
    # When it is confirmed, Then it is gone, and the retained resources were named
    retained = deploy.delete_stack(account, "producer", confirmed=lambda name: name == "producer", timeout=30, poll=0.1)
    assert retained == []  # the producer's demo bucket and key go with it (DeletionPolicy Delete)
    assert deploy.describe(cfn, "producer") is None


@pytest.mark.parametrize(
    ("argv", "terminal", "typed", "expected"),
    [
        (["--yes"], False, "", True),
        ([], False, "", False),  # no terminal: never
        ([], True, "s3-hydration-consumer\n", True),
        ([], True, "y\n", False),  # only the stack's name confirms a deletion
    ],
)
def test_deletion_confirmation(
    deploy: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    terminal: bool,
    typed: str,
    expected: bool,
) -> None:
    monkeypatch.setenv("CONFIRM", "1")  # CONFIRM=1 executes change sets; it never deletes a stack

    class Stdin(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    monkeypatch.setattr(sys, "stdin", Stdin(typed))
    args = deploy.parse_args(["--target", "aws", "--stack", "consumer", "--delete", *argv])
    assert deploy.confirm_deletion("s3-hydration-consumer", yes=args.yes) is expected


# --------------------------------------------------------------------------- AWS: the SAM configuration path


@pytest.mark.parametrize("stack", ["producer", "consumer"])
def test_the_shipped_configurations_name_only_template_parameters(deploy: ModuleType, stack: str) -> None:
    path = ROOT / "deploy" / f"samconfig.{stack}.toml"
    known = deploy.template_parameters(deploy.TEMPLATES[stack])
    for env in ("default", "prod"):
        config = deploy.read_samconfig(path, env)
        assert config.stack_name == f"s3-hydration-{stack}"
        assert set(config.parameter_overrides) <= known, set(config.parameter_overrides) - known
        assert config.tags["project"] == "s3-hydration"
        assert config.tags["environment"] == env


def test_an_unknown_environment_names_the_known_ones(deploy: ModuleType) -> None:
    with pytest.raises(SystemExit, match=r"no environment 'nope' \(found: default, prod\)"):
        deploy.read_samconfig(ROOT / "deploy" / "samconfig.consumer.toml", "nope")


def test_the_region_comes_from_the_profile(deploy: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    assert deploy.resolve_region("team", None) == "eu-west-3"
    assert deploy.resolve_region("team", "ap-southeast-2") == "ap-southeast-2"  # the configuration's wins
    config.write_text("[profile team]\n")
    with pytest.raises(SystemExit, match="no region"):
        deploy.resolve_region("team", None)


@pytest.mark.parametrize(
    ("expression", "hours"),
    [
        ("cron(0 6 * * ? *)", 26),  # the template's default: daily
        ("rate(1 day)", 26),
        ("rate(12 hours)", 14),
        ("cron(0 */6 * * ? *)", 8),
        ("cron(30 6 ? * MON-FRI *)", 74),  # Friday to Monday
        ("rate(5 minutes)", 3),
    ],
)
def test_run_start_window_follows_the_schedule(deploy: ModuleType, expression: str, hours: int) -> None:
    assert deploy.schedule_window_hours(expression) == hours


@pytest.mark.parametrize("expression", ["cron(0 3 ? * SUN *)", "cron(0 6 L * ? *)", "at(2024-01-01T00:00:00)"])
def test_a_schedule_the_alarm_cannot_follow_is_refused(deploy: ModuleType, expression: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the expression; any reason will do
        deploy.schedule_window_hours(expression)


def test_the_template_default_window_is_the_default_schedules(deploy: ModuleType) -> None:
    parameters = load_template("consumer.yaml", expand=False)["Parameters"]
    derived = deploy.schedule_window_hours(parameters["ScheduleExpression"]["Default"])
    assert derived == parameters["RunStartWindowHours"]["Default"]


def test_sam_command_passes_the_merged_overrides_and_asks_unless_yes(deploy: ModuleType, tmp_path: Path) -> None:
    env = deploy.SamEnv("prod", "s3-hydration-consumer", None, "p", "code", {}, {})
    overrides = {"CodeKey": "lambda/x.zip", "AlarmEmail": "", "ScheduleExpression": "cron(0 6 * * ? *)"}
    cmd = deploy.sam_command(
        ["sam"], tmp_path / "c.toml", env, deploy.CONSUMER_TEMPLATE, overrides, region="eu-west-1", yes=False
    )
    assert cmd[:6] == ["sam", "deploy", "--config-file", str(tmp_path / "c.toml"), "--config-env", "prod"]
    assert cmd[cmd.index("--region") + 1] == "eu-west-1"
    assert cmd[cmd.index("--parameter-overrides") + 1] == (
        'AlarmEmail="" CodeKey=lambda/x.zip ScheduleExpression="cron(0 6 * * ? *)"'
    )
    assert "--no-confirm-changeset" not in cmd
    assert "--no-confirm-changeset" in deploy.sam_command(
        ["sam"], tmp_path / "c.toml", env, deploy.CONSUMER_TEMPLATE, overrides, region="eu-west-1", yes=True
    )


class FakeSam:
    """`sam deploy`, as far as this tool relies on it: deploys the template (as the SAM transform expands it)
    with the configuration's stack name and the overrides it is given."""

    def __init__(self, deploy: ModuleType, account: object, templates: dict[str, Path]) -> None:
        self._deploy, self._account, self._templates = deploy, account, templates
        self.commands: list[list[str]] = []

    def __call__(self, cmd: list[str]) -> int:
        self.commands.append(cmd)
        config = self._deploy.read_samconfig(
            Path(cmd[cmd.index("--config-file") + 1]), cmd[cmd.index("--config-env") + 1]
        )
        overrides = self._deploy._pairs(cmd[cmd.index("--parameter-overrides") + 1], "overrides")
        template = self._templates[Path(cmd[cmd.index("--template-file") + 1]).stem]
        self._deploy.deploy_stack(
            self._account, config.stack_name, template, overrides, timeout=30, poll=0.1, confirm=yes,
            template_bucket=config.s3_bucket, tags=config.tags,
        )  # fmt: skip
        return 0


def test_deploy_consumer_uploads_the_code_derives_the_window_and_protects_the_stack(
    deploy: ModuleType, account: object, tmp_path: Path
) -> None:
    # Given a consumer configuration for `prod` (a weekday schedule) and a built zip
    config = tmp_path / "samconfig.consumer.toml"
    config.write_text(
        """version = 0.1
[prod.deploy.parameters]
stack_name = "hydration-consumer"
region = "us-east-1"
s3_bucket = "code-bucket"
tags = 'project="s3-hydration" environment="prod"'
parameter_overrides = [
    "ProducerRoleArn=arn:aws:iam::222222222222:role/s3-hydration-producer-access",
    "ProducerBucket=producer-data",
    "ExternalId=ext-id",
    "OrganisationId=o-localstack00",
    'ScheduleExpression="cron(30 6 ? * MON-FRI *)"',
]
"""
    )
    package = tmp_path / "lambda.zip"
    package.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    expanded = tmp_path / "consumer.json"
    expanded.write_text(json.dumps(sam_expand(load_template("consumer.yaml", expand=False))))
    sam = FakeSam(deploy, account, {"consumer": expanded})
    args = deploy.parse_args(
        [
            "--target",
            "aws",
            "--stack",
            "consumer",
            "--config-env",
            "prod",
            "--config-file",
            str(config),
            "--zip",
            str(package),
            "--yes",
        ]
    )
    # When it is deployed
    outputs = deploy.deploy_aws(args, runner=sam)
    # Then the zip is in the code bucket under the key the stack runs, the window follows the schedule,
    # the stack carries the configuration's tags and is protected, and its outputs are returned
    cfn = account.client("cloudformation")
    [stack] = cfn.describe_stacks(StackName="hydration-consumer")["Stacks"]
    params = deploy.stack_parameters(stack)
    body = account.client("s3").get_object(Bucket="code-bucket", Key=params["CodeKey"])["Body"].read()
    assert body == package.read_bytes()
    assert (params["CodeBucket"], params["RunStartWindowHours"]) == ("code-bucket", "74")
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"project": "s3-hydration", "environment": "prod"}
    assert stack["EnableTerminationProtection"] is True
    assert outputs["StackName"] == "hydration-consumer"
    assert outputs["ConsumerBucketName"]
    assert "--no-confirm-changeset" in sam.commands[0]
    # and a teardown, once confirmed, names the state it leaves behind: the tables, the bucket, the key
    retained = deploy.delete_stack(account, "hydration-consumer", confirmed=lambda _n: True, timeout=30, poll=0.1)
    kinds = sorted(r.split()[0] for r in retained)
    assert kinds == ["AWS::DynamoDB::Table"] * 5 + ["AWS::KMS::Key", "AWS::S3::Bucket"]


def test_a_configuration_naming_an_unknown_parameter_deploys_nothing(
    deploy: ModuleType, account: object, tmp_path: Path
) -> None:
    config = tmp_path / "samconfig.producer.toml"
    config.write_text(
        'version = 0.1\n[prod.deploy.parameters]\nstack_name = "p"\nregion = "us-east-1"\n'
        'parameter_overrides = ["NoSuchParameter=1"]\n'
    )
    sam = FakeSam(deploy, account, {})
    args = deploy.parse_args(
        ["--target", "aws", "--stack", "producer", "--config-env", "prod", "--config-file", str(config)]
    )
    with pytest.raises(SystemExit, match="NoSuchParameter"):
        deploy.deploy_aws(args, runner=sam)
    assert sam.commands == []


def test_overrides_are_read_as_sam_reads_them(deploy: ModuleType) -> None:
    # quoted empty values and values with spaces, in a list or in one string
    listed = ['DestinationPrefix=""', 'ScheduleExpression="cron(0 6 * * ? *)"', "CopyMode=server-side"]
    expected = {"DestinationPrefix": "", "ScheduleExpression": "cron(0 6 * * ? *)", "CopyMode": "server-side"}
    assert deploy._pairs(listed, "parameter_overrides") == expected
    assert deploy._pairs(" ".join(listed), "parameter_overrides") == expected
    # an unquoted value with spaces (which sam would cut at the first space) is refused
    with pytest.raises(SystemExit, match="Key=Value"):
        deploy._pairs(["ScheduleExpression=cron(0 6 * * ? *)"], "parameter_overrides")

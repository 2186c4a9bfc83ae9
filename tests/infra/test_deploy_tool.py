"""tools/deploy_stacks.py against moto: both templates create through change sets, the consumer stack updates,
a parameter not given on update keeps its previous value, each change set is shown before it is executed,
and nothing is executed without a confirmation.

moto's CloudFormation skips some resource types (alarms, bucket policies, event invoke configs, ...) and
cannot add a conditional resource on update, so the producer's server-side write policy and the final
producer update are covered by the template tests and the LocalStack end-to-end tests, not here. Nor does
moto run the SAM transform (CloudFormation does): the consumer is deployed as the transform expands it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
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
        (["--target", "aws", "--yes"], {}, False, "", True),
        (["--target", "aws"], {"CONFIRM": "1"}, False, "", True),
        (["--target", "localstack"], {}, False, "", True),  # LocalStack never asks
        (["--target", "aws"], {}, False, "", False),  # no terminal, no --yes: show and stop
        (["--target", "aws"], {}, True, "y\n", True),
        (["--target", "aws"], {}, True, "\n", False),
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
    def stopped(_plan: Any, _args: Any) -> dict[str, Any]:
        raise deploy.NotConfirmedError("producer: change set not executed. Review it: ...")

    monkeypatch.setattr(deploy, "run", stopped)
    monkeypatch.setattr(deploy, "aws_plan", lambda _args: SimpleNamespace(producer_params={}))
    assert deploy.main(["--target", "aws", "--no-build"]) == 3
    assert capsys.readouterr().err == "deploy stopped: producer: change set not executed. Review it: ...\n"

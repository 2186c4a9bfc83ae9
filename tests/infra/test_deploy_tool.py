"""tools/deploy_stacks.py against moto: both templates create, the consumer stack updates, and a parameter
not given on update keeps its previous value.

moto's CloudFormation skips some resource types (alarms, bucket policies, event invoke configs, ...) and
cannot add a conditional resource on update, so the producer's server-side write policy and the final
producer update are covered by the template tests and the LocalStack end-to-end tests, not here.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


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
        deploy.deploy_stack(account, "x", deploy.CONSUMER_TEMPLATE, {"NoSuchParameter": "1"}, timeout=5, poll=0.1)


def test_both_stacks_create_and_the_consumer_updates(deploy: ModuleType, account: object, tmp_path: Path) -> None:
    # Given a code bucket holding a (dummy) zip
    s3 = account.client("s3")
    deploy.ensure_bucket(s3, "code-bucket", "us-east-1")
    package = tmp_path / "lambda.zip"
    package.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    key = deploy.upload_code(s3, "code-bucket", package)
    assert key.startswith("lambda/s3-hydration-lambda-")
    assert deploy.upload_code(s3, "code-bucket", package) == key  # content-addressed

    # When the producer and then the consumer stack are deployed
    producer = deploy.deploy_stack(
        account,
        "producer",
        deploy.PRODUCER_TEMPLATE,
        {
            "ConsumerAccountId": "123456789012",
            "ExternalId": "ext-id",
            "OrganisationId": "o-localstack00",
            "CreateDemoBucket": "true",
        },
        timeout=30,
        poll=0.1,
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
        deploy.CONSUMER_TEMPLATE,
        params,
        timeout=30,
        poll=0.1,
        template_bucket="code-bucket",
    )

    # Then both created, with the outputs the contract names
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
        deploy.CONSUMER_TEMPLATE,
        {**params, "KeysPerMessage": "3"},
        timeout=30,
        poll=0.1,
        template_bucket="code-bucket",
    )
    updated = deploy.deploy_stack(
        account,
        "consumer",
        deploy.CONSUMER_TEMPLATE,
        {"CodeKey": key},
        timeout=30,
        poll=0.1,
        template_bucket="code-bucket",
    )

    # Then the update applied and the parameter not given kept its value
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert deploy.stack_parameters(updated)["KeysPerMessage"] == "3"
    env = lam.get_function_configuration(FunctionName=outputs["CopierFunctionName"])["Environment"]["Variables"]
    assert str(env["KEYS_PER_MESSAGE"]) == "3"

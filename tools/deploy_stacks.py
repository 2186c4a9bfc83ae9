"""Deploy the producer and consumer stacks (infra/producer.yaml, infra/consumer.yaml).

Order (both targets):
  1. build the Lambda zip (tools/build.py; --no-build to skip) and upload it to the code bucket in the
     consumer account, under a key named by its sha256, so a new build always updates the functions;
  2. deploy the producer stack (the cross-account role; on LocalStack also the demo bucket and key);
  3. deploy the consumer stack with ProducerRoleArn/ProducerBucket from the producer outputs;
  4. update the producer stack with the consumer bucket and key (server-side copy mode needs the
     identity-side write grants, which can only name the consumer key once it exists).
Then print every output of both stacks as one flat JSON object and write it to --outputs.

Targets:
  --target localstack  endpoint http://127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566; --endpoint-url, env
                       LOCALSTACK_ENDPOINT or AWS_ENDPOINT_URL override it); LocalStack takes a 12-digit access key
                       id as the account id: producer 222222222222, consumer 111111111111.
  --target aws         profiles --producer-profile/--consumer-profile (env PRODUCER_PROFILE/CONSUMER_PROFILE),
                       --external-id (env EXTERNAL_ID), --organisation-id (env ORGANISATION_ID) and
                       --producer-bucket (env PRODUCER_BUCKET) are required; the code bucket is created if
                       missing (--code-bucket, default s3-hydration-code-<consumer account>-<region>).

Parameters: --param Key=Value (repeatable) overrides a consumer stack parameter, --producer-param one of the
producer stack. On update, parameters not given keep their previous value (like `aws cloudformation
deploy`); pass `--param Key=` to reset one to empty.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

ROOT = Path(__file__).resolve().parent.parent
PRODUCER_TEMPLATE = ROOT / "infra" / "producer.yaml"
CONSUMER_TEMPLATE = ROOT / "infra" / "consumer.yaml"
DEFAULT_ZIP = ROOT / "dist" / "s3-hydration-lambda.zip"

LOCALSTACK_ENDPOINT = f"http://127.0.0.1:{os.environ.get('S3H_LOCALSTACK_PORT') or 4566}"
LOCALSTACK_PRODUCER_ACCOUNT = "222222222222"
LOCALSTACK_CONSUMER_ACCOUNT = "111111111111"
LOCALSTACK_EXTERNAL_ID = "s3-hydration-localstack"
LOCALSTACK_ORGANISATION_ID = "o-localstack00"

NO_ECHO_MASK = "****"
TEMPLATE_BODY_LIMIT = 51_200  # bytes; larger templates must be passed by URL
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
FAILURE = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_COMPLETE",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
# A stack in one of these states cannot be updated: delete it and create it again.
RECREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "REVIEW_IN_PROGRESS"}


class DeployError(RuntimeError):
    """A stack operation failed or did not finish in time."""


@dataclass(frozen=True)
class Account:
    """One account's boto3 session plus how to reach it."""

    session: boto3.Session
    endpoint_url: str | None

    def client(self, service: str) -> Any:
        config = Config(retries={"max_attempts": 10, "mode": "standard"})
        if service == "s3" and self.endpoint_url:
            config = config.merge(Config(s3={"addressing_style": "path"}))
        session: Any = self.session  # the service name is dynamic: no typed overload applies
        return session.client(service, endpoint_url=self.endpoint_url, config=config)


@dataclass
class Plan:
    target: str
    region: str
    producer: Account
    consumer: Account
    consumer_account_id: str
    external_id: str
    organisation_id: str
    code_bucket: str
    producer_params: dict[str, str] = field(default_factory=dict)
    consumer_params: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ templates


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that accepts CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def template_parameters(path: Path) -> set[str]:
    return set(load_template(path).get("Parameters", {}))


def parse_key_values(items: list[str], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} must look like Key=Value, got {item!r}")
        result[key] = value
    return result


# ------------------------------------------------------------------------------------------ code upload


def ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    log(f"created code bucket {bucket}")


def upload_code(s3: Any, bucket: str, zip_path: Path) -> str:
    """Upload the zip under a content-addressed key (skipped when already there); return the key."""
    data = zip_path.read_bytes()
    key = f"lambda/s3-hydration-lambda-{hashlib.sha256(data).hexdigest()[:20]}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        log(f"code s3://{bucket}/{key} already uploaded")
    except ClientError:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        log(f"uploaded s3://{bucket}/{key} ({len(data)} bytes)")
    return key


# ------------------------------------------------------------------------------------------ stacks


def log(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def describe(cfn: Any, name: str) -> dict[str, Any] | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def wait_for(cfn: Any, name: str, timeout: float, poll: float) -> dict[str, Any]:
    """Poll until the stack leaves *_IN_PROGRESS (bounded by timeout); return the stack."""
    deadline = time.monotonic() + timeout
    while True:
        stack = describe(cfn, name)
        if stack is None:
            return {"StackStatus": "DELETE_COMPLETE", "StackName": name}
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or status == "REVIEW_IN_PROGRESS":
            return stack
        if time.monotonic() > deadline:
            raise DeployError(f"stack {name} still {status} after {timeout:.0f}s")
        time.sleep(poll)


def failure_reasons(cfn: Any, name: str, limit: int = 15) -> list[str]:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return []
    reasons = [
        f"{e['LogicalResourceId']} ({e.get('ResourceType')}): {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    ]
    return reasons[:limit]


def stack_parameters(stack: Mapping[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def stack_outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def deploy_stack(
    account: Account,
    name: str,
    template: Path,
    params: Mapping[str, str],
    *,
    timeout: float,
    poll: float,
    template_bucket: str | None = None,
) -> dict[str, Any]:
    """Create or update the stack and wait for it; return the resulting stack description."""
    cfn = account.client("cloudformation")
    known = template_parameters(template)
    unknown = sorted(set(params) - known)
    if unknown:
        raise SystemExit(f"{template.name} has no parameter(s) {unknown}")

    body = template.read_text()
    source: dict[str, str]
    if len(body.encode()) <= TEMPLATE_BODY_LIMIT:
        source = {"TemplateBody": body}
    else:
        if not template_bucket:
            raise DeployError(f"{template.name} exceeds {TEMPLATE_BODY_LIMIT} bytes and no bucket to upload it")
        s3 = account.client("s3")
        key = f"templates/{template.stem}-{hashlib.sha256(body.encode()).hexdigest()[:20]}.yaml"
        s3.put_object(Bucket=template_bucket, Key=key, Body=body.encode())
        if account.endpoint_url:
            url = f"{account.endpoint_url}/{template_bucket}/{key}"
        else:
            url = f"https://{template_bucket}.s3.{account.session.region_name}.amazonaws.com/{key}"
        source = {"TemplateURL": url}

    stack = describe(cfn, name)
    if stack and stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        log(f"{name}: waiting for the running {stack['StackStatus']} to finish")
        stack = wait_for(cfn, name, timeout, poll)
    if stack and stack["StackStatus"] in RECREATE | {"DELETE_COMPLETE"}:
        if stack["StackStatus"] != "DELETE_COMPLETE":
            log(f"{name}: {stack['StackStatus']}, deleting it before creating it again")
            cfn.delete_stack(StackName=name)
            wait_for(cfn, name, timeout, poll)
        stack = None

    parameters: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]
    if stack is None:
        log(f"{name}: creating")
        cfn.create_stack(StackName=name, Parameters=parameters, Capabilities=CAPABILITIES, **source)
        expected = "CREATE_COMPLETE"
    else:
        # Parameters not given keep their previous value. Spelled out when visible (NoEcho ones read "****"),
        # which also suits CloudFormation emulators that only remember explicitly passed values.
        previous = stack_parameters(stack)
        for key in sorted((set(previous) & known) - set(params)):
            if previous[key] == NO_ECHO_MASK:
                parameters.append({"ParameterKey": key, "UsePreviousValue": True})
            else:
                parameters.append({"ParameterKey": key, "ParameterValue": previous[key]})
        log(f"{name}: updating")
        try:
            cfn.update_stack(StackName=name, Parameters=parameters, Capabilities=CAPABILITIES, **source)
        except ClientError as exc:
            if "No updates are to be performed" in str(exc):
                log(f"{name}: no changes")
                return stack
            raise
        expected = "UPDATE_COMPLETE"

    result = wait_for(cfn, name, timeout, poll)
    if result["StackStatus"] != expected:
        reasons = "\n  ".join(failure_reasons(cfn, name)) or "(no failure events)"
        raise DeployError(f"stack {name} ended {result['StackStatus']}:\n  {reasons}")
    log(f"{name}: {result['StackStatus']}")
    return result


# ------------------------------------------------------------------------------------------ plan


def localstack_plan(args: argparse.Namespace) -> Plan:
    endpoint = args.endpoint_url or LOCALSTACK_ENDPOINT

    def account(access_key: str) -> Account:
        session = boto3.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key="test",  # noqa: S106 - LocalStack's fixed dummy secret
            region_name=args.region,
        )
        return Account(session, endpoint)

    producer_params = {"CreateDemoBucket": "true"}
    if args.producer_bucket:
        producer_params["ProducerBucket"] = args.producer_bucket
    return Plan(
        target="localstack",
        region=args.region,
        producer=account(LOCALSTACK_PRODUCER_ACCOUNT),
        consumer=account(LOCALSTACK_CONSUMER_ACCOUNT),
        consumer_account_id=LOCALSTACK_CONSUMER_ACCOUNT,
        external_id=args.external_id or LOCALSTACK_EXTERNAL_ID,
        organisation_id=args.organisation_id or LOCALSTACK_ORGANISATION_ID,
        code_bucket=args.code_bucket or f"s3-hydration-code-{LOCALSTACK_CONSUMER_ACCOUNT}",
        producer_params=producer_params,
    )


def aws_plan(args: argparse.Namespace) -> Plan:
    missing = [
        flag
        for flag, value in (
            ("--external-id / EXTERNAL_ID", args.external_id),
            ("--organisation-id / ORGANISATION_ID", args.organisation_id),
        )
        if not value
    ]
    if not args.producer_bucket and not args.create_demo_bucket:
        missing.append("--producer-bucket / PRODUCER_BUCKET (or --create-demo-bucket)")
    if missing:
        raise SystemExit("missing: " + ", ".join(missing))
    producer = Account(boto3.Session(profile_name=args.producer_profile, region_name=args.region), None)
    consumer = Account(boto3.Session(profile_name=args.consumer_profile, region_name=args.region), None)
    consumer_account_id = consumer.client("sts").get_caller_identity()["Account"]
    producer_params = {"CreateDemoBucket": "true" if args.create_demo_bucket else "false"}
    if args.producer_bucket:
        producer_params["ProducerBucket"] = args.producer_bucket
    if args.producer_kms_key_arn:
        producer_params["ProducerKmsKeyArn"] = args.producer_kms_key_arn
    return Plan(
        target="aws",
        region=args.region,
        producer=producer,
        consumer=consumer,
        consumer_account_id=consumer_account_id,
        external_id=args.external_id,
        organisation_id=args.organisation_id,
        code_bucket=args.code_bucket or f"s3-hydration-code-{consumer_account_id}-{args.region}",
        producer_params=producer_params,
    )


def run(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    timeout, poll = args.timeout, args.poll_interval
    zip_path: Path = args.zip
    if not args.no_build:
        build_cmd = [sys.executable, str(ROOT / "tools" / "build.py"), "--output", str(zip_path)]
        # the build's report goes to stderr: stdout carries only the outputs JSON
        subprocess.run(build_cmd, check=True, stdout=sys.stderr)  # noqa: S603 - fixed argv, no shell

    consumer_s3 = plan.consumer.client("s3")
    ensure_bucket(consumer_s3, plan.code_bucket, plan.region)
    code_key = upload_code(consumer_s3, plan.code_bucket, zip_path)

    wanted = plan.consumer_params
    shared = {k: wanted[k] for k in ("TransferPrefix", "DestinationPrefix", "CopyMode") if k in wanted}
    producer_params = {
        "ConsumerAccountId": plan.consumer_account_id,
        "ExternalId": plan.external_id,
        "OrganisationId": plan.organisation_id,
        **({"ConsumerResourcePrefix": wanted["ResourcePrefix"]} if "ResourcePrefix" in wanted else {}),
        **shared,
        **plan.producer_params,
    }

    if args.consumer_only:
        producer_stack = describe(plan.producer.client("cloudformation"), args.producer_stack)
        if producer_stack is None:
            raise SystemExit(f"--consumer-only: stack {args.producer_stack} does not exist")
    else:
        producer_stack = deploy_stack(
            plan.producer, args.producer_stack, PRODUCER_TEMPLATE, producer_params, timeout=timeout, poll=poll
        )
    producer_out = stack_outputs(producer_stack)

    consumer_params = {
        "CodeBucket": plan.code_bucket,
        "CodeKey": code_key,
        "ProducerRoleArn": producer_out["ProducerRoleArn"],
        "ProducerBucket": producer_out["ProducerBucketName"],
        "ExternalId": plan.external_id,
        "OrganisationId": plan.organisation_id,
        **wanted,
    }
    consumer_stack = deploy_stack(
        plan.consumer,
        args.consumer_stack,
        CONSUMER_TEMPLATE,
        consumer_params,
        timeout=timeout,
        poll=poll,
        template_bucket=plan.code_bucket,
    )
    consumer_out = stack_outputs(consumer_stack)

    if not args.consumer_only:
        # Identity-side write grants for server-side copies: they name the consumer bucket and key.
        effective = stack_parameters(consumer_stack)
        producer_params.update(
            {
                "ConsumerBucket": consumer_out["ConsumerBucketName"],
                "ConsumerKmsKeyArn": consumer_out["ConsumerKmsKeyArn"],
                "ConsumerResourcePrefix": effective.get("ResourcePrefix", "s3-hydration"),
                "CopyMode": effective.get("CopyMode", "server-side"),
                "TransferPrefix": effective.get("TransferPrefix", ""),
                "DestinationPrefix": effective.get("DestinationPrefix", ""),
            }
        )
        producer_stack = deploy_stack(
            plan.producer, args.producer_stack, PRODUCER_TEMPLATE, producer_params, timeout=timeout, poll=poll
        )
        producer_out = stack_outputs(producer_stack)

    outputs: dict[str, Any] = {
        **producer_out,
        **consumer_out,
        "ProducerStackName": args.producer_stack,
        "ConsumerStackName": args.consumer_stack,
        "ConsumerAccountId": plan.consumer_account_id,
        "Region": plan.region,
        "CodeBucket": plan.code_bucket,
        "CodeKey": code_key,
    }
    if plan.target == "localstack":
        outputs.update(
            {
                "EndpointUrl": plan.consumer.endpoint_url,
                "ProducerAccountId": LOCALSTACK_PRODUCER_ACCOUNT,
                "ExternalId": plan.external_id,  # a local, throw-away value: tests assume the role with it
            }
        )
    return outputs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", choices=["aws", "localstack"], required=True)
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("LOCALSTACK_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL"),
        help=f"LocalStack only (default {LOCALSTACK_ENDPOINT})",
    )
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="consumer parameter")
    parser.add_argument("--producer-param", action="append", default=[], metavar="KEY=VALUE", help="producer parameter")
    parser.add_argument("--producer-stack", default="s3-hydration-producer")
    parser.add_argument("--consumer-stack", default="s3-hydration-consumer")
    parser.add_argument("--consumer-only", action="store_true", help="skip the producer stack (it must exist)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="Lambda zip (%(default)s)")
    parser.add_argument(
        "--no-build", action="store_true", help="upload --zip as it is (default: run tools/build.py first)"
    )
    parser.add_argument("--code-bucket", default=os.environ.get("CODE_BUCKET"))
    parser.add_argument("--external-id", default=os.environ.get("EXTERNAL_ID"))
    parser.add_argument("--organisation-id", default=os.environ.get("ORGANISATION_ID"))
    parser.add_argument("--producer-bucket", default=os.environ.get("PRODUCER_BUCKET"))
    parser.add_argument("--producer-kms-key-arn", default=os.environ.get("PRODUCER_KMS_KEY_ARN"))
    parser.add_argument("--create-demo-bucket", action="store_true", help="aws: create a demo producer bucket")
    parser.add_argument("--producer-profile", default=os.environ.get("PRODUCER_PROFILE"))
    parser.add_argument("--consumer-profile", default=os.environ.get("CONSUMER_PROFILE"))
    parser.add_argument("--outputs", type=Path, help="outputs JSON (localstack: .localstack/outputs.json)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each stack")
    parser.add_argument("--poll-interval", type=float, default=None, help="seconds between status polls")
    args = parser.parse_args(argv)
    if args.poll_interval is None:
        args.poll_interval = 2.0 if args.target == "localstack" else 10.0
    if args.outputs is None:
        args.outputs = ROOT / (".localstack/outputs.json" if args.target == "localstack" else "dist/aws-outputs.json")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = localstack_plan(args) if args.target == "localstack" else aws_plan(args)
    plan.consumer_params = parse_key_values(args.param, "--param")
    plan.producer_params.update(parse_key_values(args.producer_param, "--producer-param"))
    try:
        outputs = run(plan, args)
    except DeployError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    except EndpointConnectionError as exc:
        hint = " (is LocalStack running? make localstack-start)" if args.target == "localstack" else ""
        print(f"deploy failed: {exc}{hint}", file=sys.stderr)
        return 1
    text = json.dumps(outputs, indent=2, sort_keys=True)
    args.outputs.parent.mkdir(parents=True, exist_ok=True)
    args.outputs.write_text(text + "\n")
    print(text)
    log(f"outputs written to {args.outputs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

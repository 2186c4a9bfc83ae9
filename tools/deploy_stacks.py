"""Deploy the producer and consumer stacks (infra/producer.yaml, infra/consumer.yaml).

AWS (--target aws): one stack at a time, each by its own team from its own configuration file in SAM CLI's
format (deploy/samconfig.producer.toml, deploy/samconfig.consumer.toml; an environment per section, e.g.
[prod.deploy.parameters]). `sam deploy --config-env ENV` does the deployment (change set, shown, executed
once confirmed; capabilities, tags, the template upload); this tool adds only what sam cannot:
  - consumer: upload the Lambda zip (tools/build.py) under a content-addressed key of the code bucket
    (s3_bucket in the configuration) and pass CodeBucket/CodeKey, with RunStartWindowHours derived from
    ScheduleExpression unless the configuration sets it;
  - the region from the profile when the configuration names none;
  - termination protection on the stack once deployed, and the outputs the other team needs (the handover);
  - --delete: a stack deletion, only once confirmed (the stack's name typed at a terminal, or --yes), the
    retained resources listed.
The producer stack needs nothing from the consumer stack (one deployment, before or after it).

LocalStack (--target localstack): both stacks through CloudFormation change sets created here (sam cannot
reach LocalStack), never asking: build and upload the zip, the producer stack (with the demo bucket and key),
then the consumer stack with ProducerRoleArn/ProducerBucket from the producer's outputs. Endpoint
http://127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566; --endpoint-url, env LOCALSTACK_ENDPOINT or
AWS_ENDPOINT_URL override it); LocalStack takes a 12-digit access key id as the account id: producer
222222222222, consumer 111111111111. --param Key=Value (repeatable) overrides a consumer stack parameter,
--producer-param one of the producer stack; on update, parameters not given keep their previous value.
Every output of both stacks is printed as one flat JSON object and written to --outputs.

A stack found in a state it cannot be updated from (ROLLBACK_COMPLETE, ...) is deleted and created again only
once confirmed (LocalStack: always, it is thrown away with LocalStack). No stack is ever deleted otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
PENDING = 3  # exit code: changes shown, not executed (the CLI's "found/pending")
# A stack in one of these states cannot be updated: delete it (once confirmed) and create it again.
RECREATE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "REVIEW_IN_PROGRESS"}
# Tags on every stack this tool creates on LocalStack (on AWS they come from the configuration's `tags`).
LOCALSTACK_TAGS = {"project": "s3-hydration", "environment": "localstack"}
CONFIG_DIR = ROOT / "deploy"
TEMPLATES = {"producer": PRODUCER_TEMPLATE, "consumer": CONSUMER_TEMPLATE}


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


@dataclass(frozen=True)
class Change:
    """One resource change of a change set, as `aws cloudformation describe-change-set` lists it."""

    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional ("-" where it does not apply: Add, Remove)


@dataclass(frozen=True)
class ChangeSet:
    stack: str
    arn: str
    kind: str  # CREATE | UPDATE
    changes: list[Change]


Confirm = Callable[[ChangeSet], bool]


class NotConfirmedError(DeployError):
    """A change set was shown and left unexecuted: declined, or nobody to ask (no terminal, no --yes)."""


def _no_changes(reason: str) -> bool:
    return "didn't contain changes" in reason or "No updates are to be performed" in reason


def create_change_set(
    cfn: Any,
    name: str,
    kind: str,
    parameters: list[dict[str, Any]],
    source: dict[str, str],
    *,
    timeout: float,
    poll: float,
    tags: Mapping[str, str] | None = None,
) -> ChangeSet | None:
    """Create a change set and wait until CloudFormation has computed it; None if it holds no change."""
    change_set_name = f"s3-hydration-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    try:
        arn = cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set_name,
            ChangeSetType=kind,
            Parameters=parameters,
            Capabilities=CAPABILITIES,
            Description="tools/deploy_stacks.py",
            Tags=[{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
            **source,
        )["Id"]
    except ClientError as exc:
        if _no_changes(str(exc)):  # some emulators refuse the change set instead of failing it
            return None
        raise
    deadline = time.monotonic() + timeout
    while True:
        described = cfn.describe_change_set(ChangeSetName=arn)
        status = described["Status"]
        if status == "FAILED":
            reason = described.get("StatusReason", "")
            if _no_changes(reason):
                cfn.delete_change_set(ChangeSetName=arn)
                return None
            raise DeployError(f"change set for {name} failed: {reason}")
        if status == "CREATE_COMPLETE":
            break
        if time.monotonic() > deadline:
            raise DeployError(f"change set for {name} still {status} after {timeout:.0f}s")
        time.sleep(poll)
    changes: list[Change] = []
    while True:
        for change in described.get("Changes", []):
            resource = change.get("ResourceChange", {})
            changes.append(
                Change(
                    action=resource.get("Action", "?"),
                    logical_id=resource.get("LogicalResourceId", "?"),
                    resource_type=resource.get("ResourceType", "?"),
                    replacement=resource.get("Replacement") or "-",
                )
            )
        if not described.get("NextToken"):
            return ChangeSet(stack=name, arn=arn, kind=kind, changes=changes)
        described = cfn.describe_change_set(ChangeSetName=arn, NextToken=described["NextToken"])


def preview(change_set: ChangeSet) -> str:
    """The change set as a table: what happens to which resource, and whether it is replaced."""
    rows = [("ACTION", "RESOURCE", "TYPE", "REPLACEMENT")]
    rows += [(c.action, c.logical_id, c.resource_type, c.replacement) for c in change_set.changes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    what = "create" if change_set.kind == "CREATE" else "update"
    head = f"{change_set.stack}: {what}, {len(change_set.changes)} resource change(s) (change set {change_set.arn})"
    replaced = sum(c.replacement == "True" for c in change_set.changes)
    tail = [f"{replaced} resource(s) will be REPLACED (new physical resource, the old one deleted)"] if replaced else []
    return "\n".join([head, *("  " + line for line in lines), *tail])


def deploy_stack(
    account: Account,
    name: str,
    template: Path,
    params: Mapping[str, str],
    *,
    timeout: float,
    poll: float,
    confirm: Confirm,
    template_bucket: str | None = None,
    confirm_delete: Callable[[str, str], bool] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create or update the stack through a change set: computed, shown, executed once `confirm` says so
    (NotConfirmedError otherwise, the change set left for review); return the resulting stack description.
    A stack that cannot be updated (RECREATE) is deleted and created again only if `confirm_delete(name,
    status)` says so; nothing is deleted otherwise (NotConfirmedError)."""
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
            status = stack["StackStatus"]
            if confirm_delete is None or not confirm_delete(name, status):
                raise NotConfirmedError(
                    f"{name} is {status} and cannot be updated: delete it first (deleted only once confirmed: "
                    f"tools/deploy_stacks.py --delete, or aws cloudformation delete-stack --stack-name {name})"
                )
            log(f"{name}: {status}, deleting it before creating it again (confirmed)")
            cfn.delete_stack(StackName=name)
            wait_for(cfn, name, timeout, poll)
        stack = None

    parameters: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]
    if stack is not None:
        # Parameters not given keep their previous value. Spelled out when visible (NoEcho ones read "****"),
        # which also suits CloudFormation emulators that only remember explicitly passed values.
        previous = stack_parameters(stack)
        for key in sorted((set(previous) & known) - set(params)):
            if previous[key] == NO_ECHO_MASK:
                parameters.append({"ParameterKey": key, "UsePreviousValue": True})
            else:
                parameters.append({"ParameterKey": key, "ParameterValue": previous[key]})
    kind = "CREATE" if stack is None else "UPDATE"
    change_set = create_change_set(cfn, name, kind, parameters, source, timeout=timeout, poll=poll, tags=tags)
    if change_set is None:
        log(f"{name}: no changes")
        assert stack is not None  # a new stack always has changes
        return stack
    log(preview(change_set))
    if not confirm(change_set):
        raise NotConfirmedError(
            f"{name}: change set not executed. Review it: aws cloudformation describe-change-set --change-set-name "
            f"{change_set.arn}; apply it: rerun with --yes (make deploy CONFIRM=1) or aws cloudformation "
            f"execute-change-set --change-set-name {change_set.arn}"
        )
    log(f"{name}: executing the change set")
    cfn.execute_change_set(ChangeSetName=change_set.arn)
    expected = f"{kind}_COMPLETE"
    result = wait_for(cfn, name, timeout, poll)
    if result["StackStatus"] != expected:
        reasons = "\n  ".join(failure_reasons(cfn, name)) or "(no failure events)"
        raise DeployError(f"stack {name} ended {result['StackStatus']}:\n  {reasons}")
    log(f"{name}: {result['StackStatus']}")
    return result


def confirmation(args: argparse.Namespace) -> Confirm:
    """--yes (or CONFIRM=1) and LocalStack deployments: yes. A terminal: ask. Otherwise: no (show and stop)."""
    if args.yes or args.target == "localstack":
        return lambda _change_set: True
    if not sys.stdin.isatty():
        return lambda _change_set: False
    return ask


def ask(change_set: ChangeSet) -> bool:
    print(f"Execute this change set on {change_set.stack}? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in {"y", "yes"}


# ------------------------------------------------------------------------------------------ LocalStack


def localstack_plan(args: argparse.Namespace) -> Plan:
    endpoint = args.endpoint_url or LOCALSTACK_ENDPOINT
    args.region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

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


def run(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """LocalStack: the zip, the producer stack once, then the consumer stack with the producer's outputs."""
    timeout, poll = args.timeout, args.poll_interval
    confirm = confirmation(args)
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
    # LocalStack is thrown away with its state: a stack it left broken is recreated without asking.
    common: dict[str, Any] = {
        "timeout": timeout,
        "poll": poll,
        "confirm": confirm,
        "confirm_delete": lambda _name, _status: True,
        "tags": LOCALSTACK_TAGS,
    }
    if args.consumer_only:
        producer_stack = describe(plan.producer.client("cloudformation"), args.producer_stack)
        if producer_stack is None:
            raise SystemExit(f"--consumer-only: stack {args.producer_stack} does not exist")
    else:
        producer_stack = deploy_stack(plan.producer, args.producer_stack, PRODUCER_TEMPLATE, producer_params, **common)
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
        template_bucket=plan.code_bucket,
        **common,
    )
    return {
        **producer_out,
        **stack_outputs(consumer_stack),
        "ProducerStackName": args.producer_stack,
        "ConsumerStackName": args.consumer_stack,
        "ConsumerAccountId": plan.consumer_account_id,
        "Region": plan.region,
        "CodeBucket": plan.code_bucket,
        "CodeKey": code_key,
        "EndpointUrl": plan.consumer.endpoint_url,
        "ProducerAccountId": LOCALSTACK_PRODUCER_ACCOUNT,
        "ExternalId": plan.external_id,  # a local, throw-away value: tests assume the role with it
    }


# ------------------------------------------------------------------------------------------ AWS: sam deploy


@dataclass(frozen=True)
class SamEnv:
    """One environment of a SAM CLI configuration file ([ENV.deploy.parameters] over [ENV.global.parameters])."""

    name: str
    stack_name: str
    region: str | None
    profile: str | None
    s3_bucket: str | None
    parameter_overrides: dict[str, str]
    tags: dict[str, str]


def _pairs(value: str | list[str] | None, what: str) -> dict[str, str]:
    """SAM's `K=V K2="v 2"` string, or a list of such strings, as a dict: values with spaces, or empty, are
    quoted (`K=""`), as sam's own parser needs them (an unquoted one is refused here rather than cut)."""
    if value is None:
        return {}
    items = value if isinstance(value, list) else [value]
    return parse_key_values([token for item in items for token in shlex.split(item)], what)


def read_samconfig(path: Path, env: str) -> SamEnv:
    """The environment `env` of a SAM CLI configuration file (version 0.1)."""
    config = tomllib.loads(path.read_text())
    if env not in config:
        known = ", ".join(sorted(k for k in config if isinstance(config[k], dict)))
        raise SystemExit(f"{path}: no environment {env!r} (found: {known})")
    section = {
        **config[env].get("global", {}).get("parameters", {}),
        **config[env].get("deploy", {}).get("parameters", {}),
    }
    if not section.get("stack_name"):
        raise SystemExit(f"{path} [{env}.deploy.parameters]: stack_name is required")
    return SamEnv(
        name=env,
        stack_name=section["stack_name"],
        region=section.get("region") or None,
        profile=section.get("profile") or None,
        s3_bucket=section.get("s3_bucket") or None,
        parameter_overrides=_pairs(section.get("parameter_overrides"), "parameter_overrides"),
        tags=_pairs(section.get("tags"), "tags"),
    )


def resolve_region(profile: str | None, region: str | None) -> str:
    """The configuration's region, else the profile's (AWS config / AWS_REGION), as aws-cli and sam do."""
    found = region or boto3.Session(profile_name=profile).region_name
    if not found:
        raise SystemExit(f"no region: set region in the configuration or in profile {profile or 'default'!r}")
    return found


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_DAY_NAMES = {d: i + 1 for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
RUN_WINDOW_MARGIN_HOURS = 2
RUN_WINDOW_MAX_HOURS = 168  # the NoRunStartedAlarm's hourly periods cover at most 7 days


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values of one cron field: `*`, `?`, N, A-B, lists and /steps (AWS cron; no L, W or #)."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        else:
            bounds = [names.get(b.upper(), b) if names else b for b in base.split("-")]
            if not all(str(b).isdigit() for b in bounds):
                raise ValueError(f"cannot read the cron field {text!r}")
            first = int(bounds[0])
            last = int(bounds[-1]) if len(bounds) > 1 else (high if step_text else first)
        values |= set(range(first, last + 1, step))
    return values


def schedule_window_hours(expression: str) -> int:
    """RunStartWindowHours for a schedule: its longest gap between two starts plus a margin, in whole hours
    (`cron(0 6 * * ? *)`: 26). ValueError for what it cannot read (set RunStartWindowHours yourself)."""
    if rate := _RATE.match(expression.strip()):
        minutes = int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")]
        gap_hours = minutes / 60
    elif cron := _CRON.match(expression.strip()):
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"{expression}: an AWS cron expression has 6 fields")
        minute, hour, dom, month, dow, _year = fields
        minutes_set = _cron_field(minute, 0, 59)
        hours_set = _cron_field(hour, 0, 23)
        doms = _cron_field(dom, 1, 31)
        months = _cron_field(month, 1, 12)
        dows = _cron_field(dow, 1, 7, _DAY_NAMES)
        # every start over eight weeks from Sunday 2023-01-01 (UTC, as EventBridge schedules)
        starts: list[float] = []
        for day in range(56):
            moment = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=day)
            weekday = moment.isoweekday() % 7 + 1  # AWS: 1 = SUN
            if moment.month not in months or moment.day not in doms or weekday not in dows:
                continue
            starts += [day * 24 + h + m / 60 for h in sorted(hours_set) for m in sorted(minutes_set)]
        if len(starts) < 2:
            raise ValueError(f"{expression}: fewer than two starts in eight weeks")
        gap_hours = max(b - a for a, b in itertools.pairwise(starts))
    else:
        raise ValueError(f"{expression!r} is neither rate(...) nor cron(...)")
    window = max(2, math.ceil(gap_hours) + RUN_WINDOW_MARGIN_HOURS)
    if window > RUN_WINDOW_MAX_HOURS:
        raise ValueError(f"{expression}: runs {gap_hours:.0f} h apart exceed the alarm's 7-day window")
    return window


def _override(key: str, value: str) -> str:
    if value and not re.search(r"[\s\"'\\]", value):
        return f"{key}={value}"
    return f'{key}="{value.replace("\\", "\\\\").replace(chr(34), chr(92) + chr(34))}"'


def sam_command(
    sam: list[str],
    config_file: Path,
    env: SamEnv,
    template: Path,
    overrides: Mapping[str, str],
    *,
    region: str,
    yes: bool,
) -> list[str]:
    """`sam deploy` for one environment: the configuration file does the rest (stack, tags, capabilities, the
    template's upload); the parameter overrides are given whole (on sam's command line they replace the
    file's), and --no-confirm-changeset only when asked not to ask."""
    cmd = [*sam, "deploy", "--config-file", str(config_file), "--config-env", env.name]
    cmd += ["--template-file", str(template), "--region", region, "--no-fail-on-empty-changeset"]
    if overrides:
        cmd += ["--parameter-overrides", " ".join(_override(k, v) for k, v in sorted(overrides.items()))]
    if yes:
        cmd.append("--no-confirm-changeset")
    return cmd


def protect(cfn: Any, name: str) -> None:
    """Termination protection on: a deletion has to turn it off first (only --delete does, once confirmed)."""
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=True)


HANDOVER = {
    "producer": (
        "hand over to the consumer team (their deploy/samconfig.consumer.toml parameter_overrides): "
        "ProducerRoleArn={ProducerRoleArn} ProducerBucket={ProducerBucketName}, and the ExternalId (not in the "
        "outputs: pass it out of band) and OrganisationId you deployed with"
    ),
    "consumer": (
        "hand over to the producer team (their deploy/samconfig.producer.toml parameter_overrides): "
        "ConsumerAccountId={account} ConsumerResourcePrefix={prefix}; to narrow the server-side write grant "
        "to this bucket and key: ConsumerBucket={ConsumerBucketName} ConsumerKmsKeyArn={ConsumerKmsKeyArn}"
    ),
}


def deploy_aws(args: argparse.Namespace, runner: Callable[[list[str]], int] | None = None) -> dict[str, Any]:
    """One stack on AWS with `sam deploy --config-env`: the code (consumer), then sam, then termination
    protection; returns the stack's outputs."""
    config_file = (args.config_file or CONFIG_DIR / f"samconfig.{args.stack}.toml").resolve()
    env = read_samconfig(config_file, args.config_env)
    region = resolve_region(env.profile, env.region)
    session = boto3.Session(profile_name=env.profile, region_name=region)
    account = Account(session, None)
    template = TEMPLATES[args.stack]
    overrides = dict(env.parameter_overrides)
    unknown = sorted(set(overrides) - template_parameters(template))
    if unknown:
        raise SystemExit(f"{config_file} [{env.name}]: {template.name} has no parameter(s) {unknown}")
    if args.stack == "consumer":
        if not env.s3_bucket:
            raise SystemExit(f"{config_file} [{env.name}]: s3_bucket (the code bucket) is required")
        s3 = account.client("s3")
        ensure_bucket(s3, env.s3_bucket, region)
        overrides.update(CodeBucket=env.s3_bucket, CodeKey=upload_code(s3, env.s3_bucket, args.zip))
        if "RunStartWindowHours" not in overrides:
            schedule = overrides.get("ScheduleExpression", "cron(0 6 * * ? *)")
            try:
                overrides["RunStartWindowHours"] = str(schedule_window_hours(schedule))
            except ValueError as exc:
                raise SystemExit(f"{exc}: set RunStartWindowHours in parameter_overrides") from exc
    cmd = sam_command(shlex.split(args.sam), config_file, env, template, overrides, region=region, yes=args.yes)
    log(" ".join(shlex.quote(c) for c in cmd))
    status = (runner or _run)(cmd)
    if status != 0:
        raise DeployError(f"sam deploy exited {status}")
    cfn = account.client("cloudformation")
    stack = describe(cfn, env.stack_name)
    if stack is None or stack["StackStatus"] not in SUCCESS:
        raise NotConfirmedError(f"{env.stack_name}: not deployed ({stack['StackStatus'] if stack else 'no stack'})")
    protect(cfn, env.stack_name)
    outputs = stack_outputs(stack)
    values = {
        **outputs,
        "account": session.client("sts").get_caller_identity()["Account"],
        "prefix": stack_parameters(stack).get("ResourcePrefix", "s3-hydration"),
    }
    log(HANDOVER[args.stack].format_map(_Missing(values)))
    return {**outputs, "StackName": env.stack_name, "Region": region}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _run(cmd: list[str]) -> int:
    return subprocess.run(cmd, check=False).returncode  # noqa: S603 - argv from the tool's own options


def confirm_deletion(name: str, *, yes: bool) -> bool:
    """--yes, or the stack's name typed at a terminal; nothing else deletes a stack."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return False
    print(f"Delete stack {name}? Type its name to confirm: ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip() == name


def delete_stack(
    account: Account, name: str, *, confirmed: Callable[[str], bool], timeout: float, poll: float
) -> list[str]:
    """Delete a stack once `confirmed(name)`: termination protection off, then DeleteStack; return the
    resources its template retains (DeletionPolicy Retain: tables, bucket, key), which outlive it.
    NotConfirmedError if not confirmed (nothing changed)."""
    cfn = account.client("cloudformation")
    if describe(cfn, name) is None:
        raise SystemExit(f"stack {name} does not exist")
    body = cfn.get_template(StackName=name)["TemplateBody"]
    template = body if isinstance(body, dict) else yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - SafeLoader
    kept = {k for k, r in template.get("Resources", {}).items() if r.get("DeletionPolicy") == "Retain"}
    physical = {
        summary["LogicalResourceId"]: f"{summary['ResourceType']} {summary.get('PhysicalResourceId', '?')}"
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        for summary in page["StackResourceSummaries"]
    }
    retained = sorted(physical[k] for k in kept if k in physical)
    log(f"{name}: deleting it keeps (DeletionPolicy Retain): " + ("; ".join(retained) or "nothing"))
    if not confirmed(name):
        raise NotConfirmedError(f"{name}: not deleted (not confirmed)")
    cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=name)
    result = wait_for(cfn, name, timeout, poll)
    if result["StackStatus"] != "DELETE_COMPLETE":
        raise DeployError(f"stack {name} ended {result['StackStatus']}")
    log(f"{name}: deleted")
    return retained


def delete_aws(args: argparse.Namespace) -> dict[str, Any]:
    config_file = (args.config_file or CONFIG_DIR / f"samconfig.{args.stack}.toml").resolve()
    env = read_samconfig(config_file, args.config_env)
    region = resolve_region(env.profile, env.region)
    account = Account(boto3.Session(profile_name=env.profile, region_name=region), None)
    retained = delete_stack(
        account,
        env.stack_name,
        confirmed=lambda name: confirm_deletion(name, yes=args.yes),
        timeout=args.timeout,
        poll=args.poll_interval,
    )
    return {"DeletedStack": env.stack_name, "Region": region, "Retained": retained}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", choices=["aws", "localstack"], required=True)
    parser.add_argument(
        "--region", default=None, help="localstack only (default AWS_REGION, AWS_DEFAULT_REGION, us-east-1)"
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("LOCALSTACK_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL"),
        help=f"LocalStack only (default {LOCALSTACK_ENDPOINT})",
    )
    aws = parser.add_argument_group("aws (one stack, from its SAM configuration file)")
    aws.add_argument("--stack", choices=sorted(TEMPLATES), help="aws: the stack to deploy (or --delete)")
    aws.add_argument("--config-env", default="default", help="aws: the configuration's environment (%(default)s)")
    aws.add_argument("--config-file", type=Path, help="aws: default deploy/samconfig.<stack>.toml")
    aws.add_argument("--sam", default=os.environ.get("SAM") or "sam", help="aws: the sam command (env SAM)")
    aws.add_argument("--delete", action="store_true", help="aws: delete the stack (asks; retained resources stay)")
    local = parser.add_argument_group("localstack (both stacks)")
    local.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="consumer parameter")
    local.add_argument("--producer-param", action="append", default=[], metavar="KEY=VALUE", help="producer parameter")
    local.add_argument("--producer-stack", default="s3-hydration-producer")
    local.add_argument("--consumer-stack", default="s3-hydration-consumer")
    local.add_argument("--consumer-only", action="store_true", help="skip the producer stack (it must exist)")
    local.add_argument("--code-bucket", default=None)
    local.add_argument("--external-id", default=None)
    local.add_argument("--organisation-id", default=None)
    local.add_argument("--producer-bucket", default=None)
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP, help="Lambda zip (%(default)s)")
    parser.add_argument(
        "--no-build", action="store_true", help="localstack: upload --zip as it is (default: tools/build.py first)"
    )
    parser.add_argument("--outputs", type=Path, help="outputs JSON (localstack: .localstack/outputs.json)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each stack")
    parser.add_argument("--poll-interval", type=float, default=None, help="seconds between status polls")
    parser.add_argument(
        "--yes",
        action="store_true",
        default=os.environ.get("CONFIRM") == "1",
        help="do not ask (env CONFIRM=1; always so with --target localstack); --delete: only --yes itself",
    )
    args = parser.parse_args(argv)
    if args.target == "aws" and not args.stack:
        parser.error("--target aws needs --stack producer|consumer")
    if args.delete:
        args.yes = "--yes" in (argv if argv is not None else sys.argv[1:])  # CONFIRM=1 never deletes a stack
    if args.poll_interval is None:
        args.poll_interval = 2.0 if args.target == "localstack" else 10.0
    if args.outputs is None:
        local_outputs = ".localstack/outputs.json"
        args.outputs = ROOT / (
            local_outputs if args.target == "localstack" else f"dist/{args.config_env}-{args.stack}.json"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.target == "localstack":
            plan = localstack_plan(args)
            plan.consumer_params = parse_key_values(args.param, "--param")
            plan.producer_params.update(parse_key_values(args.producer_param, "--producer-param"))
            outputs = run(plan, args)
        elif args.delete:
            outputs = delete_aws(args)
        else:
            outputs = deploy_aws(args)
    except NotConfirmedError as exc:
        print(f"deploy stopped: {exc}", file=sys.stderr)
        return PENDING
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

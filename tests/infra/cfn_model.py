"""Reading the CloudFormation templates and docs/architecture.md for the infra tests.

Templates are decoded with cfn-lint's decoder (short-form tags become their long form: ``!Ref X`` ->
``{"Ref": "X"}``); a template with the SAM transform is expanded by the SAM translator, as CloudFormation
expands it, so the tests read the resources that are deployed (``load_template(..., expand=False)`` reads the
source). ``resolve`` evaluates a template for given parameter values: conditions, ``Fn::If``,
``AWS::NoValue`` and parameter ``Ref``s; every other intrinsic is left as it is.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

_NO_VALUE = object()
POLICY_RESOURCE_TYPES = {
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
}
RESOURCE_POLICY_TYPES = {
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::KMS::Key",
}


# ------------------------------------------------------------------------------------------ loading


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load_template(name: str, *, expand: bool = True) -> dict[str, Any]:
    template, matches = decode(str(INFRA / name))
    assert not matches, f"{name} does not decode: {matches}"
    plain: dict[str, Any] = _plain(template)
    return sam_expand(plain) if expand and "Transform" in plain else plain


def sam_expand(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation's SAM transform makes it (parameters at their defaults: SAM resolves a
    few of them, such as EventInvokeConfig's, at transform time)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    expanded: dict[str, Any] = translator.translate(sam_template=copy.deepcopy(template), parameter_values={})
    return expanded


# ------------------------------------------------------------------------------------------ evaluation


class Evaluator:
    """Evaluate a template for given parameters (defaults for the rest, in conditions)."""

    def __init__(self, template: Mapping[str, Any], params: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.given = set(params or {})  # only these are substituted by resolve(); the rest stay Refs
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = (params or {}).get(name, spec.get("Default"))
            if spec["Type"] == "CommaDelimitedList":
                value = [] if value is None else str(value).split(",")
            self.params[name] = None if value is None else value if isinstance(value, list) else str(value)
        self.conditions = {name: self._truthy(expr) for name, expr in template.get("Conditions", {}).items()}

    def _value(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" and arg in self.params:
                return self.params[arg]
            if key == "Fn::Join":
                delimiter, items = arg
                values = self._value(items)
                return delimiter.join(str(self._value(v)) for v in values)
        return node

    def _truthy(self, expr: Any) -> bool:
        ((key, arg),) = expr.items()
        if key == "Condition":
            return self._truthy(self.template["Conditions"][arg])
        if key == "Fn::Equals":
            left, right = (self._value(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truthy(arg[0])
        if key == "Fn::And":
            return all(self._truthy(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truthy(a) for a in arg)
        raise AssertionError(f"unsupported condition function {key}")

    def condition(self, name: str) -> bool:
        return self.conditions[name]

    def resolve(self, node: Any) -> Any:
        result = self._resolve(node)
        return None if result is _NO_VALUE else result

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Fn::If":
                    name, yes, no = arg
                    return self._resolve(yes if self.conditions[name] else no)
                if key == "Ref" and arg == "AWS::NoValue":
                    return _NO_VALUE
                if key == "Ref" and arg in self.given:
                    return self.params[arg]
            out = {}
            for k, v in node.items():
                r = self._resolve(v)
                if r is not _NO_VALUE:
                    out[k] = r
            return out
        if isinstance(node, list):
            return [r for r in (self._resolve(v) for v in node) if r is not _NO_VALUE]
        return node

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources that exist for these parameters, resolved."""
        return {
            name: self.resolve(res)
            for name, res in self.template["Resources"].items()
            if "Condition" not in res or self.conditions[res["Condition"]]
        }


# ------------------------------------------------------------------------------------------ policies


def _documents(resource: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    props = resource.get("Properties", {})
    rtype = resource["Type"]
    if rtype == "AWS::IAM::Role":
        yield "trust", props.get("AssumeRolePolicyDocument")
        for policy in _walk_list(props.get("Policies", [])):
            yield "identity", policy.get("PolicyDocument")
    elif rtype in POLICY_RESOURCE_TYPES:
        kind = "resource" if rtype in RESOURCE_POLICY_TYPES else "identity"
        for key in POLICY_RESOURCE_TYPES[rtype]:
            yield kind, props.get(key)


def _walk_list(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a list, through the branches of any Fn::If."""
    if isinstance(node, list):
        for item in node:
            yield from _walk_list(item)
    elif isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            for branch in node["Fn::If"][1:]:
                yield from _walk_list(branch)
        elif node != {"Ref": "AWS::NoValue"}:
            yield node


def statements(template: Mapping[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(logical id, resource type, document kind, statement) for every statement, in every Fn::If branch."""
    for name, resource in template["Resources"].items():
        for kind, document in _documents(resource):
            if document is None:
                continue
            for statement in _walk_list(document.get("Statement", [])):
                yield name, resource["Type"], kind, statement


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return [v for branch in value["Fn::If"][1:] for v in as_list(branch) if v != {"Ref": "AWS::NoValue"}]
    return [value]


def references(node: Any, name: str) -> bool:
    """Whether ``node`` refers to parameter or resource ``name`` (Ref, GetAtt or ${name} in a Sub)."""
    if isinstance(node, dict):
        for key, arg in node.items():
            if key == "Ref" and arg == name:
                return True
            if key == "Fn::GetAtt" and (arg[0] if isinstance(arg, list) else arg.split(".")[0]) == name:
                return True
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                if re.search(r"\$\{" + re.escape(name) + r"(\.[^}]*)?\}", text):
                    return True
            if references(arg, name):
                return True
        return False
    if isinstance(node, list):
        return any(references(v, name) for v in node)
    return False


# ------------------------------------------------------------------------------------------ dashboard


def dashboard_body(template: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard JSON with every ${...} of its Fn::Sub replaced by a placeholder (a number substituted
    into a JSON value, `"value": ${Threshold}`, becomes the string "SUB:Threshold")."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["Properties"]["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    text = text if isinstance(text, str) else text[0]
    text = re.sub(r'("\s*:\s*)\$\{([^}]*)\}', lambda m: f'{m.group(1)}"SUB:{m.group(2)}"', text)
    return json.loads(re.sub(r"\$\{([^}]*)\}", lambda m: f"SUB:{m.group(1)}", text))


def dashboard_metrics(
    template: Mapping[str, Any],
) -> Iterator[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric name, dimensions, options) of every dashboard metric line."""
    for widget in dashboard_body(template)["widgets"]:
        previous: list[Any] = []
        for line in widget["properties"].get("metrics", []):
            options = line[-1] if isinstance(line[-1], dict) else {}
            parts = [p for p in line if not isinstance(p, dict)]
            # "..." / "." shorthand repeats the previous line's values
            parts = [previous[i] if p == "." and i < len(previous) else p for i, p in enumerate(parts)]
            previous = parts
            namespace, metric, *dims = parts
            yield namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True)), options


# ------------------------------------------------------------------------------------------ docs


def doc_section(title: str) -> str:
    text = ARCHITECTURE.read_text()
    match = re.search(r"^## " + re.escape(title) + r".*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/architecture.md has no '## {title}' section"
    return match.group(1)


def doc_metric_names() -> set[str]:
    """Metric names listed in the Metrics section of docs/architecture.md."""
    return set(re.findall(r"`([A-Z][A-Za-z]+)`", doc_section("Metrics")))


def doc_function_environment() -> dict[str, set[str]]:
    """function -> the variables docs/architecture.md gives it (the 'Function environment' table)."""
    env: dict[str, set[str]] = {"planner": set(), "planner-worker": set(), "copier": set(), "finalizer": set()}
    for row in re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", doc_section("Function environment"), re.M):
        variable, functions = row
        targets = env if functions.strip() == "all" else [f.strip() for f in functions.split(",")]
        for function in targets:
            env[function].add(variable)
    return env


def doc_outputs() -> tuple[set[str], set[str]]:
    """(consumer outputs, producer outputs) from docs/architecture.md."""
    section = doc_section("Consumer stack outputs")
    consumer_text, _, producer_text = section.partition("Producer stack outputs")
    return set(re.findall(r"`(\w+)`", consumer_text)), set(re.findall(r"`(\w+)`", producer_text))

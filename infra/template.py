"""Reading template.yaml: CloudFormation YAML with short-form intrinsics, the SAM functions and
their triggers, and the emulator's copy of the template (everything but the functions).

template.yaml is the one source of truth: nothing here lists a resource by hand.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"
SERVERLESS_PREFIX = "AWS::Serverless::"
_SUB_REFERENCE = re.compile(r"\$\{([^}!][^}]*)\}")


class _CloudFormationLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 (SafeLoader subclass)
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise ValueError(f"{path} is not a CloudFormation template")
    return loaded


def resources_of(template: dict[str, Any], kind: str) -> list[str]:
    """The logical ids of the template's resources of this type (e.g. `AWS::DynamoDB::Table`)."""
    return [name for name, body in template["Resources"].items() if body.get("Type") == kind]


def referenced_names(value: Any) -> set[str]:
    """Logical ids and parameters named by Ref, Fn::GetAtt and Fn::Sub anywhere inside `value`."""
    names: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                names.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                names.add(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                names.update(match.split(".", 1)[0] for match in _SUB_REFERENCE.findall(text))
                if isinstance(inner, list):
                    names -= set(inner[1])
                    names |= referenced_names(inner[1])
            else:
                names |= referenced_names(inner)
    elif isinstance(value, list):
        for inner in value:
            names |= referenced_names(inner)
    return {name for name in names if not name.startswith("AWS::")}


@dataclass(frozen=True)
class SqsTrigger:
    name: str
    queue: str  # logical id
    batch_size: int
    batching_window_seconds: int
    reports_item_failures: bool


@dataclass(frozen=True)
class ScheduleTrigger:
    name: str
    expression: str
    input: dict[str, Any] | None
    enabled: bool
    timezone: str = "UTC"


@dataclass(frozen=True)
class ApiRoute:
    path: str
    method: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    sqs_triggers: list[SqsTrigger] = field(default_factory=list)
    schedules: list[ScheduleTrigger] = field(default_factory=list)
    api_routes: list[ApiRoute] = field(default_factory=list)


def _queue_logical_id(arn_expression: Any) -> str:
    if isinstance(arn_expression, dict) and "Fn::GetAtt" in arn_expression:
        target, attribute = arn_expression["Fn::GetAtt"]
        if attribute == "Arn":
            return str(target)
    raise ValueError(f"SQS event Queue must be !GetAtt <Queue>.Arn, got {arn_expression!r}")


def functions(template: dict[str, Any]) -> list[FunctionSpec]:
    defaults = template.get("Globals", {}).get("Function", {})
    default_env = defaults.get("Environment", {}).get("Variables", {})
    specs = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        spec = FunctionSpec(
            logical_id=logical_id,
            handler=props["Handler"],
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
            environment={**default_env, **props.get("Environment", {}).get("Variables", {})},
        )
        for name, event in props.get("Events", {}).items():
            kind, event_props = event["Type"], event.get("Properties", {})
            if kind == "SQS":
                spec.sqs_triggers.append(
                    SqsTrigger(
                        name=name,
                        queue=_queue_logical_id(event_props["Queue"]),
                        batch_size=int(event_props.get("BatchSize", 10)),
                        batching_window_seconds=int(event_props.get("MaximumBatchingWindowInSeconds", 0)),
                        reports_item_failures="ReportBatchItemFailures"
                        in event_props.get("FunctionResponseTypes", []),
                    )
                )
            elif kind in ("Schedule", "ScheduleV2"):
                expression = event_props.get("Schedule") or event_props["ScheduleExpression"]
                raw_input = event_props.get("Input")
                state = event_props.get("State", "ENABLED")
                spec.schedules.append(
                    ScheduleTrigger(
                        name=name,
                        expression=expression,
                        input=json.loads(raw_input) if raw_input else None,
                        enabled=bool(event_props.get("Enabled", True)) and state == "ENABLED",
                        timezone=event_props.get("ScheduleExpressionTimezone", "UTC"),
                    )
                )
            elif kind == "HttpApi":
                spec.api_routes.append(ApiRoute(event_props["Path"], event_props["Method"].upper()))
            else:
                raise ValueError(f"{logical_id}.{name}: event type {kind} is not run by the local stack")
        specs.append(spec)
    return specs


# Access policies the emulator neither creates nor enforces (it checks no permissions).
EMULATOR_SKIPS = frozenset({"AWS::SQS::QueuePolicy", "AWS::CloudWatch::Alarm"})  # AWS-side only


def emulator_template(template: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The template minus its functions (and whatever depends on them), with `outputs` as its
    Outputs so the emulator's CloudFormation resolves the values the runtime needs."""
    resources = copy.deepcopy(template["Resources"])
    dropped = {
        name
        for name, resource in resources.items()
        if resource["Type"].startswith(SERVERLESS_PREFIX) or resource["Type"] in EMULATOR_SKIPS
    }
    while True:
        dependent = {
            name
            for name, resource in resources.items()
            if name not in dropped and referenced_names(resource) & dropped
        }
        if not dependent:
            break
        dropped |= dependent
    kept = {name: resource for name, resource in resources.items() if name not in dropped}
    for name, expression in outputs.items():
        missing = referenced_names(expression) & dropped
        if missing:
            raise ValueError(f"Output {name} refers to {sorted(missing)}, which the emulator does not deploy")
    result: dict[str, Any] = {
        key: copy.deepcopy(value)
        for key, value in template.items()
        if key in ("Parameters", "Conditions", "Mappings")
    }
    result["AWSTemplateFormatVersion"] = "2010-09-09"
    result["Resources"] = kept
    result["Outputs"] = {name: {"Value": expression} for name, expression in outputs.items()}
    return result

"""template.yaml is code: its rules are asserted here."""

import importlib
import json
import shutil
import subprocess
import sys
import typing

import boto3
import pytest
from moto import mock_aws
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from functions.api.app import app as chalice_app
from infra.package import built_template
from infra.schedules import parse_schedule
from infra.template import TEMPLATE_PATH, functions, load_template, referenced_names
from shared.settings import ResourceSetting, Settings

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
SPECS = functions(TEMPLATE)
SPEC_IDS = [spec.logical_id for spec in SPECS]


def function_properties(logical_id: str) -> dict:
    return RESOURCES[logical_id]["Properties"]


def policy_statements(logical_id: str) -> list[dict]:
    statements = []
    for policy in function_properties(logical_id).get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, "inline statements only"
        statements.extend(policy["Statement"])
    return statements


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_globals_set_runtime_architecture_limits_tracing_and_powertools():
    defaults = TEMPLATE["Globals"]["Function"]
    assert defaults["Runtime"] == "python3.12"
    assert defaults["Architectures"] in (["arm64"], ["x86_64"])
    assert 1 <= defaults["Timeout"] <= 900
    assert 128 <= defaults["MemorySize"] <= 10240
    assert defaults["Tracing"] == "Active"
    variables = defaults["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(
        variables
    )


def test_stage_and_log_level_are_parameters():
    assert {"Stage", "LogLevel"} <= set(TEMPLATE["Parameters"])
    assert TEMPLATE["Parameters"]["AdminApiKeySha256"]["NoEcho"] is True


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_handler_imports(spec):
    module_name, _, attribute = spec.handler.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    assert callable(handler)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_every_function_has_a_log_group_with_retention(spec):
    groups = [
        resource
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::Logs::LogGroup"
        and resource["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{spec.logical_id}}}"}
    ]
    assert len(groups) == 1
    assert "RetentionInDays" in groups[0]["Properties"]


@pytest.mark.parametrize(
    "spec", [spec for spec in SPECS if spec.sqs_triggers], ids=lambda spec: spec.logical_id
)
def test_sqs_sources_report_item_failures_and_redrive_to_a_dlq(spec):
    for trigger in spec.sqs_triggers:
        assert trigger.reports_item_failures
        queue = RESOURCES[trigger.queue]["Properties"]
        assert queue["VisibilityTimeout"] >= 6 * spec.timeout
        redrive = queue["RedrivePolicy"]
        assert redrive["maxReceiveCount"] >= 5
        (dlq,) = referenced_names(redrive["deadLetterTargetArn"])
        assert RESOURCES[dlq]["Type"] == "AWS::SQS::Queue"
        assert RESOURCES[dlq]["Properties"]["MessageRetentionPeriod"] > queue.get(
            "MessageRetentionPeriod", 345600
        )


def test_there_is_a_schedule_and_every_schedule_parses():
    schedules = [schedule for spec in SPECS for schedule in spec.schedules]
    assert schedules
    for schedule in schedules:
        parse_schedule(schedule.expression, schedule.timezone)


PROVIDER_STATEMENTS = {"SendEmail", "SendSmsAndPush"}  # scoped to this account and region


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_policies_are_least_privilege(spec):
    statements = policy_statements(spec.logical_id)
    assert statements, "every function names what it may touch"
    granted: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"]):
            assert resource != "*"
            if (
                statement.get("Sid") in PROVIDER_STATEMENTS
            ):  # SES identities, SNS endpoints: outside the template
                assert "${AWS::AccountId}" in resource["Fn::Sub"] and "${AWS::Region}" in resource["Fn::Sub"]
                continue
            names = referenced_names(resource)
            assert names and names <= set(RESOURCES), f"{resource} must name a resource of this template"
            granted |= names
    # Each resource a function is told about is one it may use, and vice versa.
    told = {name for value in spec.environment.values() for name in referenced_names(value)} & set(RESOURCES)
    assert told == granted


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_environment_refers_only_to_resources_and_parameters_of_the_template(spec):
    known = set(RESOURCES) | set(TEMPLATE["Parameters"])
    for name, value in spec.environment.items():
        assert referenced_names(value) <= known, name


def test_every_resource_setting_is_set_by_the_template_and_every_variable_is_read():
    set_by_template = {name for spec in SPECS for name in spec.environment}
    resource_settings = {name.upper() for name in typing.get_args(ResourceSetting)}
    assert resource_settings <= set_by_template
    read = {name.upper() for name in Settings.model_fields} | {"STAGE"}
    assert {name for name in set_by_template if not name.startswith("POWERTOOLS_")} <= read


def test_a_variable_means_the_same_thing_in_every_function():
    meaning: dict[str, object] = {}
    for spec in SPECS:
        for name, value in spec.environment.items():
            assert meaning.setdefault(name, value) == value, name


def test_the_api_reaches_each_app_through_greedy_routes():
    """A few invoke permissions, not one per route (issue 16): the apps route (functions/api/proxy).
    Ingest (/v1, /webhooks) has a function of its own; the admin and member API takes the rest."""
    routes = {
        spec.logical_id: {(r.path, r.method) for r in spec.api_routes} for spec in SPECS if spec.api_routes
    }
    assert routes == {
        "ApiFunction": {("/", "ANY"), ("/{proxy+}", "ANY")},
        "IngestFunction": {("/v1/{proxy+}", "ANY"), ("/webhooks/{proxy+}", "ANY")},
    }
    resources = TEMPLATE["Resources"]
    for name in routes:
        function = resources[name]["Properties"]
        for event in function["Events"].values():
            integration_ms = event["Properties"]["TimeoutInMillis"]
            assert function["Timeout"] * 1000 < integration_ms <= 29_000, name
            assert event["Properties"]["PayloadFormatVersion"] == "1.0"  # the event Chalice reads
    assert resources["ApiFunction"]["Properties"]["Handler"] == "functions.api.app.handler"
    assert resources["IngestFunction"]["Properties"]["Handler"] == "functions.api.ingest_app.handler"


def test_the_ingest_function_serves_every_ingest_route_and_nothing_else():
    from functions.api.ingest_app import app as ingest_app

    ingest = {path for path in chalice_app.routes if path.startswith(("/v1/", "/webhooks/"))}
    assert ingest and set(ingest_app.routes) == ingest
    for path in ingest:  # the same methods in both apps (a shared blueprint registered twice)
        assert set(ingest_app.routes[path]) == set(chalice_app.routes[path]), path


def test_the_ingest_function_may_read_sources_and_enqueue_touchpoints_only():
    function = TEMPLATE["Resources"]["IngestFunction"]["Properties"]
    (policy,) = function["Policies"]
    granted = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in policy["Statement"]
        for action in statement["Action"]
    }
    assert granted == {
        ("kms:Decrypt", json.dumps({"Fn::GetAtt": ["SigningSecretsKey", "Arn"]})),
        ("dynamodb:GetItem", json.dumps({"Fn::GetAtt": ["TouchpointsTable", "Arn"]})),
        ("dynamodb:Query", json.dumps({"Fn::GetAtt": ["TouchpointsTable", "Arn"]})),
        ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["TouchpointQueue", "Arn"]})),
    }
    admin = TEMPLATE["Resources"]["ApiFunction"]["Properties"]["Policies"][0]["Statement"]
    # The admin function records only what a booking's change or a one-click unsubscribe says
    # about a customer: it may send to the queue, and do nothing else with it.
    on_queue = [s for s in admin if s["Resource"] == {"Fn::GetAtt": ["TouchpointQueue", "Arn"]}]
    assert [(s["Sid"], s["Action"]) for s in on_queue] == [
        ("RecordAppointmentsAndUnsubscribesAsTouchpoints", ["sqs:SendMessage"])
    ]


def test_the_http_api_logs_every_request_and_throttles_deliberately():
    api = TEMPLATE["Resources"]["Api"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    settings = api["Properties"]
    access = settings["AccessLogSettings"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access["Format"])
    assert {"requestId", "ip", "status", "ms", "route", "integrationError"} <= set(fields)
    throttle = settings["DefaultRouteSettings"]
    assert 0 < throttle["ThrottlingBurstLimit"] <= 5000 and 0 < throttle["ThrottlingRateLimit"] <= 10_000
    log_group = TEMPLATE["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_proxy_finds_every_route_of_the_app_for_its_own_paths():
    from functions.api.app import handler

    for pattern in chalice_app.routes:
        concrete = "/".join("x-1" if part.startswith("{") else part for part in pattern.split("/")) or "/"
        found = handler.routes.match(concrete)
        assert found is not None and found[0] == pattern, (pattern, found)


@pytest.mark.parametrize(
    "logical_id", [name for name, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table"]
)
def test_tables_are_retained_recoverable_and_encrypted(logical_id):
    table = RESOURCES[logical_id]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expires_at"


def test_queues_are_encrypted():
    queues = [r for r in RESOURCES.values() if r["Type"] == "AWS::SQS::Queue"]
    assert queues and all(queue["Properties"]["SqsManagedSseEnabled"] for queue in queues)


def test_the_sam_transform_that_sam_deploy_applies_accepts_the_template():
    packaged = built_template(TEMPLATE)  # as `make package` / `sam build` write it
    for name, resource in packaged["Resources"].items():  # then `sam deploy` uploads each artifact
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://omnireach-artifacts/{name}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://omnireach-artifacts/{name}.zip"
    with mock_aws():
        translated = transform(packaged, {}, ManagedPolicyLoader(boto3.client("iam")))
    resources = translated["Resources"]
    mappings = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings and all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    # A burst on one queue can neither take the account's whole concurrency nor overrun a table.
    assert all(2 <= m["ScalingConfig"]["MaximumConcurrency"] <= 100 for m in mappings)
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert any(rule["Properties"].get("ScheduleExpression") for rule in rules)
    for api_function in ("ApiFunction", "IngestFunction"):
        permissions = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"]["FunctionName"] == {"Ref": api_function}
        ]
        assert 1 <= len(permissions) <= 5  # one resource policy statement each; ~100 would pass 20 KB
    (stage,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert (
        stage["AccessLogSettings"]["DestinationArn"] and stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
    )
    assert not any(r["Type"].startswith("AWS::Serverless::") for r in resources.values())


def test_cfn_lint_is_clean():
    cfn_lint = shutil.which("cfn-lint") or str(__import__("pathlib").Path(sys.executable).parent / "cfn-lint")
    result = subprocess.run([cfn_lint, str(TEMPLATE_PATH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_openapi_json_is_the_generated_contract():
    from infra.openapi import OPENAPI_PATH, render

    assert OPENAPI_PATH.read_text() == render(), "run: .venv/bin/python -m infra.openapi"


def test_openapi_paths_are_the_chalice_routes():
    import json

    from infra.openapi import OPENAPI_PATH

    documented = {
        (path, method.upper())
        for path, item in json.loads(OPENAPI_PATH.read_text())["paths"].items()
        for method in item
    }
    chalice_routes = {(path, method) for path, entries in chalice_app.routes.items() for method in entries}
    assert documented == chalice_routes


def test_the_alarms_are_the_generated_block():
    from infra.alarms import render, written

    text = TEMPLATE_PATH.read_text()
    assert written(text, render()) == text, "run: .venv/bin/python -m infra.alarms"


def test_every_function_queue_and_the_api_is_watched_and_every_alarm_notifies_the_topic():
    """Issue 16, operations: errors and throttles of each function, any message on a dead-letter
    queue, the age of each work queue's oldest message, the API's 5xx and p99 latency."""
    alarms = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}

    def watched(namespace: str, metric: str) -> set[str]:
        found = set()
        for alarm in alarms.values():
            if (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric):
                value = alarm["Dimensions"][0]["Value"]
                found.add(value.get("Ref") or value.get("Fn::GetAtt", [None])[0] or json.dumps(value))
        return found

    functions = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    queues = {name for name, r in RESOURCES.items() if r["Type"] == "AWS::SQS::Queue"}
    dead_letter = {name for name in queues if name.endswith("DeadLetterQueue")}
    assert watched("AWS/Lambda", "Errors") == watched("AWS/Lambda", "Throttles") == functions
    assert watched("AWS/SQS", "ApproximateNumberOfMessagesVisible") == dead_letter
    assert watched("AWS/SQS", "ApproximateAgeOfOldestMessage") == queues - dead_letter
    assert watched("AWS/ApiGateway", "5xx") and watched("AWS/ApiGateway", "Latency")
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert all(alarm["AlarmActions"] == notify for alarm in alarms.values())


def test_every_scheduled_function_keeps_its_failed_runs_for_the_operator():
    """Issue 16: an asynchronously invoked function (a schedule) has a failure destination, a
    dead-letter queue that its depth alarm and the queue monitor watch."""
    scheduled = [
        spec
        for spec in SPECS
        if any(
            e["Type"] == "Schedule"
            for e in RESOURCES[spec.logical_id]["Properties"].get("Events", {}).values()
        )
    ]
    assert scheduled
    for spec in scheduled:
        invoke = RESOURCES[spec.logical_id]["Properties"]["EventInvokeConfig"]
        failure = invoke["DestinationConfig"]["OnFailure"]
        assert failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}}
    monitor = RESOURCES["QueueMonitorFunction"]["Properties"]["Environment"]["Variables"]["MONITORED_QUEUES"]
    assert "schedules-dlq=${ScheduleDeadLetterQueue}" in json.dumps(monitor)


def test_every_stateful_resource_says_what_a_delete_or_replacement_does_to_its_data():
    """Issue 16: tables, the exports bucket and every dead-letter queue are kept when the stack
    goes or a change replaces them (and tables refuse deletion); work queues and log groups go."""
    stateful = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup"}
    for name, resource in RESOURCES.items():
        if resource["Type"] not in stateful:
            continue
        kept = resource["Type"] in {"AWS::DynamoDB::Table", "AWS::S3::Bucket"} or name.endswith(
            "DeadLetterQueue"
        )
        expected = "Retain" if kept else "Delete"
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == (
            expected,
            expected,
        ), name
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert resource["Properties"]["DeletionProtectionEnabled"] is True, name


HOT_TABLE_WRITERS = (
    "TouchpointsFunction",
    "LoyaltyFunction",
    "InventoryFunction",
    "DispatchFunction",
    "SegmentsFunction",
)


def test_functions_that_write_the_hot_tables_hold_reserved_concurrency_for_their_queues():
    resources = TEMPLATE["Resources"]
    for name in HOT_TABLE_WRITERS:
        function = resources[name]["Properties"]
        reserved = function["ReservedConcurrentExecutions"]["Fn::If"]
        assert reserved[0] == "ReserveConcurrency" and reserved[2] == {"Ref": "AWS::NoValue"}
        ceilings = [
            event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
            for event in function["Events"].values()
            if event["Type"] == "SQS"
        ]
        assert ceilings and reserved[1] >= max(ceilings), name  # never throttled below its own ceiling
    total = sum(
        resources[name]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"][1]
        for name, resource in resources.items()
        if "ReservedConcurrentExecutions" in resource.get("Properties", {})
    )
    assert total <= 900  # the default account quota of 1,000 keeps its 100 unreserved
    assert TEMPLATE["Parameters"]["ReserveConcurrency"]["AllowedValues"] == ["true", "false"]


def test_signing_secrets_are_sealed_by_a_key_of_the_stack_that_only_their_users_may_use():
    key = TEMPLATE["Resources"]["SigningSecretsKey"]
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert key["Properties"]["EnableKeyRotation"] is True
    uses: dict[str, set[str]] = {}
    for name, resource in TEMPLATE["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                for action in statement["Action"]:
                    if action.startswith("kms:"):
                        assert statement["Resource"] == {"Fn::GetAtt": ["SigningSecretsKey", "Arn"]}
                        context = statement["Condition"]["StringEquals"]["kms:EncryptionContext:omnireach"]
                        assert context == "signing-secret"
                        uses.setdefault(name, set()).add(action)
    assert uses == {
        "ApiFunction": {"kms:Encrypt"},  # creates and rotates them, never reads them back
        "IngestFunction": {"kms:Decrypt"},  # verifies webhook signatures
        "ChannelSyncFunction": {"kms:Decrypt"},  # signs pushes to the channels
        "WechatUsersFunction": {"kms:Decrypt"},  # a WeChat account's AppSecret, for its API
    }
    for name in uses:
        variables = TEMPLATE["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert variables["SIGNING_SECRETS_KEY_ID"] == {"Ref": "SigningSecretsKey"}


def test_every_bus_rule_target_keeps_what_it_could_not_deliver():
    """The bus's asynchronous deliveries: a target EventBridge cannot deliver to (a queue policy
    gone wrong, a deleted queue) leaves the event on a dead-letter queue, not nowhere."""
    rules = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Events::Rule"}
    targets = [(name, t) for name, r in rules.items() for t in r["Properties"].get("Targets", [])]
    assert targets
    for name, target in targets:
        dead_letter = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert (
            dead_letter.endswith("DeadLetterQueue") and RESOURCES[dead_letter]["Type"] == "AWS::SQS::Queue"
        ), name

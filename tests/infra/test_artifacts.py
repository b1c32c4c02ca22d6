"""What `make package` builds is what runs: every template handler is imported from its artifact
alone, in a fresh interpreter of the runtime's Python that sees only the artifact, the layer and
boto3 (what Lambda's runtime provides), and invoked with a minimal event of its trigger against
the stack deployed into the emulator."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from infra import package
from infra.emulator import SerialMotoServer, deploy, function_specs
from infra.lambda_runtime import ArtifactFunction, ArtifactLayout, FunctionError, scheduled_event, sqs_event
from infra.local_stack import artifact_environment
from infra.template import FunctionSpec, load_template

TEMPLATE = load_template()
TARGET = package.template_target(TEMPLATE)
SPECS = function_specs(TEMPLATE)
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
CLI_TOOLING = ("pip", "setuptools", "click", "inquirer", "yaml", "wheel", "blessed", "readchar")


@pytest.fixture(scope="module")
def host_build(tmp_path_factory) -> ArtifactLayout:
    return package.build_runnable(tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="module")
def deployed(host_build) -> Any:
    server = SerialMotoServer()
    server.start()
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.endpoint,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    try:
        stack = deploy(
            TEMPLATE,
            cloudformation=boto3.client("cloudformation", endpoint_url=server.endpoint),
            sqs=boto3.client("sqs", endpoint_url=server.endpoint),
            stack_name="omnireach-artifacts",
            parameters={
                "Stage": "artifacts",
                "AdminApiKeySha256": "0" * 64,
                "MemberTokenSecrets": "artifact-test-member-token-secret-0123456789",
                "LinkSigningSecrets": "artifact-test-link-secret-0123456789",
                "PublicApiUrl": "http://127.0.0.1:9",
            },
        )
        yield stack
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def run_from_artifact(layout: ArtifactLayout, stack: Any, logical_id: str) -> ArtifactFunction:
    spec = SPECS[logical_id]
    environment = artifact_environment(
        stack.function_environments[logical_id], spec, endpoint=os.environ["AWS_ENDPOINT_URL"]
    )
    return ArtifactFunction(spec, "us-east-1", layout=layout, environment=environment)


def api_event(path: str, *, method: str = "GET", body: str | None = None) -> dict[str, Any]:
    """What an HTTP API's greedy route sends for <method> <path> (payload format 1.0)."""
    headers = {"accept": "application/json", "content-type": "application/json"}
    return {
        "version": "1.0",
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": path,
            "stage": "$default",
            "requestId": "artifact-test",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_handler_imports_from_its_artifact_alone_and_answers_its_trigger(
    host_build, deployed, logical_id
):
    spec = SPECS[logical_id]
    function = run_from_artifact(host_build, deployed, logical_id)
    try:
        if logical_id == "IngestFunction":
            refused = function.invoke(api_event("/v1/track", method="POST", body='{"event": "E"}'))
            assert (refused["statusCode"], json.loads(refused["body"])["error"]["code"]) == (
                401,
                "unauthenticated",
            )
            assert function.invoke(api_event("/profiles/p-1"))["statusCode"] == 404  # not an ingest route
        elif spec.api_routes:
            answer = function.invoke(api_event("/openapi.json"))
            assert answer["statusCode"] == 200
            body = base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"]
            assert "/v1/track" in json.loads(body)["paths"]
            refused = function.invoke(api_event("/profiles/p-1"))
            assert refused["statusCode"] == 401
        elif spec.sqs_triggers:
            queue = spec.sqs_triggers[0].queue
            attributes = {
                "ApproximateReceiveCount": "1",
                "ApproximateFirstReceiveTimestamp": "1764700000000",
                "SenderId": "AIDAEXAMPLE",
                "SentTimestamp": "1764700000000",
            }
            message = {
                "MessageId": "artifact-1",
                "ReceiptHandle": "r-1",
                "Body": "{}",
                "Attributes": attributes,
            }
            event = sqs_event(
                [message], queue_arn=f"arn:aws:sqs:us-east-1:123456789012:{queue}", region="us-east-1"
            )
            try:
                failed = [item["itemIdentifier"] for item in function.invoke(event)["batchItemFailures"]]
            except FunctionError as error:  # Powertools fails the whole batch when every record failed
                failed = ["artifact-1"] if "All records failed processing" in str(error) else [str(error)]
            assert failed == ["artifact-1"]  # parsed, and refused as no message it knows
        else:
            trigger = spec.schedules[0]
            event = scheduled_event(trigger, spec, at=datetime.now(UTC), region="us-east-1")
            answer = function.invoke(event)
            assert isinstance(answer, dict) and answer  # each scheduled job reports what it did
        assert function.init_ms and function.init_ms[0] > 0  # the handler was imported in the worker
    finally:
        function.close()


def test_a_handler_string_that_resolves_to_no_module_fails_the_build(tmp_path):
    with pytest.raises(package.PackagingError, match=r"no module functions\.nothing"):
        package.build_function("functions.nothing.handler.lambda_handler", tmp_path / "f", target=TARGET)


def test_a_handler_string_that_names_no_attribute_fails_at_init(host_build, deployed):
    spec = SPECS["QueueMonitorFunction"]
    wrong = type(spec)(**{**vars(spec), "handler": "functions.queue_monitor.handler.no_such_handler"})
    function = ArtifactFunction(
        wrong,
        "us-east-1",
        layout=host_build,
        environment=artifact_environment({}, wrong, endpoint="http://127.0.0.1:9"),
    )
    try:
        with pytest.raises(FunctionError, match=r"failed to initialise.*no_such_handler"):
            function.invoke({})
    finally:
        function.close()


def test_a_function_artifact_holds_only_the_code_its_handler_imports(host_build):
    for logical_id in SPECS:
        top = {path.name for path in (host_build.functions / logical_id).iterdir()}
        assert top == {
            "functions",
            "shared",
            *(["openapi.json"] if logical_id == "ApiFunction" else []),
        }
    monitor = host_build.functions / "QueueMonitorFunction"
    assert not (monitor / "shared" / "domain" / "customers").exists()
    assert not (monitor / "functions" / "api").exists()
    assert (monitor / "shared" / "domain" / "operations").is_dir()
    ingest = host_build.functions / "IngestFunction"
    assert (ingest / "functions" / "api" / "routes" / "tracking.py").is_file()
    assert not (ingest / "functions" / "api" / "routes" / "campaigns.py").exists()
    assert not (ingest / "shared" / "domain" / "engagement").exists()


def test_the_layer_holds_no_command_line_tooling_and_nothing_the_runtime_provides(host_build):
    names = {path.name for path in host_build.layer.iterdir()}
    for tool in (*CLI_TOOLING, "boto3", "botocore", "s3transfer"):
        assert tool not in names, tool
    chalice = sorted(
        p.relative_to(host_build.layer).as_posix() for p in (host_build.layer / "chalice").rglob("*.py")
    )
    assert chalice == list(package.CHALICE_RUNTIME_FILES)


def test_every_module_carries_bytecode_for_the_runtime_that_never_checks_timestamps(host_build):
    tag = "cpython-" + TARGET.python_version.replace(".", "")
    for root in (host_build.functions / "ApiFunction", host_build.layer / "pydantic"):
        sources = list(root.rglob("*.py"))
        assert sources
        for source in sources:
            compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
            assert compiled.is_file(), source
            (flags,) = struct.unpack("<I", compiled.read_bytes()[4:8])
            assert flags == 0b01, f"{compiled}: not unchecked-hash"  # PEP 552: hash-based, unchecked


def test_the_template_architecture_build_carries_its_binaries(tmp_path):
    """`make package` for the template: arm64 wheels for CPython 3.12, a template pointing at
    the artifacts, and the sizes."""
    sizes = package.build_all(tmp_path)
    machine = ELF_MACHINE[TARGET.architecture]
    binaries = list((tmp_path / package.LAYER_ID / "python").rglob("*.so"))
    assert binaries
    for binary in binaries:
        header = binary.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert struct.unpack("<H", header[18:20])[0] == machine, binary
    assert {size.artifact for size in sizes} == {package.LAYER_ID, *SPECS}
    assert all(size.unzipped_bytes < 250_000_000 for size in sizes)  # Lambda's unzipped limit
    built = (tmp_path / "template.yaml").read_text()
    for logical_id in SPECS:
        assert re.search(rf"^      CodeUri: {logical_id}$", built, flags=re.MULTILINE), logical_id
    assert "BuildMethod" not in built
    recorded = json.loads((tmp_path / "sizes.json").read_text())
    assert recorded["architecture"] == TARGET.architecture
    assert_the_readme_quotes(sizes)


def assert_the_readme_quotes(sizes: list[package.ArtifactSize]) -> None:
    """The README's artifact sizes are what this build measures (within 3 % or 0.02 MB)."""
    readme = (package.ROOT / "README.md").read_text()
    rows = re.findall(
        r"^\| (\w+)(?: \(([^)]*)\))? \| ([\d.]+) MB \| ([\d.]+) MB \|$", readme, flags=re.MULTILINE
    )
    measured = {size.artifact: size for size in sizes}
    quoted = {name: (note, float(unzipped), float(zipped)) for name, note, unzipped, zipped in rows}
    assert {package.LAYER_ID} < set(quoted) <= set(measured)
    for name, (note, unzipped, zipped) in quoted.items():
        size = measured[name]
        for shown, actual in ((unzipped, size.unzipped_bytes / 1e6), (zipped, size.zipped_bytes / 1e6)):
            assert abs(shown - actual) <= max(0.02, 0.03 * actual), (
                f"README: {name} {shown} MB, built {actual:.2f}"
            )
        code = [s for s in sizes if s.artifact != package.LAYER_ID]
        if "largest" in note:
            assert size.unzipped_bytes == max(s.unzipped_bytes for s in code), name
        if "smallest" in note:
            assert size.unzipped_bytes == min(s.unzipped_bytes for s in code), name


def test_the_lock_was_generated_from_the_current_dependencies():
    digest, pins = package.read_lock()
    assert digest == package.dependencies_digest(package.project_dependencies()), "run `make lock`"
    for pin in pins.values():
        assert "--hash=sha256:" in pin.line, pin.name
    layer = {pin.name for pin in package.layer_pins(pins)}
    assert {"pydantic", "aws-lambda-powertools", "pynamodb", "chalice", "cryptography"} <= layer
    assert not layer & {"click", "pip", "setuptools", "inquirer", "pyyaml", "boto3", "botocore"}


def test_every_function_and_the_layer_build_with_the_makefile():
    resources = TEMPLATE["Resources"]
    built_here = [
        name
        for name, resource in resources.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    ]
    for name in built_here:
        assert resources[name].get("Metadata", {}).get("BuildMethod") == "makefile", name
    makefile = (package.ROOT / "Makefile").read_text()
    assert re.search(r"^build-%:", makefile, flags=re.MULTILINE)
    assert TEMPLATE["Globals"]["Function"]["Layers"] == [{"Ref": package.LAYER_ID}]


def test_a_run_past_the_function_timeout_ends_its_environment_as_lambda_does(tmp_path):
    code = tmp_path / "Slow"
    code.mkdir()
    (code / "slow.py").write_text(
        "import time\n\n\ndef handler(event, context):\n"
        "    time.sleep(event['sleep'])\n    return {'ok': True}\n"
    )
    layout = ArtifactLayout(
        python=package.runtime_python(TARGET),
        functions=tmp_path,
        layer=tmp_path / "none",
        runtime=tmp_path / "none",
    )
    spec = FunctionSpec(logical_id="Slow", handler="slow.handler", timeout=1, memory=128, environment={})
    function = ArtifactFunction(spec, "us-east-1", layout=layout, environment={})
    try:
        assert function.invoke({"sleep": 0}) == {"ok": True}
        with pytest.raises(FunctionError, match="Task timed out after 1 seconds"):
            function.invoke({"sleep": 30})
        assert function.invoke({"sleep": 0}) == {"ok": True}  # a new environment: a second init
        assert len(function.init_ms) == 2
    finally:
        function.close()


def test_a_runtime_python_nowhere_to_be_found_or_installed_is_a_clear_error():
    with pytest.raises(package.PackagingError, match=r"Python 3\.99 .* is needed"):
        package.runtime_python(package.Target(runtime="python3.99", architecture="arm64"))

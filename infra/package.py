"""`make package`: the deployable artifacts, laid out as `sam build` lays them out, so `sam deploy`
takes them as they are. `sam build` builds the same artifacts through this module: each function
and the layer in template.yaml says `BuildMethod: makefile`, and the Makefile's `build-<LogicalId>`
targets call `python -m infra.package --artifact <LogicalId> --into $ARTIFACTS_DIR`.

What goes where:
- `requirements.lock` pins every runtime dependency with its hashes, resolved from pyproject.toml
  for the template's Python version on every platform (`make lock` regenerates it; a test fails
  when pyproject.toml's dependencies and the lock disagree).
- The dependencies layer holds the lock minus what Lambda's Python runtime already provides (boto3
  and its own dependencies) and minus Chalice's command-line tooling: a Chalice handler imports
  only `chalice.app` (Chalice itself deploys only that module), never pip, setuptools, click or
  inquirer. Wheels are taken for the template's architecture and runtime (arm64, CPython 3.12).
- Each function's code artifact holds the modules of `functions/` and `shared/` its handler
  imports, directly or through other modules, and nothing else (no tests, infra or docs).
- Everything is compiled to bytecode by the runtime's Python version with unchecked-hash
  invalidation: Lambda's /var/task is read-only, and a zip keeps mtimes only to two seconds, so
  timestamp-checked .pyc files would be stale there and every cold start would compile again.
"""

from __future__ import annotations

import argparse
import ast
import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from infra.template import TEMPLATE_PATH, load_template

if TYPE_CHECKING:
    from infra.lambda_runtime import ArtifactLayout

ROOT = TEMPLATE_PATH.parent
LOCK_PATH = ROOT / "requirements.lock"
CODE_PACKAGES = ("functions", "shared")
LAYER_ID = "DependenciesLayer"
DEFAULT_OUT = ROOT / ".aws-sam" / "build"
# What Lambda's Python runtimes bring with them: boto3 and the packages it needs.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
# Chalice's deployment tooling: the handler imports chalice.app, which uses the standard library only.
CHALICE_RUNTIME_FILES = ("chalice/__init__.py", "chalice/app.py")
PLATFORM_TAGS = {
    "arm64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_17_aarch64"],
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64"],
}
# Files besides modules that a module reads at run time, relative to the repository root (where the
# module finds them, as it will at the artifact's root).
DATA_FILES: dict[str, tuple[str, ...]] = {
    "functions.api.routes.health": ("openapi.json",),
    "functions.api.routes.console": ("functions/api/console",),  # a directory: every file in it
}
FIXED_MTIME = 315532800  # 1980-01-01, the earliest a zip can hold: artifacts are byte-for-byte repeatable


class PackagingError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    runtime: str  # python3.12
    architecture: str  # arm64 or x86_64

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")


def template_target(template: dict[str, Any]) -> Target:
    function_globals = template.get("Globals", {}).get("Function", {})
    architectures = function_globals.get("Architectures", ["x86_64"])
    return Target(runtime=str(function_globals["Runtime"]), architecture=str(architectures[0]))


def host_architecture() -> str:
    machine = os.uname().machine
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


# ---------------------------------------------------------------- the lock


def project_dependencies() -> list[str]:
    import tomllib

    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])


def dependencies_digest(dependencies: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(dependencies)).encode()).hexdigest()


def write_lock(target: Target) -> None:
    """Resolve pyproject's runtime dependencies for the runtime's Python on every platform."""
    dependencies = project_dependencies()
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.in"
        requirements.write_text("\n".join(dependencies) + "\n")
        resolved = Path(scratch) / "requirements.lock"
        subprocess.run(
            [
                sys.executable, "-m", "uv", "pip", "compile", str(requirements), "--universal",
                "--python-version", target.python_version, "--generate-hashes", "--no-header",
                "--quiet", "--output-file", str(resolved),
            ],
            check=True,
        )  # fmt: skip
        body = resolved.read_text().replace(f"# via -r {requirements}", "# via pyproject.toml")
        body = body.replace(f"#   -r {requirements}", "#   pyproject.toml")
    header = (
        "# The runtime dependencies, pinned with hashes: `make lock` writes this from pyproject.toml.\n"
        f"# pyproject-dependencies-sha256: {dependencies_digest(dependencies)}\n"
    )
    LOCK_PATH.write_text(header + body)


@dataclass(frozen=True)
class Pin:
    name: str
    line: str  # `name==version ; markers` with its hash options
    parents: frozenset[str]


def read_lock(path: Path = LOCK_PATH) -> tuple[str, dict[str, Pin]]:
    if not path.exists():
        raise PackagingError(f"{path.name} is missing: run `make lock`")
    text = path.read_text()
    digest = re.search(r"pyproject-dependencies-sha256: (\w+)", text)
    pins: dict[str, Pin] = {}
    for block in re.split(r"\n(?=\S)", text):
        first = block.split("\n", 1)[0]
        if first.startswith("#") or not first.strip():
            continue
        name = re.split(r"[=<>;\s\[]", first, maxsplit=1)[0].lower()
        parents = {
            match.lower()
            for match in re.findall(r"#\s+(?:via\s+)?([A-Za-z0-9_.\-]+)\s*$", block, flags=re.MULTILINE)
            if match != "via"
        }
        requirement = "\n".join(line for line in block.splitlines() if not line.strip().startswith("#"))
        pins[name] = Pin(name=name, line=requirement.rstrip(" \\\n"), parents=frozenset(parents))
    return (digest.group(1) if digest else ""), pins


def layer_pins(pins: dict[str, Pin]) -> list[Pin]:
    """The pins a handler needs: reachable from pyproject's dependencies without passing through
    Chalice's own requirements (its tooling) or what the runtime provides."""
    children: dict[str, set[str]] = {}
    for pin in pins.values():
        for parent in pin.parents:
            children.setdefault(parent, set()).add(pin.name)
    wanted: set[str] = set()
    todo = sorted(children.get("pyproject.toml", set()))
    while todo:
        name = todo.pop()
        if name in wanted or name in RUNTIME_PROVIDED:
            continue
        wanted.add(name)
        if name != "chalice":
            todo.extend(children.get(name, set()))
    return [pins[name] for name in sorted(wanted)]


def runtime_pins(pins: dict[str, Pin]) -> list[Pin]:
    """What the Lambda runtime brings, at the versions the lock pins (to stand in for it locally)."""
    return [pins[name] for name in sorted(RUNTIME_PROVIDED) if name in pins]


# ---------------------------------------------------------------- installing


@functools.cache  # asked once per artifact: probe the interpreters once
def runtime_python(target: Target) -> str:
    """An interpreter of the runtime's Python version: bytecode is specific to it."""
    wanted = target.python_version
    candidates = [
        f"python{wanted}",
        *sorted(Path.home().glob(f".pyenv/versions/{wanted}*/bin/python{wanted}")),
    ]
    if sys.version_info[:2] == tuple(int(part) for part in wanted.split(".")):
        candidates.insert(0, sys.executable)
    for candidate in candidates:
        try:
            found = subprocess.run(
                [str(candidate), "-c", "import sys; print(sys.executable)"],
                capture_output=True, text=True, check=True, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            continue
        return found.stdout.strip()
    installed = _installed_by_uv(wanted)
    if installed:
        return installed
    raise PackagingError(
        f"Python {wanted} (the template's runtime) is needed to compile the artifacts' bytecode: "
        f"install it (e.g. `pyenv install {wanted}` or `uv python install {wanted}`)"
        f" and put python{wanted} on PATH"
    )


def _installed_by_uv(version: str) -> str | None:
    """A machine without that Python gets uv's build of it (where uv can download it)."""
    uv = [sys.executable, "-m", "uv", "python"]
    try:
        subprocess.run([*uv, "install", version], capture_output=True, check=True, timeout=600)
        found = subprocess.run(
            [*uv, "find", "--python-preference", "only-managed", version],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


def pip_install(pins: list[Pin], into: Path, *, target: Target, architecture: str) -> None:
    if not pins:
        return
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text("\n".join(pin.line for pin in pins) + "\n")
        platforms = [option for tag in PLATFORM_TAGS[architecture] for option in ("--platform", tag)]
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "-qq", "--disable-pip-version-check",
                "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile",
                "--implementation", "cp", "--python-version", target.python_version, *platforms,
                "--target", str(into), "--requirement", str(requirements),
            ],
            check=True,
        )  # fmt: skip
    shutil.rmtree(into / "bin", ignore_errors=True)  # console scripts: nothing on Lambda runs them


def build_layer(into: Path, *, target: Target, architecture: str, lock: Path = LOCK_PATH) -> Path:
    """The dependencies layer's `python/` directory."""
    _, pins = read_lock(lock)
    site = into / "python"
    if site.exists():
        shutil.rmtree(site)
    pip_install(layer_pins(pins), site, target=target, architecture=architecture)
    chalice = site / "chalice"
    for path in sorted(chalice.rglob("*"), reverse=True):
        relative = path.relative_to(site).as_posix()
        if path.is_file() and relative not in CHALICE_RUNTIME_FILES:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for metadata in site.glob("*.dist-info"):
        for path in metadata.iterdir():  # keep METADATA (importlib.metadata versions) and licences
            if path.name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
                path.unlink()
    compile_bytecode(site, target)
    return site


def build_runtime_standin(into: Path, *, target: Target, lock: Path = LOCK_PATH) -> Path:
    """boto3 and its dependencies for this machine, standing in for what Lambda's runtime provides."""
    _, pins = read_lock(lock)
    if into.exists():
        shutil.rmtree(into)
    pip_install(runtime_pins(pins), into, target=target, architecture=host_architecture())
    return into


# ---------------------------------------------------------------- our code


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module an import statement anywhere in the file may name (function-level too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_closure(handler: str) -> set[str]:
    """Our modules a handler string (`package.module.attribute`) imports, transitively."""
    entry = handler.rpartition(".")[0]
    if _module_file(entry) is None:
        raise PackagingError(f"handler {handler}: no module {entry} in {', '.join(CODE_PACKAGES)}")
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in CODE_PACKAGES:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:depth]) for depth in range(1, len(parts)))
        todo.extend(_imported_names(path, name))
    return seen


def build_function(handler: str, into: Path, *, target: Target) -> list[str]:
    if into.exists():
        shutil.rmtree(into)
    modules = sorted(module_closure(handler))
    for module in modules:
        source = _module_file(module)
        assert source is not None
        destination = into / source.relative_to(ROOT)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        for data_file in DATA_FILES.get(module, ()):
            if (ROOT / data_file).is_dir():
                shutil.copytree(ROOT / data_file, into / data_file, dirs_exist_ok=True)
            else:
                shutil.copyfile(ROOT / data_file, into / data_file)
    compile_bytecode(into, target)
    return modules


def compile_bytecode(directory: Path, target: Target) -> None:
    subprocess.run(
        [
            runtime_python(target), "-m", "compileall", "-q", "-j", "0",
            "--invalidation-mode", "unchecked-hash", str(directory),
        ],
        check=True, stdout=subprocess.DEVNULL,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_MTIME)},
    )  # fmt: skip
    for path in directory.rglob("*"):
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)


# ---------------------------------------------------------------- sizes and the template


@dataclass(frozen=True)
class ArtifactSize:
    artifact: str
    files: int
    unzipped_bytes: int
    zipped_bytes: int


def measure(artifact: str, directory: Path) -> ArtifactSize:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory).as_posix())
    return ArtifactSize(
        artifact=artifact,
        files=len(files),
        unzipped_bytes=sum(path.stat().st_size for path in files),
        zipped_bytes=len(buffer.getvalue()),
    )


def function_handlers(template: dict[str, Any]) -> dict[str, str]:
    return {
        logical_id: str(resource["Properties"]["Handler"])
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def built_template(template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml pointing at the built artifacts, as `sam build` writes it."""
    built: dict[str, Any] = json.loads(json.dumps(template))
    for logical_id, resource in built["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = logical_id
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = logical_id
        else:
            continue
        resource.get("Metadata", {}).pop("BuildMethod", None)
        resource.get("Metadata", {}).pop("BuildArchitecture", None)
        if not resource.get("Metadata"):
            resource.pop("Metadata", None)
    built.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    return built


def build_all(out: Path, *, architecture: str | None = None, lock: Path = LOCK_PATH) -> list[ArtifactSize]:
    """Every artifact of template.yaml into `out` (the layer, one directory per function), the
    template that points at them, and sizes.json."""
    template = load_template()
    target = template_target(template)
    architecture = architecture or target.architecture
    out.mkdir(parents=True, exist_ok=True)
    sizes = [
        measure(LAYER_ID, build_layer(out / LAYER_ID, target=target, architecture=architecture, lock=lock))
    ]
    for logical_id, handler in sorted(function_handlers(template).items()):
        build_function(handler, out / logical_id, target=target)
        sizes.append(measure(logical_id, out / logical_id))
    (out / "template.yaml").write_text(yaml.safe_dump(built_template(template), sort_keys=False, width=1000))
    (out / "sizes.json").write_text(
        json.dumps(
            {"architecture": architecture, "runtime": target.runtime, "artifacts": [vars(s) for s in sizes]},
            indent=2,
        )
        + "\n"
    )
    return sizes


def build_runnable(out: Path) -> ArtifactLayout:
    """The template's artifacts built for this machine's architecture, with boto3 standing in for
    the runtime's: what the local stack (--from-artifacts), the artifact test and the cold-start
    bench run in worker processes."""
    from infra.lambda_runtime import ArtifactLayout

    target = template_target(load_template())
    build_all(out, architecture=host_architecture())
    return ArtifactLayout(
        python=runtime_python(target),
        functions=out,
        layer=out / LAYER_ID / "python",
        runtime=build_runtime_standin(out / "runtime", target=target),
    )


def size_table(sizes: list[ArtifactSize]) -> str:
    lines = ["| artifact | files | unzipped | zipped |", "|---|---:|---:|---:|"]
    for size in sizes:
        lines.append(
            f"| {size.artifact} | {size.files} | {size.unzipped_bytes / 1e6:.2f} MB"
            f" | {size.zipped_bytes / 1e6:.2f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make package", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where to build (default .aws-sam/build)"
    )
    parser.add_argument(
        "--architecture",
        choices=sorted(PLATFORM_TAGS),
        help="wheels for this architecture (default: the template's; this machine's to run them here)",
    )
    parser.add_argument("--artifact", help="build one artifact (a function's or the layer's logical id)")
    parser.add_argument(
        "--into", type=Path, help="with --artifact: the directory (sam build's ARTIFACTS_DIR)"
    )
    parser.add_argument(
        "--lock", action="store_true", help="regenerate requirements.lock from pyproject.toml"
    )
    args = parser.parse_args(argv)
    template = load_template()
    target = template_target(template)
    try:
        if args.lock:
            write_lock(target)
            print(f"wrote {LOCK_PATH.name}")
            return 0
        digest, _ = read_lock()
        if digest != dependencies_digest(project_dependencies()):
            raise PackagingError(
                "requirements.lock is older than pyproject.toml's dependencies: run `make lock`"
            )
        if args.artifact:
            into = args.into or args.out / args.artifact
            architecture = args.architecture or target.architecture
            if args.artifact == LAYER_ID:
                build_layer(into, target=target, architecture=architecture)
            elif args.artifact in (handlers := function_handlers(template)):
                build_function(handlers[args.artifact], into, target=target)
            else:
                raise PackagingError(f"template.yaml has no function or layer {args.artifact}")
            return 0
        sizes = build_all(args.out, architecture=args.architecture)
    except PackagingError as error:
        print(f"make package: {error}", file=sys.stderr)
        return 2
    print(size_table(sizes))
    print(f"built {len(sizes)} artifacts into {args.out} (sam deploy takes them from there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

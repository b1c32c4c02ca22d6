"""The import boundaries (`[tool.importlinter]` in pyproject.toml, run by `make lint`): the edges
each capability's docstring declares are the ones the contracts enforce, and a wrong import is
caught, not just written down."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "shared" / "domain"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CAPABILITIES = sorted(path.parent.name for path in DOMAIN.glob("*/__init__.py"))
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def declared_edges(capability: str) -> set[str]:
    """The capabilities named on the 'May use:' line of the package docstring."""
    docstring = ast.get_docstring(ast.parse((DOMAIN / capability / "__init__.py").read_text())) or ""
    match = re.search(r"^May use: (.*?)(?:\.|$)", docstring, re.MULTILINE)
    assert match, f"shared/domain/{capability}/__init__.py says which capabilities it may use"
    if match.group(1).strip() == "nothing else in the domain":
        return set()
    return {name for name in re.findall(r"[a-z]+", match.group(1)) if name in CAPABILITIES}


def enforced_edges(capability: str) -> set[str]:
    (contract,) = [
        contract
        for contract in CONFIG["contracts"]
        if contract.get("source_modules") == [f"shared.domain.{capability}"]
        if contract["type"] == "forbidden"
    ]
    forbidden = {module.removeprefix("shared.domain.") for module in contract["forbidden_modules"]}
    return set(CAPABILITIES) - forbidden - {capability}


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_each_capability_declares_the_edges_its_contract_enforces(capability):
    assert declared_edges(capability) == enforced_edges(capability)


def test_every_capability_package_has_a_contract():
    assert (
        sorted(
            [
                "kernel",
                "ingest",
                "customers",
                "segments",
                "loyalty",
                "commerce",
                "engagement",
                "operations",
                "appointments",
                "recommendations",
            ]
        )
        == CAPABILITIES
    )
    for capability in CAPABILITIES:
        enforced_edges(capability)  # exactly one contract each


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def scratch_tree(tmp_path: Path) -> Path:
    """A copy of the code and its contracts, free to break."""
    for package in ("functions", "shared", "infra"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_as_committed_keeps_every_contract(scratch_tree):
    result = lint_imports(scratch_tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_wrong_imports_are_caught(scratch_tree):
    # the domain reaching for an adapter, one capability reaching past its edges,
    # and the queue monitor pulling campaign code into its cold start
    append(scratch_tree / "shared/domain/commerce/pricing.py", "import shared.adapters.dynamo.catalog_table")
    append(scratch_tree / "shared/domain/ingest/sources.py", "import shared.domain.customers.profiles")
    append(scratch_tree / "functions/queue_monitor/handler.py", "import shared.wiring.engagement")
    result = lint_imports(scratch_tree)
    assert result.returncode != 0
    broken = {line.removesuffix(" BROKEN") for line in result.stdout.splitlines() if line.endswith("BROKEN")}
    assert broken == {
        "The layers: handlers over composition roots over adapters over the domain",
        "The domain imports no SDK, no adapter, no composition root, no handler",
        "Capability ingest uses only kernel",
        "functions.queue_monitor loads only operations (lean cold start)",
        # ingest's sources.py now reaching customers would also weigh on the ingest function
        "functions.api.ingest_app loads only ingest (lean cold start)",
    }
    assert "shared.domain.commerce.pricing -> shared.adapters.dynamo.catalog_table" in result.stdout

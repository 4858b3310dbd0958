"""The packages' layers and the absence of import cycles, as declared in pyproject.toml
([tool.importlinter]) and checked by import-linter over every import, in functions too."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_every_package_imports_only_the_layers_below_it_and_no_cycles():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def write_project(tmp_path: Path, modules: dict[str, str]) -> None:
    """A project with our contracts and the given modules (the other packages empty)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = [
        "[tool.importlinter]",
        f"root_packages = {config['root_packages']!r}".replace("'", '"'),
    ]
    for contract in config["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines.extend(f"{k} = {v!r}".replace("'", '"') for k, v in contract.items())
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    for package in config["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, source in modules.items():
        (tmp_path / f"{name.replace('.', '/')}.py").write_text(source)


@pytest.mark.parametrize(
    "modules, broken",
    [
        # the kernel importing a service, even inside a function
        (
            {"core.errors": "def f():\n    from ingestion import land\n", "ingestion.land": ""},
            "The CLI and the benchmark on top, the services in the middle, the kernel below BROKEN",
        ),
        # a service importing the CLI
        (
            {"stack.launcher": "import edtrack.cli\n", "edtrack.cli": ""},
            "The CLI and the benchmark on top, the services in the middle, the kernel below BROKEN",
        ),
        # two siblings of one layer
        (
            {"ingestion.land": "import stack.config\n", "stack.config": ""},
            "The CLI and the benchmark on top, the services in the middle, the kernel below BROKEN",
        ),
        # a cycle inside a package, one side hidden in a function
        (
            {
                "stack.health": "def f():\n    from stack import launcher\n",
                "stack.launcher": "from stack import health\n",
            },
            "No import cycles between the modules or subpackages of any package BROKEN",
        ),
    ],
    ids=["kernel-upward", "service-to-cli", "siblings", "cycle"],
)
def test_an_upward_import_or_a_cycle_breaks_a_contract(tmp_path, modules, broken):
    write_project(tmp_path, modules)
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert broken in result.stdout

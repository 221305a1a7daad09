"""The installed distribution: one import package, framework_advisor, built from the repository's folders."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SOURCE_ROOTS = ("service", "rules", "probes")


def _package_name(folder: Path) -> str:
    """The import name a source folder installs as, from pyproject's package-dir mapping."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    for name, source in sorted(mapping.items(), key=lambda item: -len(item[1])):
        base = REPO_ROOT / source
        if folder == base or base in folder.parents:
            rest = folder.relative_to(base).parts
            return ".".join((name, *rest))
    raise AssertionError(f"{folder} is under no package-dir entry")


def test_every_package_folder_is_listed_for_the_wheel():
    folders = {init.parent for root in SOURCE_ROOTS for init in (REPO_ROOT / root).rglob("__init__.py")}
    expected = sorted(_package_name(folder) for folder in folders)
    assert sorted(PYPROJECT["tool"]["setuptools"]["packages"]) == expected


def test_no_module_imports_the_repository_folders_as_top_level_packages():
    old_import = re.compile(r"^\s*(from|import)\s+(service|rules|probes)\b", re.MULTILINE)
    offenders = [str(path.relative_to(REPO_ROOT))
                 for folder in (*SOURCE_ROOTS, "tests", "benchmarks", "scripts")
                 for path in (REPO_ROOT / folder).rglob("*.py") if old_import.search(path.read_text(encoding="utf-8"))]
    assert offenders == [], "import framework_advisor.* instead"


def test_python_dash_m_framework_advisor_is_the_command_line():
    completed = subprocess.run([sys.executable, "-m", "framework_advisor", "--version"], capture_output=True,
                               text=True, timeout=60, cwd="/")
    assert completed.returncode == 0 and completed.stdout.startswith("framework-advisor ")
    assert PYPROJECT["project"]["scripts"]["framework-advisor"] == "framework_advisor.cli:main"


# --- the light install: ranges in the metadata, pins in constraints.txt ---------------------------------

FRAMEWORK_DISTRIBUTIONS = {"numpy", "torch", "jax", "jaxlib", "optax", "mlx", "tensorflow", "tensorflow-cpu"}


def _requirements(entries):
    from packaging.requirements import Requirement

    return [Requirement(entry) for entry in entries]


def _pins() -> dict[str, str]:
    lines = (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_the_distribution_brings_no_framework_and_pins_nothing():
    base = _requirements(PYPROJECT["project"]["dependencies"])
    assert not {requirement.name.lower() for requirement in base} & FRAMEWORK_DISTRIBUTIONS
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"frameworks", "tensorflow", "all", "test"} <= set(extras)
    for requirement in base + [r for entries in extras.values() for r in _requirements(entries)]:
        assert not any(spec.operator == "==" for spec in requirement.specifier), requirement


def test_every_dependency_is_pinned_once_in_the_constraints_and_the_pin_meets_its_range():
    from packaging.version import Version

    pins = _pins()
    extras = PYPROJECT["project"]["optional-dependencies"]
    requirements = _requirements(PYPROJECT["project"]["dependencies"]) + [
        r for entries in extras.values() for r in _requirements(entries) if r.name != "framework-advisor"]
    for requirement in requirements:
        assert requirement.name.lower() in pins, f"{requirement.name} has no pin in constraints.txt"
        assert requirement.specifier.contains(Version(pins[requirement.name.lower()]), prereleases=True), requirement
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-c constraints.txt" in makefile and "'.[frameworks]'" in makefile and "'.[test]'" in makefile


def test_a_light_install_into_a_fresh_environment_brings_no_framework(tmp_path, light_install):
    """A real `pip install` of this tree into a new virtualenv (from the package registry, at the pinned
    versions; the GitHub Action's install step does it, see the light_install fixture): the CLI works there,
    and no deep-learning framework was installed with it."""
    target = Path(light_install.results["setup"].outputs["venv"])
    python = target / "bin" / "python"
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            timeout=120).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "framework-advisor" in installed and not installed & FRAMEWORK_DISTRIBUTIONS, installed
    hardware = subprocess.run([str(target / "bin" / "framework-advisor"), "hardware", "--json"], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)
    assert hardware.returncode == 0 and '"os"' in hardware.stdout, hardware.stderr
    site = next((target / "lib").glob("python3*/site-packages"))
    assert not {"service", "rules", "probes"} & {path.name for path in site.iterdir()}

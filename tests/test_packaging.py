"""The installed distribution: one import package, framework_advisor, built from the repository's folders."""

from __future__ import annotations

import json
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

FRAMEWORK_DISTRIBUTIONS = {"numpy", "torch", "jax", "jaxlib", "optax", "flax", "mlx", "tensorflow", "tensorflow-cpu"}


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


def test_the_all_extra_resolves_to_every_framework_make_run_installs_at_its_pin(tmp_path):
    """`pip install '.[all]'` (resolved by pip itself, nothing installed) brings each framework `make run`
    installs, at the version constraints.txt pins, plus TensorFlow."""
    report = tmp_path / "resolved.json"
    resolved = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                               "--disable-pip-version-check", "--report", str(report), "-c", "constraints.txt", ".[all]"],
                              capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert resolved.returncode == 0, resolved.stderr[-2000:]
    versions = {re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower(): item["metadata"]["version"]
                for item in json.loads(report.read_text())["install"]}
    pins = _pins()
    run_extra = _requirements(PYPROJECT["project"]["optional-dependencies"]["frameworks"])
    for requirement in run_extra:
        if requirement.marker is None or requirement.marker.evaluate():
            name = re.sub(r"[-_.]+", "-", requirement.name).lower()
            # A local label is the pin's build (torch 2.13.0+cpu meets ==2.13.0).
            assert versions.get(name, "").split("+")[0] == pins[requirement.name.lower()], (requirement, versions.get(name))
    assert "tensorflow-cpu" in versions or "tensorflow" in versions

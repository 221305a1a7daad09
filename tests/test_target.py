"""Probing another interpreter (``--python PATH``): a second virtualenv with only NumPy in it, probed and
audited from the project's venv. The worker runs there from a copied worker package (standard library only:
no psutil or pydantic in the target); the report says which interpreter it measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CLI = [sys.executable, "-m", "framework_advisor"]


@pytest.fixture(scope="module")
def numpy_only(tmp_path_factory) -> Path:
    """A virtualenv with NumPy and nothing else (pip's own packages aside), at the pinned version."""
    target = tmp_path_factory.mktemp("numpy-only") / "env"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                                "-c", str(REPO_ROOT / "constraints.txt"), "numpy"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return python


def run_cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})})


def test_a_probe_measures_the_other_interpreters_frameworks(numpy_only):
    listed = subprocess.run([str(numpy_only), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, timeout=120).stdout.lower()
    assert "numpy==" in listed and "psutil" not in listed and "pydantic" not in listed and "framework" not in listed
    done = run_cli("probe", "--python", str(numpy_only), "--quick", "--frameworks", "numpy,pytorch", "--no-store",
                   "--json", "-")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["python"] == {"executable": str(numpy_only), "version": report["versions"]["python"],
                                "prefix": str(numpy_only.parent.parent), "own": False}
    [numpy] = report["frameworks"]
    assert numpy["framework"] == "numpy" and {b["name"] for b in numpy["benchmarks"]} >= {"matmul_fp32"}
    # PyTorch is installed in the advisor's venv, not in the target: the target's answer counts.
    assert report["skipped"] == [{"framework": "pytorch", "reason": "not installed"}]


def test_the_environment_variable_names_the_interpreter_and_the_audit_checks_it(numpy_only, tmp_path):
    env = {"FRAMEWORK_ADVISOR_PYTHON": str(numpy_only)}
    passed = run_cli("audit", "--require", "framework:numpy", "--json", str(tmp_path / "a.json"), env=env)
    assert passed.returncode == 0, passed.stderr[-2000:]
    assert json.loads((tmp_path / "a.json").read_text())["report"]["python"]["executable"] == str(numpy_only)
    # PyTorch is in the advisor's own venv but not in the target: nothing there to probe (exit 3), said so.
    missing = run_cli("audit", "--require", "framework:pytorch", "--json", str(tmp_path / "b.json"), env=env)
    assert missing.returncode == 3
    error = json.loads((tmp_path / "b.json").read_text())["error"]
    assert error == f"no framework could be probed: none of pytorch is installed in this Python ({numpy_only})"


@pytest.mark.parametrize("name,message", [
    ("missing", "--python {python}: no such file"),
    ("plain-file", "--python {python}: not an executable file"),
    ("shell-script", "--python {python} is not a Python interpreter that could describe itself (exit status 0: hello)"),
    ("/bin/true", "--python {python} is not a Python interpreter that could describe itself (exit status 0: no output)"),
])
def test_an_interpreter_that_is_missing_or_not_python_is_a_one_line_usage_error(tmp_path, name, message):
    python = name if name.startswith("/") else str(tmp_path / name)
    if name == "plain-file":
        Path(python).write_text("print('hi')\n")
        Path(python).chmod(0o644)
    elif name == "shell-script":
        Path(python).write_text("#!/bin/sh\necho hello\n")
        Path(python).chmod(0o755)
    message = message.format(python=python)
    for command in ("probe", "audit"):
        extra = ["--no-store"] if command == "probe" else ["--require", "framework:numpy"]
        done = run_cli(command, "--python", python, *extra)
        assert done.returncode == 2, (command, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"framework-advisor: error: {message}"), lines

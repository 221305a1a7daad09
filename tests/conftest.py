"""Shared fixtures. The repo root goes on sys.path so the suite also runs from a plain checkout."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The validated rule base is cached under $XDG_CACHE_HOME (rules/rulecache.py): the suite, and every process it
# starts, caches in a directory of its own instead of the user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="framework-advisor-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)

# What the web process and the phase-A inventory never import (numpy too: start-up time and memory).
HEAVY_MODULES = ("torch", "jax", "jaxlib", "mlx", "tensorflow", "keras", "numpy")


def recommend_json(rulebase, goals, experience, hardware: dict, installed=None, measurements=None) -> dict:
    """The engine's answer for hardware and measurements given as JSON, as JSON (the way a client reads it)."""
    from framework_advisor.probes.hardware import HardwareProfile
    from framework_advisor.probes.report import DerivedFacts
    from framework_advisor.rules.engine import recommend

    measured = ({framework: DerivedFacts.model_validate(facts) for framework, facts in measurements.items()}
                if measurements else None)
    answer = recommend(rulebase, goals, experience, HardwareProfile.model_validate(hardware), installed, measured)
    return answer.model_dump(mode="json")


@pytest.fixture()
def base_copy(tmp_path):
    """A copy of the shipped base rule directory, to edit in a test."""
    from framework_advisor.rules.rulebase import BASE_DIR

    target = tmp_path / "base"
    shutil.copytree(BASE_DIR, target)
    return target


@pytest.fixture(scope="session")
def rulebase():
    from framework_advisor.rules.rulebase import load_rulebase

    return load_rulebase()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from framework_advisor.app import create_app
    from framework_advisor.config import Settings

    return create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def light_install(tmp_path_factory):
    """framework-advisor installed light (no deep-learning framework) into a fresh virtualenv by the GitHub
    Action's own setup and install steps (action.yml, run with bash by tests/action_runner.py), from this tree at
    the versions of constraints.txt. One install for the whole session: the packaging and the action tests share
    it. Returns the ActionRun; ``results["setup"].outputs["venv"]`` is the virtualenv."""
    from tests.action_runner import ActionRun

    run = ActionRun(tmp_path_factory.mktemp("light-install"), inputs={"advisor-python": sys.executable})
    run.run(until="save")  # setup, cache restore (not run here), install, cache save (not run here)
    failed = run.failed_step
    assert failed is None, f"the action's {failed.id} step failed: {failed.stdout[-2000:]}{failed.stderr[-2000:]}"
    return run

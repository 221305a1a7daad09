"""The starter programs run, learn something, and keep the DEVICE line the service rewrites.

There is one starter per framework and goal family (rules/starters/<family>/<framework>.py.tmpl: templates
the service reads as text, never Python modules of the web process).
The frameworks are never imported in this process: each starter runs in a subprocess,
and availability is checked with importlib.util.find_spec only.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, GOALS
from framework_advisor.rules.rulebase import load_rulebase
from framework_advisor.rules.schema import GOAL_FAMILIES, STARTER_FAMILIES

STARTER_DIR = Path(__file__).resolve().parent.parent / "rules" / "starters"
DEVICE_LINE = 'DEVICE = "cpu"'
TIMEOUT_S = 120

# starter name -> top-level modules it needs
FRAMEWORKS = {
    "pytorch": ("torch",),
    "jax": ("jax", "optax"),
    "mlx": ("mlx",),
    "tensorflow": ("tensorflow", "keras"),
    "numpy": ("numpy",),
}
STARTERS = [(family, name) for family in STARTER_FAMILIES for name in sorted(FRAMEWORKS)]
STARTER_IDS = [f"{family}/{name}" for family, name in STARTERS]


def _missing_modules(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _run_starter(source: str, name: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    # The starter runs under the name the service gives it (train_<name>.py), from its own
    # directory, as a user would save it.
    script = workdir / f"train_{name}.py"
    script.write_text(source, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def _loss(stdout: str, key: str) -> float:
    match = re.search(rf"^{key}=(\S+)$", stdout, re.MULTILINE)
    assert match, f"no {key}= line in stdout:\n{stdout}"
    return float(match.group(1))


def test_every_goal_has_a_family_and_every_framework_a_starter_per_family():
    assert set(GOAL_FAMILIES) == set(GOALS)
    assert set(GOAL_FAMILIES.values()) == set(STARTER_FAMILIES)
    assert set(FRAMEWORKS) == set(FRAMEWORK_IDS)
    rulebase = load_rulebase()
    for framework_id, entry in rulebase.frameworks.items():
        assert set(entry.starter.files) == set(STARTER_FAMILIES), framework_id
        for family, name in entry.starter.files.items():
            assert name == f"{family}/{framework_id}.py.tmpl" and (STARTER_DIR / name).is_file()
    assert set(rulebase.starters) == {(name, family) for family, name in STARTERS}
    on_disk = sorted(p.relative_to(STARTER_DIR).as_posix() for p in STARTER_DIR.rglob("*") if p.is_file())
    assert on_disk == sorted(f"{starter_id}.py.tmpl" for starter_id in STARTER_IDS)  # no stray or missing file


@pytest.mark.parametrize(("family", "name"), STARTERS, ids=STARTER_IDS)
def test_starter_has_the_device_line_once(family, name):
    source = (STARTER_DIR / family / f"{name}.py.tmpl").read_text(encoding="utf-8")
    assert source.splitlines().count(DEVICE_LINE) == 1
    assert source.count(DEVICE_LINE + "\n") == 1  # what the service's str.replace() matches
    assert f"python train_{name}.py" in source  # the docstring says how to run it


@pytest.mark.slow
@pytest.mark.parametrize(("family", "name"), STARTERS, ids=STARTER_IDS)
def test_starter_trains(family, name, tmp_path):
    missing = _missing_modules(FRAMEWORKS[name])
    if missing:
        pytest.skip(f"{name} starter needs {', '.join(missing)}, not installed here")

    result = _run_starter((STARTER_DIR / family / f"{name}.py.tmpl").read_text(encoding="utf-8"), name, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    last_two = result.stdout.strip().splitlines()[-2:]
    assert [line.split("=")[0] for line in last_two] == ["first_loss", "final_loss"], result.stdout
    first, final = _loss(result.stdout, "first_loss"), _loss(result.stdout, "final_loss")
    assert math.isfinite(first) and math.isfinite(final), (first, final)
    assert final < first * 0.9, f"loss went from {first} to {final}"


@pytest.fixture(scope="module")
def cuda_is_missing() -> None:
    """Skips unless torch is installed and has no CUDA device (checked once, in a subprocess)."""
    if _missing_modules(("torch",)):
        pytest.skip("torch is not installed here")
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    assert probe.returncode == 0, probe.stderr[-3000:]
    if probe.stdout.strip() == "True":
        pytest.skip("CUDA is available here, so it cannot stand in for a missing device")


@pytest.mark.slow
@pytest.mark.parametrize("family", STARTER_FAMILIES)
def test_unavailable_device_exits_with_one_line(family, tmp_path, cuda_is_missing):
    source = (STARTER_DIR / family / "pytorch.py.tmpl").read_text(encoding="utf-8")
    result = _run_starter(source.replace(DEVICE_LINE, 'DEVICE = "cuda"', 1), "pytorch", tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    stderr_lines = result.stderr.strip().splitlines()
    assert len(stderr_lines) == 1, result.stderr
    assert "cuda" in stderr_lines[0] and "not available" in stderr_lines[0]

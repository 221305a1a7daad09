"""The starter programs run, learn something, and keep the DEVICE line the service rewrites.

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


def _missing_modules(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _run_starter(source: str, name: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    # The starter runs under the name the service gives it (train_<name>.py), from its own
    # directory: run in place, rules/starters/jax.py would shadow the real `jax` package.
    script = workdir / f"train_{name}.py"
    script.write_text(source, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True,
                          timeout=TIMEOUT_S)


def _loss(stdout: str, key: str) -> float:
    match = re.search(rf"^{key}=(\S+)$", stdout, re.MULTILINE)
    assert match, f"no {key}= line in stdout:\n{stdout}"
    return float(match.group(1))


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_starter_has_the_device_line_once(name):
    source = (STARTER_DIR / f"{name}.py").read_text(encoding="utf-8")
    assert source.splitlines().count(DEVICE_LINE) == 1
    assert source.count(DEVICE_LINE + "\n") == 1  # what the service's str.replace() matches


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_starter_trains(name, tmp_path):
    missing = _missing_modules(FRAMEWORKS[name])
    if missing:
        pytest.skip(f"{name} starter needs {', '.join(missing)}, not installed here")

    result = _run_starter((STARTER_DIR / f"{name}.py").read_text(encoding="utf-8"), name, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    last_two = result.stdout.strip().splitlines()[-2:]
    assert [line.split("=")[0] for line in last_two] == ["first_loss", "final_loss"], result.stdout
    first, final = _loss(result.stdout, "first_loss"), _loss(result.stdout, "final_loss")
    assert math.isfinite(first) and math.isfinite(final), (first, final)
    assert final < first * 0.9, f"loss went from {first} to {final}"


@pytest.mark.slow
def test_unavailable_device_exits_with_one_line(tmp_path):
    if _missing_modules(("torch",)):
        pytest.skip("torch is not installed here")
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    assert probe.returncode == 0, probe.stderr[-3000:]
    if probe.stdout.strip() == "True":
        pytest.skip("CUDA is available here, so it cannot stand in for a missing device")

    source = (STARTER_DIR / "pytorch.py").read_text(encoding="utf-8")
    result = _run_starter(source.replace(DEVICE_LINE, 'DEVICE = "cuda"', 1), "pytorch", tmp_path)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    stderr_lines = result.stderr.strip().splitlines()
    assert len(stderr_lines) == 1, result.stderr
    assert "cuda" in stderr_lines[0] and "not available" in stderr_lines[0]

"""The starter programs run, learn something, and keep the DEVICE line the service rewrites.

There is one starter per framework and goal family (rules/starters/<family>/<framework>.py.tmpl: templates
the service reads as text, never Python modules of the web process).
The frameworks are never imported in this process: each starter runs in a subprocess,
and availability is checked with importlib.util.find_spec only. Beyond the plain run of every starter,
the paths a CPU would not take are forced where that is cheap: a missing PyTorch device (the CPU
fallback), torch.compile (on a cheap backend), the PyTorch and JAX scale starters as several
processes (torchrun; jax.distributed.initialize).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import socket
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
    "jax": ("jax", "optax", "flax"),
    "mlx": ("mlx",),
    "tensorflow": ("tensorflow", "keras"),
    "numpy": ("numpy",),
}
STARTERS = [(family, name) for family in STARTER_FAMILIES for name in sorted(FRAMEWORKS)]
STARTER_IDS = [f"{family}/{name}" for family, name in STARTERS]


def _missing_modules(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if importlib.util.find_spec(name) is None]


def _run_starter(source: str, name: str, workdir: Path, launcher: tuple[str, ...] = (sys.executable,),
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The starter runs under the name the service gives it (train_<name>.py), from its own
    # directory, as a user would save it: `launcher train_<name>.py`, python by default.
    script = workdir / f"train_{name}.py"
    script.write_text(source, encoding="utf-8")
    return subprocess.run([*launcher, script.name], cwd=workdir, capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=None if env is None else {**os.environ, **env})


def _source(family: str, name: str) -> str:
    return (STARTER_DIR / family / f"{name}.py.tmpl").read_text(encoding="utf-8")


def _assert_trained(result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0, the two loss lines last, finite, and the loss fell by at least 10%."""
    assert result.returncode == 0, result.stderr[-3000:]
    last_two = result.stdout.strip().splitlines()[-2:]
    assert [line.split("=")[0] for line in last_two] == ["first_loss", "final_loss"], result.stdout
    first, final = _loss(result.stdout, "first_loss"), _loss(result.stdout, "final_loss")
    assert math.isfinite(first) and math.isfinite(final), (first, final)
    assert final < first * 0.9, f"loss went from {first} to {final}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    result = _run_starter(_source(family, name), name, tmp_path)

    _assert_trained(result)


# --- current practice (issue 12, point 9): what each starter must show -----------------------------------

# (framework, families) -> fragments of code each of those starters must contain.
PRACTICE = {
    ("pytorch", STARTER_FAMILIES): ("torch.accelerator.current_accelerator(check_available=True)",
                                    "torch.inference_mode()"),
    ("pytorch", ("basics", "pretrained")): ("torch.autocast(", "dtype=torch.bfloat16", "torch.compile("),
    ("pytorch", ("scale",)): ("torch.distributed.run", "fully_shard(", "torch.compile(",
                              "MixedPrecisionPolicy(param_dtype=torch.bfloat16",
                              'os.environ[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE")'),
    ("jax", ("basics", "deploy", "pretrained", "scale")): ("from flax import nnx", "nnx.Optimizer(", "@nnx.jit"),
    ("jax", ("scale",)): ("jax.make_mesh(", "jax.distributed.initialize(", "jax.make_array_from_process_local_data("),
    ("mlx", STARTER_FAMILIES): ("@partial(mx.compile, inputs=state, outputs=state)",),
    ("tensorflow", STARTER_FAMILIES): ('os.environ.setdefault("KERAS_BACKEND", "tensorflow")', "import keras\n"),
}
PRACTICE_CASES = [(family, name, fragment) for (name, families), fragments in PRACTICE.items()
                  for family in families for fragment in fragments]


@pytest.mark.parametrize(("family", "name", "fragment"), PRACTICE_CASES,
                         ids=[f"{family}/{name}:{fragment[:40]}" for family, name, fragment in PRACTICE_CASES])
def test_starter_shows_current_practice(family, name, fragment):
    assert fragment in _source(family, name)


def test_no_keras_2_idioms():
    # Keras 3 is imported as `keras`, never through tf.keras (Keras 2's home) or the old standalone names.
    for family in STARTER_FAMILIES:
        source = _source(family, "tensorflow")
        assert "tf.keras" not in source and "from tensorflow import keras" not in source, family
        assert "tf.device(" not in source, family  # keras.device() places work on any backend


# --- PyTorch: a missing device falls back to the CPU ---------------------------------------------------------

PICK_DEVICE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("starter", sys.argv[1])
starter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(starter)  # defines the functions; main() does not run
print("picked", starter.pick_device(sys.argv[2]))
try:
    starter.pick_device("tpu")
except SystemExit as stop:
    print("refused", stop.code)
"""


@pytest.fixture(scope="module")
def missing_torch_device() -> str:
    """A PyTorch device name this machine lacks (checked once, in a subprocess, with torch.accelerator)."""
    if _missing_modules(("torch",)):
        pytest.skip("torch is not installed here")
    probe = subprocess.run([sys.executable, "-c", "import torch\n"
                            "a = torch.accelerator.current_accelerator(check_available=True)\n"
                            "print(a.type if a else 'none')"], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert probe.returncode == 0, probe.stderr[-3000:]
    return next(name for name in ("cuda", "xpu") if name != probe.stdout.strip())


@pytest.mark.slow
@pytest.mark.parametrize("family", STARTER_FAMILIES)
def test_missing_torch_device_falls_back_to_the_cpu_with_one_warning(family, tmp_path, missing_torch_device):
    script = tmp_path / "train_pytorch.py"
    script.write_text(_source(family, "pytorch"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", PICK_DEVICE, str(script), missing_torch_device],
                            capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "picked cpu\n" in result.stdout
    stderr_lines = result.stderr.strip().splitlines()
    assert len(stderr_lines) == 1, result.stderr
    assert stderr_lines[0].startswith("warning: ") and repr(missing_torch_device) in stderr_lines[0]
    assert "training on the CPU" in stderr_lines[0]
    # A name PyTorch has no device for is a mistake in the file, not a missing device: refused, in one line.
    refused = re.search(r"^refused (.*)$", result.stdout, re.MULTILINE)
    assert refused and "'tpu'" in refused.group(1) and "\n" not in refused.group(1), result.stdout


# --- PyTorch: the compiled path, forced on the CPU with a cheap backend ----------------------------------------

# The starters compile on GPUs only (inductor's C++ build on this CPU takes longer than a whole run). The test
# forces that line on, with aot_eager (AOTAutograd traces forward and backward, no code generation) and a
# print per graph, so it can tell that something was compiled.
COMPILE_GUARD = re.compile(r'torch\.compile\(([\w\[\]]+)\) if [\w.]+ in \("cuda", "xpu"\) else \1')
CHEAP_COMPILE = ('torch.compile({0}, backend=lambda graph, inputs: print("compiled a graph", file=sys.stderr) '
                 'or torch._dynamo.lookup_backend("aot_eager")(graph, inputs))')


def _compiled_on_the_cpu(source: str) -> str:
    forced, count = COMPILE_GUARD.subn(lambda match: CHEAP_COMPILE.format(match.group(1)), source)
    assert count == 1, "the starter should compile in exactly one place, guarded by the device type"
    return forced


@pytest.mark.slow
def test_basics_pytorch_starter_compiled_on_the_cpu_when_its_device_is_missing(tmp_path, missing_torch_device):
    """Both GPU-only paths at once (one run saves a torch start): the advisor's device is missing here, so the
    starter warns and trains on the CPU, where its compile line is forced on."""
    source = _source("basics", "pytorch").replace(DEVICE_LINE, f'DEVICE = "{missing_torch_device}"', 1)
    result = _run_starter(_compiled_on_the_cpu(source), "pytorch", tmp_path)

    _assert_trained(result)
    assert "training on cpu" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and repr(missing_torch_device) in warnings[0], result.stderr[-3000:]
    assert result.stderr.count("compiled a graph") >= 1, result.stderr[-3000:]


@pytest.mark.slow
def test_scale_pytorch_starter_under_torchrun_shards_and_trains_compiled(tmp_path):
    """torchrun --standalone --nproc_per_node=2 (gloo on the CPU): only rank 0 prints, each rank holds about
    half of the parameters (FSDP2), every rank compiles its blocks, and the loss falls."""
    if _missing_modules(("torch",)):
        pytest.skip("torch is not installed here")
    torchrun = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
    result = _run_starter(_compiled_on_the_cpu(_source("scale", "pytorch")), "pytorch", tmp_path, launcher=torchrun,
                          env={"OMP_NUM_THREADS": "1"})

    _assert_trained(result)
    assert result.stdout.count("first_loss=") == 1, result.stdout  # rank 0 alone reports
    sharding = re.search(r"^2 processes \(gloo\); rank 0 holds (\d+) of (\d+) parameters$", result.stdout, re.MULTILINE)
    assert sharding, result.stdout
    held, total = int(sharding.group(1)), int(sharding.group(2))
    assert total / 2 <= held < total * 0.6, (held, total)  # a shard, not a replica
    # Two blocks per rank, each compiled once for training and once for inference_mode.
    assert result.stderr.count("compiled a graph") >= 4, result.stderr[-3000:]


# --- JAX: two processes joined by jax.distributed.initialize ------------------------------------------------

@pytest.mark.slow
def test_scale_jax_starter_runs_as_two_processes(tmp_path):
    """The multi-host set-up on one machine: two processes (2 CPU devices each) joined through a coordinator
    address, as two hosts would be. One global mesh of 4 devices; process 0 alone reports; the loss falls."""
    missing = _missing_modules(FRAMEWORKS["jax"])
    if missing:
        pytest.skip(f"jax starter needs {', '.join(missing)}, not installed here")
    script = tmp_path / "train_jax.py"
    script.write_text(_source("scale", "jax"), encoding="utf-8")
    env = {**os.environ, "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{_free_port()}", "JAX_NUM_PROCESSES": "2"}
    # Each process writes to its own files: neither can block on a pipe the test is not reading yet.
    processes = []
    for index in (0, 1):
        out, err = (open(tmp_path / f"process{index}.{kind}", "w+", encoding="utf-8") for kind in ("out", "err"))
        process = subprocess.Popen([sys.executable, script.name, "--multi-host"], cwd=tmp_path,
                                   env={**env, "JAX_PROCESS_ID": str(index)}, stdout=out, stderr=err)
        processes.append((process, out, err))
    results = []
    try:
        for process, out, err in processes:
            try:
                returncode = process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                returncode = None
            out.seek(0)
            err.seek(0)
            results.append(subprocess.CompletedProcess(process.args, returncode, out.read(), err.read()))
    finally:
        for process, out, err in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()
    first, other = results

    assert other.returncode == 0, f"process 1: {other.stderr[-3000:]}\nprocess 0: {first.stderr[-3000:]}"
    _assert_trained(first)
    assert "mesh: 4 cpu devices on axis 'data', 2 process(es)" in first.stdout, first.stdout
    assert "global batch 512 rows, 128 per device" in first.stdout, first.stdout
    assert "first_loss=" not in other.stdout, other.stdout  # process 1 trains but does not report

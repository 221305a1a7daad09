"""The worker: the output checker, the suite's error handling, the worker package's boundaries, and each
installed framework's worker run for real in a subprocess (``python -m framework_advisor.probes.worker``).

The test process never imports a deep-learning framework: availability is asked of importlib's finder, and
every framework runs in its worker. NumPy is imported only by the checker tests, which need arrays. A worker's
result is read back through its own model, ``TypeAdapter(WorkerResult)``, as the runner reads it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from framework_advisor.probes.worker.adapters import ADAPTERS
from framework_advisor.probes.worker.options import WorkerOptions
from framework_advisor.probes.worker.protocol import PROGRESS_PREFIX
from framework_advisor.probes.vocabulary import BENCHMARK_NAMES
from framework_advisor.probes.worker.records import WorkerResult
from framework_advisor.probes.worker.suite import STANDALONE_MIN_BLOCKS
from framework_advisor.probes.worker.timing import settled
from tests.conftest import REPO_ROOT

FRAMEWORK_PACKAGES = {"numpy": "numpy", "pytorch": "torch", "jax": "jax", "mlx": "mlx", "tensorflow": "tensorflow"}
# What the worker, or a framework that ignored TMPDIR, would leave in the system temp directory: the worker's
# scratch, Inductor's default cache (torchinductor_<user>), MLX's compiled kernels (mlx/). Other names are
# left alone: other programs use the same directory.
LEFTOVER_PREFIXES = ("framework-advisor-bench-", "torchinductor_")
LEFTOVER_NAMES = {"mlx"}
BASE_ARGS = ("--threads", "1", "--deadline-s", "60")


def installed(framework: str) -> bool:
    return importlib.util.find_spec(FRAMEWORK_PACKAGES[framework]) is not None


def worker_env(tmpdir: Path, extra_path: Path | None = None) -> dict[str, str]:
    path = [str(extra_path)] if extra_path else []
    path.append(str(REPO_ROOT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "TMPDIR": str(tmpdir)}
    env.pop("PYTHONSTARTUP", None)
    return env


def run_worker(framework: str, out: Path, tmpdir: Path, *args: str, extra_path: Path | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "framework_advisor.probes.worker", framework, "--out", str(out), *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=worker_env(tmpdir, extra_path), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def system_temp_entries() -> set[str]:
    root = Path(tempfile.gettempdir())
    return {entry.name for entry in root.iterdir()
            if entry.name.startswith(LEFTOVER_PREFIXES) or entry.name in LEFTOVER_NAMES}


def read_result(path: Path) -> WorkerResult:
    """The worker's file through its model: types, enums and limits (the runner reads it the same way)."""
    return TypeAdapter(WorkerResult).validate_json(path.read_bytes())


def assert_behaves(result: WorkerResult, framework: str, quick: bool) -> None:
    """What the model cannot say: the promises of the method."""
    assert result.framework == framework and result.version and result.quick is quick
    assert any(d.device == "cpu" and d.usable for d in result.devices)
    for bench in result.benchmarks:
        what = f"{bench.name} on {bench.device}"
        assert bench.checked is True, what
        assert bench.timing.samples >= 1 and bench.timing.median_s > 0, what
        assert len(bench.timing.per_call_s) == bench.timing.samples, f"{what}: every sample is kept"
        assert min(bench.timing.per_call_s) == pytest.approx(bench.timing.min_s, rel=1e-5), what
        # On its own the worker measures each benchmark once, at its own size, until it settles or its budget
        # ends; a figure is noisy exactly when its samples did not settle.
        assert bench.size is not None and bench.role == "headline", what
        assert bench.timing.stop in ("converged", "budget"), what
        assert bench.timing.stop == "budget" or bench.timing.samples >= STANDALONE_MIN_BLOCKS, what
        assert bench.timing.noisy is not settled(bench.timing.per_call_s), what
        if bench.name == "dispatch_latency":
            assert bench.unit == "us" and bench.lower_is_better is True and bench.best <= bench.value
        else:
            assert bench.best >= bench.value, what
        if bench.name == "mlp_step_compiled":
            assert bench.params["compile_s"] > 0 and bench.params["compile"] == "cold"
        if bench.percent_of_peak is not None:
            assert bench.peak is not None and not bench.peak.understated and bench.best <= bench.peak.value
    for error in result.errors:
        assert error.message
    names = {(b.name, b.device) for b in result.benchmarks}
    assert len(names) == len(result.benchmarks), "a benchmark is reported twice"


# --- the worker package's boundaries ------------------------------------------------------------------------

def test_there_is_one_adapter_per_framework_id():
    assert sorted(ADAPTERS) == sorted(FRAMEWORK_IDS) and len(ADAPTERS) == len(FRAMEWORK_IDS)


def test_no_install_command_appears_under_probes():
    """Knowledge lives in the catalog: workers say what they saw, never what to install."""
    offenders = [str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "probes").rglob("*")
                 if path.is_file() and "__pycache__" not in path.parts
                 and "pip install" in path.read_text(encoding="utf-8", errors="replace")]
    assert offenders == []


def test_the_worker_package_runs_on_the_standard_library_alone(tmp_path):
    """Only probes/ is copied and the interpreter starts without site-packages (-S -I): every module of the
    worker package imports, and what it loaded is the standard library and itself."""
    package = tmp_path / "probes"
    package.mkdir()
    for name in ("__init__.py", "vocabulary.py"):
        (package / name).write_bytes((REPO_ROOT / "probes" / name).read_bytes())
    worker = REPO_ROOT / "probes" / "worker"
    modules = []
    for path in sorted(worker.rglob("*.py")):
        relative = path.relative_to(worker)
        target = package / "worker" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        modules.append(".".join(("probes", "worker", *relative.with_suffix("").parts)).removesuffix(".__init__"))
    script = (f"import importlib, json, sys\nsys.path.insert(0, {str(tmp_path)!r})\nbefore = set(sys.modules)\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              "print(json.dumps(sorted(set(sys.modules) - before)))\n")
    completed = subprocess.run([sys.executable, "-S", "-I", "-c", script], capture_output=True, text=True,
                               timeout=60, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout)
    foreign = [name for name in loaded if name.split(".")[0] not in sys.stdlib_module_names
               and name.split(".")[0] != "probes"]
    assert foreign == []
    assert "probes.worker.__main__" in loaded and "probes.worker.adapters.pytorch" in loaded
    # Its --help works there too: the command line needs nothing else either.
    helped = subprocess.run([sys.executable, "-S", "-I", "-c", f"import sys, runpy; sys.path.insert(0, "
                             f"{str(tmp_path)!r}); sys.argv[0] = 'worker'; runpy.run_module('probes.worker', "
                             f"run_name='__main__')", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--deadline-s" in helped.stdout, helped.stderr


def test_worker_imports_are_relative_or_standard_library():
    """At module level: the standard library, or relative imports that stay inside the worker package (and
    ``..vocabulary``). Frameworks and NumPy are imported only inside functions."""
    import ast

    worker = REPO_ROOT / "probes" / "worker"
    problems = []
    for path in sorted(worker.rglob("*.py")):
        depth = len(path.relative_to(worker).parts)  # 1: worker/x.py, 2: worker/adapters/x.py
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            elif isinstance(node, ast.ImportFrom):
                if node.level > depth and not (node.level == depth + 1 and node.module == "vocabulary"):
                    problems.append(f"{path.name}: from {'.' * node.level}{node.module} leaves the worker")
                continue
            else:
                continue
            problems += [f"{path.name}: import {name}" for name in names
                         if name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"]
    assert problems == []


def test_options_cross_the_command_line_unchanged():
    from framework_advisor.probes.worker.records import Peak

    options = WorkerOptions(framework="jax", out="/tmp/r.json", threads=3, deadline_s=55.0, thorough=True,
                            accelerators=("cuda", "tpu"), cpu_flags=("avx2", "fma", "avx512_bf16"),
                            peaks={"cpu": {"fp32": Peak(value=294.4, source="2 cores x 2.3 GHz", clock_ghz=2.3)},
                                   "cuda": {"bf16": Peak(value=989000.0, source="NVIDIA H100 datasheet")}})
    assert WorkerOptions.from_argv(options.to_argv(), list(ADAPTERS)) == options


def test_an_unknown_accelerator_kind_is_refused(capsys):
    with pytest.raises(SystemExit):
        WorkerOptions.from_argv(["numpy", "--out", "x", *BASE_ARGS, "--accelerators", "cuda,quantum"], ["numpy"])
    assert "quantum" in capsys.readouterr().err


def test_a_gpu_hidden_by_the_environment_is_reported_as_hidden(monkeypatch):
    from framework_advisor.probes.worker.adapter import hidden_gpus

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("HIP_VISIBLE_DEVICES", raising=False)
    assert hidden_gpus("cuda") is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert hidden_gpus("cuda") is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    entry = hidden_gpus("cuda")
    assert entry.reason == "hidden" and "CUDA_VISIBLE_DEVICES=''" in entry.detail
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "-1")
    entry = hidden_gpus("rocm")
    assert entry.kind == "rocm" and "HIP_VISIBLE_DEVICES='-1'" in entry.detail
    assert hidden_gpus("tpu") is None


# --- the checker and the suite, in this process -----------------------------------------------------------

@pytest.fixture()
def np():
    return pytest.importorskip("numpy")


def settings(quick: bool = True, thorough: bool = False, deadline_s: float = 60.0, **options):
    from framework_advisor.probes.worker.adapter import Settings

    return Settings(WorkerOptions(framework=options.pop("framework", "numpy"), out="", threads=1,
                                  deadline_s=deadline_s, quick=quick, thorough=thorough, **options))


def test_checker_rejects_wrong_non_finite_and_misshapen_output(np):
    from framework_advisor.probes.worker.checks import CheckError, check_close

    expected = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert check_close(expected.astype(np.float32), expected, rtol=1e-6, atol=0, what="same")
    with pytest.raises(CheckError, match="differ"):
        check_close(expected + 0.5, expected, rtol=1e-3, atol=1e-3, what="wrong")
    with pytest.raises(CheckError, match="differ"):
        check_close(np.zeros_like(expected), expected, rtol=1e-3, atol=1e-3, what="computed nothing")
    broken = expected.copy()
    broken[1, 2] = np.nan
    with pytest.raises(CheckError, match="not finite"):
        check_close(broken, expected, rtol=1, atol=1, what="nan")
    with pytest.raises(CheckError, match="shape"):
        check_close(expected[:2], expected, rtol=1, atol=1, what="shape")
    with pytest.raises(CheckError, match="no output"):
        check_close(None, expected, rtol=1, atol=1, what="none")


def test_bf16_rounding_is_round_to_nearest_even(np):
    from framework_advisor.probes.worker.checks import round_to_bf16

    values = np.array([1.0, 1.00390625, 1.005859375, -3.14159265], dtype=np.float32)
    rounded = round_to_bf16(values)
    assert rounded[0] == 1.0 and rounded[1] == 1.0  # a tie rounds to the even mantissa
    assert rounded[2] == np.float32(1.0078125)
    assert (rounded.view(np.uint32) & 0xFFFF).max() == 0


def test_the_mlp_reference_backward_matches_finite_differences(np):
    from framework_advisor.probes.worker.checks import mlp_numpy_step, mlp_problem

    params, x, y = mlp_problem()
    params = [p.astype(np.float64) for p in params]
    x = x.astype(np.float64)[:16]
    y = y[:16]
    lr = 1.0
    updated = [p.copy() for p in params]
    loss = mlp_numpy_step(updated, x, y, lr)
    grad_b3 = params[5] - updated[5]  # lr = 1: the update is the gradient
    epsilon = 1e-6
    for index in range(3):
        bumped = [p.copy() for p in params]
        bumped[5][index] += epsilon
        bumped_loss = mlp_numpy_step([p.copy() for p in bumped], x, y, 0.0)
        assert (bumped_loss - loss) / epsilon == pytest.approx(grad_b3[index], rel=1e-4, abs=1e-7)


def _numpy_adapter(np, quick: bool = True, **overrides):
    from framework_advisor.probes.worker.adapters import numpy as numpy_adapter

    adapter = numpy_adapter.Adapter(np, settings(quick=quick))
    for name, value in overrides.items():
        setattr(adapter, name, value)
    return adapter


def _run(adapter):
    """The worker's own run of its plan (no parent driving it): records, errors, skips."""
    from framework_advisor.probes.worker.conversation import Conversation
    from framework_advisor.probes.worker.suite import plan, run_standalone

    planned, skipped = plan(adapter, adapter.devices())
    conversation = Conversation(adapter, planned, skipped)
    run_standalone(conversation)
    return conversation.outcome()


def test_a_benchmark_whose_output_is_wrong_is_an_error_not_a_figure(np):
    adapter = _numpy_adapter(
        np,
        matmul=lambda device, dtype: (lambda a, b: np.zeros((a.shape[0], b.shape[1]), np.float32)),  # computes nothing
        small_add=lambda device, x, y: (lambda: x + y + 1e-3),  # slightly wrong
    )
    benchmarks, errors, skipped = _run(adapter)
    failed = {error.benchmark: error for error in errors}
    assert set(failed) == {"matmul_fp32", "dispatch_latency"}
    assert all(error.kind == "check" for error in failed.values())
    assert "NumPy reference" in failed["matmul_fp32"].message
    measured = {bench.name for bench in benchmarks}
    assert "matmul_fp32" not in measured and "dispatch_latency" not in measured
    assert "elementwise_bandwidth" in measured  # the others went on
    assert all(bench.checked and bench.wall_s is not None for bench in benchmarks)
    # --quick runs its documented subset; the rest is skipped with a reason, not silently dropped.
    reasons = {entry.benchmark: entry.reason for entry in skipped}
    assert "quick subset" in reasons["mlp_step_eager"]


def test_a_benchmark_that_raises_is_recorded_and_the_rest_continue(np):
    def broken_add(device, b, c):
        raise MemoryError("no room for the arrays")

    benchmarks, errors, skipped = _run(_numpy_adapter(np, add=broken_add))
    assert [(e.benchmark, e.kind) for e in errors] == [("elementwise_bandwidth", "exception")]
    assert "MemoryError" in errors[0].message
    assert {"matmul_fp32", "dispatch_latency"} <= {b.name for b in benchmarks}


def test_a_long_exception_message_is_cut_to_what_a_record_holds(np):
    from framework_advisor.probes.worker.records import BenchmarkError, to_json

    def verbose_add(device, b, c):
        raise RuntimeError("x" * 5000)

    _, errors, _ = _run(_numpy_adapter(np, add=verbose_add))
    assert len(errors[0].message) == 1000 and errors[0].message.endswith("...")
    assert TypeAdapter(BenchmarkError).validate_json(to_json(errors[0])) == errors[0]


def test_a_wrong_training_step_fails_its_check(np):
    from framework_advisor.probes.worker.benchmarks import setup_mlp
    from framework_advisor.probes.worker.checks import CheckError

    adapter = _numpy_adapter(np)
    original = adapter.mlp_eager

    def no_learning(device, params, x, y, lr):
        return original(device, params, x, y, 0.0)  # runs, but never updates the parameters

    adapter.mlp_eager = no_learning
    with pytest.raises(CheckError, match="update of W1"):
        setup_mlp(adapter, "cpu", compiled=False)  # checked at once, on its first step


def test_an_overrunning_compile_is_abandoned_and_nothing_runs_after_it(np):
    from framework_advisor.probes.worker import cleanup
    from framework_advisor.probes.worker.adapter import MlpStep

    def slow_step():
        time.sleep(1.0)
        return 0.0

    step = MlpStep(step=slow_step, sync=lambda output: None, params=lambda: [], loss=float)
    try:
        started = time.perf_counter()
        with pytest.raises(TimeoutError, match="abandoned"):
            cleanup.first_step_within(step, 0.05, "slow compile")
        assert time.perf_counter() - started < 0.9
        assert cleanup.ABANDONED == ["slow compile"]
        benchmarks, errors, skipped = _run(_numpy_adapter(np))
        assert benchmarks == [] and errors == []
        assert all("abandoned compile" in s.reason for s in skipped if s.benchmark == "matmul_fp32")
    finally:
        cleanup.ABANDONED.clear()


def test_the_compile_deadline_follows_the_worker_deadline():
    """Capped at 40 s (15 s quick, 120 s thorough), ending 3 s before the deadline the parent set, >= 5 s."""
    assert settings(quick=False, deadline_s=55).compile_deadline_s == 40.0
    assert settings(quick=False, deadline_s=30).compile_deadline_s == pytest.approx(27.0, abs=0.2)
    assert settings(quick=True, deadline_s=25).compile_deadline_s == 15.0
    assert settings(quick=False, thorough=True, deadline_s=145).compile_deadline_s == 120.0
    assert settings(quick=False, thorough=True, deadline_s=60).compile_deadline_s == pytest.approx(57.0, abs=0.2)
    late = settings(quick=False, deadline_s=55)
    late.started -= 50  # 50 s into the worker's life
    assert late.compile_deadline_s == 5.0


def test_size_ladder_reaches_the_standard_size_unless_a_framework_is_far_too_slow(np):
    """Equal sizes across frameworks: a fast framework ends at the standard size; a slow one (mlx's reference
    BLAS on Linux) steps down and records the standard size and why."""
    from framework_advisor.probes.worker.sizes import matmul_sizes, pick_size

    full = settings(quick=False)
    sizes, standard = matmul_sizes("cpu", "fp32", quick=False)
    assert standard == 2048 and matmul_sizes("cpu", "fp32", quick=True)[1] == 512
    assert matmul_sizes("cpu", "bf16", quick=False)[1] == 1024

    def fake(rate_flops: float):
        built = []

        def build(n):
            built.append(n)
            return lambda: time.sleep(2.0 * n ** 3 / rate_flops)

        return build, built

    fast_build, fast_built = fake(300e9)  # 2048: 57 ms a call
    fast = pick_size(sizes, fast_build, lambda n: 2.0 * n ** 3, lambda out: None, full, standard)
    assert fast.size == 2048 and not fast.reduced and fast.params("n") == {}
    assert fast_built == [256, 512, 1024, 2048]
    assert fast.prior_calls == 2 and fast.first_call_s > 0  # handed to the harness as first call + warm-up

    slow_build, slow_built = fake(4e9)  # 256: 8 ms, 512: 67 ms, 1024: 0.54 s, 2048: 4.3 s
    slow = pick_size(sizes, slow_build, lambda n: 2.0 * n ** 3, lambda out: None, full, standard)
    assert slow.size == 512 and slow.reduced and slow_built == [256, 512]
    recorded = slow.params("n")
    assert recorded["standard_n"] == 2048 and "2048" in recorded["size_note"]
    assert slow.predicted_standard_s > 1.0


def test_a_rate_far_below_the_cpu_peak_keeps_a_framework_off_the_standard_size(np):
    """Fast enough for the time limit, but under 5% of the computed peak: measured below the standard."""
    from framework_advisor.probes.worker.sizes import pick_size

    full = settings(quick=False)
    peak = 1e12

    def build(n):
        return lambda: time.sleep(2.0 * n ** 3 / (0.04 * peak))  # 1024: 54 ms; 2048 would take 0.43 s

    sized = pick_size((1024, 2048), build, lambda n: 2.0 * n ** 3, lambda out: None, full, 2048, peak_flops=peak)
    assert sized.size == 1024 and sized.reduced
    assert "computed peak" in sized.params("n")["size_note"]
    same_league = pick_size((512, 1024), lambda n: (lambda: time.sleep(2.0 * n ** 3 / (0.5 * peak))),
                            lambda n: 2.0 * n ** 3, lambda out: None, full, 1024, peak_flops=peak)
    assert same_league.size == 1024 and not same_league.reduced


def test_the_ladder_takes_its_cpu_peak_from_the_options(np):
    from framework_advisor.probes.worker.benchmarks import _cpu_peak_flops
    from framework_advisor.probes.worker.records import Peak

    adapter = _numpy_adapter(np)
    assert _cpu_peak_flops(adapter, "cpu", "fp32") is None  # no peak passed: no peak test
    adapter.settings = settings(peaks={"cpu": {"fp32": Peak(value=294.4, source="test")}})
    assert _cpu_peak_flops(adapter, "cpu", "fp32") == pytest.approx(294.4e9)
    assert _cpu_peak_flops(adapter, "cuda", "fp32") is None


def test_one_delayed_call_does_not_shrink_the_problem(np):
    from framework_advisor.probes.worker.sizes import pick_size

    delays = iter([0.0, 0.2, 0.2])  # the first calls at 256 are held up by another process; later ones are not

    def build(n):
        def run():
            time.sleep(next(delays, 0.0) + 2.0 * n ** 3 / 300e9)
        return run

    sized = pick_size((256, 512, 1024), build, lambda n: 2.0 * n ** 3, lambda out: None, settings(quick=True), 1024)
    assert sized.size == 1024 and not sized.reduced


def test_quick_is_a_documented_subset_and_slow_compiles_wait_for_thorough(np):
    from framework_advisor.probes.worker.adapter import Adapter
    from framework_advisor.probes.worker.suite import QUICK_BENCHMARKS, plan

    class Compiling(Adapter):
        framework = "fake"
        compiler = "an external C++ compiler"

        def slow_compile(self, device):
            return "it runs g++"

        def bf16_ok(self, device):
            return True

    def planned_and_skipped(quick=False, thorough=False):
        adapter = Compiling(np, settings(quick=quick, thorough=thorough))
        planned, skipped = plan(adapter, adapter.devices())
        return [p.benchmark for p in planned], {s.benchmark: s.reason for s in skipped}

    names, skipped = planned_and_skipped(quick=True)
    assert set(names) == set(QUICK_BENCHMARKS) - {"h2d_copy"}  # h2d_copy: accelerators only
    assert {"matmul_bf16", "conv2d", "mlp_step_eager", "mlp_step_compiled"} <= set(skipped)

    names, skipped = planned_and_skipped()
    assert "mlp_step_compiled" not in names
    assert "--thorough" in skipped["mlp_step_compiled"] and "g++" in skipped["mlp_step_compiled"]
    assert {"matmul_fp32", "matmul_bf16", "conv2d", "elementwise_bandwidth", "dispatch_latency",
            "mlp_step_eager"} <= set(names)

    names, skipped = planned_and_skipped(thorough=True)
    assert names[-1] == "mlp_step_compiled" and "mlp_step_compiled" not in skipped


def test_the_plan_names_each_benchmark_s_standard_size_and_what_it_counts(np):
    from framework_advisor.probes.worker.adapter import Adapter, Settings
    from framework_advisor.probes.worker.records import DeviceSeen
    from framework_advisor.probes.worker.sizes import bandwidth_elements
    from framework_advisor.probes.worker.suite import plan

    class Everything(Adapter):
        framework = "fake"
        compiler = "a JIT"

        def bf16_ok(self, device):
            return True

    adapter = Everything(np, settings(quick=False))
    devices = [DeviceSeen(device="cpu", name="cpu", usable=True), DeviceSeen(device="cuda", name="gpu", usable=True)]
    planned, _ = plan(adapter, devices)
    sizes = {(p.benchmark, p.device): (p.standard_size, p.size_key) for p in planned}
    assert [p.device for p in planned][:7] == ["cuda"] * 7  # accelerators first ...
    assert [p.benchmark for p in planned][-2:] == ["mlp_step_compiled"] * 2  # ... compiled steps last
    # One thread (these settings): fp32 matmul at 1024 on the CPU; with more than two threads, 2048.
    assert sizes[("matmul_fp32", "cpu")] == (1024, "n") and sizes[("matmul_bf16", "cpu")] == (1024, "n")
    many = plan(Everything(np, Settings(WorkerOptions(framework="numpy", out="", threads=4, deadline_s=60.0))),
                devices)[0]
    assert next(p.standard_size for p in many if (p.benchmark, p.device) == ("matmul_fp32", "cpu")) == 2048
    assert sizes[("matmul_fp32", "cuda")] == (8192, "n") and sizes[("conv2d", "cpu")] == (8, "batch")
    assert sizes[("elementwise_bandwidth", "cpu")] == (bandwidth_elements("cpu", adapter.settings)[0], "elements")
    assert sizes[("dispatch_latency", "cpu")] == (64, "elements")
    assert sizes[("mlp_step_eager", "cpu")] == (1, "steps") == sizes[("mlp_step_compiled", "cuda")]
    assert sizes[("h2d_copy", "cuda")] == (256 * 2 ** 20, "bytes") and ("h2d_copy", "cpu") not in sizes


def test_bf16_on_a_cpu_is_decided_by_the_flags_the_parent_passed(np):
    from framework_advisor.probes.worker.adapter import Adapter

    def ok(flags):
        return Adapter(np, settings(cpu_flags=flags)).bf16_ok("cpu")

    assert not ok(()) and not ok(("avx2", "fma", "avx512f"))
    assert ok(("avx512f", "avx512_bf16")) and ok(("amx_tile", "amx_bf16")) and ok(("neon", "bf16"))


def test_the_mlp_reference_is_computed_once_per_process(np):
    from framework_advisor.probes.worker.checks import MLP_LR, mlp_problem, mlp_reference

    params, x, y = mlp_problem()
    loss, after = mlp_reference(params, x, y, MLP_LR)
    after[0][:] = 0  # a caller that scribbles on its copy does not change the cached reference
    again_loss, again = mlp_reference(params, x, y, MLP_LR)
    assert again_loss == loss and np.abs(again[0]).sum() > 0
    other_loss, _ = mlp_reference(params, x, y, 0.0)
    assert other_loss == loss  # the loss is taken before the update
    _, unchanged = mlp_reference(params, x, y, 0.0)
    assert np.array_equal(unchanged[0], params[0].astype(np.float64))


# --- the worker command line -----------------------------------------------------------------------------

def test_worker_rejects_an_unknown_framework(tmp_path):
    result = run_worker("caffe", tmp_path / "x.json", tmp_path, *BASE_ARGS, timeout=60)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_quick_and_thorough_exclude_each_other(tmp_path):
    result = run_worker("numpy", tmp_path / "x.json", tmp_path, *BASE_ARGS, "--quick", "--thorough", timeout=60)
    assert result.returncode == 2 and "exclude each other" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_the_deadline_and_the_threads_are_required(tmp_path):
    result = run_worker("numpy", tmp_path / "x.json", tmp_path, "--quick", timeout=60)
    assert result.returncode == 2 and "--threads" in result.stderr and "--deadline-s" in result.stderr


def test_an_import_failure_exits_non_zero_with_the_traceback_and_leaves_nothing(tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text('raise ImportError("libtorch_cpu.so: cannot open shared object")\n')
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_worker("pytorch", tmp_path / "x.json", scratch, *BASE_ARGS, "--quick", extra_path=shadow,
                        timeout=60)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ImportError: libtorch_cpu.so" in result.stderr
    assert not (tmp_path / "x.json").exists()
    assert list(scratch.iterdir()) == []  # the worker's scratch directory is gone


# --- every installed framework, for real ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORK_IDS)
def test_worker_quick_run(framework, tmp_path):
    from framework_advisor.probes.worker.records import Peak

    if not installed(framework):
        pytest.skip(f"{FRAMEWORK_PACKAGES[framework]} is not installed")
    out = tmp_path / "out" / "x.json"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = system_temp_entries()
    # A peak far below any real figure: every FLOP record must say the peak is understated instead of
    # giving a percent above 100.
    options = WorkerOptions(framework=framework, out=str(out), threads=1, deadline_s=100.0, quick=True,
                            accelerators=("cuda",),
                            peaks={"cpu": {"fp32": Peak(value=0.001, source="a test's peak", clock_ghz=0.001)}})
    result = run_worker(framework, out, scratch, *options.to_argv()[3:])
    assert result.returncode == 0, result.stderr[-3000:]

    document = read_result(out)
    assert_behaves(document, framework, quick=True)
    matmul = [b for b in document.benchmarks if b.name == "matmul_fp32" and b.device == "cpu"]
    assert len(matmul) == 1 and matmul[0].value > 0 and matmul[0].checked is True
    assert matmul[0].params["n"] >= 256
    assert matmul[0].percent_of_peak is None and matmul[0].peak.understated is True
    assert "GHz or more" in matmul[0].peak.note
    assert not document.errors, document.errors
    assert document.threads == 1 and document.thread_controls["env"]
    # --quick skips the cold compile.
    assert "mlp_step_compiled" not in {b.name for b in document.benchmarks}
    # The machine's CUDA kind was named: either the framework uses it or it says why not, and never how to fix it.
    usable = {d.device for d in document.devices if d.usable}
    if "cuda" not in usable:
        assert [u.kind for u in document.unused_accelerators] == ["cuda"]
        assert document.unused_accelerators[0].detail

    progress = [line[len(PROGRESS_PREFIX):] for line in result.stderr.splitlines()
                if line.startswith(PROGRESS_PREFIX)]
    assert progress, "no progress lines"
    events = [json.loads(line) for line in progress]
    assert all(isinstance(event, dict) and "step" in event and "done" in event for event in events)
    benchmark_events = [event for event in events if event["step"] in BENCHMARK_NAMES]
    assert benchmark_events and all(event["total"] >= 1 for event in benchmark_events)
    assert events[-1]["step"] == "done" and events[-1]["done"] == events[-1]["total"]

    assert list(scratch.iterdir()) == [], "the worker left files in its TMPDIR"
    assert [p.name for p in out.parent.iterdir()] == ["x.json"], "a temporary result file was left behind"
    assert system_temp_entries() - before == set(), "the worker left a cache directory in the system temp dir"

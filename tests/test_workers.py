"""Phase-B workers: the output checker, the suite's error handling, and each installed framework's worker
run for real in a subprocess (``python -m framework_advisor.probes.worker FRAMEWORK --quick``).

The test process never imports a deep-learning framework: availability is asked of importlib's finder, and
every framework runs in its worker. NumPy is imported only by the checker tests, which need arrays.
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

from framework_advisor.probes.bench import FRAMEWORK_MODULES
from tests.conftest import REPO_ROOT

FRAMEWORK_PACKAGES = {"numpy": "numpy", "pytorch": "torch", "jax": "jax", "mlx": "mlx", "tensorflow": "tensorflow"}
BENCHMARK_NAMES = {"matmul_fp32", "matmul_bf16", "conv2d", "elementwise_bandwidth", "dispatch_latency",
                   "mlp_step_eager", "mlp_step_compiled", "h2d_copy"}
DEVICE_KINDS = {"cpu", "cuda", "rocm", "tpu", "apple-gpu", "intel-xpu"}
UNUSED_REASONS = {"cpu-only-build", "driver-mismatch", "busy", "unsupported", "not-visible"}
TIMING_FIELDS = {"median_s": float, "min_s": float, "p10_s": float, "iqr_s": float, "samples": int,
                 "block_size": int, "total_s": float, "noisy": bool}
PROGRESS_PREFIX = "@@progress "
# What the worker, or a framework that ignored TMPDIR, would leave in the system temp directory: the worker's
# scratch, Inductor's default cache (torchinductor_<user>), MLX's compiled kernels (mlx/). Other names are
# left alone: other programs use the same directory.
LEFTOVER_PREFIXES = ("framework-advisor-bench-", "torchinductor_")
LEFTOVER_NAMES = {"mlx"}


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


def assert_number(value, what: str, positive: bool = False) -> None:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), what
    assert value == value and value not in (float("inf"), float("-inf")), what
    if positive:
        assert value > 0, what


def validate_result(result: dict, framework: str, quick: bool) -> None:
    """The worker contract, structurally: keys, types, enums."""
    assert result["framework"] == framework
    assert isinstance(result["version"], str) and result["version"]
    assert isinstance(result["threads"], int) and result["threads"] >= 1
    assert result["quick"] is quick
    assert_number(result["import_s"], "import_s")
    assert_number(result["first_result_s"], "first_result_s")
    assert result["import_s"] >= 0 and result["first_result_s"] >= 0
    assert isinstance(result["build"], dict)

    assert isinstance(result["devices"], list) and result["devices"]
    for device in result["devices"]:
        assert device["device"] in DEVICE_KINDS
        assert isinstance(device["name"], str) and isinstance(device["usable"], bool)
    assert any(d["device"] == "cpu" and d["usable"] for d in result["devices"])

    assert isinstance(result["unused_accelerators"], list)
    for unused in result["unused_accelerators"]:
        assert unused["kind"] in DEVICE_KINDS - {"cpu"}
        assert unused["reason"] in UNUSED_REASONS
        assert isinstance(unused.get("detail", ""), str) and isinstance(unused.get("fix", ""), str)

    assert isinstance(result["benchmarks"], list)
    for bench in result["benchmarks"]:
        what = f"{bench.get('name')} on {bench.get('device')}"
        assert bench["name"] in BENCHMARK_NAMES, what
        assert bench["device"] in DEVICE_KINDS, what
        assert isinstance(bench["params"], dict), what
        assert isinstance(bench["precision"], str) and isinstance(bench["unit"], str), what
        assert_number(bench["value"], what, positive=True)
        assert_number(bench["best"], what, positive=True)
        assert bench["checked"] is True, what
        for key, kind in TIMING_FIELDS.items():
            assert isinstance(bench["timing"][key], kind), f"{what}: timing.{key}"
        assert bench["timing"]["samples"] >= 1 and bench["timing"]["median_s"] > 0
        if bench["name"] == "dispatch_latency":
            assert bench["unit"] == "us" and bench["lower_is_better"] is True
            assert bench["best"] <= bench["value"]
        else:
            assert bench["best"] >= bench["value"], what
        if bench["name"] == "mlp_step_compiled":
            assert_number(bench["params"]["compile_s"], "compile_s", positive=True)
            assert bench["params"]["compile"] == "cold"

    assert isinstance(result["errors"], list)
    for error in result["errors"]:
        assert isinstance(error["message"], str) and error["message"]
    names = {(b["name"], b["device"]) for b in result["benchmarks"]}
    assert len(names) == len(result["benchmarks"]), "a benchmark is reported twice"


# --- the checker and the suite, in this process -----------------------------------------------------------

@pytest.fixture()
def np():
    return pytest.importorskip("numpy")


def test_checker_rejects_wrong_non_finite_and_misshapen_output(np):
    from framework_advisor.probes.bench.common import CheckError, check_close

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
    from framework_advisor.probes.bench.common import round_to_bf16

    values = np.array([1.0, 1.00390625, 1.005859375, -3.14159265], dtype=np.float32)
    rounded = round_to_bf16(values)
    assert rounded[0] == 1.0 and rounded[1] == 1.0  # a tie rounds to the even mantissa
    assert rounded[2] == np.float32(1.0078125)
    assert (rounded.view(np.uint32) & 0xFFFF).max() == 0


def test_the_mlp_reference_backward_matches_finite_differences(np):
    from framework_advisor.probes.bench.common import mlp_numpy_step, mlp_problem

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
    from framework_advisor.probes.bench import common, numpy_bench

    settings = common.Settings(framework="numpy", quick=quick, threads=1)
    adapter = numpy_bench.Adapter(np, settings)
    for name, value in overrides.items():
        setattr(adapter, name, value)
    return adapter


def test_a_benchmark_whose_output_is_wrong_is_an_error_not_a_figure(np):
    from framework_advisor.probes.bench import common

    adapter = _numpy_adapter(
        np,
        matmul=lambda device, dtype: (lambda a, b: np.zeros((a.shape[0], b.shape[1]), np.float32)),  # computes nothing
        small_add=lambda device, x, y: (lambda: x + y + 1e-3),  # slightly wrong
    )
    planned, skipped = common.plan(adapter, adapter.devices())
    benchmarks, errors, skipped = common.run_suite(adapter, planned, skipped)
    failed = {error["benchmark"]: error for error in errors}
    assert set(failed) == {"matmul_fp32", "dispatch_latency"}
    assert all(error["kind"] == "check" for error in failed.values())
    assert "NumPy reference" in failed["matmul_fp32"]["message"]
    measured = {bench["name"] for bench in benchmarks}
    assert "matmul_fp32" not in measured and "dispatch_latency" not in measured
    assert "elementwise_bandwidth" in measured  # the others went on
    assert all(bench["checked"] for bench in benchmarks)
    # --quick runs its documented subset; the rest is skipped with a reason, not silently dropped.
    reasons = {entry["benchmark"]: entry["reason"] for entry in skipped}
    assert "quick subset" in reasons["mlp_step_eager"]


def test_a_benchmark_that_raises_is_recorded_and_the_rest_continue(np):
    from framework_advisor.probes.bench import common

    def broken_add(device, b, c):
        raise MemoryError("no room for the arrays")

    adapter = _numpy_adapter(np, add=broken_add)
    planned, skipped = common.plan(adapter, adapter.devices())
    benchmarks, errors, skipped = common.run_suite(adapter, planned, skipped)
    assert [(e["benchmark"], e["kind"]) for e in errors] == [("elementwise_bandwidth", "exception")]
    assert "MemoryError" in errors[0]["message"]
    assert {"matmul_fp32", "dispatch_latency"} <= {b["name"] for b in benchmarks}


def test_a_wrong_training_step_fails_its_check(np):
    from framework_advisor.probes.bench import common

    adapter = _numpy_adapter(np)
    original = adapter.mlp_eager

    def no_learning(device, params, x, y, lr):
        step = original(device, params, x, y, 0.0)  # runs, but never updates the parameters
        return step

    adapter.mlp_eager = no_learning
    with pytest.raises(common.CheckError, match="update of W1"):
        common.bench_mlp_eager(adapter, "cpu")


def test_an_overrunning_compile_is_abandoned_and_nothing_runs_after_it(np):
    from framework_advisor.probes.bench import common

    def slow_step():
        time.sleep(1.0)
        return 0.0

    step = common.MlpStep(step=slow_step, sync=lambda output: None, params=lambda: [], loss=float)
    try:
        started = time.perf_counter()
        with pytest.raises(TimeoutError, match="abandoned"):
            common._first_step_within(step, 0.05, "slow compile")
        assert time.perf_counter() - started < 0.9
        assert common.ABANDONED == ["slow compile"]
        adapter = _numpy_adapter(np)
        planned, skipped = common.plan(adapter, adapter.devices())
        benchmarks, errors, skipped = common.run_suite(adapter, planned, skipped)
        assert benchmarks == [] and errors == []
        assert all("abandoned compile" in s["reason"] for s in skipped if s["benchmark"] == "matmul_fp32")
    finally:
        common.ABANDONED.clear()


def test_size_ladder_reaches_the_standard_size_unless_a_framework_is_far_too_slow(np):
    """Equal sizes across frameworks: a fast framework ends at the standard size; a slow one (mlx's reference
    BLAS on Linux) steps down and records the standard size and why."""
    from framework_advisor.probes.bench import common

    settings = common.Settings(framework="numpy", quick=False)
    sizes, standard = common.matmul_sizes("cpu", "fp32", quick=False)
    assert standard == 2048 and common.matmul_sizes("cpu", "fp32", quick=True)[1] == 512
    assert common.matmul_sizes("cpu", "bf16", quick=False)[1] == 1024

    def fake(rate_flops: float):
        built = []

        def build(n):
            built.append(n)
            return lambda: time.sleep(2.0 * n ** 3 / rate_flops)

        return build, built

    fast_build, fast_built = fake(300e9)  # 2048: 57 ms a call
    fast = common.pick_size(sizes, fast_build, lambda n: 2.0 * n ** 3, lambda out: None, settings, standard)
    assert fast.size == 2048 and not fast.reduced and fast.params("n") == {}
    assert fast_built == [256, 512, 1024, 2048]
    assert fast.prior_calls == 2 and fast.first_call_s > 0  # handed to the harness as first call + warm-up

    slow_build, slow_built = fake(4e9)  # 256: 8 ms, 512: 67 ms, 1024: 0.54 s, 2048: 4.3 s
    slow = common.pick_size(sizes, slow_build, lambda n: 2.0 * n ** 3, lambda out: None, settings, standard)
    assert slow.size == 512 and slow.reduced and slow_built == [256, 512]
    recorded = slow.params("n")
    assert recorded["standard_n"] == 2048 and "2048" in recorded["size_note"]
    assert slow.predicted_standard_s > 1.0


def test_a_rate_far_below_the_cpu_peak_keeps_a_framework_off_the_standard_size(np):
    """Fast enough for the time limit, but under 5% of the computed peak: measured below the standard."""
    from framework_advisor.probes.bench import common

    settings = common.Settings(framework="numpy", quick=False)
    peak = 1e12

    def build(n):
        return lambda: time.sleep(2.0 * n ** 3 / (0.04 * peak))  # 1024: 54 ms; 2048 would take 0.43 s

    sized = common.pick_size((1024, 2048), build, lambda n: 2.0 * n ** 3, lambda out: None, settings, 2048,
                             peak_flops=peak)
    assert sized.size == 1024 and sized.reduced
    assert "computed peak" in sized.params("n")["size_note"]
    same_league = common.pick_size((512, 1024), lambda n: (lambda: time.sleep(2.0 * n ** 3 / (0.5 * peak))),
                                   lambda n: 2.0 * n ** 3, lambda out: None, settings, 1024, peak_flops=peak)
    assert same_league.size == 1024 and not same_league.reduced


def test_one_delayed_call_does_not_shrink_the_problem(np):
    from framework_advisor.probes.bench import common

    settings = common.Settings(framework="numpy", quick=True)
    delays = iter([0.0, 0.2, 0.2])  # the first calls at 256 are held up by another process; later ones are not

    def build(n):
        def run():
            time.sleep(next(delays, 0.0) + 2.0 * n ** 3 / 300e9)
        return run

    sized = common.pick_size((256, 512, 1024), build, lambda n: 2.0 * n ** 3, lambda out: None, settings, 1024)
    assert sized.size == 1024 and not sized.reduced


def test_quick_is_a_documented_subset_and_slow_compiles_wait_for_thorough(np):
    from framework_advisor.probes.bench import common

    class Compiling(common.Adapter):
        framework = "fake"
        compiler = "an external C++ compiler"

        def slow_compile(self, device):
            return "it runs g++"

        def bf16_ok(self, device):
            return True

    def planned_and_skipped(**settings):
        adapter = Compiling(np, common.Settings(framework="fake", **settings))
        planned, skipped = common.plan(adapter, adapter.devices())
        return [p.name for p in planned], {s["benchmark"]: s["reason"] for s in skipped}

    names, skipped = planned_and_skipped(quick=True)
    assert set(names) == set(common.QUICK_BENCHMARKS) - {"h2d_copy"}  # h2d_copy: accelerators only
    assert {"matmul_bf16", "conv2d", "mlp_step_eager", "mlp_step_compiled"} <= set(skipped)

    names, skipped = planned_and_skipped()
    assert "mlp_step_compiled" not in names
    assert "--thorough" in skipped["mlp_step_compiled"] and "g++" in skipped["mlp_step_compiled"]
    assert {"matmul_fp32", "matmul_bf16", "conv2d", "elementwise_bandwidth", "dispatch_latency",
            "mlp_step_eager"} <= set(names)

    names, skipped = planned_and_skipped(thorough=True)
    assert names[-1] == "mlp_step_compiled" and "mlp_step_compiled" not in skipped


def test_the_mlp_reference_is_computed_once_per_process(np):
    from framework_advisor.probes.bench import common

    params, x, y = common.mlp_problem()
    loss, after = common.mlp_reference(params, x, y, common.MLP_LR)
    after[0][:] = 0  # a caller that scribbles on its copy does not change the cached reference
    again_loss, again = common.mlp_reference(params, x, y, common.MLP_LR)
    assert again_loss == loss and np.abs(again[0]).sum() > 0
    other_loss, _ = common.mlp_reference(params, x, y, 0.0)
    assert other_loss == loss  # the loss is taken before the update
    _, unchanged = common.mlp_reference(params, x, y, 0.0)
    assert np.array_equal(unchanged[0], params[0].astype(np.float64))


# --- the worker command line -----------------------------------------------------------------------------

def test_worker_rejects_an_unknown_framework(tmp_path):
    result = run_worker("caffe", tmp_path / "x.json", tmp_path, timeout=60)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_quick_and_thorough_exclude_each_other(tmp_path):
    result = run_worker("numpy", tmp_path / "x.json", tmp_path, "--quick", "--thorough", timeout=60)
    assert result.returncode == 2 and "exclude each other" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_an_import_failure_exits_non_zero_with_the_traceback_and_leaves_nothing(tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text('raise ImportError("libtorch_cpu.so: cannot open shared object")\n')
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = run_worker("pytorch", tmp_path / "x.json", scratch, "--quick", extra_path=shadow, timeout=60)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ImportError: libtorch_cpu.so" in result.stderr
    assert not (tmp_path / "x.json").exists()
    assert list(scratch.iterdir()) == []  # the worker's scratch directory is gone


# --- every installed framework, for real ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("framework", sorted(FRAMEWORK_MODULES))
def test_worker_quick_run(framework, tmp_path):
    if not installed(framework):
        pytest.skip(f"{FRAMEWORK_PACKAGES[framework]} is not installed")
    out = tmp_path / "out" / "x.json"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = system_temp_entries()
    result = run_worker(framework, out, scratch, "--quick", "--accelerators", "cuda")
    assert result.returncode == 0, result.stderr[-3000:]

    document = json.loads(out.read_text(encoding="utf-8"))
    validate_result(document, framework, quick=True)
    matmul = [b for b in document["benchmarks"] if b["name"] == "matmul_fp32" and b["device"] == "cpu"]
    assert len(matmul) == 1 and matmul[0]["value"] > 0 and matmul[0]["checked"] is True
    assert matmul[0]["params"]["n"] >= 256
    assert not document["errors"], document["errors"]
    # --quick skips the cold compile.
    assert "mlp_step_compiled" not in {b["name"] for b in document["benchmarks"]}
    # The machine's CUDA kind was named: either the framework uses it or it says why not.
    usable = {d["device"] for d in document["devices"] if d["usable"]}
    if "cuda" not in usable:
        assert [u["kind"] for u in document["unused_accelerators"]] == ["cuda"]

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

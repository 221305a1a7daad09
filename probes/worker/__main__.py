"""The worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

    python -m framework_advisor.probes.worker FRAMEWORK --out PATH --threads N --deadline-s S
        [--quick | --thorough] [--accelerators cuda,...] [--cpu-flags avx2,...] [--peaks JSON]

The command line is ``options.WorkerOptions`` (the parent builds it with ``to_argv``). Before the framework
is imported the worker

- sets the thread count every framework will use (OMP/MKL/OpenBLAS/BLIS/vecLib env vars; XLA's Eigen pool
  flags for one thread; CPU affinity when fewer threads than usable CPUs are asked for; torch.set_num_threads
  and tf.config.threading once imported), so that frameworks are compared at equal thread counts;
- sets PYTORCH_NVML_BASED_CUDA_CHECK=1, XLA_PYTHON_CLIENT_PREALLOCATE=false and TF_CPP_MIN_LOG_LEVEL=2;
- points TMPDIR and every compile cache it knows (Inductor, Triton, MLX's kernels under $TMPDIR/mlx, the
  CUDA JIT cache, XDG caches) at a fresh temporary directory, turns JAX's persistent cache off, and removes
  that directory at the end: compile figures are cold, and nothing is left behind.

Progress goes to stderr as ``@@progress {json}`` lines. The result, a ``records.WorkerResult``, is written
atomically to --out and the exit status is 0. A framework that fails to import raises: the traceback goes
to stderr and the status is non-zero, which the runner classifies.

Standard library only at module level, and relative imports only: this package may run in an interpreter
that has nothing but the frameworks it measures.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import time

from .adapter import Settings, exception_text, seen
from .adapters import ADAPTERS, load_module
from .cleanup import ABANDONED, exit_after_abandoned_compile
from .machine import isolate_caches, limit_threads
from .options import WorkerOptions
from .protocol import progress, write_result
from .records import BenchmarkError, WorkerResult
from .suite import plan, run_suite


def run(options: WorkerOptions, started: float | None = None) -> WorkerResult:
    """Measure ``options.framework`` in this process; ``started``: when the worker started (perf_counter)."""
    settings = Settings(options, started=time.perf_counter() if started is None else started)
    thread_controls = limit_threads(options.threads)
    module = load_module(options.framework)  # stdlib-only at module level
    progress("import", 0, None)

    t0 = time.perf_counter()
    lib = module.load(settings)  # an import failure propagates: non-zero exit, traceback on stderr
    import_s = time.perf_counter() - t0

    adapter = module.Adapter(lib, settings)  # applies in-framework thread settings before the first op
    t0 = time.perf_counter()
    adapter.first_result()
    first_result_s = time.perf_counter() - t0

    import numpy  # noqa: F401 - after the framework's own import, so that import_s is the framework's alone

    errors: list[BenchmarkError] = []
    try:
        build = adapter.build()
    except Exception as exc:  # noqa: BLE001
        build = {}
        errors.append(BenchmarkError(benchmark="build", device="cpu", message=exception_text(exc)))
    try:
        devices = adapter.devices()
    except Exception as exc:  # noqa: BLE001
        devices = [seen("cpu", "cpu", True)]
        errors.append(BenchmarkError(benchmark="devices", device="cpu", message=exception_text(exc)))
    usable = {entry.device for entry in devices if entry.usable}
    try:
        unused = adapter.unused_accelerators(usable)
    except Exception as exc:  # noqa: BLE001
        unused = []
        errors.append(BenchmarkError(benchmark="unused_accelerators", device="cpu", message=exception_text(exc)))

    # The framework's own objects (TensorFlow: millions) move to the permanent generation: the gc.collect()
    # between benchmarks, and automatic collections during warm-up, then scan only what the benchmarks made
    # (a full collection under TensorFlow took ~0.2 s each time).
    gc.freeze()
    planned, skipped = plan(adapter, devices)
    benchmarks, bench_errors, skipped = run_suite(adapter, planned, skipped)
    return WorkerResult(
        framework=options.framework, version=adapter.version()[:100], threads=options.threads,
        import_s=round(import_s, 4), first_result_s=round(first_result_s, 4),
        duration_s=round(time.perf_counter() - settings.started, 3), quick=options.quick,
        thorough=options.thorough, python=sys.version.split()[0], build=build, devices=devices,
        unused_accelerators=unused, benchmarks=benchmarks, errors=errors + bench_errors, skipped=skipped,
        thread_controls=thread_controls)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    options = WorkerOptions.from_argv(argv, list(ADAPTERS))
    scratch = isolate_caches()
    try:
        write_result(options.out, run(options, started))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # e.g. the framework failed to import: the runner classifies it
        raise
    if ABANDONED:
        exit_after_abandoned_compile(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    # The result is written (and fsynced) and the scratch removed: leave without the framework's interpreter
    # teardown, which costs TensorFlow ~1 s (thread pools, atexit hooks) and measures nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

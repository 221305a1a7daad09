"""Phase-B worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

    python -m framework_advisor.probes.worker FRAMEWORK --out PATH [--quick | --thorough] [--threads N] [--accelerators cuda,...]

FRAMEWORK is numpy, pytorch, jax, mlx or tensorflow. Before the framework is imported the worker

- sets the thread count every framework will use (OMP/MKL/OpenBLAS/BLIS/vecLib env vars; XLA's Eigen pool
  flags for one thread; CPU affinity when fewer threads than usable CPUs are asked for; torch.set_num_threads
  and tf.config.threading once imported), so that frameworks are compared at equal thread counts;
- sets PYTORCH_NVML_BASED_CUDA_CHECK=1, XLA_PYTHON_CLIENT_PREALLOCATE=false and TF_CPP_MIN_LOG_LEVEL=2;
- points TMPDIR and every compile cache it knows (Inductor, Triton, MLX's kernels under $TMPDIR/mlx, the
  CUDA JIT cache, XDG caches) at a fresh temporary directory, turns JAX's persistent cache off, and removes
  that directory at the end: compile figures are cold, and nothing is left behind.

Progress goes to stderr as ``@@progress {json}`` lines. The result is written atomically to --out and the
exit status is 0. A framework that fails to import raises: the traceback goes to stderr and the status is
non-zero, which the runner classifies.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from framework_advisor.probes.bench import FRAMEWORK_MODULES, common

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
SCRATCH_PREFIX = "framework-advisor-bench-"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m framework_advisor.probes.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("framework", choices=sorted(FRAMEWORK_MODULES))
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON result")
    parser.add_argument("--quick", action="store_true",
                        help="shorter budgets and a subset of benchmarks (common.QUICK_BENCHMARKS)")
    parser.add_argument("--thorough", action="store_true",
                        help="also measure cold compiles that run an external compiler (torch.compile, mx.compile "
                             "on the CPU): seconds to a minute each")
    parser.add_argument("--threads", type=int, default=None, help="threads for every framework (default: all CPUs)")
    parser.add_argument("--accelerators", default="",
                        help="comma-separated accelerator kinds on this machine "
                             "(cuda, rocm, tpu, apple-gpu, intel-xpu)")
    args = parser.parse_args(argv)
    if args.quick and args.thorough:
        parser.error("--quick and --thorough exclude each other")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    args.accelerators = [kind.strip() for kind in args.accelerators.split(",") if kind.strip()]
    unknown = [kind for kind in args.accelerators if kind not in common.DEVICE_KINDS or kind == "cpu"]
    if unknown:
        parser.error(f"unknown accelerator kind(s): {', '.join(unknown)}")
    return args


def limit_threads(threads: int) -> dict[str, Any]:
    """Environment and affinity for ``threads`` threads; returns what was applied."""
    applied: dict[str, Any] = {"env": list(THREAD_ENV_VARS)}
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    if threads == 1:
        # XLA's CPU client (JAX, TF jit_compile) has no N-thread flag; one thread it does have.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
        applied["xla_flags"] = os.environ["XLA_FLAGS"]
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = []
    if allowed and threads < len(allowed):
        # Thread pools that size themselves by the CPUs they may run on (XLA, TF, MLX) see exactly `threads`.
        os.sched_setaffinity(0, allowed[:threads])
        applied["cpu_affinity"] = allowed[:threads]
    return applied


def isolate_caches() -> Path:
    """A fresh scratch directory for TMPDIR and the compile caches (cold compiles, nothing left behind)."""
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    for name in ("TMPDIR", "TMP", "TEMP"):
        os.environ[name] = str(scratch)
    tempfile.tempdir = str(scratch)  # gettempdir() is cached: frameworks that ask it must see the scratch
    os.environ.update({
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Inductor: the cache (and precompiled headers, under gettempdir()) in the scratch; compile in-process,
        # not in a worker pool that would outlive the compile and steal CPU from the measurements.
        "TORCHINDUCTOR_CACHE_DIR": str(scratch / "inductor"),
        "TORCHINDUCTOR_FX_GRAPH_CACHE": "0",
        "TORCHINDUCTOR_AUTOGRAD_CACHE": "0",
        "TORCHINDUCTOR_COMPILE_THREADS": "1",
        "TRITON_CACHE_DIR": str(scratch / "triton"),
        "JAX_ENABLE_COMPILATION_CACHE": "false",
        "CUDA_CACHE_PATH": str(scratch / "nv"),
        "XDG_CACHE_HOME": str(scratch / "xdg-cache"),
    })
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    return scratch


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_atomically(path: Path, document: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(_finite(document), handle, indent=1, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    threads = args.threads or common.usable_cpus()
    thread_controls = limit_threads(threads)
    settings = common.Settings(framework=args.framework, quick=args.quick, thorough=args.thorough, threads=threads,
                               accelerators=list(args.accelerators), flags=common.cpu_flags(), started=started)
    module = importlib.import_module(FRAMEWORK_MODULES[args.framework])  # stdlib-only at module level
    common.progress("import", 0, None)

    t0 = time.perf_counter()
    lib = module.load(settings)  # an import failure propagates: non-zero exit, traceback on stderr
    import_s = time.perf_counter() - t0

    adapter = module.Adapter(lib, settings)  # applies in-framework thread settings before the first op
    t0 = time.perf_counter()
    adapter.first_result()
    first_result_s = time.perf_counter() - t0

    import numpy  # noqa: F401 - after the framework's own import, so that import_s is the framework's alone

    errors: list[dict[str, Any]] = []
    try:
        build = adapter.build()
    except Exception as exc:  # noqa: BLE001
        build = {}
        errors.append({"benchmark": "build", "device": "cpu", "message": f"{type(exc).__name__}: {exc}"})
    try:
        devices = adapter.devices()
    except Exception as exc:  # noqa: BLE001
        devices = [{"device": "cpu", "name": "cpu", "usable": True}]
        errors.append({"benchmark": "devices", "device": "cpu", "message": f"{type(exc).__name__}: {exc}"})
    usable = {entry["device"] for entry in devices if entry.get("usable")}
    try:
        unused = adapter.unused_accelerators(usable)
    except Exception as exc:  # noqa: BLE001
        unused = []
        errors.append({"benchmark": "unused_accelerators", "device": "cpu",
                       "message": f"{type(exc).__name__}: {exc}"})

    # The framework's own objects (TensorFlow: millions) move to the permanent generation: the gc.collect()
    # between benchmarks, and automatic collections during warm-up, then scan only what the benchmarks made
    # (a full collection under TensorFlow took ~0.2 s each time).
    gc.freeze()
    planned, skipped = common.plan(adapter, devices)
    benchmarks, bench_errors, skipped = common.run_suite(adapter, planned, skipped)
    return {
        "framework": args.framework,
        "version": adapter.version(),
        "threads": threads,
        "quick": bool(args.quick),
        "thorough": bool(args.thorough),
        "import_s": round(import_s, 4),
        "first_result_s": round(first_result_s, 4),
        "build": build,
        "devices": devices,
        "unused_accelerators": unused,
        "benchmarks": benchmarks,
        "errors": errors + bench_errors,
        "skipped": skipped,
        "thread_controls": thread_controls,
        "python": sys.version.split()[0],
        "duration_s": round(time.perf_counter() - started, 3),
    }


def _descendants(pid: int) -> list[int]:
    """This process's children, grandchildren ... (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
            parent = int(text[text.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


CLEANER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


def exit_after_abandoned_compile(scratch: Path) -> None:
    """Leave with status 0 although a compile thread is still running (the result is already written).

    The thread cannot be stopped and could recreate files in the scratch directory while it is removed, and
    interpreter shutdown under it can crash. So: kill the compilers it started (g++ and its cc1plus), hand the
    scratch directory to a small cleaner process that removes it once this process is gone (its stdin closes
    when we exit), and exit at once.
    """
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        subprocess.Popen([sys.executable, "-c", CLEANER, str(scratch)], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = isolate_caches()
    try:
        result = run(args)
        write_atomically(args.out, result)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # e.g. the framework failed to import: the runner classifies it
        raise
    if common.ABANDONED:
        exit_after_abandoned_compile(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    # The result is written (and fsynced) and the scratch removed: leave without the framework's interpreter
    # teardown, which costs TensorFlow ~1 s (thread pools, atexit hooks) and measures nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

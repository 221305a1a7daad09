"""The worker's own process set-up and the few machine facts only it can read.

Before the framework is imported the worker sets the thread count every framework will use
(``limit_threads``) and points every temporary and compile-cache directory it knows at a fresh scratch
directory (``isolate_caches``), so that frameworks are compared at equal thread counts and compile figures
are cold. The parent decides the thread count, the CPU's ISA flags and the device peaks (WorkerOptions);
what is read here is only what the measurement itself needs: the last-level cache size, for the bandwidth
benchmark's array size, and the CPUs this process may run on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
SCRATCH_PREFIX = "framework-advisor-bench-"
MiB = 2 ** 20


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


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _sysctl(name: str) -> str | None:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _parse_size(text: str) -> int | None:
    text = text.strip().upper()
    units = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        return None


def last_level_cache_bytes() -> tuple[int | None, str]:
    """The largest cache level's size, and where it was read."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    best: tuple[int, int] | None = None
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        entries = []
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            with open(f"{base}/{entry}/level") as handle:
                level = int(handle.read().strip())
            with open(f"{base}/{entry}/size") as handle:
                size = _parse_size(handle.read())
        except (OSError, ValueError):
            continue
        if size and (best is None or (level, size) > best):
            best = (level, size)
    if best:
        return best[1], f"sysfs cache index L{best[0]}"
    if sys.platform == "darwin":
        for name in ("hw.l3cachesize", "hw.l2cachesize"):
            value = _sysctl(name)
            if value and value.isdigit() and int(value) > 0:
                return int(value), f"sysctl {name}"
    return None, "unknown"

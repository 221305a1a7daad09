"""The worker's own process set-up and the few machine facts only it can read.

Before the framework is imported the worker sets the thread count every framework will use
(``limit_threads``) and points every temporary and compile-cache directory it knows at a fresh scratch
directory (``isolate_caches``), so that frameworks are compared at equal thread counts and compile figures
are cold; it pins itself to its CPUs (``pin_cpus``) once its set-up is done. The parent decides the thread
count, the CPUs, the CPU's ISA flags and the device peaks (WorkerOptions); what is read here is only what
the measurement itself needs: the last-level cache size, for the bandwidth benchmark's array size, the L2
size, for the calibration's matrices, and the CPUs this process may run on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
SCRATCH_PREFIX = "framework-advisor-bench-"
MiB = 2 ** 20


def limit_threads(threads: int, cpus: Sequence[int] = (), pin: bool = True) -> dict[str, Any]:
    """Environment for ``threads`` threads (and, with ``pin``, the CPU affinity: ``pin_cpus``); returns what
    was applied. The worker sets the environment before the framework's import and pins later (``pin_cpus``
    once its set-up is done), so that the imports of workers started together are not squeezed onto the
    same CPUs."""
    applied: dict[str, Any] = {"env": list(THREAD_ENV_VARS)}
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    if threads == 1:
        # XLA's CPU client (JAX, TF jit_compile) has no N-thread flag; one thread it does have.
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
        applied["xla_flags"] = os.environ["XLA_FLAGS"]
    if pin:
        applied.update(pin_cpus(threads, cpus))
    return applied


def pin_cpus(threads: int, cpus: Sequence[int] = ()) -> dict[str, Any]:
    """Run this process on ``cpus`` (the parent's choice) or, without them, on the first ``threads`` CPUs it
    may use when those are fewer than all of them; returns what was applied (``cpu_affinity`` and how many
    threads were moved, or ``cpu_affinity_error``).

    Linux sets the affinity of one thread at a time, and threads inherit it when they start: after the
    framework's import its thread pools (OpenMP, BLAS, XLA, TensorFlow) exist already, so every thread of the
    process (/proc/self/task) is moved, not only this one."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return {"cpu_affinity_error": "this platform sets no CPU affinity"} if cpus else {}
    chosen = sorted(set(cpus)) if cpus else allowed[:threads] if allowed and threads < len(allowed) else []
    if not chosen:
        return {}
    try:
        # Thread pools that size themselves by the CPUs they may run on (XLA, TF, MLX) see only these.
        os.sched_setaffinity(0, chosen)
    except (OSError, ValueError) as exc:
        return {"cpu_affinity_error": f"could not run on CPUs {chosen}: {exc}"[:500]}
    moved = 1
    try:
        tasks = [int(name) for name in os.listdir("/proc/self/task")]
    except (OSError, ValueError):
        tasks = []
    for task in tasks:
        if task != threading.get_native_id():
            try:
                os.sched_setaffinity(task, chosen)
                moved += 1
            except OSError:  # a thread that ended meanwhile
                pass
    return {"cpu_affinity": chosen, "cpu_affinity_threads": moved}


def isolate_caches() -> Path:
    """A fresh scratch directory for TMPDIR and the compile caches (cold compiles, nothing left behind)."""
    # Named after this process, so that the parent's next start removes it if this worker is killed first.
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
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


def _sysfs_caches() -> list[tuple[int, str, int]]:
    """(level, type, bytes) of each cache of CPU 0 that sysfs lists (Linux; empty elsewhere)."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            with open(f"{base}/{entry}/level") as handle:
                level = int(handle.read().strip())
            with open(f"{base}/{entry}/size") as handle:
                size = _parse_size(handle.read())
            kind = ""
            if os.path.exists(f"{base}/{entry}/type"):
                with open(f"{base}/{entry}/type") as handle:
                    kind = handle.read().strip()
        except (OSError, ValueError):
            continue
        if size:
            found.append((level, kind, size))
    return found


def last_level_cache_bytes() -> tuple[Optional[int], str]:
    """The largest cache level's size, and where it was read."""
    caches = _sysfs_caches()
    if caches:
        level, size = max((level, size) for level, _, size in caches)
        return size, f"sysfs cache index L{level}"
    if sys.platform == "darwin":
        for name in ("hw.l3cachesize", "hw.l2cachesize"):
            value = _sysctl(name)
            if value and value.isdigit() and int(value) > 0:
                return int(value), f"sysctl {name}"
    return None, "unknown"


def l2_cache_bytes() -> tuple[Optional[int], str]:
    """The size of one core's L2 (data or unified) cache, and where it was read."""
    sizes = [size for level, kind, size in _sysfs_caches() if level == 2 and kind != "Instruction"]
    if sizes:
        return max(sizes), "sysfs cache index L2"
    if sys.platform == "darwin":
        value = _sysctl("hw.l2cachesize")
        if value and value.isdigit() and int(value) > 0:
            return int(value), "sysctl hw.l2cachesize"
    return None, "unknown"

"""Device peaks, for reporting a measured figure as a percent of what the hardware can do.

Every figure is a *dense* one: NVIDIA's and AMD's "with sparsity" tensor figures are twice
the dense ones and are never used here. The accelerator table is data (probes/data/accelerator_peaks.json):
each row names its source; rows marked approximate are derived (units x clock), not published by the vendor.

CPU peaks are computed: physical cores x GHz x FLOP per cycle per core. The FLOP/cycle assumptions:

- x86 AVX-512 (``avx512f``): two 512-bit FMA units, 2 x 16 fp32 lanes x 2 FLOP = 64 fp32 FLOP/cycle.
  Xeon Gold 6xxx/Platinum and Sapphire Rapids and later have two units; some Xeon Silver/Bronze and client
  parts have one (32), so the figure can overstate those.
- x86 AVX2 with FMA (``avx2`` + ``fma``): two 256-bit FMA units: 32 fp32 FLOP/cycle (Haswell and later, Zen 2+;
  Zen 1 has half of that).
- x86 AVX without FMA: separate 256-bit add and multiply: 16. SSE only: 8.
- Arm NEON/ASIMD: 8 fp32 FLOP/cycle per 128-bit FMA pipe (4 lanes x 2). Assumed 2 pipes (16 FLOP/cycle,
  Cortex-A7x / Neoverse-N1 class) unless SVE is present, which is taken as a Neoverse-V1/V2-class core with
  4 x 128-bit (or 2 x 256-bit) pipes: 32. Apple's performance cores have 4 NEON pipes (32) and are understated.
- bf16: AVX512_BF16 (VDPBF16PS) doubles the fp32 rate; AMX-BF16 tiles do 1024 bf16 FLOP/cycle per core
  (Intel's Sapphire Rapids figure). Without either, bf16 runs at the fp32 rate (converted).
- fp64 is half the fp32 rate on all of these.

The clock: ``measured_cpu_ghz`` prefers the kernel's cpufreq maximum (the rated turbo) and else takes the
highest current "cpu MHz" reading of /proc/cpuinfo. Under a hypervisor that reading is usually the nominal
base clock, and all-core turbo runs above it: torch's matmul measured ~300 GFLOP/s on a 2-vCPU AVX-512 VM
whose nominal 2.3 GHz gives a 294 GFLOP/s peak (shared/notes/benchmarking.md). A figure above its peak
therefore gets no percent: the worker marks that peak understated (probes/worker/figures.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------------


def _fp32_flop_per_cycle(flags: set[str]) -> tuple[int, str]:
    if "avx512f" in flags:
        return 64, "AVX-512, 2 FMA units: 64 fp32 FLOP/cycle"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2+FMA, 2 FMA units: 32 fp32 FLOP/cycle"
    if "avx" in flags:
        return 16, "AVX without FMA: 16 fp32 FLOP/cycle"
    if "sve" in flags:
        return 32, "SVE core (Neoverse-V class), 4x128-bit FMA pipes: 32 fp32 FLOP/cycle"
    if "neon" in flags or "asimd" in flags:
        return 16, "NEON, 2x128-bit FMA pipes assumed: 16 fp32 FLOP/cycle"
    return 8, "no known SIMD flags (SSE assumed): 8 fp32 FLOP/cycle"


def cpu_flop_per_cycle(flags: Iterable[str], dtype: str = "fp32") -> tuple[float | None, str]:
    """FLOP per cycle per core for dtype (fp32, bf16, fp16, fp64), with the assumption in words."""
    present = {flag.lower() for flag in flags}
    fp32, how = _fp32_flop_per_cycle(present)
    if dtype in ("fp32", "tf32"):
        return fp32, how
    if dtype == "fp64":
        return fp32 / 2, f"{how}; fp64 at half rate"
    if dtype in ("bf16", "fp16"):
        if dtype == "bf16" and ("amx_bf16" in present):
            return 1024, "AMX-BF16 tiles: 1024 bf16 FLOP/cycle"
        if dtype == "bf16" and "avx512_bf16" in present:
            return 2 * fp32, f"AVX512_BF16 (VDPBF16PS): twice the fp32 rate, {2 * fp32} FLOP/cycle"
        return fp32, f"no native {dtype} arithmetic: the fp32 rate ({how})"
    return None, f"no CPU peak model for {dtype}"


def cpu_peak_gflops(cores: int, ghz: float, flags: Iterable[str], dtype: str = "fp32") -> tuple[float | None, str]:
    """Peak GFLOP/s = cores x GHz x FLOP/cycle, and how it was computed."""
    per_cycle, how = cpu_flop_per_cycle(flags, dtype)
    if per_cycle is None or not cores or not ghz or ghz <= 0:
        return None, how
    value = cores * ghz * per_cycle
    return value, (f"{cores} cores x {ghz:.2f} GHz x {per_cycle:g} FLOP/cycle ({how}); the clock is the "
                   f"highest reading available (cpufreq max, else /proc/cpuinfo cpu MHz), which under a "
                   f"hypervisor is often the nominal clock and understates turbo")


def measured_cpu_ghz_with_source(cpuinfo_path: str | Path = "/proc/cpuinfo",
                                 sysfs_cpu: str | Path = "/sys/devices/system/cpu") -> tuple[float | None, str]:
    """The CPU clock in GHz and where it came from; (None, why) when nothing can be read."""
    maxima = []
    for entry in sorted(Path(sysfs_cpu).glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq")):
        try:
            maxima.append(int(entry.read_text().strip()))  # kHz
        except (OSError, ValueError):
            continue
    if maxima:
        return max(maxima) / 1e6, "cpufreq cpuinfo_max_freq (the rated maximum clock)"
    try:
        text = Path(cpuinfo_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, f"{cpuinfo_path} unreadable"
    readings = []
    for match in re.finditer(r"^cpu MHz\s*:\s*([0-9.]+)", text, flags=re.MULTILINE):
        try:
            readings.append(float(match.group(1)))
        except ValueError:
            continue
    if readings:
        return max(readings) / 1000, ("max of the current /proc/cpuinfo cpu MHz readings (often the nominal "
                                      "clock under a hypervisor; turbo can run higher)")
    return None, "no cpufreq and no cpu MHz line"


def measured_cpu_ghz(cpuinfo_path: str | Path = "/proc/cpuinfo",
                     sysfs_cpu: str | Path = "/sys/devices/system/cpu") -> float | None:
    """The CPU clock in GHz (see ``measured_cpu_ghz_with_source``), or None."""
    return measured_cpu_ghz_with_source(cpuinfo_path, sysfs_cpu)[0]


# ---------------------------------------------------------------------------------------------
# Accelerators: dense TFLOP/s per device, and memory bandwidth in TB/s
# ---------------------------------------------------------------------------------------------

PEAKS_FILE = Path(__file__).resolve().parent / "data" / "accelerator_peaks.json"


@cache
def accelerator_rows() -> list[dict]:
    """The accelerator peak table (probes/data/accelerator_peaks.json), in match order."""
    return json.loads(PEAKS_FILE.read_text(encoding="utf-8"))["accelerators"]


def _row(name: str) -> dict | None:
    for row in accelerator_rows():
        if any(re.search(pattern, name, flags=re.IGNORECASE) for pattern in row["patterns"]):
            return row
    return None


def accelerator_peak(name: str, dtype: str = "fp32", cores: int | None = None) -> tuple[float | None, str]:
    """Dense peak TFLOP/s of one device named ``name`` for dtype (fp32, tf32, bf16, fp16, fp64), and its source.

    (None, why) when the part or the dtype has no figure. ``cores`` (GPU cores) scales Apple rows, whose
    table figure is for one configuration.
    """
    row = _row(name or "")
    if row is None:
        return None, f"no peak figure for {name!r}"
    if row.get("per_core") and cores and dtype in row["tflops"] and row["tflops"][dtype] is not None:
        value = round(row["per_core"] * cores, 2)
        return value, f"{row['source']}; scaled to {cores} GPU cores x {row['per_core']} TFLOP/s"
    value = row["tflops"].get(dtype)
    if value is None:
        return None, f"no dense {dtype} figure for {row['key']} ({row['source']})"
    return value, row["source"]


def accelerator_bandwidth(name: str) -> tuple[float | None, str]:
    """Peak memory bandwidth in TB/s of the device named ``name``, and its source."""
    row = _row(name or "")
    if row is None or row.get("tbs") is None:
        return None, f"no bandwidth figure for {name!r}"
    return row["tbs"], row["source"]

"""Device peaks, for reporting a measured figure as a percent of what the hardware can do.

Stdlib only. Every figure is a *dense* one: NVIDIA's and AMD's "with sparsity" tensor figures are twice
the dense ones and are never used here. Each accelerator row names its source; rows marked approximate
are derived (units x clock), not published by the vendor.

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
whose nominal 2.3 GHz gives a 294 GFLOP/s peak (shared/notes/benchmarking.md). A percent above 100 means
the clock ran faster than the one assumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

_NV_H100 = "NVIDIA H100 Tensor Core GPU datasheet (dense; the starred sparsity figures halved)"
_NV_A100 = "NVIDIA A100 Tensor Core GPU datasheet (dense; the starred sparsity figures halved)"
_NV_L4 = "NVIDIA L4 Tensor Core GPU datasheet (dense; the starred sparsity figures halved)"
_NV_ADA = "NVIDIA Ada Lovelace GPU architecture whitepaper, appendix table for RTX 4090 (dense, FP32 accumulate)"
_AMD_MI300X = "AMD Instinct MI300X data sheet (dense matrix figures; sparsity figures not used)"
_TPU_V4 = "Google Cloud TPU v4 documentation (per chip)"
_TPU_V5E = "Google Cloud TPU v5e documentation (per chip)"
_APPLE = ("APPROXIMATE: GPU cores x 128 fp32 ALUs x 2 FLOP x GPU clock (third-party clock measurements); Apple "
          "publishes no fp32 figure for most parts; bandwidth from Apple's tech specs")

# (key, name patterns (regex, case-insensitive), figures, bandwidth TB/s, source). The first match wins,
# so specific parts come before general ones. Figures: dtype -> dense TFLOP/s; None means no figure.
ACCELERATORS: list[dict] = [
    {"key": "h100-pcie", "patterns": [r"H100.*PCIe", r"device 0x2331\b"],
     "tflops": {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0, "fp64": 26.0}, "tbs": 2.0,
     "source": _NV_H100 + ", PCIe column"},
    {"key": "h100-nvl", "patterns": [r"H100 NVL", r"device 0x2321\b"],
     "tflops": {"fp32": 60.0, "tf32": 417.5, "bf16": 835.5, "fp16": 835.5, "fp64": 30.0}, "tbs": 3.9,
     "source": _NV_H100 + ", NVL column"},
    {"key": "h100-sxm", "patterns": [r"H100.*(SXM|HBM3)", r"device 0x2330\b", r"\bH100\b"],
     "tflops": {"fp32": 67.0, "tf32": 494.5, "bf16": 989.5, "fp16": 989.5, "fp64": 34.0}, "tbs": 3.35,
     "source": _NV_H100 + ", SXM column"},
    {"key": "a100", "patterns": [r"\bA100\b", r"device 0x20(b0|b2|b5|f1)\b"],
     "tflops": {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0, "fp64": 9.7}, "tbs": 2.0,
     "source": _NV_A100 + "; bandwidth 1.6 TB/s (40GB) to 2.0 TB/s (80GB SXM): the 80GB figure"},
    {"key": "l4", "patterns": [r"NVIDIA L4\b", r"device 0x27b8\b"],
     "tflops": {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0}, "tbs": 0.3,
     "source": _NV_L4},
    {"key": "rtx-4090", "patterns": [r"RTX 4090", r"device 0x2684\b"],
     "tflops": {"fp32": 82.6, "bf16": 165.2, "fp16": 165.2, "tf32": 82.6}, "tbs": 1.008,
     "source": _NV_ADA},
    {"key": "mi300x", "patterns": [r"MI300X"],
     "tflops": {"fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4, "fp64": 81.7}, "tbs": 5.3,
     "source": _AMD_MI300X + "; fp32 = the 163.4 TFLOP/s matrix figure"},
    {"key": "tpu-v4", "patterns": [r"TPU v4"],
     "tflops": {"bf16": 275.0, "fp32": None}, "tbs": 1.2,
     "source": _TPU_V4 + "; the MXU has no native fp32 rate (fp32 matmuls run as several bf16 passes)"},
    {"key": "tpu-v5e", "patterns": [r"TPU v5 ?(e|lite)", r"TPU v5litepod"],
     "tflops": {"bf16": 197.0, "fp32": None}, "tbs": 0.819,
     "source": _TPU_V5E + "; the MXU has no native fp32 rate"},
    # Apple GPUs: fp32 only (no published bf16 rate). Figures are for the largest GPU configuration of
    # each chip; pass `cores` to scale by the GPU core count.
    {"key": "apple-m1", "patterns": [r"Apple M1(?! (Pro|Max|Ultra))"], "per_core": 0.327, "cores": 8,
     "tflops": {"fp32": 2.6}, "tbs": 0.068,
     "source": "Apple M1 press release (Nov 2020): 2.6 TFLOPS for the 8-core GPU; " + _APPLE},
    {"key": "apple-m1-pro", "patterns": [r"Apple M1 Pro"], "per_core": 0.327, "cores": 16,
     "tflops": {"fp32": 5.2}, "tbs": 0.2,
     "source": "Apple M1 Pro/Max press release (Oct 2021): 5.2 TFLOPS (16-core GPU); " + _APPLE},
    {"key": "apple-m1-max", "patterns": [r"Apple M1 Max"], "per_core": 0.327, "cores": 32,
     "tflops": {"fp32": 10.4}, "tbs": 0.4,
     "source": "Apple M1 Pro/Max press release (Oct 2021): 10.4 TFLOPS (32-core GPU); " + _APPLE},
    {"key": "apple-m1-ultra", "patterns": [r"Apple M1 Ultra"], "per_core": 0.327, "cores": 64,
     "tflops": {"fp32": 21.0}, "tbs": 0.8,
     "source": "Apple M1 Ultra press release (Mar 2022): 21 TFLOPS (64-core GPU); " + _APPLE},
    {"key": "apple-m2", "patterns": [r"Apple M2(?! (Pro|Max|Ultra))"], "per_core": 0.358, "cores": 10,
     "tflops": {"fp32": 3.6}, "tbs": 0.1,
     "source": "Apple M2 press release (Jun 2022): 3.6 TFLOPS (10-core GPU); " + _APPLE},
    {"key": "apple-m2-pro", "patterns": [r"Apple M2 Pro"], "per_core": 0.358, "cores": 19,
     "tflops": {"fp32": 6.8}, "tbs": 0.2, "source": _APPLE + " (19-core GPU at ~1.4 GHz)"},
    {"key": "apple-m2-max", "patterns": [r"Apple M2 Max"], "per_core": 0.358, "cores": 38,
     "tflops": {"fp32": 13.6}, "tbs": 0.4, "source": _APPLE + " (38-core GPU at ~1.4 GHz)"},
    {"key": "apple-m2-ultra", "patterns": [r"Apple M2 Ultra"], "per_core": 0.358, "cores": 76,
     "tflops": {"fp32": 27.2}, "tbs": 0.8, "source": _APPLE + " (76-core GPU at ~1.4 GHz)"},
    {"key": "apple-m3", "patterns": [r"Apple M3(?! (Pro|Max|Ultra))"], "per_core": 0.353, "cores": 10,
     "tflops": {"fp32": 3.5}, "tbs": 0.1, "source": _APPLE + " (10-core GPU at ~1.38 GHz)"},
    {"key": "apple-m3-pro", "patterns": [r"Apple M3 Pro"], "per_core": 0.353, "cores": 18,
     "tflops": {"fp32": 6.4}, "tbs": 0.15, "source": _APPLE + " (18-core GPU at ~1.38 GHz)"},
    {"key": "apple-m3-max", "patterns": [r"Apple M3 Max"], "per_core": 0.353, "cores": 40,
     "tflops": {"fp32": 14.1}, "tbs": 0.4, "source": _APPLE + " (40-core GPU at ~1.38 GHz)"},
    {"key": "apple-m3-ultra", "patterns": [r"Apple M3 Ultra"], "per_core": 0.353, "cores": 80,
     "tflops": {"fp32": 28.2}, "tbs": 0.819, "source": _APPLE + " (80-core GPU at ~1.38 GHz)"},
    {"key": "apple-m4", "patterns": [r"Apple M4(?! (Pro|Max|Ultra))"], "per_core": 0.4, "cores": 10,
     "tflops": {"fp32": 4.0}, "tbs": 0.12, "source": _APPLE + " (10-core GPU at ~1.56 GHz)"},
    {"key": "apple-m4-pro", "patterns": [r"Apple M4 Pro"], "per_core": 0.4, "cores": 20,
     "tflops": {"fp32": 8.0}, "tbs": 0.273, "source": _APPLE + " (20-core GPU at ~1.56 GHz)"},
    {"key": "apple-m4-max", "patterns": [r"Apple M4 Max"], "per_core": 0.4, "cores": 40,
     "tflops": {"fp32": 16.0}, "tbs": 0.546, "source": _APPLE + " (40-core GPU at ~1.56 GHz)"},
]


def _row(name: str) -> dict | None:
    for row in ACCELERATORS:
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

"""From a measurement to a benchmark record: the figure, its best, its timing, and its percent of peak.

``value`` comes from the median time and ``best`` from the fastest block. FLOP figures are also given as a
percent of the device's peak that the parent passed (``WorkerOptions.peaks``, GFLOP/s for the worker's
threads or one device). A ``best`` above that peak proves the peak too low (turbo under a hypervisor that
reports the nominal clock, or a table row for another part): the record then gets no percent, and its peak
says so, with the clock the figure implies where the peak's clock is known. A CPU fp32 peak the worker
measured itself (its calibration run) is the practical peak: a figure may pass it by a little (percent above
100), which proves nothing wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .records import BenchmarkRecord, Peak
from .timing import Measurement

# Benchmarks measured in FLOP/s, and the precision they ask for; the peak is the one of the precision the
# hardware really used (the record's ``precision``, e.g. "tf32 (JAX's default ...)" for an fp32 matmul on an H100).
FLOP_BENCHMARKS = {"matmul_fp32": "fp32", "matmul_bf16": "bf16", "conv2d": "fp32"}


def _sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def rate_record(name: str, device: str, *, params: dict[str, Any], precision: str, unit: str,
                timing: Measurement, work: float, scale: float = 1e9) -> BenchmarkRecord:
    """A higher-is-better record: work per call (FLOP, bytes, steps) / time, from the median and the min."""
    return BenchmarkRecord(name=name, device=device, unit=unit, value=_sig(work / timing.median_s / scale),
                           best=_sig(work / timing.min_s / scale), timing=timing.record(), precision=precision,
                           params=params)


def latency_record(name: str, device: str, *, params: dict[str, Any], precision: str,
                   timing: Measurement) -> BenchmarkRecord:
    """A lower-is-better record in microseconds."""
    return BenchmarkRecord(name=name, device=device, unit="us", value=_sig(timing.median_s * 1e6),
                           best=_sig(timing.min_s * 1e6), timing=timing.record(), precision=precision,
                           params=params, lower_is_better=True)


def understated(peak: Peak, record: BenchmarkRecord, framework: str) -> Peak:
    """``peak`` marked as too low for ``record``'s best figure, with a note that says why."""
    if peak.clock_ghz:
        implied = peak.clock_ghz * record.best / peak.value
        note = (f"{framework} {record.name} reached {record.best:.4g} GFLOP/s, above this peak computed at "
                f"{peak.clock_ghz:.2f} GHz: the clock under load runs at {implied:.2f} GHz or more, so the true "
                f"peak is unknown and no percent of it is given")
    else:
        note = (f"{framework} {record.name} reached {record.best:.4g} GFLOP/s, above this peak: the figure "
                f"({peak.source}) is too low for this device, so no percent of it is given")
    return dataclasses.replace(peak, understated=True, note=note[:1000])


def with_percent_of_peak(record: BenchmarkRecord, peaks: dict[str, dict[str, Peak]],
                         framework: str) -> BenchmarkRecord:
    """``record`` with its percent of the device's peak, where it is a FLOP figure and a peak is known."""
    asked = FLOP_BENCHMARKS.get(record.name)
    if asked is None:
        return record
    used = record.precision.split()[0] if record.precision else asked
    device_peaks = peaks.get(record.device, {})
    peak = device_peaks.get(used) or device_peaks.get(asked)
    if peak is None:
        return record
    if record.best > peak.value and not peak.measured:
        return dataclasses.replace(record, peak=understated(peak, record, framework), percent_of_peak=None)
    return dataclasses.replace(record, peak=peak, percent_of_peak=round(100 * record.value / peak.value, 1))

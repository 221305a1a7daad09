"""The worker's timing harness (probes.worker.timing) with a fake clock, the peak tables (probes.peaks), the
peaks a probe hands its workers, and the percent of peak a worker gives each FLOP record. Fast, no framework."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import math

import pytest

from framework_advisor.probes import peaks
from framework_advisor.probes.worker.records import Timing
from framework_advisor.probes.worker.timing import (Measurement, block_size_for, converged, measure, median_ci_ranks,
                                                    percentile)


class FakeClock:
    """A clock that only moves when a fake call runs; reading it costs no time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def callable_taking(clock: FakeClock, durations) -> tuple:
    """A run() that advances ``clock`` by the next of ``durations`` and returns its call number."""
    source = iter(durations)
    calls = itertools.count()

    def run():
        clock.now += next(source)
        return next(calls)

    return run


def constant(seconds: float, first: float | None = None):
    return itertools.chain([seconds if first is None else first], itertools.repeat(seconds))


# --- helpers --------------------------------------------------------------------------------

def test_percentile_interpolates_like_numpy():
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.25) == pytest.approx(1.75)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert percentile([5.0], 0.1) == 5.0


def test_median_ci_ranks_are_distribution_free_binomial_ranks():
    assert median_ci_ranks(5) is None  # 2 / 2**5 > 5%: no 95% interval exists
    assert median_ci_ranks(6) == (0, 5)
    assert median_ci_ranks(20) == (5, 14)  # P(B(20, 1/2) <= 5) = 0.0207 <= 0.025 < P(<= 6)


@pytest.mark.parametrize("per_call, expected", [(5e-3, 1), (1e-3, 1), (6e-4, 2), (3e-4, 5), (1e-4, 10),
                                                (6e-5, 20), (2e-5, 50), (2e-6, 500), (4e-7, 5000)])
def test_block_size_is_the_smallest_125_step_reaching_one_millisecond(per_call, expected):
    assert block_size_for(per_call, 1e-3) == expected


def test_convergence_by_iqr_or_by_the_median_ci():
    assert converged([1.0] * 5, 0.05)
    assert not converged([1.0, 3.0] * 10, 0.05)
    # IQR/median is 10% (too wide), but 101 samples pin the median within +-2.5%.
    spread = [0.9 + 0.2 * i / 100 for i in range(101)]
    assert (percentile(spread, 0.75) - percentile(spread, 0.25)) / percentile(spread, 0.5) > 0.05
    assert converged(spread, 0.05)


# --- measure ----------------------------------------------------------------------------------

def test_steady_calls_stop_once_blocks_time_and_spread_are_enough():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(2e-3)), budget_s=10.0, clock=clock)
    assert timing.stop == "converged" and not timing.noisy
    assert timing.block_size == 1
    assert timing.samples == 50  # 5 blocks are not enough: min_total_s = 0.1 s needs 50 blocks of 2 ms
    assert timing.median_s == pytest.approx(2e-3) and timing.min_s == pytest.approx(2e-3)
    assert timing.iqr_s == pytest.approx(0.0, abs=1e-12)


def test_min_blocks_and_min_total_both_hold():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(0.05)), budget_s=10.0, clock=clock)
    assert timing.samples == 5  # 2 blocks would reach 0.1 s; 5 blocks are required


def test_spread_that_never_settles_stops_at_the_budget_and_is_noisy():
    clock = FakeClock()
    durations = itertools.cycle([2e-3, 6e-3])  # every call over 1 ms: blocks of 1 call alternate too
    timing = measure(callable_taking(clock, durations), budget_s=0.5, clock=clock)
    assert timing.block_size == 1
    assert timing.noisy and timing.stop == "budget"
    assert timing.total_s == pytest.approx(0.5 + 2e-3, abs=7e-3)  # first call + budget, give or take a block
    assert timing.min_s == pytest.approx(2e-3) and timing.median_s == pytest.approx(4e-3)


def test_a_budget_spent_in_warm_up_still_yields_a_minimum_of_blocks():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(0.2)), budget_s=0.1, clock=clock)
    assert timing.noisy and timing.samples == 3


def test_first_call_is_timed_apart_and_excluded():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(2e-3, first=1.5)), budget_s=10.0, clock=clock)
    assert timing.first_call_s == pytest.approx(1.5)
    assert timing.median_s == pytest.approx(2e-3) and timing.min_s == pytest.approx(2e-3)
    assert timing.total_s > 1.5


def test_warm_up_takes_three_calls_and_fifty_milliseconds():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(1e-3)), budget_s=10.0, clock=clock)
    assert timing.warmup_calls == 50
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(0.04)), budget_s=10.0, clock=clock)
    assert timing.warmup_calls == 3


def test_blocks_are_calibrated_for_fast_calls_and_times_are_per_call():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(1e-4)), budget_s=10.0, clock=clock)
    assert timing.block_size == 10
    assert timing.median_s == pytest.approx(1e-4)


def test_block_size_recalibrates_when_calls_speed_up_after_warm_up():
    clock = FakeClock()
    # Warm-up sees 1 ms calls (block 1); then calls take 0.1 ms, so a block of 1 is under 1 ms.
    durations = itertools.chain([1e-3] * 51, itertools.repeat(1e-4))
    timing = measure(callable_taking(clock, durations), budget_s=10.0, clock=clock)
    assert timing.block_size == 10
    assert timing.median_s == pytest.approx(1e-4)


def test_sync_sees_every_output_before_the_clock_stops():
    clock = FakeClock()
    seen = []
    run = callable_taking(clock, constant(1e-3))

    def sync(output):
        seen.append(output)
        clock.now += 1e-3  # the wait for the result is part of the call's time

    timing = measure(run, sync, budget_s=10.0, clock=clock)
    assert seen == list(range(len(seen)))  # every output, in order
    assert timing.median_s == pytest.approx(2e-3)
    assert timing.last_output == seen[-1]


def test_gc_is_off_while_blocks_run_and_on_again_afterwards():
    clock = FakeClock()
    states = []
    base = callable_taking(clock, constant(1e-3))

    def run():
        states.append(gc.isenabled())
        return base()

    assert gc.isenabled()
    timing = measure(run, budget_s=10.0, clock=clock)
    assert gc.isenabled()
    measured = states[-timing.samples * timing.block_size:]
    assert not any(measured)


def test_gc_is_re_enabled_when_a_call_raises():
    clock = FakeClock()
    calls = itertools.count()

    def run():
        clock.now += 1e-3
        if next(calls) == 60:
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        measure(run, budget_s=10.0, clock=clock)
    assert gc.isenabled()


def test_gc_left_off_when_it_was_off():
    clock = FakeClock()
    gc.disable()
    try:
        measure(callable_taking(clock, constant(1e-3)), budget_s=10.0, clock=clock)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_record_has_the_contract_fields_and_every_sample():
    clock = FakeClock()
    durations = itertools.chain([0.5], itertools.cycle([2e-3, 2.2e-3, 1.9e-3]))
    measured = measure(callable_taking(clock, durations), budget_s=1.0, clock=clock)
    record = measured.record()
    assert isinstance(record, Timing)
    for key, kind in {"median_s": float, "min_s": float, "p10_s": float, "iqr_s": float, "samples": int,
                      "block_size": int, "total_s": float, "first_call_s": float, "noisy": bool}.items():
        assert isinstance(getattr(record, key), kind), key
    assert len(record.per_call_s) == record.samples == len(measured.per_call_s)
    assert min(record.per_call_s) == pytest.approx(record.min_s) and sorted(set(record.per_call_s)) == pytest.approx(
        [1.9e-3, 2e-3, 2.2e-3])
    assert record.first_call_s == pytest.approx(0.5) and record.stop == measured.stop
    assert not hasattr(record, "last_output")


def test_real_clock_smoke():
    timing = measure(lambda: sum(range(100)), budget_s=0.2)
    assert isinstance(timing, Measurement) and timing.median_s > 0 and timing.block_size >= 1
    assert math.isfinite(timing.p10_s) and timing.min_s <= timing.p10_s <= timing.median_s


# --- peaks ------------------------------------------------------------------------------------

def test_cpu_peak_is_cores_times_clock_times_flop_per_cycle():
    value, how = peaks.cpu_peak_gflops(2, 2.3, ["avx", "avx2", "fma", "avx512f"])
    assert value == pytest.approx(2 * 2.3 * 64)
    assert "64" in how and "GHz" in how
    assert peaks.cpu_peak_gflops(8, 3.0, ["avx", "avx2", "fma"])[0] == pytest.approx(8 * 3 * 32)
    assert peaks.cpu_peak_gflops(4, 2.0, ["neon"])[0] == pytest.approx(4 * 2 * 16)
    assert peaks.cpu_peak_gflops(4, 2.0, ["neon", "sve"])[0] == pytest.approx(4 * 2 * 32)
    assert peaks.cpu_peak_gflops(1, 2.0, ["avx512f", "amx_bf16"], "bf16")[0] == pytest.approx(2048)
    assert peaks.cpu_peak_gflops(1, 2.0, ["avx512f", "avx512_bf16"], "bf16")[0] == pytest.approx(256)
    assert peaks.cpu_peak_gflops(0, 2.0, ["avx512f"])[0] is None


def test_cpu_clock_prefers_cpufreq_max_then_the_highest_mhz_reading(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\ncpu MHz\t\t: 2300.000\n\nprocessor\t: 1\ncpu MHz\t\t: 2894.5\n")
    sysfs = tmp_path / "cpu"
    assert peaks.measured_cpu_ghz(cpuinfo, sysfs) == pytest.approx(2.8945)
    ghz, how = peaks.measured_cpu_ghz_with_source(cpuinfo, sysfs)
    assert "max" in how
    (sysfs / "cpu0" / "cpufreq").mkdir(parents=True)
    (sysfs / "cpu0" / "cpufreq" / "cpuinfo_max_freq").write_text("3500000\n")
    assert peaks.measured_cpu_ghz(cpuinfo, sysfs) == pytest.approx(3.5)
    assert peaks.measured_cpu_ghz(tmp_path / "missing", tmp_path / "none") is None


@pytest.mark.parametrize("name, dtype, expected", [
    ("NVIDIA H100 80GB HBM3", "fp32", 67.0),
    ("NVIDIA H100 80GB HBM3", "bf16", 989.5),  # dense; the datasheet's 1979 is with sparsity
    ("NVIDIA GPU (device 0x2330)", "bf16", 989.5),
    ("NVIDIA H100 PCIe", "fp32", 51.0),
    ("NVIDIA A100-SXM4-80GB", "fp32", 19.5),
    ("NVIDIA A100 80GB PCIe", "bf16", 312.0),
    ("NVIDIA L4", "bf16", 121.0),
    ("NVIDIA GeForce RTX 4090", "fp32", 82.6),
    ("AMD Instinct MI300X (gfx942)", "fp32", 163.4),
    ("AMD Instinct MI300X (gfx942)", "bf16", 1307.4),
    ("TPU v4", "bf16", 275.0),
    ("TPU v5 lite", "bf16", 197.0),
    ("Apple M1", "fp32", 2.6),
    ("Apple M2 Max GPU", "fp32", 13.6),
])
def test_accelerator_peaks_are_dense_vendor_figures_with_a_source(name, dtype, expected):
    value, source = peaks.accelerator_peak(name, dtype)
    assert value == pytest.approx(expected)
    assert source


def test_accelerator_peak_unknowns_and_scaling():
    assert peaks.accelerator_peak("Some Future GPU", "fp32")[0] is None
    assert peaks.accelerator_peak("TPU v4", "fp32")[0] is None  # no native fp32 rate on the MXU
    assert peaks.accelerator_peak("Apple M2 Max GPU", "bf16")[0] is None
    value, source = peaks.accelerator_peak("Apple M2 Max GPU", "fp32", cores=30)
    assert value == pytest.approx(30 * 0.358, rel=1e-3) and "APPROXIMATE" in source
    assert peaks.accelerator_peak("Apple M1 Pro GPU", "fp32")[0] == pytest.approx(5.2)
    assert peaks.accelerator_bandwidth("NVIDIA H100 80GB HBM3")[0] == pytest.approx(3.35)


def test_no_sparsity_figure_slipped_into_the_table():
    sparse = {("h100-sxm", "bf16"): 1979, ("a100", "bf16"): 624, ("l4", "bf16"): 242, ("mi300x", "bf16"): 2614.9,
              ("h100-pcie", "bf16"): 1513}
    rows = {row["key"]: row for row in peaks.accelerator_rows()}
    for (key, dtype), figure in sparse.items():
        assert rows[key]["tflops"][dtype] == pytest.approx(figure / 2, rel=0.01)


def test_a_first_call_made_by_the_caller_is_recorded_not_repeated_and_prior_calls_warm_up():
    clock = FakeClock()
    calls = []

    def run():
        calls.append(clock.now)
        clock.now += 2e-3

    timing = measure(run, budget_s=10.0, clock=clock, first_call_s=0.5, prior_calls=2, prior_s=0.06)
    assert timing.first_call_s == 0.5
    # The caller's two calls and 60 ms count toward the warm-up (>= 3 calls, >= 50 ms): one more call here.
    assert timing.warmup_calls == 3
    assert timing.total_s == pytest.approx(0.5 + 0.06 + 2e-3 * len(calls))
    assert timing.median_s == pytest.approx(2e-3) and not timing.noisy


def test_without_prior_calls_the_warm_up_still_holds_its_minimum():
    clock = FakeClock()
    timing = measure(callable_taking(clock, constant(2e-3)), budget_s=10.0, clock=clock, first_call_s=0.1)
    assert timing.warmup_calls >= 3 and timing.warmup_calls * 2e-3 >= 0.05 - 1e-9


def _cpu_record(value: float, best: float, name: str = "matmul_fp32", device: str = "cpu"):
    from framework_advisor.probes.worker.records import BenchmarkRecord

    timing = Timing(median_s=1.0, min_s=0.9, p10_s=0.95, iqr_s=0.01, samples=5, block_size=1, total_s=5.0,
                    noisy=False)
    return BenchmarkRecord(name=name, device=device, unit="GFLOP/s", value=value, best=best, timing=timing)


def _peaks(cores: int, ghz: float, flags: list[str], threads: int, accelerators=()):
    from framework_advisor.probes.hardware import HardwareProfile
    from framework_advisor.probes.probe import device_peaks

    hardware = HardwareProfile.model_validate({"os": "linux", "arch": "x86_64",
                                               "cpu": {"model": "test", "cores": cores, "flags": flags},
                                               "accelerators": list(accelerators)})
    return device_peaks(hardware, threads, ghz)


def test_a_cpu_figure_above_the_computed_peak_gets_no_percent_and_says_which_clock_it_implies():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    peaks = _peaks(2, 2.3, ["avx512f", "fma", "avx2"], threads=2)
    assert peaks["cpu"]["fp32"].value == pytest.approx(294.4)  # 2 x 2.3 GHz x 64
    assert peaks["cpu"]["fp32"].clock_ghz == pytest.approx(2.3)
    record = with_percent_of_peak(_cpu_record(310.0, 318.0), peaks, "pytorch")
    assert record.percent_of_peak is None
    peak = record.peak
    assert peak.understated is True and peak.value == pytest.approx(294.4)
    assert "pytorch" in peak.note and "318" in peak.note
    assert f"{2.3 * 318 / 294.4:.2f} GHz or more" in peak.note
    assert peaks["cpu"]["fp32"].understated is False  # the peak handed in is not changed


def test_a_best_figure_above_the_peak_is_enough_to_drop_the_percent():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    peaks = _peaks(2, 2.3, ["avx512f"], threads=2)
    record = with_percent_of_peak(_cpu_record(290.0, 300.0), peaks, "numpy")
    assert record.percent_of_peak is None and record.peak.understated


def test_figures_within_the_computed_peak_keep_their_percent():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    peaks = _peaks(2, 2.3, ["avx512f"], threads=2)
    record = with_percent_of_peak(_cpu_record(250.0, 260.0), peaks, "numpy")
    assert record.percent_of_peak == pytest.approx(84.9, abs=0.1)
    assert record.peak.understated is False and record.peak.note is None


def test_the_cpu_peak_counts_only_the_cores_the_worker_ran_on():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    one_thread = _peaks(8, 2.0, ["avx512f"], threads=1)
    assert one_thread["cpu"]["fp32"].value == pytest.approx(128.0)  # 1 core x 2 GHz x 64
    assert _peaks(8, 2.0, ["avx512f"], threads=8)["cpu"]["fp32"].value == pytest.approx(1024.0)
    assert _peaks(8, 2.0, ["avx512f"], threads=16)["cpu"]["fp32"].value == pytest.approx(1024.0)  # hyperthreads
    record = with_percent_of_peak(_cpu_record(120.0, 125.0), one_thread, "numpy")
    assert record.percent_of_peak == pytest.approx(93.8, abs=0.1)


def test_each_flop_benchmark_is_a_percent_of_its_own_precision_and_others_get_none():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    peaks = _peaks(1, 2.0, ["avx512f", "amx_bf16"], threads=1)
    assert peaks["cpu"]["bf16"].value == pytest.approx(2048.0)  # AMX: 1024 FLOP/cycle
    bf16 = with_percent_of_peak(_cpu_record(1024.0, 1100.0, name="matmul_bf16"), peaks, "pytorch")
    assert bf16.percent_of_peak == pytest.approx(50.0)
    conv = with_percent_of_peak(_cpu_record(64.0, 70.0, name="conv2d"), peaks, "pytorch")
    assert conv.percent_of_peak == pytest.approx(50.0)  # fp32: 128 GFLOP/s
    bandwidth = with_percent_of_peak(_cpu_record(20.0, 21.0, name="elementwise_bandwidth"), peaks, "pytorch")
    assert bandwidth.percent_of_peak is None and bandwidth.peak is None
    no_clock = _peaks(1, None, ["avx512f"], threads=1)
    assert "cpu" not in no_clock


def test_an_accelerator_figure_is_a_percent_of_its_first_device_and_an_excess_says_the_table_is_low():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    h100 = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8}
    peaks = _peaks(8, 2.0, ["avx512f"], threads=8, accelerators=[h100])
    assert peaks["cuda"]["bf16"].value == pytest.approx(989_000, rel=0.01)  # dense, per device
    record = with_percent_of_peak(_cpu_record(690_000.0, 710_000.0, name="matmul_bf16", device="cuda"), peaks,
                                  "pytorch")
    assert 60 < record.percent_of_peak < 80
    above = with_percent_of_peak(_cpu_record(990_000.0, 2_000_000.0, name="matmul_bf16", device="cuda"), peaks,
                                 "pytorch")
    assert above.percent_of_peak is None and above.peak.understated and "too low" in above.peak.note


def test_an_fp32_matmul_run_as_tf32_is_a_percent_of_the_tf32_peak():
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    h100 = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8}
    peaks = _peaks(8, 2.0, ["avx512f"], threads=8, accelerators=[h100])
    record = dataclasses.replace(_cpu_record(247_000.0, 250_000.0, device="cuda"),
                                 precision="tf32 (JAX's default precision on Ampere and later)")
    figure = with_percent_of_peak(record, peaks, "jax")
    assert figure.peak == peaks["cuda"]["tf32"] and figure.percent_of_peak == pytest.approx(49.9, abs=0.1)
    plain = with_percent_of_peak(_cpu_record(33_500.0, 34_000.0, device="cuda"), peaks, "pytorch")  # no precision
    assert plain.peak == peaks["cuda"]["fp32"] and plain.percent_of_peak == pytest.approx(50.0)


def test_one_cpu_figure_above_its_peak_makes_the_report_say_no_cpu_percent_holds():
    from framework_advisor.probes.derived import understated_cpu_peak
    from framework_advisor.probes.report import FrameworkRun
    from framework_advisor.probes.worker.figures import with_percent_of_peak

    peaks = _peaks(2, 2.3, ["avx512f", "fma", "avx2"], threads=2)

    def run(framework: str, value: float, best: float) -> FrameworkRun:
        record = with_percent_of_peak(_cpu_record(value, best), peaks, framework)
        return FrameworkRun(framework=framework, version="1", threads=2, import_s=0.1, first_result_s=0.1,
                            duration_s=1.0, benchmarks=[record])

    below = [run("numpy", 250.0, 260.0)]
    assert understated_cpu_peak(below) is None and below[0].benchmarks[0].percent_of_peak is not None
    both = [*below, run("pytorch", 300.0, 310.0)]
    flagged = understated_cpu_peak(both)
    assert flagged.framework == "pytorch" and flagged.figure_gflops == 310.0
    assert flagged.peak_gflops == pytest.approx(294.4) and flagged.clock_ghz_at_least == pytest.approx(2.42, abs=0.01)
    assert both[0].benchmarks[0].percent_of_peak is not None  # the records are not edited; the report says it


def test_a_worker_fits_its_texts_to_the_limits_its_parent_validates():
    from pydantic import TypeAdapter

    from framework_advisor.probes.worker.records import DeviceSeen, WorkerResult, to_json

    result = WorkerResult(framework="numpy", version="1" * 300, threads=1, import_s=0, first_result_s=0, duration_s=0,
                          devices=[DeviceSeen(device="cuda", name="gpu", usable=False, error="driver says " * 500,
                                              compute_capability="gfx90a" * 10)])
    written = TypeAdapter(WorkerResult).validate_json(to_json(result))  # valid: nothing over its limit
    assert len(written.version) == 100 and written.version.endswith("...")
    assert len(written.devices[0].error) == 1000 and written.devices[0].error.startswith("driver says")


# --- the sampler: blocks in turns ----------------------------------------------------------------------

def test_a_sampler_times_as_many_blocks_as_it_is_asked_in_as_many_turns():
    from framework_advisor.probes.worker.timing import Sampler

    clock = FakeClock()
    sampler = Sampler(callable_taking(clock, constant(2e-3, first=0.7)), clock=clock)
    assert sampler.first_call_s == pytest.approx(0.7) and sampler.block_size == 1 and sampler.per_call == []
    assert sampler.estimate_s == pytest.approx(2e-3) and sampler.warmup_calls == 25  # 50 ms of 2 ms calls
    for _ in range(3):
        new = sampler.blocks(2)
        assert new == pytest.approx([2e-3, 2e-3])
        clock.now += 5.0  # other frameworks' turns: not this benchmark's time
    measured = sampler.measurement("rounds")
    assert measured.samples == 6 and measured.stop == "rounds" and measured.record().stop == "rounds"
    assert measured.total_s == pytest.approx(0.7 + 25 * 2e-3 + 6 * 2e-3)  # its own calls only
    assert not measured.noisy  # six equal samples settle, however the blocks were taken


def test_noisy_means_unsettled_samples_not_a_spent_budget():
    from framework_advisor.probes.worker.timing import converged, settled

    clock = FakeClock()
    # 30 ms calls against a 0.25 s budget: six blocks, under min_blocks, yet equal: the figure is not noisy.
    few = measure(callable_taking(clock, constant(0.03)), budget_s=0.25, clock=clock, min_blocks=10)
    assert few.stop == "budget" and few.samples == 6 and not few.noisy
    clock = FakeClock()
    three = measure(callable_taking(clock, constant(0.06)), budget_s=0.1, clock=clock)
    assert three.samples == 3 and three.noisy  # fewer than five samples never count as settled
    assert not settled([1.0] * 4) and settled([1.0] * 5)
    assert not settled([1.0, 1.2] * 5)  # IQR/median 20%, and ten samples cannot pin the median that tight
    # Outside the tight stopping rule (IQR/median 7%) but well within twice it: not converged, not noisy.
    spread = [1.0, 1.07, 1.0, 1.07, 1.0, 1.07, 1.0, 1.07, 1.0, 1.07]
    assert not converged(spread) and settled(spread)


def test_a_sampler_with_nothing_timed_has_no_measurement_and_restores_gc_after_each_turn():
    from framework_advisor.probes.worker.timing import Sampler

    clock = FakeClock()
    sampler = Sampler(callable_taking(clock, constant(1e-3)), clock=clock)
    with pytest.raises(ValueError, match="no block"):
        sampler.measurement("rounds")
    assert gc.isenabled()
    sampler.blocks(3)
    assert gc.isenabled() and len(sampler.per_call) == 3

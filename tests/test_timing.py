"""The timing harness (probes.timing) with a fake clock, and the peak tables (probes.peaks). Fast, no framework."""

from __future__ import annotations

import gc
import itertools
import math

import pytest

from framework_advisor.probes import peaks
from framework_advisor.probes.timing import (Timing, block_size_for, converged, measure, median_ci_ranks, percentile)


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


def test_timing_json_has_the_contract_fields():
    clock = FakeClock()
    document = measure(callable_taking(clock, constant(2e-3)), budget_s=1.0, clock=clock).to_json()
    for key, kind in {"median_s": float, "min_s": float, "p10_s": float, "iqr_s": float, "samples": int,
                      "block_size": int, "total_s": float, "first_call_s": float, "noisy": bool}.items():
        assert isinstance(document[key], kind), key
    assert "last_output" not in document


def test_real_clock_smoke():
    timing = measure(lambda: sum(range(100)), budget_s=0.2)
    assert isinstance(timing, Timing) and timing.median_s > 0 and timing.block_size >= 1
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


def _cpu_bench(framework_value: float, best: float) -> dict:
    return {"name": "matmul_fp32", "device": "cpu", "unit": "GFLOP/s", "value": framework_value, "best": best}


def test_a_cpu_figure_above_the_computed_peak_flags_every_cpu_peak_instead_of_printing_over_100():
    from framework_advisor.probes.probe import _flag_understated_cpu_peak, _percent_of_peak

    hardware = {"cpu": {"cores": 2, "flags": ["avx512f", "fma", "avx2"]}, "accelerators": []}
    torch = {"framework": "pytorch", "benchmarks": [_cpu_bench(310.0, 318.0)]}
    numpy = {"framework": "numpy", "benchmarks": [_cpu_bench(250.0, 260.0)]}
    for result in (torch, numpy):
        for bench in result["benchmarks"]:
            _percent_of_peak(bench, hardware, 2.3, threads=2)
    assert torch["benchmarks"][0]["percent_of_peak"] > 100  # 2 x 2.3 GHz x 64 = 294.4 GFLOP/s
    _flag_understated_cpu_peak([torch, numpy], 2.3)
    for result in (torch, numpy):
        bench = result["benchmarks"][0]
        assert "percent_of_peak" not in bench
        peak = bench["peak"]
        assert peak["understated"] is True and peak["value"] == pytest.approx(294.4)
        assert peak["effective_ghz_at_least"] == pytest.approx(2.3 * 318 / 294.4, abs=0.01)
        assert "pytorch" in peak["note"] and "318" in peak["note"]
    assert numpy["benchmarks"][0]["peak"]["percent_at_assumed_clock"] == pytest.approx(84.9, abs=0.1)


def test_figures_within_the_computed_peak_keep_their_percent():
    from framework_advisor.probes.probe import _flag_understated_cpu_peak, _percent_of_peak

    hardware = {"cpu": {"cores": 2, "flags": ["avx512f"]}, "accelerators": []}
    result = {"framework": "numpy", "benchmarks": [_cpu_bench(250.0, 260.0)]}
    _percent_of_peak(result["benchmarks"][0], hardware, 2.3, threads=2)
    _flag_understated_cpu_peak([result], 2.3)
    assert result["benchmarks"][0]["percent_of_peak"] == pytest.approx(84.9, abs=0.1)
    assert "understated" not in result["benchmarks"][0]["peak"]


def test_the_cpu_peak_counts_only_the_cores_the_worker_ran_on():
    from framework_advisor.probes.probe import _percent_of_peak

    hardware = {"cpu": {"cores": 8, "flags": ["avx512f"]}, "accelerators": []}
    one_thread, all_threads = _cpu_bench(120.0, 125.0), _cpu_bench(120.0, 125.0)
    _percent_of_peak(one_thread, hardware, 2.0, threads=1)
    _percent_of_peak(all_threads, hardware, 2.0, threads=None)  # threads unknown: every core
    assert one_thread["peak"]["value"] == pytest.approx(128.0)  # 1 core x 2 GHz x 64
    assert all_threads["peak"]["value"] == pytest.approx(1024.0)
    assert one_thread["percent_of_peak"] == pytest.approx(93.8, abs=0.1)


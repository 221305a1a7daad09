"""The whole probe (probes.probe) and its derived facts (probes.derived), on typed records.

Each worker is asked once, on its command line, with what the parent knows about the machine: threads, a
deadline before the runner's timeout, the accelerators, the CPU's flags and the device peaks. The worker
computes its own percents of peak; the report holds its records as they came.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from framework_advisor.probes.derived import derive
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.inventory import take_inventory
from framework_advisor.probes.probe import _clock_ghz, run_probe, worker_deadline_s, worker_options
from framework_advisor.contract import read_report
from framework_advisor.probes.report import REPORT_SCHEMA_VERSION, Failure, FailedFramework, FrameworkRun, ProbeOptions
from framework_advisor.probes.worker.records import (BenchmarkRecord, DeviceSeen, Timing, UnusedAccelerator,
                                                     WorkerResult)
from hardware_fixtures import copy_root, fixture_machine

TIMING = Timing(median_s=1.0, min_s=0.9, p10_s=0.95, iqr_s=0.01, samples=5, block_size=1, total_s=5.0, noisy=False)


def h100_with_a_clock(tmp_path: Path):
    """The H100 fixture machine with a cpufreq maximum of 3.8 GHz (the fixture itself has no clock)."""
    root = copy_root("h100-sxm-8x", tmp_path)
    cpufreq = root / "sys" / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "cpuinfo_max_freq").write_text("3800000\n")
    return fixture_machine("h100-sxm-8x", root=root)


def test_the_deadline_leaves_a_margin_before_the_runners_timeout():
    assert worker_deadline_s(60.0) == 55.0 and worker_deadline_s(30.0) == 25.0 and worker_deadline_s(150.0) == 145.0
    assert worker_deadline_s(3.0) == 1.5  # a tiny timeout still leaves the worker something


def test_each_worker_is_asked_with_the_machines_facts(tmp_path):
    machine = h100_with_a_clock(tmp_path)
    hardware = take_inventory(machine)
    assert _clock_ghz(machine) == pytest.approx(3.8)
    asked = worker_options("pytorch", ProbeOptions(threads=4), hardware, 60.0, _clock_ghz(machine))
    assert asked.framework == "pytorch" and asked.threads == 4 and asked.deadline_s == 55.0
    assert asked.accelerators == ("cuda",)
    assert list(asked.cpu_flags) == hardware.cpu.flags and "amx_bf16" in asked.cpu_flags
    cpu = asked.peaks["cpu"]
    assert cpu["fp32"].value == pytest.approx(2 * 3.8 * 64)  # 4 threads on 2 physical cores: 2 count
    assert cpu["bf16"].value == pytest.approx(2 * 3.8 * 1024)  # AMX
    assert cpu["fp32"].clock_ghz == pytest.approx(3.8) and "2 cores" in cpu["fp32"].source
    assert asked.peaks["cuda"]["bf16"].value == pytest.approx(989_500) and asked.peaks["cuda"]["bf16"].clock_ghz is None
    quick = worker_options("numpy", ProbeOptions(quick=True, thorough=True), hardware, 30.0, None)
    assert quick.quick and not quick.thorough and quick.deadline_s == 25.0 and "cpu" not in quick.peaks
    assert quick.threads >= 1  # the CPUs this process may use


@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="numpy is not installed")
def test_a_real_worker_computes_its_percent_from_the_peak_it_measured(tmp_path):
    events = []
    report = run_probe(ProbeOptions(frameworks=("numpy",), quick=True, threads=1), progress=events.append,
                       system=h100_with_a_clock(tmp_path))
    assert report.schema_version == REPORT_SCHEMA_VERSION and report.hardware.cpu.model.startswith("Intel")
    numpy = report.result("numpy")
    assert isinstance(numpy, FrameworkRun) and numpy.wall_s >= numpy.duration_s > 0 and numpy.threads == 1
    matmul = next(b for b in numpy.benchmarks if b.name == "matmul_fp32")
    # The percent is of the peak the worker's calibration measured; the nominal one it was given stays in the note.
    assert matmul.peak.measured and "the nominal peak: 243.2 GFLOP/s" in matmul.peak.note
    assert matmul.percent_of_peak == pytest.approx(100 * matmul.value / matmul.peak.value, abs=0.05)
    assert report.calibrations[0].framework == "numpy" and report.calibrations[0].before_gflops == matmul.peak.value
    assert [(u.kind, u.reason) for u in numpy.unused_accelerators] == [("cuda", "unsupported")]
    assert report.derived["numpy"].reached_accelerator is False
    assert report.derived["numpy"].accelerator_issue == numpy.unused_accelerators[0]
    assert read_report(report.to_json_dict()) == report  # what is stored reads back the same
    phases = [event.get("phase") for event in events]
    assert phases[0] == "inventory" and phases[-1] == "done" and "importing" in phases and "measuring" in phases
    assert any(event.get("framework") == "numpy" and event.get("step") == "matmul_fp32" for event in events)


def test_frameworks_that_are_not_installed_are_skipped_and_none_takes_the_inventory_only(monkeypatch):
    from framework_advisor.probes import probe

    monkeypatch.setattr("framework_advisor.probes.target.installed_versions",
                        lambda wanted: {framework: None for framework in wanted})
    report = run_probe(ProbeOptions(frameworks=["jax", "mlx"]), system=fixture_machine("arm-neoverse-v2"))
    assert report.frameworks == [] and [s.framework for s in report.skipped] == ["jax", "mlx"]
    assert report.skipped[0].reason == "not installed" and report.hardware.cpu.model == "Arm Neoverse-V2"
    inventory_only = run_probe(ProbeOptions(frameworks=[]), system=fixture_machine("arm-neoverse-v2"))
    assert inventory_only.frameworks == [] and inventory_only.skipped == [] and inventory_only.derived == {}


WORKERS = Path(__file__).resolve().parent / "fixtures" / "workers"
RECORDINGS = sorted(path.stem for path in WORKERS.glob("*.json"))


@pytest.mark.parametrize("machine", RECORDINGS)
def test_every_recorded_worker_output_is_a_valid_result_and_replays_as_it_was_recorded(machine):
    import json

    from pydantic import TypeAdapter

    recording = WORKERS / f"{machine}.json"
    recorded = json.loads(recording.read_text(encoding="utf-8"))
    for framework, document in recorded.items():
        if "signal" not in document:
            TypeAdapter(WorkerResult).validate_python(document)
    report = run_probe(ProbeOptions(frameworks=tuple(recorded), quick=True), system=fixture_machine(machine),
                       worker_argv=lambda fw, out, fd: [sys.executable, str(WORKERS / "replay_worker.py"), str(recording),
                                                    fw, str(out), str(fd)])
    for framework, document in recorded.items():
        entry = report.result(framework)
        if "signal" in document:
            assert isinstance(entry, FailedFramework) and entry.failure.kind == "crash"
        else:  # nothing edited on the way: the report holds the worker's records as written
            assert TypeAdapter(WorkerResult).dump_python(entry, mode="json", exclude={"wall_s"}) == \
                TypeAdapter(WorkerResult).dump_python(TypeAdapter(WorkerResult).validate_python(document), mode="json")
    read_report(report.to_json_dict())


# --- derived facts --------------------------------------------------------------------------------------------

def _run(framework: str, figures: dict[str, float], devices=("cpu",), unused=()) -> FrameworkRun:
    benchmarks = [BenchmarkRecord(name=name, device="cpu", unit="GFLOP/s", value=value, best=value * 1.05,
                                  timing=TIMING) for name, value in figures.items()]
    result = WorkerResult(framework=framework, version="1", threads=2, import_s=0.1, first_result_s=0.01,
                          duration_s=1.0, devices=[DeviceSeen(device=d, name=d, usable=True) for d in devices],
                          unused_accelerators=list(unused), benchmarks=benchmarks)
    return FrameworkRun(**vars(result), wall_s=1.2)


def _hardware_with(*kinds: str) -> HardwareProfile:
    return HardwareProfile.model_validate({"os": "linux", "arch": "x86_64",
                                           "accelerators": [{"kind": kind, "name": f"a {kind}"} for kind in kinds]})


def test_relative_speed_slowdown_and_ties_on_shared_benchmarks():
    runs = [_run("pytorch", {"matmul_fp32": 300.0, "conv2d": 100.0}),
            _run("numpy", {"matmul_fp32": 290.0}),
            _run("mlx", {"matmul_fp32": 3.0, "conv2d": 1.0, "dispatch_latency": 5.0})]
    facts = derive(runs, _hardware_with())
    assert facts["pytorch"].fastest == "pytorch" and facts["pytorch"].relative_speed == 1.0
    assert facts["numpy"].slowdown == pytest.approx(300 / 290, abs=0.01) and facts["numpy"].tied_with_fastest
    assert facts["mlx"].slowdown == pytest.approx(100.0) and not facts["mlx"].tied_with_fastest
    assert facts["mlx"].relative_speed == pytest.approx(0.01)  # dispatch latency is not a throughput figure
    assert all(not f.failed and f.reached_accelerator is None for f in facts.values())


def test_a_framework_faster_than_the_fastest_on_what_they_share_is_not_slower():
    """The fastest leads on a benchmark the other lacks; on the shared one the other is ahead: slowdown 1, tied."""
    runs = [_run("jax", {"matmul_fp32": 100.0, "conv2d": 10.0}), _run("numpy", {"matmul_fp32": 90.0}),
            _run("pytorch", {"matmul_fp32": 20.0, "conv2d": 100.0})]
    facts = derive(runs, _hardware_with())
    assert facts["numpy"].fastest == "numpy"
    assert facts["jax"].slowdown == 1.0 and facts["jax"].tied_with_fastest is True


def test_failures_and_the_accelerator_a_framework_did_not_reach():
    issue = UnusedAccelerator(kind="cuda", reason="driver-mismatch", detail="driver 535 older than CUDA 13.0")
    runs = [_run("pytorch", {"matmul_fp32": 300.0}, devices=("cpu", "cuda")),
            _run("jax", {"matmul_fp32": 250.0}, unused=[UnusedAccelerator(kind="tpu", reason="unsupported"), issue]),
            FailedFramework(framework="tensorflow", failure=Failure(kind="timeout", message="no result within 60 s"))]
    facts = derive(runs, _hardware_with("tpu", "cuda"))  # cuda is preferred over tpu
    assert facts["pytorch"].reached_accelerator is True and facts["pytorch"].accelerator_issue is None
    assert facts["jax"].reached_accelerator is False and facts["jax"].accelerator_issue == issue
    tensorflow = facts["tensorflow"]
    assert tensorflow.failed and tensorflow.failure_kind == "timeout" and "60 s" in tensorflow.failure_message
    assert tensorflow.relative_speed is None and tensorflow.reached_accelerator is None


def test_derive_with_no_runs_is_empty():
    assert derive([], _hardware_with("cuda")) == {}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))

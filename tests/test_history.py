"""One machine's probes over time (probes.history): the recent probes that agree with the newest are pooled
round by round, the others are left out with the reason, every answer says when its figures were measured,
and a probe reuses the last one's figures when nothing they depend on changed (unless --fresh)."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest

from framework_advisor.probes.history import (StoredProbe, age_text, describe_measurements, pool_comparisons,
                                              pooled_measurements, reusable)
from framework_advisor.probes.report import ProbeOptions, ProbeReport
from tests.service_fixtures import canned_report_json

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def report(minutes_ago: float, mlx_rounds=(80.0, 82.0, 79.0), versions=None, quick=False, busy=False,
           failed=True, disturbed=False) -> ProbeReport:
    """The canned CPU report (PyTorch and MLX ran, JAX crashed) measured ``minutes_ago``, with a matmul
    comparison whose MLX rounds are ``mlx_rounds`` times PyTorch's."""
    document = canned_report_json(quick)
    document["created_at"] = (NOW - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")
    document["versions"] = versions or {"python": "3.11.7", "pytorch": "2.13.0", "mlx": "0.32.4"}
    document["comparisons"] = [{"benchmark": "matmul_fp32", "device": "cpu", "size": 2048, "frameworks": [
        {"framework": "pytorch", "per_call_s": [0.06] * len(mlx_rounds)},
        {"framework": "mlx", "per_call_s": [0.06 * ratio for ratio in mlx_rounds]}]}]
    document["conditions"] = {"cpus": 2, "busy": busy or disturbed, "unreliable": disturbed}
    document["threads"] = 1
    if not failed:
        document["frameworks"] = document["frameworks"][:2]
        document["failures"] = []
        del document["derived"]["jax"]
    return ProbeReport.model_validate(document)


def test_agreeing_probes_are_pooled_round_by_round():
    probes = [StoredProbe("new", report(5)), StoredProbe("older", report(60, (78.0, 81.0)))]
    facts, used = pooled_measurements(probes, now=NOW)
    assert used.probe_ids == ["new", "older"] and used.left_out == []
    assert facts["mlx"].slowdown_range.rounds == 5  # three rounds and two
    pooled = pool_comparisons([probe.report for probe in probes])
    assert pooled[0].figures("mlx").per_call_s[3] == pytest.approx(0.06 * 78.0)
    assert used.measured_at == probes[0].report.created_at and used.oldest_measured_at == probes[1].report.created_at


@pytest.mark.parametrize("older,reason", [
    (report(60, versions={"python": "3.11.7", "pytorch": "2.12.0", "mlx": "0.32.4"}), "other versions: pytorch"),
    (report(60, quick=True), "other probe settings"),
    (report(8 * 24 * 60), "measured more than 7 days ago"),
    (report(60, (30.0, 31.0, 29.0)), "figures disagree with the newest probe: MLX 30x slower there, 80x in the newest"),
])
def test_a_probe_that_measured_something_else_or_disagrees_is_left_out_and_named(older, reason):
    facts, used = pooled_measurements([StoredProbe("new", report(5)), StoredProbe("older", older)], now=NOW)
    assert used.probe_ids == ["new"] and facts["mlx"].slowdown_range.rounds == 3
    assert used.left_out[0].probe_id == "older" and reason in used.left_out[0].reason


def test_the_answer_says_which_probes_and_how_old():
    _, used = pooled_measurements([StoredProbe("new", report(12)), StoredProbe("older", report(200)),
                                   StoredProbe("odd", report(300, (20.0, 21.0, 22.0)))], now=NOW)
    text = describe_measurements(used, now=NOW)
    assert text.startswith("probe new pooled with older, measured 12 min ago (the oldest 3.3 h ago)")
    assert "left out: probe odd (figures disagree with the newest probe" in text


@pytest.mark.parametrize("seconds,text", [(40, "40 s"), (720, "12 min"), (3.5 * 3600, "3.5 h"), (2 * 86400, "2.0 days")])
def test_ages_read_as_people_say_them(seconds, text):
    assert age_text(seconds) == text


def _reuse_of(previous: ProbeReport, **changes):
    asked = {"frameworks": ["mlx", "pytorch"], "hardware": previous.hardware, "versions": dict(previous.versions),
             "quick": False, "thorough": False, "threads": 1, **changes}
    return reusable(StoredProbe("last", previous), now=NOW, **asked)


def test_a_probe_reuses_the_last_when_nothing_changed_and_says_why_not_otherwise():
    previous = report(30, failed=False)
    reuse, why = _reuse_of(previous)
    assert reuse.probe_id == "last" and reuse.measured_at == previous.created_at and "30 min ago" in why
    assert "probe --fresh" in why
    changed = {**previous.versions, "pytorch": "2.14.0"}
    assert _reuse_of(previous, versions=changed) == (None, "versions changed since the last probe: pytorch")
    assert _reuse_of(previous, threads=2)[1] == "the last probe used other settings (quick, thorough or threads)"
    assert _reuse_of(previous, frameworks=["pytorch"])[1] == "the last probe measured other frameworks"
    assert _reuse_of(report(30, disturbed=True, failed=False))[1] == ("the last probe's figures were disturbed by a "
                                                                     "busy machine")
    assert _reuse_of(report(30, busy=True, failed=False))[0] is not None  # busy, but the figures held
    assert _reuse_of(report(30), frameworks=["jax", "mlx", "pytorch"])[1] == "a framework failed in the last probe"
    assert _reuse_of(report(25 * 60, failed=False))[1] == "the last probe is more than a day old"


def test_run_probe_reuses_the_last_probe_unless_fresh(monkeypatch):
    """Through the whole probe, with the fault-injection stand-in worker (it says 'ok' to every command)."""
    from framework_advisor.probes import probe
    from framework_advisor.probes.runner import WorkerLimits
    from tests.test_runner import fault_argv

    argv = fault_argv({"numpy": "ok"})
    limits = WorkerLimits(timeout_s=10.0, memory_bytes=300 * 2**20)
    monkeypatch.setattr("framework_advisor.probes.target.installed_versions", lambda wanted: {"numpy": "2.0"})
    first = probe.run_probe(ProbeOptions(frameworks=["numpy"], threads=1), limits=limits, worker_argv=argv)
    assert first.reused is None and first.conditions is not None
    # A probe on a busy machine is never reused; whether this shared machine was busy is not what this tests.
    first = first.model_copy(update={"conditions": first.conditions.model_copy(update={"unreliable": False})})
    events = []
    again = probe.run_probe(ProbeOptions(frameworks=["numpy"], threads=1), limits=limits, worker_argv=argv,
                            previous=StoredProbe("first", first), progress=events.append)
    assert again.reused is not None and again.reused.probe_id == "first"
    assert again.frameworks == first.frameworks and again.reused.measured_at == first.created_at
    assert any("measured the same framework versions" in str(event.get("step")) for event in events)
    fresh = probe.run_probe(ProbeOptions(frameworks=["numpy"], threads=1, fresh=True), limits=limits,
                            worker_argv=argv, previous=StoredProbe("first", first))
    assert fresh.reused is None


def test_the_cli_says_a_busy_machine_the_threads_a_drift_and_a_reuse_before_trusting_figures(capsys):
    from framework_advisor.probes.report import CalibrationRun, ReusedMeasurements
    from framework_advisor.render import measurement_notes, print_probe_summary
    from framework_advisor.rules.rulebase import load_rulebase

    busy = report(5).model_copy(update={
        "conditions": report(5).conditions.model_copy(update={"busy": True, "unreliable": True,
                                                              "why": "workers waited for a CPU 30% of their turns"}),
        "threads_note": "one thread per framework: on 2 CPUs",
        "calibrations": [CalibrationRun(framework="pytorch", before_gflops=150.0, after_gflops=110.0),
                         CalibrationRun(framework="mlx", before_gflops=150.0, after_gflops=148.0)],
        "reused": ReusedMeasurements(probe_id="p1", measured_at="2026-12-01T11:00:00+00:00", why="nothing changed")})
    notes = measurement_notes(busy)
    assert notes[0].startswith("The machine was busy while this probe measured (workers waited for a CPU 30% of")
    held = busy.conditions.model_copy(update={"unreliable": False, "waiting_percent": 2.0,
                                              "why": "other processes kept 52% of the 2 CPUs busy before the probe"})
    assert measurement_notes(busy.model_copy(update={"conditions": held}))[0] == (
        "The machine was busy (other processes kept 52% of the 2 CPUs busy before the probe): the workers ran on the "
        "idlest CPUs and waited for a CPU 2% of their turns, so the figures held.")
    assert notes[1] == "Threads: one thread per framework: on 2 CPUs."
    assert notes[2] == "The CPU's speed moved while the probe ran (calibration before and after: pytorch 150 -> 110 GFLOP/s)."
    print_probe_summary(load_rulebase(), busy, None)
    out = " ".join(capsys.readouterr().out.split())
    assert "Compared in" in out and "80x" in out and "Nothing was measured: nothing changed." in out

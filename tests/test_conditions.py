"""How busy the machine is (probes.conditions), read from SYNTHESIZED /proc files at the lowest seam: load,
steal, the run-queue wait of the thread doing the timed work, and the idlest CPUs to pin workers to."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework_advisor.probes.conditions import LoadWatch, critical_thread, idlest_cpus, per_cpu_busy, read_schedstat
from framework_advisor.probes.derived import derive
from framework_advisor.probes.worker.timing import rounds_settled
from tests.test_evidence import CPU_ONLY, comparison, run


def write_stat(proc: Path, cpus: dict[int, tuple[int, int]], steal: int = 0) -> None:
    """/proc/stat with a total line and one line per CPU: (busy, idle) jiffies each."""
    busy, idle = sum(b for b, _ in cpus.values()), sum(i for _, i in cpus.values())
    lines = [f"cpu  {busy} 0 0 {idle} 0 0 0 {steal} 0 0"]
    lines += [f"cpu{cpu} {b} 0 0 {i} 0 0 0 0 0 0" for cpu, (b, i) in cpus.items()]
    (proc / "stat").write_text("\n".join(lines) + "\nintr 0\n")


def write_threads(proc: Path, pid: int, threads: dict[int, tuple[int, int]]) -> None:
    for tid, (running, waiting) in threads.items():
        task = proc / str(pid) / "task" / str(tid)
        task.mkdir(parents=True, exist_ok=True)
        (task / "schedstat").write_text(f"{running} {waiting} 7\n")


def test_the_idlest_cpus_are_chosen_for_the_workers(tmp_path):
    write_stat(tmp_path, {0: (100, 100), 1: (100, 100), 2: (100, 100)})
    before = per_cpu_busy(tmp_path)
    write_stat(tmp_path, {0: (200, 100), 1: (110, 190), 2: (150, 150)})  # CPU 0 fully busy, CPU 1 nearly idle
    after = per_cpu_busy(tmp_path)
    assert idlest_cpus(before, after, [0, 1, 2], 1) == [1]
    assert idlest_cpus(before, after, [0, 1, 2], 2) == [1, 2]
    assert idlest_cpus(None, after, [0, 1, 2], 2) == [0, 1]  # nothing to tell them apart: the first ones


def test_a_turns_wait_is_the_working_threads_not_an_idle_helpers(tmp_path):
    write_threads(tmp_path, 42, {42: (1_000, 0), 43: (10, 0)})
    before = read_schedstat(42, tmp_path)
    # The main thread ran 100 ms and waited 5 ms; a helper woke for 1 ms and waited 40 ms.
    write_threads(tmp_path, 42, {42: (101_000_000, 5_000_000), 43: (1_000_010, 40_000_000)})
    after = read_schedstat(42, tmp_path)
    assert critical_thread(before, after) == (101_000_000 - 1_000, 5_000_000)


def test_a_busy_machine_is_said_with_the_reasons(tmp_path, monkeypatch):
    monkeypatch.setattr("framework_advisor.probes.conditions.WINDOW_S", 0.0)
    write_stat(tmp_path, {0: (100, 100), 1: (100, 100)}, steal=0)
    write_threads(tmp_path, 7, {7: (0, 0)})
    watch = LoadWatch(cpus=2, proc=tmp_path)
    write_stat(tmp_path, {0: (150, 150), 1: (105, 195)})  # the window: CPU 0 half busy, CPU 1 nearly idle
    assert watch.others_percent() == 27.5 and not watch.busy_before()
    assert watch.idlest_cpus([0, 1], 1) == [1]
    with watch.turn(7):
        write_threads(tmp_path, 7, {7: (80_000_000, 20_000_000)})
    write_stat(tmp_path, {0: (300, 100), 1: (300, 100)}, steal=60)
    conditions = watch.conditions()
    assert conditions.busy and conditions.unreliable and conditions.waiting_percent == 20.0
    assert conditions.steal_percent == pytest.approx(100 * 60 / 460, abs=0.1)
    assert conditions.why == "13% of CPU time stolen by other guests; workers waited for a CPU 20% of their turns"


def test_other_work_before_the_probe_is_busy_but_not_unreliable_when_the_workers_were_not_delayed(tmp_path,
                                                                                                 monkeypatch):
    monkeypatch.setattr("framework_advisor.probes.conditions.WINDOW_S", 0.0)
    write_stat(tmp_path, {0: (100, 100), 1: (100, 100)})
    write_threads(tmp_path, 7, {7: (0, 0)})
    watch = LoadWatch(cpus=2, proc=tmp_path)
    write_stat(tmp_path, {0: (200, 100), 1: (105, 195)})  # a hog on CPU 0: 52.5% of the machine
    with watch.turn(7):
        write_threads(tmp_path, 7, {7: (99_000_000, 1_000_000)})
    conditions = watch.conditions()
    assert watch.busy_before() and conditions.busy and not conditions.unreliable
    assert conditions.why == "other processes kept 52.5% of the 2 CPUs busy before the probe"


def test_a_quiet_machine_is_not_busy(tmp_path, monkeypatch):
    monkeypatch.setattr("framework_advisor.probes.conditions.WINDOW_S", 0.0)
    write_stat(tmp_path, {0: (100, 100), 1: (100, 100)})
    write_threads(tmp_path, 7, {7: (0, 0)})
    watch = LoadWatch(cpus=2, proc=tmp_path)
    with watch.turn(7):
        write_threads(tmp_path, 7, {7: (95_000_000, 1_000_000)})
    conditions = watch.conditions()
    assert not conditions.busy and conditions.why == "" and not watch.busy_now()


def test_a_figure_is_unsettled_when_it_moved_more_than_thirty_percent_between_rounds():
    assert rounds_settled([1.0, 1.1, 1.25, 1.0])
    assert not rounds_settled([1.0, 1.1, 1.4])
    assert not rounds_settled([1.0, 1.0])  # too few rounds to say


def test_a_comparison_whose_figure_was_flagged_noisy_is_no_evidence(rulebase):
    from framework_advisor.rules.engine import recommend

    rounds = [comparison(pytorch=[1.0] * 5, mlx=[5.0] * 5),
              comparison("elementwise_bandwidth", pytorch=[1.0] * 5, mlx=[2.0] * 5)]
    noisy_mlx = run("mlx", {"matmul_fp32": 1.0, "elementwise_bandwidth": 1.0}, noisy={"matmul_fp32"})
    settled = derive([run("pytorch", {"matmul_fp32": 5.0, "elementwise_bandwidth": 2.0}),
                      run("mlx", {"matmul_fp32": 1.0, "elementwise_bandwidth": 1.0})], CPU_ONLY, rounds)
    partly = derive([run("pytorch", {"matmul_fp32": 5.0, "elementwise_bandwidth": 2.0}), noisy_mlx], CPU_ONLY, rounds)
    assert settled["mlx"].compared == ["matmul_fp32", "elementwise_bandwidth"]
    # The noisy matmul is left out of the evidence: the bandwidth alone says 2x; the slowdown shown keeps both.
    assert partly["mlx"].compared == ["elementwise_bandwidth"] and partly["mlx"].slowdown_range.median == 2.0
    assert partly["mlx"].slowdown == settled["mlx"].slowdown
    answer = recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=partly)
    mlx = next(item for item in answer.ranking if item.framework == "mlx")
    assert "element-wise bandwidth, 5 rounds each" in " ".join(r.message for r in mlx.reasons)
    assert "matrix multiply" not in " ".join(r.message for r in mlx.reasons if r.rule.startswith("measured-"))

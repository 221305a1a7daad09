"""Speed evidence weighed by its quality (probes.derived over comparisons measured in rounds, and the
measured-speed rules): a difference counts only where every round showed it, its points shrink with the
rounds' spread and for a quick probe, noisy figures never move the ranking on their own, and a ratio is
written one way everywhere."""

from __future__ import annotations

import pytest

from framework_advisor.probes.comparisons import Comparison, Interval, RoundFigures, ratio_text
from framework_advisor.probes.derived import derive
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.report import FrameworkRun
from framework_advisor.probes.worker.records import BenchmarkRecord, DeviceSeen, Timing, WorkerResult
from framework_advisor.rules.engine import recommend
from framework_advisor.rules.rulebase import RuleFileError

CPU_ONLY = HardwareProfile.model_validate({"os": "linux", "arch": "x86_64", "accelerators": []})
SETTLED = Timing(median_s=1.0, min_s=0.9, p10_s=0.95, iqr_s=0.01, samples=10, block_size=1, total_s=5.0, noisy=False)


def run(framework, figures=None, noisy=()):
    figures = figures or {"matmul_fp32": 10.0}
    records = [BenchmarkRecord(name=name, device="cpu", unit="GFLOP/s", value=value, best=value, checked=True,
                               timing=Timing(**{**vars(SETTLED), "noisy": name in noisy}))
               for name, value in figures.items()]
    result = WorkerResult(framework=framework, version="1", threads=1, import_s=0.1, first_result_s=0.01,
                          duration_s=1.0, devices=[DeviceSeen(device="cpu", name="cpu", usable=True)],
                          benchmarks=records)
    return FrameworkRun(**vars(result), wall_s=1.0)


def comparison(benchmark="matmul_fp32", **per_call):
    return Comparison(benchmark=benchmark, device="cpu", size=512,
                      frameworks=[RoundFigures(framework=f, per_call_s=times) for f, times in per_call.items()])


def reasons_of(recommendation, framework):
    return {reason.rule: reason for item in recommendation.ranking if item.framework == framework
            for reason in item.reasons}


def test_a_ten_percent_edge_inside_a_thirty_percent_spread_is_no_evidence(rulebase):
    # NumPy's median is 1.6x PyTorch's, but one round had them level: the range reaches below the threshold.
    rounds = comparison(pytorch=[1.0, 1.0, 1.0, 1.0, 1.0], numpy=[1.6, 1.7, 1.1, 1.6, 1.6])
    facts = derive([run("pytorch"), run("numpy")], CPU_ONLY, [rounds])
    numpy = facts["numpy"]
    assert numpy.slowdown == 1.6 and numpy.slowdown_range.low == pytest.approx(1.1)
    assert numpy.tied_with_fastest is True and facts["pytorch"].clearly_fastest is False
    fired = reasons_of(recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=facts), "numpy")
    assert "measured-slower-numpy" not in fired
    assert "measured-fastest-pytorch" not in reasons_of(
        recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=facts), "pytorch")


def test_a_difference_every_round_showed_earns_points_as_sure_as_the_rounds_agreed(rulebase):
    tight = comparison(pytorch=[1.0] * 5, numpy=[2.0, 2.0, 2.1, 1.95, 2.0])
    wide = comparison(pytorch=[1.0] * 5, numpy=[1.6, 2.0, 3.0, 2.0, 2.0])
    for rounds, expected in ((tight, 1.0), (wide, 0.47)):
        facts = derive([run("pytorch"), run("numpy")], CPU_ONLY, [rounds])
        reason = reasons_of(recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=facts),
                            "numpy")["measured-slower-numpy"]
        assert reason.counted and reason.certainty == pytest.approx(expected, abs=0.02)
        assert reason.points == pytest.approx(-1.0 * reason.certainty, abs=1e-3)
        assert reason.matched["numpy.speed_certainty"] == reason.certainty


def test_a_quick_probe_weighs_less_and_says_what_it_measured(rulebase):
    rounds = [comparison(pytorch=[1.0] * 5, mlx=[40.0, 38.0, 41.0, 39.0, 38.0]),
              comparison("elementwise_bandwidth", pytorch=[1.0] * 5, mlx=[36.0] * 5)]
    full = derive([run("pytorch"), run("mlx")], CPU_ONLY, rounds)["mlx"]
    quick = derive([run("pytorch"), run("mlx")], CPU_ONLY, rounds, quick=True)["mlx"]
    assert quick.speed_certainty == pytest.approx(0.6 * full.speed_certainty)
    assert quick.speed_basis == "quick probe: matrix multiply (fp32) and element-wise bandwidth only"
    assert full.speed_basis == "matrix multiply (fp32) and element-wise bandwidth, 5 rounds each"
    recommendation = recommend(rulebase, ["research"], "expert", CPU_ONLY,
                               measurements=derive([run("pytorch"), run("mlx")], CPU_ONLY, rounds, quick=True))
    reason = reasons_of(recommendation, "mlx")["measured-much-slower-mlx"]
    interval = quick.slowdown_range
    assert f"ran {interval.text()} slower than PyTorch (quick probe: matrix multiply" in reason.message
    assert reason.points == pytest.approx(-2.5 * quick.speed_certainty, abs=1e-3)


def test_noisy_figures_without_rounds_never_move_the_ranking(rulebase):
    figures_pytorch, figures_mlx = {"matmul_fp32": 100.0}, {"matmul_fp32": 10.0}
    settled = derive([run("pytorch", figures_pytorch), run("mlx", figures_mlx)], CPU_ONLY)
    noisy = derive([run("pytorch", figures_pytorch), run("mlx", figures_mlx, noisy={"matmul_fp32"})], CPU_ONLY)
    assert settled["mlx"].speed_certainty == 0.5 and settled["mlx"].slowdown_range.rounds == 1
    assert noisy["mlx"].slowdown == 10.0 and noisy["mlx"].slowdown_range is None
    assert "measured-much-slower-mlx" in reasons_of(
        recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=settled), "mlx")
    fired = reasons_of(recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=noisy), "mlx")
    assert not any(rule.startswith("measured-") for rule in fired)


@pytest.mark.parametrize("ratio,text", [(38.4, "38x"), (10.0, "10x"), (2.84, "2.8x"), (1.153, "1.15x"),
                                        (1.0, "1.00x")])
def test_one_rounding_rule_for_every_ratio(ratio, text):
    assert ratio_text(ratio) == text


def test_an_interval_says_its_range_and_rounds_unless_every_round_agreed():
    assert Interval(median=2.0, low=1.5, high=2.6, rounds=5).text() == "2.0x (1.50x-2.6x over 5 rounds)"
    assert Interval(median=38.0, low=38.0, high=38.0, rounds=3).text() == "38x"
    assert Interval(median=2.0, low=1.5, high=2.6, rounds=5).excludes(1.4)
    assert not Interval(median=2.0, low=1.5, high=2.6, rounds=5).excludes(1.6)


def _rules_dir(tmp_path, certainty_from, fact_yaml=""):
    (tmp_path / "extra.yaml").write_text(
        (f"facts:\n{fact_yaml}" if fact_yaml else "") +
        "rules:\n  - id: scaled-by-a-fact\n    when: {fact: probed, op: eq, value: true}\n"
        "    then: {points: {numpy: 1.0}}\n"
        f"    certainty_from: {certainty_from}\n"
        "    message: A rule scaled by a fact.\n    refs: [probe:this-machine]\n    reviewed: 2026-12-01\n")
    return tmp_path


@pytest.mark.parametrize("certainty_from,fact_yaml,problem", [
    ("nothing_like_it", "", "certainty_from names no fact"),
    ("numpy.slowdown", "", "needs a number fact with a range within [0, 1]"),
    ("spread", "  spread:\n    type: number\n    source: derived\n    description: wide\n    range: [0, 5]\n",
     "needs a number fact with a range within [0, 1]"),
])
def test_certainty_from_must_name_a_number_fact_within_zero_and_one(tmp_path, certainty_from, fact_yaml, problem):
    from framework_advisor.rules.rulebase import load_rulebase

    with pytest.raises(RuleFileError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_rulebase([_rules_dir(tmp_path, certainty_from, fact_yaml)], cache=False)


def test_being_the_fastest_is_as_sure_as_the_comparison_with_the_runner_up(rulebase):
    rounds = comparison(pytorch=[1.0] * 5, jax=[1.6, 2.0, 3.0, 2.0, 2.0], mlx=[30.0] * 5)
    facts = derive([run("pytorch"), run("jax"), run("mlx")], CPU_ONLY, [rounds])
    assert facts["pytorch"].clearly_fastest is True
    assert facts["pytorch"].speed_certainty == facts["jax"].speed_certainty < facts["mlx"].speed_certainty
    reason = reasons_of(recommend(rulebase, ["research"], "expert", CPU_ONLY, measurements=facts),
                        "pytorch")["measured-fastest-pytorch"]
    assert reason.points == pytest.approx(0.5 * facts["jax"].speed_certainty, abs=1e-3)

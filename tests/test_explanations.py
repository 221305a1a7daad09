"""Explanations a user can trust, held as engine invariants over a sweep of goals x experience x machines
(the hardware classes of test_golden.py and the SYNTHESIZED fixture machines of tests/fixtures/hardware, as
the inventory reads them):

- every supported framework carries a reason that names it, and every reason is about the framework it is
  shown under (the first framework it names);
- a reason that did not count sits in a group that counted a stronger one;
- the summary says what to use, why, and which rules separate the first place from the second;
- "what would change" lists at most three real changes, the user's own first, other hardware only for
  hardware the user described; the incremental evaluation behind it agrees with evaluating each changed
  question in full, and its cache never changes an answer.
"""

from __future__ import annotations

import itertools
import re

import pytest

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.inventory import take_inventory
from framework_advisor.probes.report import DerivedFacts
from framework_advisor.probes.vocabulary import EXPERIENCE_LEVELS, FRAMEWORK_IDS, GOALS
from framework_advisor.rules import alternatives
from framework_advisor.rules.counterfactuals import _HARDWARE_ALTERNATIVES, MAX_CHANGES
from framework_advisor.rules.engine import first_place, recommend
from framework_advisor.rules.mentions import mentions, subject
from tests.hardware_fixtures import FIXTURES, fixture_machine
from tests.test_golden import GOAL_SETS, HARDWARE_CLASSES

MACHINES: dict[str, HardwareProfile] = {
    **{name: HardwareProfile.model_validate(hardware) for name, hardware in HARDWARE_CLASSES.items()},
    **{f"fixture:{path.name}": take_inventory(fixture_machine(path.name))
       for path in sorted(FIXTURES.iterdir()) if (path / "machine.json").is_file()},
}
QUESTIONS = list(itertools.product(MACHINES, map(tuple, GOAL_SETS), EXPERIENCE_LEVELS))


@pytest.fixture(scope="module")
def sweep(rulebase):
    return {(machine, goals, level): recommend(rulebase, list(goals), level, MACHINES[machine])
            for machine, goals, level in QUESTIONS}


def test_the_sweep_covers_the_fixture_machines():
    assert sum(name.startswith("fixture:") for name in MACHINES) >= 6
    assert len(QUESTIONS) >= 14 * 13 * 3


# --- reasons --------------------------------------------------------------------------------------------


def test_every_supported_framework_has_a_reason_that_names_it(sweep):
    for key, answer in sweep.items():
        for item in answer.ranking:
            if item.supported:
                assert any(item.framework in mentions(reason.message) for reason in item.reasons), (
                    f"{key}: no reason under {item.framework} names it: {[r.message for r in item.reasons]}")


def test_no_reason_speaks_about_another_framework(sweep):
    for key, answer in sweep.items():
        for item in answer.ranking:
            for reason in item.reasons:
                assert subject(reason.message) == item.framework, (
                    f"{key}: under {item.framework}, {reason.rule} is about {subject(reason.message)}: "
                    f"{reason.message}")


def test_a_score_of_zero_still_says_why(sweep, rulebase):
    default = rulebase.meta.default_reason
    seen = 0
    for key, answer in sweep.items():
        for item in answer.ranking:
            if item.supported and not any(r.points for r in item.reasons):
                assert item.reasons, f"{key}: {item.framework} has a silent score"
            if any(r.rule == default.id for r in item.reasons):
                seen += 1
                assert item.reasons == tuple(r for r in item.reasons if r.rule == default.id), key
                assert item.score == 0 and item.supported, key
    assert seen, "some framework in the sweep is scored by no rule"


def test_a_reason_that_did_not_count_is_in_a_group_that_counted_a_stronger_one(sweep):
    for key, answer in sweep.items():
        for item in answer.ranking:
            for reason in item.reasons:
                if reason.counted:
                    continue
                counted = [r for r in item.reasons if r.counted and r.group == reason.group]
                assert reason.group and len(counted) == 1, (key, item.framework, reason.rule)
                assert abs(counted[0].points) >= abs(reason.points), (key, item.framework, reason.rule)


# --- the summary ------------------------------------------------------------------------------------------

_NAMED_RULE = re.compile(r"([a-z0-9][a-z0-9-]+) \(([+-][0-9.]+) for ")


def test_the_summary_says_what_to_use_why_and_why_not_the_runner_up(sweep, rulebase):
    for key, answer in sweep.items():
        first = answer.ranking[0]
        summary = answer.summary
        assert summary is not None, key
        if first.device == "cpu":
            assert summary.headline == f"Use {first.name}", key
        else:
            assert summary.headline.startswith(f"Use {first.name} on the "), key
        assert summary.why in [r.message for r in first.reasons if r.counted], key
        supported = [item for item in answer.ranking if item.supported]
        assert first.name in summary.runner_up, key
        if len(supported) == 1:
            assert "only framework that runs here" in summary.runner_up, key
            continue
        second = supported[1]
        assert second.name in summary.runner_up, key
        counted = {item.framework: {r.rule: r.points for r in item.reasons if r.counted and not r.knockout}
                   for item in (first, second)}
        for rule, points in _NAMED_RULE.findall(summary.runner_up):
            # Each rule named gave the points it is quoted with, to the first place or to the runner-up,
            # and not the same to both (then it would not separate them).
            assert rule in counted[first.framework] or rule in counted[second.framework], (key, rule)
            assert counted[first.framework].get(rule) != counted[second.framework].get(rule), (key, rule)
            quoted = float(points)
            assert any(abs(quoted - round(p, 2)) < 0.06 for p in (counted[first.framework].get(rule),
                                                                   counted[second.framework].get(rule)) if p), (key, rule)
        gap = round(first.score - second.score, 3)
        differing = set(counted[first.framework].items()) ^ set(counted[second.framework].items())
        if gap and differing:
            assert _NAMED_RULE.search(summary.runner_up), (key, summary.runner_up)


# --- what would change --------------------------------------------------------------------------------------


def _full_changes(rulebase, hardware, goals, level, described):
    """The changes as evaluating every changed question in full finds them, in the order they are shown."""
    first = first_place(rulebase, hardware, goals, level, None)
    found = []
    for other in (e for e in EXPERIENCE_LEVELS if e != level):
        found.append(("user", f"experience: {other}", first_place(rulebase, hardware, goals, other, None)))
    for goal in GOALS:
        if goal in goals:
            if len(goals) > 1:
                changed = [g for g in goals if g != goal]
                found.append(("user", f"without goal: {goal}", first_place(rulebase, hardware, changed, level, None)))
        else:
            found.append(("user", f"add goal: {goal}", first_place(rulebase, hardware, [*goals, goal], level, None)))
    if described:
        for label, applies, alter in _HARDWARE_ALTERNATIVES:
            if applies(hardware):
                found.append(("hardware", f"on a machine with {label}",
                              first_place(rulebase, alter(hardware), goals, level, None)))
    return [change for change in found if change[2] != first][:MAX_CHANGES]


def test_what_would_change_is_real_at_most_three_and_the_users_own_first(sweep, rulebase):
    for (machine, goals, level), answer in sweep.items():
        changes = [(c.kind, c.change, c.first) for c in answer.what_would_change]
        assert len(changes) <= MAX_CHANGES
        kinds = [kind for kind, _, _ in changes]
        assert kinds == sorted(kinds, key=lambda kind: kind != "user"), (machine, goals, level)
        assert changes == _full_changes(rulebase, MACHINES[machine], list(goals), level, True), (machine, goals, level)


def test_other_hardware_only_for_hardware_the_user_described(rulebase):
    laptop = MACHINES["linux-x86_64-cpu"]
    questions = [(list(goals), level) for goals in GOAL_SETS for level in EXPERIENCE_LEVELS]
    described = [recommend(rulebase, goals, level, laptop) for goals, level in questions]
    own = [recommend(rulebase, goals, level, laptop, hardware_described=False) for goals, level in questions]
    assert any(change.kind == "hardware" for answer in described for change in answer.what_would_change)
    for theirs, mine in zip(described, own):
        assert all(change.kind == "user" for change in mine.what_would_change)
        assert not any("machine with" in change.message for change in mine.what_would_change)
        assert mine.what_would_change == tuple(c for c in theirs.what_would_change if c.kind == "user")


def test_measured_questions_change_as_the_full_evaluation_says(rulebase):
    measured = {"pytorch": DerivedFacts(slowdown=1.0, fastest="pytorch", clearly_fastest=True, speed_certainty=1.0,
                                        speed_basis="matmul"),
                "jax": DerivedFacts(slowdown=6.0, fastest="pytorch", speed_certainty=0.8, speed_basis="matmul")}
    hardware = MACHINES["linux-8xh100"]
    for goals in (["research"], ["scientific-computing"], ["learning", "scientific-computing"]):
        answer = recommend(rulebase, goals, "expert", hardware, measurements=measured, hardware_described=False)
        first = answer.ranking[0].framework
        for change in answer.what_would_change:
            level = change.change.removeprefix("experience: ") if change.change.startswith("experience") else "expert"
            if change.change.startswith("add goal: "):
                changed = [*goals, change.change.removeprefix("add goal: ")]
            elif change.change.startswith("without goal: "):
                changed = [g for g in goals if g != change.change.removeprefix("without goal: ")]
            else:
                changed = goals
            assert change.first == first_place(rulebase, hardware, changed, level, measured) != first, change


def test_the_shared_alternatives_never_change_an_answer(rulebase):
    """Questions whose facts cross no rule threshold share their alternatives; a threshold crossed is a new key."""
    index = alternatives.index_for(rulebase)
    index.user_changes.clear()
    base = MACHINES["linux-x86_64-cpu"]
    fresh = [recommend(rulebase, ["learning", "research"], "beginner", base.model_copy(update={"memory_gb": gb}))
             for gb in (16, 17, 18)]
    assert index.user_changes.misses == 1 and index.user_changes.hits == 2  # 16, 17 and 18 GB: one signature
    again = []
    for gb in (16, 17, 18):
        index.user_changes.clear()
        again.append(recommend(rulebase, ["learning", "research"], "beginner",
                               base.model_copy(update={"memory_gb": gb})))
    assert [a.what_would_change for a in fresh] == [a.what_would_change for a in again]
    # Another machine whose rules fire otherwise (a GPU) is another signature: its own alternatives.
    misses = index.user_changes.misses
    gpu = base.model_copy(update={"accelerators": MACHINES["linux-8xh100"].accelerators})
    recommend(rulebase, ["learning", "research"], "beginner", gpu)
    assert index.user_changes.misses == misses + 1


def _leaves(condition):
    from framework_advisor.rules.rulebase import iter_leaves

    return iter_leaves(condition)


def test_an_alternative_reevaluates_only_the_rules_it_can_reach(rulebase):
    index = alternatives.index_for(rulebase)
    for goal in GOALS:
        reached = {index.rules[p].id for p in index.by_goal[goal]}
        for rule in rulebase.rules:
            reads_goal = any(leaf.fact == "goals" and leaf.op != "exists"
                             and (goal in leaf.value if isinstance(leaf.value, list) else leaf.value == goal)
                             for leaf in _leaves(rule.when))
            assert (rule.id in reached) == reads_goal, (goal, rule.id)
    assert all(framework_id in index.priors for framework_id in FRAMEWORK_IDS)

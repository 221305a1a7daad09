"""Engine invariants: knock-outs rank last, scores add up from counted reasons, groups count once."""

from __future__ import annotations

import dataclasses

import pytest

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS
from tests.conftest import recommend_json as recommend
from framework_advisor.rules.rulebase import leaf_problem
from framework_advisor.rules.schema import Leaf, Rule

WINDOWS = {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 16, "accelerators": []}
INTEL_MAC = {"os": "darwin", "arch": "x86_64", "accelerators": []}
H100 = {"os": "linux", "arch": "x86_64",
        "accelerators": [{"kind": "cuda", "name": "NVIDIA H100", "count": 8, "memory_gb": 80}]}


def by_framework(answer):
    return {item["framework"]: item for item in answer["ranking"]}


def test_the_issue_example_ranks_mlx_last_and_unsupported(rulebase):
    answer = recommend(rulebase, ["learning"], "beginner", WINDOWS)
    assert sorted(item["framework"] for item in answer["ranking"]) == sorted(FRAMEWORK_IDS)
    last = answer["ranking"][-1]
    assert last["framework"] == "mlx" and last["supported"] is False and last["rank"] == 5
    knockout = next(r for r in last["reasons"] if r.get("knockout"))
    assert "Windows" in knockout["message"] and knockout["rule"] == "platform-mlx"


@pytest.mark.parametrize("hardware", [WINDOWS, INTEL_MAC, H100])
@pytest.mark.parametrize("goals", [["learning"], ["research", "production"], ["mobile-edge"]])
def test_unsupported_frameworks_rank_below_every_supported_one(rulebase, hardware, goals):
    ranking = recommend(rulebase, goals, "intermediate", hardware)["ranking"]
    flags = [item["supported"] for item in ranking]
    assert flags == sorted(flags, reverse=True)
    assert [item["rank"] for item in ranking] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("goals,experience", [(["learning"], "beginner"), (["research", "large-scale-training"], "expert")])
def test_score_is_prior_plus_counted_points_and_each_group_counts_once(rulebase, goals, experience):
    for item in recommend(rulebase, goals, experience, H100)["ranking"]:
        counted = [r for r in item["reasons"] if r["counted"] and not r["knockout"]]
        prior = rulebase.frameworks[item["framework"]].prior
        assert item["score"] == pytest.approx(prior + sum(r["points"] for r in counted), abs=1e-3)
        groups = [r["group"] for r in counted if r["group"]]
        assert len(groups) == len(set(groups)), f"a group counted twice for {item['framework']}"
        for reason in item["reasons"]:
            assert reason["refs"] and reason["message"]


def test_every_answer_carries_the_rulebase_version(rulebase):
    answer = recommend(rulebase, ["research"], "expert", H100)
    assert answer["rulebase"] == {"version": rulebase.version, "sha256": rulebase.sha256}


def test_device_and_install_follow_the_hardware(rulebase):
    items = by_framework(recommend(rulebase, ["research"], "expert", H100))
    assert items["pytorch"]["device"] == "cuda" and items["numpy"]["device"] == "cpu"
    assert 'DEVICE = "cuda"' in items["pytorch"]["starter"]["code"]
    assert 'DEVICE = "gpu"' in items["jax"]["starter"]["code"]
    cpu_items = by_framework(recommend(rulebase, ["research"], "expert", WINDOWS))
    assert "whl/cpu" in cpu_items["pytorch"]["install"] and 'DEVICE = "cpu"' in cpu_items["pytorch"]["starter"]["code"]


def test_a_tie_is_reported_not_decided_silently(rulebase):
    tie = Rule.model_validate({
        "id": "planted-tie", "when": {"fact": "experience", "op": "exists"},
        "then": {"points": {"numpy": 50.0, "pytorch": 50.0}}, "message": "A planted rule for the test.",
        "refs": ["test"], "reviewed": "2026-11-22"})
    # Neutralise every other rule so only the planted one decides.
    tied = dataclasses.replace(rulebase, rules=(tie,))
    answer = recommend(tied, ["learning"], "beginner", WINDOWS)
    assert answer["confidence"]["label"] == "not-enough-evidence"
    assert {answer["ranking"][0]["framework"], answer["ranking"][1]["framework"]} == {"numpy", "pytorch"}


@pytest.mark.parametrize("leaf,problem", [
    ({"fact": "goal", "op": "contains", "value": "learning"}, "unknown fact"),
    ({"fact": "goals", "op": "eq", "value": "learning"}, "does not apply"),
    ({"fact": "experience", "op": "eq", "value": "guru"}, "'guru'"),
    ({"fact": "memory_gb", "op": "gt", "value": -5}, "outside the range"),
    ({"fact": "pytorch.device", "op": "eq", "value": "gpu"}, "'gpu'"),
])
def test_conditions_that_cannot_fit_their_fact_are_rejected(rulebase, leaf, problem):
    assert problem in leaf_problem(rulebase, Leaf.model_validate(leaf))


def test_what_would_change_is_real_and_user_choices_come_first(rulebase):
    hardware = {"os": "linux", "arch": "x86_64", "accelerators": []}
    answer = recommend(rulebase, ["scientific-computing"], "intermediate", hardware)
    first = answer["ranking"][0]["framework"]
    changes = answer["what_would_change"]
    assert changes, "some single change should move the first place for this question"
    kinds = [change["kind"] for change in changes]
    assert kinds == sorted(kinds, key=lambda kind: kind != "user")
    for change in changes:  # each claimed flip really happens when the change is made
        assert change["first"] != first
        if change["change"].startswith("experience: "):
            level = change["change"].removeprefix("experience: ")
            assert recommend(rulebase, ["scientific-computing"], level, hardware)["ranking"][0]["framework"] == change["first"]


def test_unknown_facts_say_how_to_supply_them(rulebase):
    unknown = recommend(rulebase, ["research"], "expert", {"os": "linux", "arch": "x86_64"})["unknown"]
    assert unknown[0]["fact"] == "measurements" and "framework-advisor probe" in unknown[0]["message"]
    measured = recommend(rulebase, ["research"], "expert", {"os": "linux", "arch": "x86_64"},
                         measurements={"pytorch": {"failed": False, "slowdown": 1.0, "fastest": "pytorch"}})
    assert all(item["fact"] != "measurements" for item in measured["unknown"])

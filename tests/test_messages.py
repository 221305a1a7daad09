"""Reasons speak about the framework they are shown under: per-framework messages, the {framework}
placeholder, and the rule base's default reason for a framework no rule scored."""

from __future__ import annotations

import pytest

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.rules.engine import recommend
from framework_advisor.rules.rulebase import load_rulebase
from framework_advisor.rules.safe_yaml import RuleFileError

CPU_LAPTOP = HardwareProfile.model_validate({"os": "linux", "arch": "x86_64", "cpu": {"model": "x", "cores": 8},
                                             "memory_gb": 16, "accelerators": []})
H100 = HardwareProfile.model_validate({"os": "linux", "arch": "x86_64", "accelerators": [
    {"kind": "cuda", "name": "NVIDIA H100", "count": 1, "memory_gb": 80}]})


def _rule(message_lines: str, then: str = "{points: {pytorch: 0.5, tensorflow: 0.25}}") -> str:
    return ("rules:\n"
            "  - id: planted-serving\n"
            "    when: {fact: goals, op: contains, value: production}\n"
            f"    then: {then}\n"
            f"{message_lines}"
            "    refs: [https://example.org/planted]\n"
            "    reviewed: 2026-11-22\n")


def _reasons(rulebase, hardware=CPU_LAPTOP, goals=("production",), experience="expert"):
    answer = recommend(rulebase, list(goals), experience, hardware)
    return {item.framework: {reason.rule: reason for reason in item.reasons} for item in answer.ranking}


def test_the_framework_placeholder_names_the_framework_each_reason_is_shown_under(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text(_rule(
        "    message: For serving, {framework} runs on {framework.device} here.\n"))
    reasons = _reasons(load_rulebase([extra]), H100)
    assert reasons["pytorch"]["planted-serving"].message == "For serving, PyTorch runs on the NVIDIA CUDA GPU here."
    assert reasons["tensorflow"]["planted-serving"].message == (
        "For serving, TensorFlow (Keras) runs on the NVIDIA CUDA GPU here.")


def test_per_framework_messages_with_a_shared_fallback(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text(_rule(
        "    message: '{framework} has a serving route.'\n"
        "    messages:\n"
        "      pytorch: PyTorch ships models through torch.export.\n",
        then="{points: {pytorch: 0.5, tensorflow: 0.25, jax: 0.1}}"))
    reasons = _reasons(load_rulebase([extra]))
    assert reasons["pytorch"]["planted-serving"].message == "PyTorch ships models through torch.export."
    assert reasons["tensorflow"]["planted-serving"].message == "TensorFlow (Keras) has a serving route."
    assert reasons["jax"]["planted-serving"].message == "JAX has a serving route."


@pytest.mark.parametrize("lines,needle", [
    ("    messages:\n      pytorch: PyTorch ships models through torch.export.\n", "no message for ['tensorflow']"),
    ("    message: A shared message for both.\n    messages:\n      mlx: MLX has no export route at all.\n",
     "'messages' names ['mlx'], which the rule neither scores nor knocks out"),
    ("    message: '{framework.slowdown_texts} is not a fact.'\n", "{framework.slowdown_texts}"),
    ("    message: '{framework.os} is not a per-framework fact.'\n", "needs a per-framework fact"),
])
def test_messages_that_cannot_be_shown_are_refused_at_the_rule(tmp_path, lines, needle):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text(_rule(lines))
    with pytest.raises(RuleFileError) as caught:
        load_rulebase([extra], cache=False)
    assert "mine.yaml:2:" in str(caught.value) and needle in str(caught.value)


def test_a_framework_no_rule_scored_gets_the_default_reason(rulebase):
    # Scientific computing as an expert on a CPU laptop: no rule speaks about PyTorch or TensorFlow.
    answer = recommend(rulebase, ["scientific-computing"], "expert", CPU_LAPTOP)
    default = rulebase.meta.default_reason
    assert default is not None
    for item in answer.ranking:
        if not item.supported:
            continue
        assert item.reasons, f"{item.framework} has a silent score"
        if item.framework in ("pytorch", "tensorflow"):
            (reason,) = item.reasons
            assert reason.rule == default.id and reason.points == 0 and reason.counted
            assert item.name in reason.message and "the CPU" in reason.message
            assert rulebase.frameworks[item.framework].docs in reason.refs
            assert item.score == 0


def test_an_extra_rulebase_block_keeps_the_default_reason_unless_it_gives_one(tmp_path, rulebase):
    extra = tmp_path / "extra"
    extra.mkdir()
    block = "rulebase:\n  version: \"9.9.9\"\n  confidence: {high: 2.0, medium: 1.0, low: 0.25}\n"
    (extra / "rulebase.yaml").write_text(block)
    assert load_rulebase([extra]).meta.default_reason == rulebase.meta.default_reason
    (extra / "rulebase.yaml").write_text(
        block + "  default_reason:\n    id: org-default\n    message: '{framework}: no rule of ours applies.'\n"
                "    reviewed: 2026-11-22\n")
    merged = load_rulebase([extra])
    reasons = _reasons(merged, goals=("scientific-computing",))
    assert reasons["pytorch"]["org-default"].message == "PyTorch: no rule of ours applies."

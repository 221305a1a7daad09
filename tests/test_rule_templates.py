"""Rule templates (for_each): one rule stated once for several frameworks, expanded when loading, every
location at the template, the linter's checks on the expanded rules."""

from __future__ import annotations

import shutil

import pytest

from framework_advisor.probes.vocabulary import FRAMEWORK_IDS, FRAMEWORK_NAMES
from framework_advisor.rules.lint import format_report, lint
from framework_advisor.rules.rulebase import BASE_DIR, load_rulebase
from framework_advisor.rules.safe_yaml import RuleFileError

TEMPLATE = """\
rules:
  - for_each: {for_each}
    id: extra-fast-$framework
    when: {{fact: $framework.slowdown, op: lt, value: 1.2}}
    then: {{points: {{$framework: 0.25}}}}
    message: Measured here, $name was within 20% of the fastest ({{$framework.slowdown:.1f}}x); costs $$0.
    refs: [probe:this-machine]
    reviewed: 2026-11-22
"""


@pytest.fixture()
def extra(tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    return folder


def _load(extra, text):
    (extra / "t.yaml").write_text(text)
    return load_rulebase([extra], cache=False)


def test_the_measured_rules_are_templates_that_expand_to_one_rule_per_framework(rulebase):
    ids = {rule.id for rule in rulebase.rules}
    for stem in ("measured-much-slower", "measured-slower", "measured-fastest", "probe-failed"):
        assert {f"{stem}-{framework_id}" for framework_id in FRAMEWORK_IDS} <= ids
    assert {f"accelerator-not-reached-{f}" for f in ("pytorch", "jax", "mlx", "tensorflow")} <= ids
    assert "accelerator-not-reached-numpy" not in ids  # NumPy has no accelerator to miss
    # Every expansion of a template stands at the template's own line.
    lines = {str(rulebase.rule_locations[f"measured-slower-{f}"]) for f in FRAMEWORK_IDS}
    assert len(lines) == 1 and lines.pop().startswith("rules/base/rules-measured.yaml:")


def test_expanded_rules_name_their_framework_everywhere(extra):
    rules = {rule.id: rule for rule in _load(extra, TEMPLATE.format(for_each="[jax, tensorflow]")).rules}
    assert "extra-fast-pytorch" not in rules
    rule = rules["extra-fast-tensorflow"]
    assert rule.when.fact == "tensorflow.slowdown" and rule.then.points == {"tensorflow": 0.25}
    assert rule.message == (f"Measured here, {FRAMEWORK_NAMES['tensorflow']} was within 20% of the fastest "
                            "({tensorflow.slowdown:.1f}x); costs $0.")


def test_for_each_all_and_a_mapping_with_variables(extra):
    assert {f"extra-fast-{f}" for f in FRAMEWORK_IDS} <= {r.id for r in _load(extra, TEMPLATE.format(for_each="all")).rules}
    text = TEMPLATE.format(for_each="{pytorch: {doc: 'https://pytorch.org/'}, jax: {doc: 'https://docs.jax.dev/'}}")
    rules = {r.id: r for r in _load(extra, text.replace("[probe:this-machine]", "[probe:this-machine, $doc]")).rules}
    assert rules["extra-fast-jax"].refs == ["probe:this-machine", "https://docs.jax.dev/"]
    assert rules["extra-fast-pytorch"].refs == ["probe:this-machine", "https://pytorch.org/"]


@pytest.mark.parametrize("change,where,needle", [
    (("[jax, tensorflow]", "[jax, tensorflw]"), "t.yaml:2:5", "for_each"),
    (("[jax, tensorflow]", "[jax, jax]"), "t.yaml:2:21", "more than once"),
    (("$name was", "$nmae was"), "t.yaml:6:5", "unknown template variable $nmae"),
    (("id: extra-fast-$framework", "id: extra-fast"), "t.yaml:3:5", "must contain $framework"),
    (("    message:", "    mesage:"), "t.yaml:6:5", "unknown key 'mesage'"),
    # Problems of the expanded rule are reported at the template, too.
    (("$framework.slowdown, op", "$framework.slowdwn, op"), "t.yaml:2:5", "unknown fact 'jax.slowdwn'"),
    (("{{$framework: 0.25}}", "{{$framework: 0.25, jax: 1}}"), "t.yaml:5:", "already a key"),
])
def test_template_errors_point_at_the_template(extra, change, where, needle):
    old, new = change
    template = TEMPLATE.replace(old, new) if old in TEMPLATE else TEMPLATE.format(for_each="[jax, tensorflow]").replace(old, new)
    text = template.format(for_each="[jax, tensorflow]") if "{for_each}" in template else template
    (extra / "t.yaml").write_text(text)
    with pytest.raises(RuleFileError) as caught:
        load_rulebase([extra], cache=False)
    assert f"{extra / 't.yaml'}"[:-len("t.yaml")] + where in str(caught.value), str(caught.value)
    assert needle in str(caught.value), str(caught.value)


def test_mapping_variables_must_match_across_frameworks(extra):
    text = TEMPLATE.format(for_each="{pytorch: {doc: a}, jax: {page: b}}")
    with pytest.raises(RuleFileError, match=r"t\.yaml:2:35: .*same variables"):
        _load(extra, text)
    with pytest.raises(RuleFileError, match=r"t\.yaml:2:16: .*built in"):
        _load(extra, TEMPLATE.format(for_each="{pytorch: {name: a}}"))


def test_the_linter_checks_expanded_rules_at_the_template(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(BASE_DIR, base)
    planted = base / "planted.yaml"
    planted.write_text(
        "rules:\n"
        "  - for_each: all\n"
        "    id: windows-boost-$framework\n"
        "    when: {fact: os, op: eq, value: windows}\n"
        "    then: {points: {$framework: 0.5}}\n"
        "    message: A template planted by the linter tests for $name.\n"
        "    refs: [https://example.org/planted]\n"
        "    reviewed: 2026-11-01\n")
    findings = lint(base_dir=base, seeds_dir=tmp_path / "no-seeds")
    knocked = [f for f in findings if f.code == "knocked-out-points"]
    # MLX has no Windows build: only its expansion is reported, at the template's points key.
    assert [f.location for f in knocked] == [f"{planted}:5:21"], format_report(findings)
    assert "windows-boost-mlx" in knocked[0].message
    # A template's expansion that repeats an existing id is a duplicate id, at the template.
    later = base / "zz-planted.yaml"  # after rules-measured.yaml, so the repeats are its rules
    later.write_text(planted.read_text().replace("windows-boost-$framework", "probe-failed-$framework"))
    planted.unlink()
    findings = lint(base_dir=base, seeds_dir=tmp_path / "no-seeds")
    duplicates = [f for f in findings if f.code == "duplicate-id"]
    assert len(duplicates) == len(FRAMEWORK_IDS), format_report(findings)
    assert {f.location for f in duplicates} == {f"{later}:2:5"}

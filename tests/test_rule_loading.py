"""Rule files load strictly (file:line:column errors) and never half-load."""

from __future__ import annotations

import shutil

import pytest

from framework_advisor.rules.rulebase import BASE_DIR, load_rulebase
from framework_advisor.rules.safe_yaml import MAX_DEPTH, MAX_FILE_BYTES, RuleFileError, loads_rule_yaml

RULE = """\
rules:
  - id: extra-rule
    when: {{fact: experience, op: eq, value: {value}}}
    then: {{points: {{numpy: 1.0}}}}
    message: A rule added by an extra directory.
    refs: [https://example.org/x]
    reviewed: 2026-11-22
"""


@pytest.mark.parametrize("text,where,needle", [
    ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1", "duplicate key 'a'"),
    ("a: &x 1\nb: *x\n", "f.yaml:1:4", "anchors"),
    ("a: !!python/object/apply:os.system [ls]\n", "f.yaml:1:4", "tag"),
    ("a: [1, 2\n", "f.yaml:2:1", "expected"),
    ("a:\n  <<: {b: 1}\n", "f.yaml:2:3", "merge keys"),
])
def test_unsafe_or_broken_yaml_is_refused_with_its_position(text, where, needle):
    with pytest.raises(RuleFileError) as caught:
        loads_rule_yaml(text, "f.yaml")
    assert str(caught.value).startswith(where) and needle in str(caught.value)


def test_deep_nesting_is_refused():
    with pytest.raises(RuleFileError, match="nesting"):
        loads_rule_yaml("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "f.yaml")


@pytest.fixture()
def base_copy(tmp_path):
    target = tmp_path / "base"
    shutil.copytree(BASE_DIR, target)
    return target


def test_oversized_file_is_refused(base_copy):
    (base_copy / "huge.yaml").write_text("# " + "x" * MAX_FILE_BYTES)
    with pytest.raises(RuleFileError, match="huge.yaml:1:1: .*capped"):
        load_rulebase(base_dir=base_copy)


def test_typo_in_a_key_points_at_the_line(base_copy):
    (base_copy / "typo.yaml").write_text(RULE.format(value="beginner").replace("message:", "mesage:"))
    with pytest.raises(RuleFileError) as caught:
        load_rulebase(base_dir=base_copy)
    assert "typo.yaml:5:5: " in str(caught.value) and "unknown key 'mesage'" in str(caught.value)


def test_unknown_enum_value_in_a_condition(base_copy):
    (base_copy / "enum.yaml").write_text(RULE.format(value="guru"))
    with pytest.raises(RuleFileError) as caught:
        load_rulebase(base_dir=base_copy)
    assert "enum.yaml:2:" in str(caught.value) and "'guru'" in str(caught.value)


def test_extra_directory_adds_rules_and_changes_the_hash(tmp_path, rulebase):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text(RULE.format(value="beginner"))
    merged = load_rulebase([extra])
    assert "extra-rule" in {rule.id for rule in merged.rules}
    assert merged.sha256 != rulebase.sha256 and len(merged.rules) == len(rulebase.rules) + 1


def test_an_extra_directory_overrides_the_base_but_never_repeats_an_id_itself(tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "a.yaml").write_text(RULE.format(value="beginner"))
    base_id = load_rulebase().rules[0].id
    overriding = RULE.format(value="expert").replace("id: extra-rule", f"id: {base_id}")
    (extra / "b.yaml").write_text(overriding)
    merged = {rule.id: rule for rule in load_rulebase([extra]).rules}
    assert merged[base_id].message == "A rule added by an extra directory."  # the later directory wins
    (extra / "c.yaml").write_text(RULE.format(value="expert"))  # extra-rule again, in the same directory
    with pytest.raises(RuleFileError, match=r"c\.yaml:2:5: duplicate rule id 'extra-rule' \(first at .*a\.yaml:2:5\)"):
        load_rulebase([extra])


def test_a_bad_rule_file_stops_the_service_from_starting(tmp_path):
    from framework_advisor.app import create_app
    from framework_advisor.config import Settings

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "bad.yaml").write_text("rules: [\n")
    with pytest.raises(RuleFileError, match="bad.yaml:2:1"):
        create_app(Settings(data_dir=tmp_path / "data", rules_dirs=(extra,)))


def test_the_hash_is_stable_across_loads(rulebase):
    assert load_rulebase().sha256 == rulebase.sha256

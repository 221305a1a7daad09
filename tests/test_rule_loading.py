"""Rule files load strictly (file:line:column errors) and never half-load."""

from __future__ import annotations

import shutil

import pytest
import yaml

from framework_advisor.probes.vocabulary import GOALS, VOCABULARIES
from framework_advisor.rules.rulebase import BASE_DIR, GOLDEN_FILE, load_rulebase
from framework_advisor.rules.safe_yaml import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    LocatedDict,
    LocatedList,
    RuleFileError,
    loads_rule_yaml,
)

# libyaml's C parser where PyYAML has it (the default then), and PyYAML's own: both must refuse alike.
PARSERS = [pytest.param(yaml.SafeLoader, id="python")]
if getattr(yaml, "CSafeLoader", None) is not None:
    PARSERS.append(pytest.param(yaml.CSafeLoader, id="libyaml"))

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
    ("a: 1\nb: *nowhere\n", "f.yaml:2:4", "aliases"),
    ("--- 1\n--- 2\n", "f.yaml:2:1", "single document"),
    ("a: 1\nb: \x07\n", "f.yaml:2:4", "not allowed"),
    ("? [a]\n: 1\n", "f.yaml:1:3", "keys must be scalars"),
])
@pytest.mark.parametrize("parser", PARSERS)
def test_unsafe_or_broken_yaml_is_refused_with_its_position(text, where, needle, parser):
    with pytest.raises(RuleFileError) as caught:
        loads_rule_yaml(text, "f.yaml", parser)
    assert str(caught.value).startswith(where) and needle in str(caught.value)


@pytest.mark.parametrize("parser", PARSERS)
def test_deep_nesting_is_refused(parser):
    with pytest.raises(RuleFileError, match="f.yaml:1:3[0-9]: nesting"):
        loads_rule_yaml("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "f.yaml", parser)
    with pytest.raises(RuleFileError, match="nesting"):  # far deeper than any recursion limit
        loads_rule_yaml("[" * 200_000 + "]" * 200_000, "f.yaml", parser)


def _same_with_positions(a, b):
    assert type(a) is type(b) and a == b
    if isinstance(a, LocatedDict):
        assert (a.location, a.key_locations) == (b.location, b.key_locations)
        for key in a:
            _same_with_positions(a[key], b[key])
    elif isinstance(a, LocatedList):
        assert (a.location, a.item_locations) == (b.location, b.item_locations)
        for x, y in zip(a, b):
            _same_with_positions(x, y)


def test_both_parsers_load_the_shipped_files_alike_and_as_safe_load_does():
    for path in [*sorted(BASE_DIR.glob("*.yaml")), GOLDEN_FILE]:
        text = path.read_text(encoding="utf-8")
        loaded = [loads_rule_yaml(text, path.name, parser.values[0]) for parser in PARSERS]
        for other in loaded[1:]:
            _same_with_positions(loaded[0], other)
        assert loaded[0] == yaml.safe_load(text)  # YAML 1.1 scalars (dates, 0755, NO) resolve the same way


@pytest.mark.parametrize("parser", PARSERS)
def test_yaml_1_1_scalars_resolve_as_with_safe_load(parser):
    text = "a: 2026-11-22\nb: 0755\nc: NO\nd: 3.10\ne: '3.10'\nf: ~\ng: 1e3\nh: !!str 5\n"
    assert loads_rule_yaml(text, "f.yaml", parser) == yaml.safe_load(text)


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


def test_facts_take_their_values_from_the_vocabulary(rulebase):
    assert rulebase.facts["goals"].vocabulary == "goals" and tuple(rulebase.facts["goals"].values) == GOALS
    for name, spec in rulebase.facts.items():
        if spec.vocabulary is not None:
            assert tuple(spec.values) == VOCABULARIES[spec.vocabulary], name
    text = (BASE_DIR / "facts.yaml").read_text(encoding="utf-8")
    assert "values: [learning" not in text and "values: [pytorch" not in text, "no copy of a vocabulary list"


def test_a_typo_in_a_vocabulary_name_points_at_it(base_copy):
    facts = base_copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(text.replace("vocabulary: experience", "vocabulary: experiance"), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "vocabulary: experience" in row)
    with pytest.raises(RuleFileError) as caught:
        load_rulebase(base_dir=base_copy, cache=False)
    assert f"facts.yaml:{line}:5: facts.experience.vocabulary: " in str(caught.value), str(caught.value)
    assert "'goals'" in str(caught.value)  # the message lists the names there are


def test_values_and_vocabulary_together_are_refused(base_copy):
    (base_copy / "extra-fact.yaml").write_text(
        "facts:\n  level:\n    type: enum\n    source: user\n    description: Both at once.\n"
        "    vocabulary: experience\n    values: [beginner]\n")
    with pytest.raises(RuleFileError, match=r"extra-fact\.yaml:2:3: .*not both"):
        load_rulebase(base_dir=base_copy, cache=False)


def test_catalog_names_come_from_the_vocabulary(rulebase):
    from framework_advisor.probes.vocabulary import FRAMEWORK_NAMES

    assert {fid: entry.name for fid, entry in rulebase.frameworks.items()} == FRAMEWORK_NAMES
    text = (BASE_DIR / "frameworks.yaml").read_text(encoding="utf-8")
    assert "\n    name:" not in text and "distributions:" not in text

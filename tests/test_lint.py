"""The rule-base linter: the shipped base is clean, and planted faults are caught at file:line:column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from framework_advisor.rules.lint import Finding, format_report, lint
from framework_advisor.rules.schema import rule_file_json_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "rules" / "rule-file.schema.json"


def _errors(findings):
    return [finding for finding in findings if finding.severity == "error"]


def _rule(rule_id: str, when: str, then: str, refs: str = "[https://example.org/planted]") -> str:
    """One rule, seven lines, its `- id:` on the first."""
    return (f"  - id: {rule_id}\n"
            f"    when: {when}\n"
            f"    then: {then}\n"
            f"    message: A rule planted by the linter tests.\n"
            f"    refs: {refs}\n"
            f"    reviewed: 2026-11-01\n"
            f"\n")


@pytest.fixture()
def seeds(tmp_path, base_copy):
    """A seeds folder holding exactly the files the shipped base cites."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for path in base_copy.glob("*.yaml"):
        for name in re.findall(r"seed:([\w.-]+)", path.read_text(encoding="utf-8")):
            (folder / name).write_text("seed\n")
    return folder


def _lint(base_copy, seeds, **kwargs):
    return lint(base_dir=base_copy, seeds_dir=seeds, **kwargs)


def _at(findings, code, path: Path, line: int):
    """The findings with this code at exactly path:line."""
    return [f for f in findings if f.code == code and f.location.startswith(f"{path}:{line}:")]


# --- the shipped rule base -------------------------------------------------------------------------------


def test_the_shipped_base_lints_without_errors():
    findings = lint()
    assert not _errors(findings), format_report(findings)
    warnings = [str(f) for f in findings if f.severity == "warning"]
    print("\n".join(warnings))  # visible with -s; the report also lists them


def test_the_shipped_base_lints_without_errors_against_its_own_seed_list(base_copy, seeds):
    findings = _lint(base_copy, seeds)
    assert not _errors(findings), format_report(findings)
    assert not [f for f in findings if f.code in ("missing-seed", "seeds-absent")], format_report(findings)


def test_report_format_and_summary():
    findings = [Finding("error", "contradiction", "a.yaml:3:5", "bad"), Finding("warning", "stale-review", "a.yaml:9:5", "old")]
    assert str(findings[0]) == "a.yaml:3:5: error[contradiction]: bad"
    report = format_report(findings)
    assert report.splitlines() == ["a.yaml:3:5: error[contradiction]: bad", "a.yaml:9:5: warning[stale-review]: old",
                                   "1 error, 1 warning"]
    assert format_report([]) == "0 errors, 0 warnings"


def test_findings_are_sorted_by_location(base_copy, seeds):
    (base_copy / "planted.yaml").write_text(
        "rules:\n"
        + _rule("planted-late", "{fact: os, op: exists, value: false}", "{points: {numpy: 0.1}}")
        + _rule("planted-early", "{fact: os, op: exists}", "{points: {numpy: 0.1}}"))
    findings = _lint(base_copy, seeds)

    def key(finding):
        file, line, column = finding.location.rsplit(":", 2)
        return file, int(line), int(column)

    assert [key(f) for f in findings] == sorted(key(f) for f in findings)


# --- the three acceptance cases: exact file:line ------------------------------------------------------------


def test_planted_contradiction(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text(
        "rules:\n"
        + _rule("planted-pytorch-up", "{fact: memory_gb, op: gte, value: 64}", "{points: {pytorch: 2.0}}")
        + _rule("planted-pytorch-down", "{fact: memory_gb, op: gte, value: 64}", "{points: {pytorch: -2.0}}"))
    findings = _lint(base_copy, seeds)
    found = _at(findings, "contradiction", planted, 11)  # the second rule's `then`, at `pytorch:`
    assert found and found[0].severity == "error", format_report(findings)
    assert found[0].location == f"{planted}:11:21"
    assert "planted-pytorch-up" in found[0].message and "planted-pytorch-down" in found[0].message
    assert "+2" in found[0].message and "-2" in found[0].message


def test_planted_typo_in_a_fact_name(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _rule("planted-typo", "{fact: experiance, op: eq, value: beginner}",
                                          "{points: {pytorch: 1.0}}"))
    findings = _lint(base_copy, seeds)
    found = _at(findings, "load", planted, 2)  # the loader reports it at the rule
    assert found and found[0].severity == "error", format_report(findings)
    assert found[0].location == f"{planted}:2:5"
    assert "unknown fact 'experiance'" in found[0].message
    assert len(_errors(findings)) == 1, format_report(findings)


def test_planted_duplicate_key(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    rule = _rule("planted-dup-key", "{fact: experience, op: eq, value: expert}", "{points: {jax: 0.5}}")
    rule = rule.replace("    refs:", "    message: The same key a second time, which YAML would silently keep.\n    refs:")
    planted.write_text("rules:\n" + rule)
    findings = _lint(base_copy, seeds)
    found = _at(findings, "load", planted, 6)  # the second `message:`
    assert found and found[0].severity == "error", format_report(findings)
    assert found[0].location == f"{planted}:6:5"
    assert "duplicate key 'message'" in found[0].message


# --- the other planted faults ------------------------------------------------------------------------------


def test_planted_condition_that_can_never_hold(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text(
        "rules:\n"
        + _rule("planted-never", "{all: [{fact: os, op: eq, value: linux}, {fact: os, op: eq, value: windows}]}",
                "{points: {jax: 1.0}}")
        + _rule("planted-ranges", "{all: [{fact: accelerator_count, op: gt, value: 8}, "
                                  "{fact: accelerator_count, op: lt, value: 4}]}", "{points: {jax: 1.0}}"))
    findings = _lint(base_copy, seeds)
    for line, rule_id in ((3, "planted-never"), (10, "planted-ranges")):
        found = _at(findings, "never-holds", planted, line)
        assert found and found[0].severity == "error", format_report(findings)
        assert rule_id in found[0].message and "can never hold" in found[0].message


def test_planted_condition_that_always_holds(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text(
        "rules:\n"
        + _rule("planted-always", "{fact: experience, op: exists}", "{points: {numpy: 0.1}}")
        + _rule("planted-not-never", "{not: {all: [{fact: arch, op: eq, value: arm64}, "
                                     "{fact: arch, op: eq, value: x86_64}]}}", "{points: {numpy: 0.2}}"))
    findings = _lint(base_copy, seeds)
    assert _at(findings, "always-holds", planted, 3), format_report(findings)
    found = _at(findings, "always-holds", planted, 10)
    assert found and found[0].severity == "warning" and "not" in found[0].message, format_report(findings)


def test_planted_uncovered_goal(base_copy, seeds):
    for path in base_copy.glob("rules-*.yaml"):
        text = path.read_text(encoding="utf-8")
        head, *blocks = re.split(r"(?m)^(?=  - id: )", text)
        path.write_text(head + "".join(block for block in blocks if "mobile-edge" not in block), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    found = [f for f in findings if f.code == "uncovered-goal"]
    assert len(found) == 1 and "'mobile-edge'" in found[0].message, format_report(findings)
    assert found[0].severity == "error" and found[0].location.startswith(f"{base_copy / 'facts.yaml'}:")


def test_planted_missing_seed(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _rule("planted-seed", "{fact: goals, op: contains, value: research}",
                                          "{points: {numpy: -0.1}}", refs="[seed:999_missing.txt]"))
    findings = _lint(base_copy, seeds)
    found = _at(findings, "missing-seed", planted, 6)
    assert found and found[0].severity == "error" and "999_missing.txt" in found[0].message, format_report(findings)
    assert len([f for f in findings if f.code == "missing-seed"]) == 1


def test_absent_seeds_folder_is_a_warning(base_copy, tmp_path):
    findings = lint(base_dir=base_copy, seeds_dir=tmp_path / "no-such-folder")
    assert not _errors(findings), format_report(findings)
    assert [f for f in findings if f.code == "seeds-absent"]


def test_planted_duplicate_and_double_counting(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text(
        "rules:\n"
        + _rule("planted-apple", "{fact: apple_silicon, op: eq, value: true}", "{points: {numpy: 0.5}}")
        # The same condition through the engine's own derivation of apple_silicon.
        + _rule("planted-mac-arm", "{all: [{fact: arch, op: eq, value: arm64}, {fact: os, op: eq, value: darwin}]}",
                "{points: {numpy: 0.5}}")
        + _rule("planted-expert-a", "{fact: experience, op: in, value: [expert]}", "{points: {jax: 0.5}}")
        + _rule("planted-expert-b", "{fact: experience, op: eq, value: expert}", "{points: {jax: 1.0}}"))
    findings = _lint(base_copy, seeds)
    duplicate = _at(findings, "duplicate-rule", planted, 9)
    assert duplicate and duplicate[0].severity == "error" and "planted-apple" in duplicate[0].message
    double = _at(findings, "double-counting", planted, 25)
    assert double and double[0].severity == "warning" and "group them" in double[0].message, format_report(findings)


def test_planted_points_for_a_knocked_out_framework(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _rule("planted-windows-mlx", "{fact: os, op: eq, value: windows}",
                                          "{points: {mlx: 1.0}}"))
    findings = _lint(base_copy, seeds)
    found = _at(findings, "knocked-out-points", planted, 4)
    assert found and found[0].severity == "warning" and "windows" in found[0].message, format_report(findings)


def test_planted_duplicate_ids_are_all_reported(base_copy, seeds, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    rule = _rule("extra-rule", "{fact: experience, op: eq, value: expert}", "{points: {numpy: 0.1}}")
    (extra / "a.yaml").write_text("rules:\n" + rule)
    (extra / "b.yaml").write_text("rules:\n" + rule.replace("expert", "beginner"))
    (extra / "c.yaml").write_text("rules:\n" + rule.replace("expert", "intermediate"))
    findings = lint([extra], base_dir=base_copy, seeds_dir=seeds)
    found = [f for f in findings if f.code == "duplicate-id"]
    assert [f.location for f in found] == [f"{extra / 'b.yaml'}:2:5", f"{extra / 'c.yaml'}:2:5"], format_report(findings)


def test_planted_install_overlap_and_stale_review(base_copy, seeds):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    row = '      - {device: cpu, os: [linux, darwin, windows], command: "pip install numpy"}\n'
    assert row in text
    text = text.replace(row, row + row.replace("pip install numpy", "pip install numpy-again"))
    frameworks.write_text(text.replace("reviewed: 2026-11-22", "reviewed: 2024-01-02", 1), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    assert [f for f in findings if f.code == "install-overlap" and "numpy" in f.message and f.severity == "error"]
    assert [f for f in findings if f.code == "stale-review" and "pytorch" in f.message], format_report(findings)


def test_planted_unreferenced_fact(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("facts:\n  gpu_vendor:\n    type: enum\n    source: user\n"
                       "    description: A fact nobody supplies or tests.\n    values: [nvidia, amd]\n")
    findings = _lint(base_copy, seeds)
    found = _at(findings, "unreferenced-fact", planted, 2)
    assert found and found[0].severity == "warning", format_report(findings)


# --- the JSON Schema for editors ---------------------------------------------------------------------------


def test_committed_json_schema_matches_the_models():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == rule_file_json_schema(), (
        "rules/rule-file.schema.json is stale: regenerate it with `framework-advisor rules schema`")


def test_cli_lint_exit_codes(tmp_path, capsys):
    from framework_advisor.cli import main

    assert main(["rules", "lint"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("0 errors")
    bad = tmp_path / "extra"
    bad.mkdir()
    (bad / "bad.yaml").write_text("rules:\n  - id: x\n    message: a\n    message: b\n")
    assert main(["rules", "lint", str(bad)]) == 2  # a file that cannot be loaded at all (docs/api.md)
    out = capsys.readouterr().out
    assert "bad.yaml:4:5" in out and "duplicate key" in out


# --- add-on rows and remedies --------------------------------------------------------------------------------


def test_add_on_rows_are_not_install_rows(base_copy, seeds):
    """The shipped add-ons (PyTorch/XLA on TPUs, tensorflow-rocm ...) reach devices no platform lists: as install
    rows they would be install-unused; as add-ons they are clean."""
    findings = _lint(base_copy, seeds)
    assert not [f for f in findings if f.code.startswith(("install-", "addon-"))], format_report(findings)
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    as_install_row = text.replace(
        '    install:\n      - {device: cpu, os: [linux, windows], command: "pip install torch --index-url',
        '    install:\n      - {device: tpu, os: [linux], command: "pip install torch torch_xla"}\n'
        '      - {device: cpu, os: [linux, windows], command: "pip install torch --index-url', 1)
    assert as_install_row != text
    frameworks.write_text(as_install_row, encoding="utf-8")
    findings = _lint(base_copy, seeds)
    unused = [f for f in findings if f.code == "install-unused"]
    assert len(unused) == 1 and "pytorch" in unused[0].message, format_report(findings)
    assert [f for f in findings if f.code == "addon-shadowed"], "the add-on now hides behind the install row"


def test_planted_add_on_problems(base_copy, seeds):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    anchor = "    addons:                          # devices reached only through an add-on, not PyTorch's own builds\n"
    assert anchor in text
    planted = (
        "      - {device: tpu, os: [linux], arch: [x86_64], addon: again, command: 'pip install again', refs: [https://example.org/a]}\n"
        "      - {device: cuda, os: [linux], addon: own-device, command: 'pip install cuda-thing', refs: [https://example.org/b]}\n"
        "      - {device: rocm, os: [windows], arch: [arm64], addon: nowhere, command: 'pip install nowhere', refs: [https://example.org/c]}\n"
        "      - {device: tpu, os: [windows], addon: bad-ref, command: 'pip install bad-ref', refs: [somewhere]}\n")
    frameworks.write_text(text.replace(anchor, anchor + planted), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    line = text.splitlines().index(anchor.rstrip("\n")) + 2
    codes = {(f.code, f.severity, int(f.location.rsplit(":", 2)[1])) for f in findings if str(frameworks) in f.location}
    assert ("addon-overlap", "error", line + 4) in codes, format_report(findings)  # the shipped row repeats row 0
    assert ("install-overlap", "error", line + 1) not in codes
    assert ("addon-shadowed", "warning", line + 1) in codes, format_report(findings)  # the cuda install row wins
    assert ("addon-platform-device", "warning", line + 1) in codes, format_report(findings)
    assert ("addon-unused", "warning", line + 2) in codes, format_report(findings)
    assert ("ref-format", "warning", line + 3) in codes, format_report(findings)


def test_a_reason_without_a_remedy_is_an_error(base_copy, seeds):
    causes = base_copy / "causes.yaml"
    text = causes.read_text(encoding="utf-8")
    start = text.index("  busy:\n")
    end = text.index("  unsupported:\n")
    causes.write_text(text[:start] + text[end:], encoding="utf-8")
    findings = _lint(base_copy, seeds)
    missing = [f for f in findings if f.code == "remedy-missing"]
    assert len(missing) == 1 and "'busy'" in missing[0].message and missing[0].severity == "error", format_report(findings)
    assert missing[0].location.startswith(f"{causes}:")


@pytest.mark.parametrize("fix,needle", [
    ("Install it with {instal}.", "placeholders are"),
    ("Install it: {install}", "needs 'no_install'"),
])
def test_a_remedy_template_is_checked_when_loading(base_copy, seeds, fix, needle):
    frameworks = base_copy / "causes.yaml"
    text = frameworks.read_text(encoding="utf-8")
    old = '    fix: "Another process holds the {device} device (or it is in exclusive-process mode): free it, then probe again."'
    assert old in text
    frameworks.write_text(text.replace(old, f'    fix: "{fix}"'), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    line = text.splitlines().index("  busy:") + 1
    found = [f for f in findings if f.code == "load"]
    assert found and found[0].location == f"{frameworks}:{line}:3" and needle in found[0].message, format_report(findings)


def _scored_by_two(rule_id: str, message_lines: str) -> str:
    """A rule scoring PyTorch and TensorFlow whose message part is given (`message:` or `messages:` lines)."""
    return (f"  - id: {rule_id}\n"
            f"    when: {{fact: goals, op: contains, value: production}}\n"
            f"    then: {{points: {{pytorch: 0.5, tensorflow: 0.25}}}}\n"
            f"{message_lines}"
            f"    refs: [https://example.org/planted]\n"
            f"    reviewed: 2026-11-01\n")


def test_a_shared_message_that_names_one_of_the_frameworks_it_scores(base_copy, seeds):
    """The issue's example: one sentence about PyTorch shown under TensorFlow too."""
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _scored_by_two(
        "planted-shared", "    message: For serving, PyTorch is the standard route.\n"))
    findings = _lint(base_copy, seeds)
    found = _at(findings, "message-subject", planted, 5)  # at `message:`
    assert len(found) == 1 and found[0].severity == "error", format_report(findings)
    assert "shown under pytorch, tensorflow but names PyTorch first" in found[0].message
    assert "{framework}" in found[0].message and "'messages'" in found[0].message


def test_framework_templates_and_per_framework_messages_lint_clean(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n"
                       + _scored_by_two("planted-template", "    message: For serving, {framework} has a route.\n")
                       + _scored_by_two("planted-own-texts",
                                        "    messages:\n"
                                        "      pytorch: PyTorch ships models through torch.export.\n"
                                        "      tensorflow: TensorFlow Serving serves SavedModels, as PyTorch's TorchServe did.\n"))
    findings = _lint(base_copy, seeds)
    assert not [f for f in findings if f.code == "message-subject"], format_report(findings)


def test_a_per_framework_message_about_another_framework(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _scored_by_two(
        "planted-wrong-subject",
        "    messages:\n"
        "      pytorch: PyTorch ships models through torch.export.\n"
        "      tensorflow: PyTorch is ahead here, but Keras models convert too.\n"))
    findings = _lint(base_copy, seeds)
    found = [f for f in findings if f.code == "message-subject"]
    assert len(found) == 1 and found[0].severity == "error", format_report(findings)
    assert found[0].location.startswith(f"{planted}:7:"), found[0]  # at `tensorflow:` under `messages:`
    assert "shown under tensorflow is about PyTorch" in found[0].message


def test_a_message_that_names_no_framework_is_a_warning(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _rule("planted-nameless", "{fact: experience, op: eq, value: expert}",
                                          "{points: {jax: 0.5}}"))
    findings = _lint(base_copy, seeds)
    found = [f for f in findings if f.code == "message-subject"]
    assert len(found) == 1 and found[0].severity == "warning", format_report(findings)
    assert "does not name JAX" in found[0].message

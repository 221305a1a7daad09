"""The rule-base linter: the shipped base is clean, and planted faults are caught at file:line:column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from framework_advisor.rules.lint import Finding, format_report, lint
from framework_advisor.rules.lint.seeds import normalise, parse_seed_ref, quote_occurs, read_claims
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
    """A seeds folder holding exactly the files the shipped base cites, each holding the phrases the base's rules
    and its CLAIMS.md quote from it (the real seeds live outside the checkout)."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    phrases: dict[str, list[str]] = {}
    for path in base_copy.glob("*.yaml"):
        for name, quote in re.findall(r'seed:([\w.-]+)(?: "([^"]+)")?', path.read_text(encoding="utf-8")):
            phrases.setdefault(name, []).append(quote)
    claims = read_claims(base_copy / "CLAIMS.md")
    for name, quotes in phrases.items():
        quotes += [quote for claim in claims.for_seed(name[:3]) for quote in claim.quotes]
        # "..." stands for omitted words: the parts around it, in order, are what the seed must hold.
        (folder / name).write_text("seed\n" + "\n".join(q.replace("...", "\n") for q in quotes if q) + "\n",
                                   encoding="utf-8")
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
    frameworks.write_text(text.replace("reviewed: 2026-12-02", "reviewed: 2024-01-02", 1), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    assert [f for f in findings if f.code == "install-overlap" and "numpy" in f.message and f.severity == "error"]
    assert [f for f in findings if f.code == "stale-review" and "pytorch" in f.message], format_report(findings)


# --- install rows chosen by compute capability, driver and integrated ----------------------------------------

KEPLER_ROW = """      - device: cuda
        os: [linux, windows]
        arch: [x86_64]
        below_compute_capability: "5.0"
        no_build: true
"""


def test_install_rows_with_conditions_must_cover_every_machine(base_copy, seeds):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    assert KEPLER_ROW in text
    frameworks.write_text(text.replace(KEPLER_ROW, KEPLER_ROW.replace('"5.0"', '"3.0"')), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    gaps = [f for f in findings if f.code == "install-gap"]
    assert len(gaps) == 2 and all(f.severity == "error" for f in gaps), format_report(findings)  # linux, windows
    assert "no install row for cuda on linux/x86_64 holds for compute capability 3.0, driver 0.0, discrete, and 4 " \
           "more combinations" in gaps[0].message, gaps[0].message


def test_install_rows_whose_conditions_overlap(base_copy, seeds):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    frameworks.write_text(text.replace(KEPLER_ROW, KEPLER_ROW.replace('"5.0"', '"6.0"')), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    overlaps = [f for f in findings if f.code == "install-overlap"]
    assert overlaps and all("pytorch" in f.message and "compute capability 5.0" in f.message for f in overlaps), \
        format_report(findings)


@pytest.mark.parametrize("row,needle", [
    ("{device: cuda, os: [linux], no_build: true, command: 'pip install x', note: why not, refs: [https://e.org], "
     "reviewed: 2026-11-01}", "a no_build row has no 'command'"),
    ("{device: cuda, os: [linux], no_build: true, refs: [https://e.org], reviewed: 2026-11-01}",
     "a no_build row needs a 'note'"),
    ("{device: cpu, os: [linux], min_driver: '580', command: 'pip install x', refs: [https://e.org], "
     "reviewed: 2026-11-01}", "apply to accelerator rows"),
    ("{device: rocm, os: [linux], min_compute_capability: '7.5', command: 'pip install x', refs: [https://e.org], "
     "reviewed: 2026-11-01}", "cuda rows only"),
    ("{device: cuda, os: [linux], min_driver: '580', command: 'pip install x'}", "needs 'refs'"),
    ("{device: cuda, os: [linux], min_driver: '580', below_driver: '525', command: 'pip install x', "
     "refs: [https://e.org], reviewed: 2026-11-01}", "min_driver (580) must be below below_driver (525)"),
    ("{device: cuda, os: [linux], command: 'pip install x', refs: [https://e.org]}", "'refs' and 'reviewed' go together"),
])
def test_install_row_conditions_are_checked_when_loading(base_copy, seeds, row, needle):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    anchor = '      - {device: cpu, os: [linux, darwin, windows], command: "pip install numpy"}\n'
    frameworks.write_text(text.replace(anchor, anchor + f"      - {row}\n"), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    loads = [f for f in findings if f.code == "load"]
    assert loads and needle in loads[0].message, format_report(findings)


def test_a_stale_install_row_is_reported_with_its_framework(base_copy, seeds):
    frameworks = base_copy / "frameworks.yaml"
    text = frameworks.read_text(encoding="utf-8")
    stale = KEPLER_ROW + text.split(KEPLER_ROW, 1)[1].split("reviewed: 2026-12-02", 1)[0] + "reviewed: 2024-01-02"
    frameworks.write_text(text.replace(KEPLER_ROW + stale[len(KEPLER_ROW):].replace("2024-01-02", "2026-12-02"),
                                       stale, 1), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    found = [f for f in findings if f.code == "stale-review" and "install row 'pytorch install" in f.message]
    assert len(found) == 1, format_report(findings)


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
        '    install:\n      - {device: cpu, os: [linux], command: "pip install torch --index-url',
        '    install:\n      - {device: tpu, os: [linux], command: "pip install torch torch_xla"}\n'
        '      - {device: cpu, os: [linux], command: "pip install torch --index-url', 1)
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
        "      - {device: tpu, os: [windows], addon: bad-ref, command: 'pip install bad-ref', refs: [somewhere]}\n")
    # PyTorch builds for every OS and architecture; TensorFlow has none for Windows on Arm.
    tf_anchor = "    addons:                          # devices reached only through another vendor's build, a plugin or WSL2\n"
    nowhere = ("      - {device: rocm, os: [windows], arch: [arm64], addon: nowhere, command: 'pip install nowhere', "
               "refs: [https://example.org/c]}\n")
    planted_text = text.replace(anchor, anchor + planted).replace(tf_anchor, tf_anchor + nowhere)
    frameworks.write_text(planted_text, encoding="utf-8")
    findings = _lint(base_copy, seeds)
    line = text.splitlines().index(anchor.rstrip("\n")) + 2
    tf_line = planted_text.splitlines().index(tf_anchor.rstrip("\n")) + 2
    codes = {(f.code, f.severity, int(f.location.rsplit(":", 2)[1])) for f in findings if str(frameworks) in f.location}
    assert ("addon-overlap", "error", line + 3) in codes, format_report(findings)  # the shipped row repeats row 0
    assert ("install-overlap", "error", line + 1) not in codes
    assert ("addon-shadowed", "warning", line + 1) in codes, format_report(findings)  # the cuda install row wins
    assert ("addon-platform-device", "warning", line + 1) in codes, format_report(findings)
    assert ("addon-unused", "warning", tf_line) in codes, format_report(findings)
    assert ("ref-format", "warning", line + 2) in codes, format_report(findings)


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



# --- seed quotes, CLAIMS.md, speed claims (issue 12, points 6 and 7) -------------------------------------------

SEED_001 = "001_5893397b5c09f579.txt"
CORE_ML_CLAIM = "MLX로 학습한 모델을 CoreML모델로 변환하는 기능이 없습니다."


def test_seed_references_and_quotes_are_parsed_and_matched():
    assert parse_seed_ref(f'seed:{SEED_001} "{CORE_ML_CLAIM}"') == (SEED_001, CORE_ML_CLAIM)
    assert parse_seed_ref(f"seed:{SEED_001}") == (SEED_001, None)
    assert parse_seed_ref(f'seed:{SEED_001} "unclosed') is None
    assert parse_seed_ref(f"seed:{SEED_001} unquoted words") is None
    seed = "다만 [[CoreML]], SwiftUI 등등 처럼 Apple 플랫폼 개발을 위한\n공식 SDK 프레임워크는 **아닙니다**."
    assert normalise(seed).startswith("다만 CoreML, SwiftUI")
    assert quote_occurs("다만 CoreML, SwiftUI 등등 처럼 ... 공식 SDK 프레임워크는 아닙니다.", seed)
    assert quote_occurs("Apple 플랫폼 개발을 위한 공식 SDK", seed)  # a line break is a space
    assert not quote_occurs("공식 SDK 프레임워크는 아닙니다. ... 다만 CoreML", seed)  # parts in order
    assert not quote_occurs("MLX는 공식 SDK", seed)


def _planted_seed_rule(refs: str, rule_id: str = "planted-seed-claim") -> str:
    return (f"rules:\n  - id: {rule_id}\n    when: {{fact: goals, op: contains, value: research}}\n"
            f"    then: {{points: {{mlx: -0.1}}}}\n    message: MLX is planted by the linter tests.\n"
            f"    refs:\n{refs}    reviewed: 2026-11-01\n")


def test_a_rule_quotes_the_seed_claim_it_encodes(base_copy, seeds):
    claims = base_copy / "CLAIMS.md"
    text = claims.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| 001-8 |"))
    claims.write_text(text.replace(row, row[:-2] + ", `planted-seed-claim` |"), encoding="utf-8")
    planted = base_copy / "planted.yaml"
    planted.write_text(_planted_seed_rule(
        f"      - 'seed:{SEED_001} \"{CORE_ML_CLAIM}\"'\n"         # line 7: a claim row of CLAIMS.md naming the rule
        f"      - 'seed:{SEED_001} \"MLX exports to Core ML.\"'\n"  # line 8: not in the seed
        f"      - seed:{SEED_001}\n"                               # line 9: no quote
        f"      - https://example.org/planted\n"), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    assert not _at(findings, "seed-quote", planted, 7) and not _at(findings, "claims-unmapped", planted, 7)
    wrong = _at(findings, "seed-quote", planted, 8)
    assert wrong and wrong[0].severity == "error" and "MLX exports to Core ML." in wrong[0].message, format_report(findings)
    unquoted = _at(findings, "seed-unquoted", planted, 9)
    assert unquoted and unquoted[0].severity == "warning", format_report(findings)
    assert not [f for f in findings if f.code == "seed-only"], format_report(findings)


def test_a_rule_that_cites_only_seeds_and_an_unmapped_claim(base_copy, seeds):
    planted = base_copy / "planted.yaml"
    planted.write_text(_planted_seed_rule(f"      - 'seed:{SEED_001} \"{CORE_ML_CLAIM}\"'\n"), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    only = [f for f in findings if f.code == "seed-only"]
    assert len(only) == 1 and "planted-seed-claim" in only[0].message and only[0].severity == "warning"
    unmapped = _at(findings, "claims-unmapped", planted, 7)
    assert unmapped and unmapped[0].severity == "error" and "never names the rule" in unmapped[0].message, \
        format_report(findings)


def test_a_quote_that_is_no_claim_row(base_copy, seeds):
    claims = base_copy / "CLAIMS.md"
    text = claims.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| 001-8 |"))
    claims.write_text(text.replace(row, row[:-2] + ", `planted-seed-claim` |"), encoding="utf-8")
    (seeds / SEED_001).write_text((seeds / SEED_001).read_text(encoding="utf-8") + "Core ML 모델\n", encoding="utf-8")
    planted = base_copy / "planted.yaml"
    planted.write_text(_planted_seed_rule(f"      - 'seed:{SEED_001} \"Core ML 모델\"'\n      - https://example.org/p\n"),
                       encoding="utf-8")
    findings = _lint(base_copy, seeds)
    found = _at(findings, "claims-unmapped", planted, 7)
    assert found and "no claim row" in found[0].message, format_report(findings)


def test_claims_md_is_checked_against_the_seeds_and_the_rules(base_copy, seeds):
    claims = base_copy / "CLAIMS.md"
    text = claims.read_text(encoding="utf-8")
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| 001-8 |"))
    lines[row] = lines[row].replace("`apple-on-device-coreml-via-pytorch`", "`apple-on-device-coreml-via-jax`")
    quote_row = next(i for i, line in enumerate(lines) if line.startswith("| 001-2 |"))
    lines[quote_row] = lines[quote_row].replace("Machine Learning eXperimentation", "Machine Learning Experiments")
    claims.write_text("\n".join(lines) + "\n", encoding="utf-8")
    findings = _lint(base_copy, seeds)
    unknown = [f for f in findings if f.code == "claims-unknown-rule"]
    assert len(unknown) == 1 and unknown[0].location.endswith(f"CLAIMS.md:{row + 1}:1"), format_report(findings)
    assert "apple-on-device-coreml-via-jax" in unknown[0].message
    bad_quote = [f for f in findings if f.code == "claims-quote"]
    assert len(bad_quote) == 1 and bad_quote[0].location.endswith(f"CLAIMS.md:{quote_row + 1}:1"), format_report(findings)
    # The rule the row no longer names cites that seed with that row's quote.
    unmapped = [f for f in findings if f.code == "claims-unmapped" and "apple-on-device-coreml-via-pytorch" in f.message]
    assert unmapped and unmapped[0].severity == "error", format_report(findings)


def test_claims_md_review_date_ages_like_a_rule(base_copy, seeds):
    import datetime

    findings = _lint(base_copy, seeds, today=datetime.date(2031, 1, 1))
    stale = [f for f in findings if f.code == "stale-review" and "CLAIMS.md" in f.location]
    assert len(stale) == 1 and "CLAIMS.md" in stale[0].message, format_report(findings)
    assert [f for f in findings if f.code == "stale-review" and "default reason" in f.message]


def test_the_shipped_rules_quote_their_seed_claims_and_link_public_sources():
    """With the real seeds: every seed-citing rule quotes what it encodes, the quotes are in the seeds, CLAIMS.md
    maps them, and each such rule links a public source too."""
    from framework_advisor.rules.lint import SEEDS_DIR

    if not SEEDS_DIR.is_dir():
        pytest.skip(f"no seeds folder at {SEEDS_DIR}")
    codes = ("seed-quote", "seed-unquoted", "seed-only", "claims-quote", "claims-unknown-rule", "claims-unmapped")
    findings = [f for f in lint() if f.code in codes]
    assert not findings, format_report(findings)


@pytest.mark.parametrize("message,flagged", [
    ("MLX is the fastest framework on Apple silicon.", True),
    ("On this Mac JAX may be faster than PyTorch for large arrays.", True),
    ("MLX is expected to be among the fastest frameworks on Apple silicon; a probe confirms it.", False),
    ("PyTorch has the largest community, so you get unstuck fastest.", False),
])
def test_a_speed_claim_without_a_measurement_is_a_warning(base_copy, seeds, message, flagged):
    planted = base_copy / "planted.yaml"
    planted.write_text("rules:\n" + _rule("planted-speed", "{fact: apple_silicon, op: eq, value: true}",
                                          "{points: {mlx: 0.1}}").replace(
        "A rule planted by the linter tests.", message), encoding="utf-8")
    findings = _lint(base_copy, seeds)
    found = _at(findings, "speed-claim", planted, 5)
    assert bool(found) == flagged, format_report(findings)

"""One vocabulary: framework ids, goals, experience levels, device kinds and benchmarks are listed in full only in
probes/vocabulary.py. Everything else reads it, or is generated from the models that read it and checked
equal to what they generate (openapi.yaml, the rule-file and audit-policy JSON Schemas).

The scan looks for a full enumeration of a vocabulary (every member in one bracketed list, tuple, set or flow
sequence) in shipped code and data; subsets are knowledge (where a framework runs, what a rule tests) and stay.
The last tests copy the tree to a temporary directory, plant a copy, and see each check fail.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from framework_advisor.probes import vocabulary
from tests.conftest import REPO_ROOT

VOCABULARIES = {
    "framework ids": vocabulary.FRAMEWORK_IDS,
    "goals": vocabulary.GOALS,
    "experience levels": vocabulary.EXPERIENCE_LEVELS,
    "device kinds": vocabulary.DEVICES,
    "accelerator kinds": vocabulary.ACCELERATOR_KINDS,
    "benchmarks": vocabulary.BENCHMARK_NAMES,
}
SCANNED_FOLDERS = ("service", "rules", "probes", "docs", "benchmarks", "scripts")
SCANNED_SUFFIXES = {".py", ".js", ".html", ".yaml", ".yml", ".json", ".tmpl"}
# The definition itself, and files generated from the models (tests/test_contract.py, test_lint.py and
# test_audit.py check that each is what the models generate).
NOT_SCANNED = {"probes/vocabulary.py", "rules/rule-file.schema.json", "docs/ci/audit-policy.schema.json"}
_GROUP = re.compile(r"[\[({]([^\[\](){}]*)[\])}]")
# An item: a quoted or bare word; one followed by ':' is a mapping key (data keyed by id, checked where loaded).
_ITEM = re.compile(r"""["']?([A-Za-z0-9_.-]+)["']?\s*(:?)""")


def full_enumerations(root: Path) -> list[str]:
    """file:line: what, for every bracketed group holding every member of a vocabulary."""
    found = []
    for folder in SCANNED_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.suffix not in SCANNED_SUFFIXES or relative in NOT_SCANNED or "__pycache__" in relative:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for match in _GROUP.finditer(text):
                items = {item.group(1) for item in _ITEM.finditer(match.group(1)) if not item.group(2)}
                for name, members in VOCABULARIES.items():
                    if set(members) <= items:
                        line = text.count("\n", 0, match.start()) + 1
                        found.append(f"{relative}:{line}: every one of the {name}")
    return found


def test_each_vocabulary_is_listed_in_full_only_in_the_vocabulary_module():
    assert full_enumerations(REPO_ROOT) == [], "read the list from framework_advisor.probes.vocabulary instead"


def test_catalog_and_data_files_keyed_by_framework_cover_the_vocabulary(rulebase):
    from framework_advisor.probes.installed import distributions

    assert tuple(rulebase.frameworks) == vocabulary.FRAMEWORK_IDS
    assert set(distributions()) == set(vocabulary.FRAMEWORK_IDS)


def test_one_display_name_everywhere(rulebase, client):
    assert rulebase.frameworks["tensorflow"].name == "TensorFlow (Keras)" == vocabulary.FRAMEWORK_NAMES["tensorflow"]
    terms = {term["id"]: term["label"] for term in client.get("/v1/vocabulary").get_json()["frameworks"]}
    assert terms == vocabulary.FRAMEWORK_NAMES  # the form and the chart read these


# --- the checks fail when a copy drifts (a temporary tree, mutated) ------------------------------------------------

@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for folder in SCANNED_FOLDERS:
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "openapi.yaml", tmp_path / "openapi.yaml")
    assert full_enumerations(tmp_path) == []
    return tmp_path


@pytest.mark.parametrize("path,planted", [
    ("service/static/app.js", "const GOALS = ['learning', 'research', 'production', 'mobile-edge', 'apple-on-device',"
                              " 'scientific-computing', 'large-scale-training', 'pretrained-models'];\n"),
    ("service/audit/checks.py", 'KINDS = ("cuda", "rocm", "tpu", "apple-gpu", "gaudi", "intel-xpu")\n'),
    ("rules/base/facts.yaml", "extra: {type: enum, source: user, description: x, "
                              "values: [pytorch, jax, mlx, tensorflow, numpy]}\n"),
])
def test_a_planted_copy_is_found(tree, path, planted):
    target = tree / path
    target.write_text(target.read_text() + planted)
    assert [finding.split(":")[0] for finding in full_enumerations(tree)] == [path]


def test_an_edited_enum_in_openapi_yaml_is_stale(tree):
    from framework_advisor.contract.document import stale

    contract = tree / "openapi.yaml"
    assert not stale(contract)
    contract.write_text(contract.read_text().replace("- pretrained-models\n", "- pretrained-model\n", 1))
    assert stale(contract)

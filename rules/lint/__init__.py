"""A linter for the rule base: structure, logic and coverage, each finding at ``file:line:column``.

The loader (rules.rulebase) already refuses what cannot be used at all (unsafe YAML, schema errors,
unknown facts, operators that do not fit a fact's type, enum typos, numbers outside a fact's range);
a loading error becomes one error finding here. The linter then looks for what loads but is wrong:

- structure: duplicate rule ids across the files of one directory (all of them), messages that speak
  about another framework than the one they are shown under, ``seed:`` refs
  that name no file in the seeds folder, stale ``reviewed`` dates, overlapping install rows and
  platform devices with no install row of their own;
- logic: conditions that can never hold or always hold, duplicate rules, ungrouped rules that always
  fire together and push a framework the same way (double counting), two rules that always fire
  together and push a framework opposite ways (contradiction), and points for a framework that a
  knock-out always removes wherever the rule fires;
- coverage: goal and experience values no rule responds to, declared facts nothing uses, and, with
  a golden scenario file, rules no scenario fires and frameworks no scenario ranks first;
- sources: a ``seed:<file> "<phrase>"`` ref whose phrase is not in the seed, a rule's seed ref without a
  quote or without a public source beside it, and CLAIMS.md against the seeds and the rules (its quotes are
  in the seeds, the rules it names exist, every base rule citing a seed is in its row) (``rules/lint/seeds.py``);
  a rule that asserts speed without a measurement; CLAIMS.md's and the default reason's review dates.

The logic checks do not compare strings: they evaluate condition trees with the engine's own
``holds`` over every *world* that matters to the facts a rule mentions (a small symbolic evaluator,
see ``rules/lint/worlds.py``): each enum and bool value, each subset of the set values the rules name, and for
numbers a point at, between, below and above every threshold the rules use. Facts the engine derives
from hardware (``apple_silicon``, ``<framework>.device`` ...) are computed by the engine's own
``derive_facts`` from each possible machine, so invariants between facts hold in every world.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from framework_advisor.rules.lint.checks import Linter, scenario_names
from framework_advisor.rules.lint.findings import Finding, format_report, sort_key
from framework_advisor.rules.lint.worlds import WorldModel
from framework_advisor.rules.rulebase import BASE_DIR, GOLDEN_FILE

__all__ = ["GOLDEN_FILE", "Finding", "format_report", "lint"]

# The seed articles the rules cite live beside the checkout (../shared/seeds); absent, refs go unchecked.
SEEDS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"


def lint(extra_dirs: Sequence[Path] = (), base_dir: Path = BASE_DIR, golden_file: Path | None = None, *,
         today: datetime.date | None = None, seeds_dir: Path = SEEDS_DIR) -> list[Finding]:
    """Lint the base directory with extra directories merged over it; findings sorted by location.

    ``golden_file`` defaults to the golden scenarios shipped with the rules (rules/golden_scenarios.yaml)
    when that file exists.
    """
    linter = Linter(today or datetime.date.today(), Path(seeds_dir))
    directories = [Path(base_dir), *(Path(d) for d in extra_dirs)]
    linter.read_files(directories)
    rulebase = linter.load(extra_dirs, base_dir)
    if rulebase is not None:
        model = WorldModel(rulebase)
        linter.check_refs_and_dates(rulebase)
        linter.check_messages(rulebase)
        linter.check_catalog(rulebase)
        linter.check_remedies(rulebase)
        kinds = linter.check_conditions(rulebase, model)
        linter.check_pairs(rulebase, model, kinds)
        linter.check_knocked_out_points(rulebase, model, kinds)
        linter.check_coverage(rulebase, model, kinds)
        linter.check_speed_claims(rulebase)
        linter.check_default_reason(rulebase)
        if golden_file is None and GOLDEN_FILE.is_file():
            golden_file = GOLDEN_FILE
        linter.check_claims(rulebase, Path(base_dir), scenario_names(golden_file))
        if golden_file is not None:
            if Path(golden_file).is_file():
                linter.check_golden(rulebase, Path(golden_file), kinds)
            else:
                linter.add("error", "golden", f"{golden_file}:1:1", "golden scenario file not found")
    return sorted(linter.findings, key=sort_key)

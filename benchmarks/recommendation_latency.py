"""Prints the in-process latency of a recommendation: one repeated question (H100 server, research +
production, expert) and 200 distinct questions (goals x experience x machines), each evaluated once per pass,
then the 200 again with every cache that shares work across questions emptied before each (the user's
alternatives by signature, other machines' first places, reasons; rules/alternatives.py), keeping what is made
once per rule base (compiled conditions, the facts of each kind of other machine, starters).

    .venv/bin/python benchmarks/recommendation_latency.py               # this checkout
    .venv/bin/python benchmarks/recommendation_latency.py --against REV # and a git revision, interleaved

With --against, REV is checked out into a temporary git worktree and both trees are measured in alternating
fresh processes (A B A B ...), so that both share the same minutes of a noisy machine; the script prints each
tree's median per round and the ratio of medians with its spread across rounds. Target: median under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from framework_advisor.probes.vocabulary import EXPERIENCE_LEVELS, GOALS  # noqa: E402

# Runs inside the measured tree; it must work with the layout and API of older revisions too.
MEASURE = r"""
import importlib, importlib.util, itertools, json, statistics, sys, time
from pathlib import Path

tree = Path.cwd()
if (tree / "service" / "__main__.py").exists():
    # framework_advisor from this tree's folders, whatever the interpreter has installed under that name.
    for name, folder in (("framework_advisor", "service"), ("framework_advisor.rules", "rules"),
                         ("framework_advisor.probes", "probes")):
        spec = importlib.util.spec_from_file_location(name, tree / folder / "__init__.py",
                                                      submodule_search_locations=[str(tree / folder)])
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    from framework_advisor.rules.engine import recommend
    from framework_advisor.rules.rulebase import load_rulebase
    try:
        from framework_advisor.probes.hardware import HardwareProfile
        profile = HardwareProfile.model_validate
    except ImportError:  # before the typed core: hardware as dicts
        profile = lambda hardware: hardware
else:  # before the framework_advisor package: top-level rules/ and probes/
    sys.path.insert(0, str(tree))
    recommend = importlib.import_module("rules.engine").recommend
    load_rulebase = importlib.import_module("rules.rulebase").load_rulebase
    profile = lambda hardware: hardware

MACHINES = [
    {"os": "linux", "arch": "x86_64", "cpu": {"model": "Xeon", "cores": 96}, "memory_gb": 2048,
     "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80}]},
    {"os": "windows", "arch": "x86_64", "cpu": {"model": "x", "cores": 8}, "memory_gb": 16, "accelerators": []},
    {"os": "darwin", "arch": "arm64", "cpu": {"model": "Apple M3 Pro", "cores": 12}, "memory_gb": 36,
     "accelerators": [{"kind": "apple-gpu", "name": "Apple M3 Pro GPU", "memory_gb": 36}]},
    {"os": "linux", "arch": "x86_64", "accelerators": [{"kind": "tpu", "name": "TPU v4", "count": 4}]},
    {"os": "linux", "arch": "arm64", "cpu": {"model": "Neoverse-V2", "cores": 72}, "accelerators": []},
]
GOALS, LEVELS = json.loads(sys.argv[2])  # this checkout's vocabulary: both trees answer the same questions
rulebase = load_rulebase()
machines = [profile(machine) for machine in MACHINES]
pairs = [list(pair) for pair in itertools.combinations(GOALS, 2)]
questions = [(goals, level, machines[i % len(machines)]) for i, (goals, level) in
             enumerate(itertools.product(pairs, LEVELS))]
questions += [([goal], level, machine) for goal in GOALS for level in LEVELS for machine in machines]
questions = questions[:200]
repeated = (["research", "production"], "expert", machines[0])

try:  # the caches that share work across questions (issue 12); older trees have none
    from framework_advisor.rules import alternatives as shared_work

    def clear_shared_work():
        for index in list(shared_work._INDEXES.values()):
            index.user_changes.clear()
            index.other_machines.clear()
            index.reasons.clear()  # kept: what is made once per rule base (compiled rules, other machines' facts)
except ImportError:
    def clear_shared_work():
        pass

def timed(question, cold=False):
    if cold:
        clear_shared_work()
    started = time.perf_counter()
    recommend(rulebase, *question)
    return (time.perf_counter() - started) * 1000

for question in questions[:20]:
    recommend(rulebase, *question)
print(json.dumps({"repeated": statistics.median(timed(repeated) for _ in range(int(sys.argv[1]))),
                  "distinct": statistics.median(timed(question) for question in questions),
                  "cold": statistics.median(timed(question, cold=True) for question in questions),
                  "questions": len(questions), "rules": len(rulebase.rules),
                  "engine": recommend.__code__.co_filename}))
"""


def measure(tree: Path, calls: int) -> dict:
    questions = json.dumps([list(GOALS), list(EXPERIENCE_LEVELS)])
    completed = subprocess.run([sys.executable, "-c", MEASURE, str(calls), questions], cwd=tree, capture_output=True,
                               text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    result = json.loads(completed.stdout)
    assert Path(result["engine"]).is_relative_to(tree), f"measured {result['engine']}, not {tree}"
    return result


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ms (range {min(values):.3f}-{max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, interleaved")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500, help="repeats of the fixed question per round")
    args = parser.parse_args()
    trees = {"this checkout": ROOT}
    with tempfile.TemporaryDirectory(prefix="recommendation-latency-") as scratch:
        if args.against:
            baseline = Path(scratch) / "baseline"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.against],
                           check=True, capture_output=True)
            trees[args.against] = baseline
        try:
            results: dict[str, list[dict]] = {name: [] for name in trees}
            for _ in range(args.rounds):
                for name, tree in trees.items():  # alternating: each round measures every tree once
                    results[name].append(measure(tree, args.calls))
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                               check=False, capture_output=True)
    for name, rounds in results.items():
        print(f"{name} ({Path(rounds[0]['engine']).relative_to(trees[name])}): {rounds[0]['rules']} rules; repeated question {spread([r['repeated'] for r in rounds])}; "
              f"{rounds[0]['questions']} distinct questions {spread([r['distinct'] for r in rounds])}; "
              f"the same with the shared caches emptied before each {spread([r.get('cold', r['distinct']) for r in rounds])}"
              f" (median of {args.rounds} rounds)")
    ours = results["this checkout"]
    if args.against:
        theirs = results[args.against]
        for key, label in (("repeated", "repeated question"), ("distinct", "distinct questions"),
                           ("cold", "distinct questions, shared caches emptied")):
            ratios = [mine.get(key, mine["distinct"]) / base.get(key, base["distinct"]) for mine, base in zip(ours, theirs)]
            print(f"{label}: this checkout / {args.against} = {statistics.median(ratios):.2f} "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds)")
    median = statistics.median(r["repeated"] for r in ours)
    print("PASS" if median < 5 else "FAIL", f"(target: median < 5 ms; {median:.3f} ms)")
    return 0 if median < 5 else 1


if __name__ == "__main__":
    sys.exit(main())

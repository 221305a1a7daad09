"""Acceptance figures for measuring on a busy machine (issue 10), printed, not asserted by a timed test.

    .venv/bin/python benchmarks/probe_trust.py [--runs 3] [--hog-probes 5] [--skip PART,...]

Parts (all by default; --skip imports,hog,ratios leaves some out):

imports   A plain sequential import of every installed framework, each in a fresh process, against a full probe
          (``--fresh``) and a quick one, interleaved run by run (imports, full, quick, imports, ...), median of
          ``--runs`` each: the probe's wall time over the imports' (targets: full <= 1.5x, quick <= 0.7x).
          Then a repeat quick probe with unchanged versions: it reuses the last one's figures and says so.
hog       A CPU-hungry process on one core for the whole part (started and stopped here): ``--hog-probes``
          consecutive quick probes (``--fresh``), each followed by ``recommend --goal research --experience
          expert``: the first choice every time (target: always the same), and any measured-speed reason
          resting on a figure flagged noisy (target: none).
ratios    ``--runs`` full probes: every cross-framework ratio of each (the slowdown against the fastest), its
          median, spread and coefficient of variation across the probes (target: CV < 15%), and each CPU
          fp32 figure's percent of the peak its calibration measured.

The machine's load is printed with every step. Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = {"numpy": "numpy", "pytorch": "torch", "jax": "jax", "tensorflow": "tensorflow", "mlx": "mlx.core"}
FULL_TARGET, QUICK_TARGET, RATIO_CV_TARGET = 1.5, 0.7, 0.15


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f}"


def cli() -> list[str]:
    script = Path(sys.executable).parent / "framework-advisor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "framework_advisor"]


def installed() -> list[str]:
    from framework_advisor.probes.installed import installed_versions

    return [framework for framework, version in installed_versions(list(IMPORTS)).items() if version]


def sequential_imports(frameworks: list[str]) -> float:
    """Each framework imported in its own fresh process, one after another: the wall time of all."""
    started = time.perf_counter()
    for framework in frameworks:
        subprocess.run([sys.executable, "-c", f"import {IMPORTS[framework]}"], check=True, cwd=tempfile.gettempdir(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - started


def probe(args: list[str], data_dir: Path | None = None) -> tuple[dict, float]:
    """A whole ``framework-advisor probe`` process: its report and wall time."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        store = ["--data-dir", str(data_dir)] if data_dir else ["--no-store"]
        started = time.perf_counter()
        done = subprocess.run([*cli(), "probe", *args, *store, "--json", str(out)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"the probe failed ({done.returncode}): {done.stderr[-2000:]}")
        return json.loads(out.read_text()), wall


def recommend(data_dir: Path) -> dict:
    done = subprocess.run([*cli(), "recommend", "--goal", "research", "--experience", "expert", "--json",
                           "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def spread_text(values: list[float]) -> str:
    median = statistics.median(values)
    return f"median {median:.2f} (range {min(values):.2f}-{max(values):.2f}, n={len(values)})"


def part_imports(runs: int, frameworks: list[str]) -> bool:
    print(f"\n== imports against probes ({', '.join(frameworks)}), {runs} interleaved runs")
    imports, full, quick = [], [], []
    for run in range(runs):
        imports.append(sequential_imports(frameworks))
        full.append(probe(["--fresh"])[1])
        quick.append(probe(["--quick", "--fresh"])[1])
        print(f"   run {run + 1}: sequential imports {imports[-1]:.1f} s, full probe {full[-1]:.1f} s, "
              f"quick probe {quick[-1]:.1f} s   [{load()}]", flush=True)
    base = statistics.median(imports)
    full_ratio, quick_ratio = statistics.median(full) / base, statistics.median(quick) / base
    print(f"   sequential imports: {spread_text(imports)} s")
    print(f"   full probe:         {spread_text(full)} s = {full_ratio:.2f}x the imports (target <= {FULL_TARGET}x)")
    print(f"   quick probe:        {spread_text(quick)} s = {quick_ratio:.2f}x the imports (target <= {QUICK_TARGET}x)")
    with tempfile.TemporaryDirectory() as data:
        first, first_wall = probe(["--quick"], Path(data))
        again, again_wall = probe(["--quick"], Path(data))
    reused = again.get("reused")
    print(f"   repeat quick probe, versions unchanged: {first_wall:.1f} s, then {again_wall:.1f} s; "
          + (f"reused: {reused['why']}" if reused else "NOT reused"
             + (" (the first ran on a busy machine)" if (first.get("conditions") or {}).get("busy") else "")))
    return full_ratio <= FULL_TARGET and quick_ratio <= QUICK_TARGET and reused is not None


@contextmanager
def cpu_hog(cpu: int):
    """A process spinning on one CPU until the block ends."""
    hog = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass"])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()


def noisy_citations(answer: dict, report: dict) -> list[str]:
    """Measured-speed reasons that name a benchmark whose figure (of that framework or of the fastest, at the
    compared size) the newest probe flagged noisy."""
    from framework_advisor.probes.vocabulary import BENCHMARK_LABELS

    noisy = {(f["framework"], b["name"], b.get("size")) for f in report["frameworks"] for b in f.get("benchmarks", [])
             if b["timing"]["noisy"]}
    sizes = {c["benchmark"]: c["size"] for c in report.get("comparisons", [])}
    cited = []
    for item in answer["ranking"]:
        for reason in item["reasons"]:
            if not reason["rule"].startswith("measured-"):
                continue
            # The message names what was measured: "(quick probe: matrix multiply (fp32) only)".
            named = [name for name, label in BENCHMARK_LABELS.items() if label.lower() in reason["message"].lower()]
            involved = {item["framework"], report["derived"].get(item["framework"], {}).get("fastest")}
            if any((framework, name, sizes.get(name)) in noisy for framework in involved for name in named):
                cited.append(f"{reason['rule']}: {reason['message']}")
    return cited


def part_hog(probes: int) -> bool:
    print(f"\n== a CPU hog on CPU 0: {probes} quick probes, each followed by recommend --goal research "
          f"--experience expert")
    firsts, cited = [], []
    with tempfile.TemporaryDirectory() as data, cpu_hog(0):
        time.sleep(2)
        for index in range(probes):
            report, wall = probe(["--quick", "--fresh"], Path(data))
            answer = recommend(Path(data))
            first = answer["ranking"][0]["framework"]
            firsts.append(first)
            cited += noisy_citations(answer, report)
            conditions = report.get("conditions") or {}
            print(f"   probe {index + 1}: {wall:.1f} s, busy={conditions.get('busy')} ({conditions.get('why') or '-'}), "
                  f"threads {report.get('threads')}; first choice {first} ({answer['confidence']['message']}); "
                  f"pooled {len((answer.get('measurements') or {}).get('probe_ids', []))} probe(s)   [{load()}]",
                  flush=True)
    same = len(set(firsts)) == 1
    print(f"   first choices: {', '.join(firsts)}: {'the same every time' if same else 'NOT the same'}")
    print(f"   reasons resting on a noisy figure: {len(cited)}" + "".join(f"\n     {c}" for c in cited))
    return same and not cited


def part_ratios(runs: int) -> bool:
    print(f"\n== cross-framework ratios over {runs} full probes")
    ratios: dict[str, list[float]] = {}
    for run in range(runs):
        report, wall = probe(["--fresh"])
        print(f"   probe {run + 1}: {wall:.1f} s, threads {report.get('threads')}, busy "
              f"{(report.get('conditions') or {}).get('busy')}   [{load()}]", flush=True)
        for comparison in report.get("comparisons", []):
            frameworks = comparison["frameworks"]
            medians = {entry["framework"]: statistics.median(entry["per_call_s"]) for entry in frameworks}
            fastest = min(medians, key=medians.get)
            for framework, median in medians.items():
                if framework != fastest:
                    key = f"{comparison['benchmark']}@{comparison['size']} {framework}/{fastest}"
                    ratios.setdefault(key, []).append(median / medians[fastest])
        for framework in report["frameworks"]:
            for bench in framework.get("benchmarks", []):
                if bench["name"] == "matmul_fp32" and bench["device"] == "cpu" and bench.get("peak"):
                    peak = bench["peak"]
                    print(f"      {framework['framework']:<11} matmul_fp32 n={bench.get('size')} ({bench.get('role')}): "
                          f"{bench['value']:.1f} GFLOP/s = {bench.get('percent_of_peak')}% of "
                          f"{peak['value']:.1f} GFLOP/s ({'measured' if peak.get('measured') else 'nominal'})")
    worst = 0.0
    for key, values in sorted(ratios.items()):
        if len(values) < 2:
            continue
        cv = statistics.stdev(values) / statistics.mean(values)
        worst = max(worst, cv)
        print(f"   {key:<45} {spread_text(values)}, CV {100 * cv:.1f}%")
    print(f"   worst CV {100 * worst:.1f}% (target < {100 * RATIO_CV_TARGET:.0f}%)")
    return worst < RATIO_CV_TARGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hog-probes", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: imports, hog, ratios")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    frameworks = installed()
    print(f"framework-advisor probe acceptance (issue 10) on {os.cpu_count()} CPUs, {', '.join(frameworks)}   "
          f"[{load()}]")
    verdicts = {}
    if "imports" not in skip:
        verdicts["imports"] = part_imports(args.runs, frameworks)
    if "hog" not in skip:
        verdicts["hog"] = part_hog(args.hog_probes)
    if "ratios" not in skip:
        verdicts["ratios"] = part_ratios(args.runs)
    print("\n" + ", ".join(f"{part}: {'met' if ok else 'NOT met'}" for part, ok in verdicts.items()))
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

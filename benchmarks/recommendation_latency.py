"""Prints the in-process latency of one recommendation with an explicit hardware profile.

Target: median under 5 ms. Run: .venv/bin/python benchmarks/recommendation_latency.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from framework_advisor.rules.engine import recommend  # noqa: E402
from framework_advisor.rules.rulebase import load_rulebase  # noqa: E402

H100 = {"os": "linux", "arch": "x86_64", "cpu": {"model": "Xeon", "cores": 96}, "memory_gb": 2048,
        "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80}]}


def main() -> int:
    rulebase = load_rulebase()
    for _ in range(50):
        recommend(rulebase, ["research", "production"], "expert", H100)
    samples = []
    for _ in range(2000):
        started = time.perf_counter()
        recommend(rulebase, ["research", "production"], "expert", H100)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    median, p99 = statistics.median(samples), samples[int(len(samples) * 0.99)]
    print(f"recommendation latency over {len(samples)} calls, {len(rulebase.rules)} rules: "
          f"median {median:.3f} ms, p99 {p99:.3f} ms (target: median < 5 ms)")
    print("PASS" if median < 5 else "FAIL")
    return 0 if median < 5 else 1


if __name__ == "__main__":
    sys.exit(main())

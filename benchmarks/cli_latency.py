"""Prints how long a whole `framework-advisor recommend --hardware FILE --json` process takes, against
`python -c pass` for scale: the first run with an empty rule-base cache, then warm runs (median and range).

Target: under 0.4 s warm. Run: .venv/bin/python benchmarks/cli_latency.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARDWARE = """os: linux
arch: x86_64
cpu: {model: AMD EPYC 9654, cores: 96}
memory_gb: 1536
accelerators:
  - {kind: cuda, name: NVIDIA H100 80GB HBM3, count: 8, memory_gb: 80, compute_capability: "9.0"}
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd="/")
    return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (range {min(values):.3f}-{max(values):.3f}, {len(values)} runs)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "framework-advisor"
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "framework_advisor"]
    with tempfile.TemporaryDirectory() as scratch:
        hardware = Path(scratch) / "h100.yaml"
        hardware.write_text(HARDWARE)
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "cache")}
        command = [*cli, "recommend", "--goal", "research", "--experience", "expert", "--hardware", str(hardware),
                   "--json"]
        cold = timed(command, env)
        warm, bare = [], []
        for _ in range(args.runs):  # alternating, so both share the machine's minutes
            warm.append(timed(command, env))
            bare.append(timed([sys.executable, "-c", "pass"], env))
    print(f"python -c pass: {spread(bare)}")
    print(f"recommend --hardware FILE --json, empty rule-base cache: {cold:.3f} s (one run)")
    print(f"recommend --hardware FILE --json, warm: {spread(warm)}")
    median = statistics.median(warm)
    print("PASS" if median < 0.4 else "FAIL", f"(target: under 0.4 s warm; {median:.3f} s)")
    return 0 if median < 0.4 else 1


if __name__ == "__main__":
    sys.exit(main())

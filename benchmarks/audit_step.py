"""Prints how long the CI audit step takes on this machine, and its exit codes (issue 5 acceptance).

  audit --quick --require 'framework:pytorch' --junit out.xml   -> exit 0, target under 15 s
  audit --require 'accelerator:cuda>=1'                         -> exit 1, "no NVIDIA CUDA device was found"

Run: .venv/bin/python benchmarks/audit_step.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "framework_advisor", "audit"]
TARGET_S = 15.0


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    return time.perf_counter() - started, completed


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        junit = str(Path(scratch) / "out.xml")
        runs = [timed([*CLI, "--quick", "--require", "framework:pytorch", "--junit", junit]) for _ in range(3)]
        seconds = [elapsed for elapsed, _ in runs]
        codes = [completed.returncode for _, completed in runs]
        print(f"audit --quick --require framework:pytorch --junit: exit codes {codes}, "
              f"wall {', '.join(f'{s:.1f}' for s in seconds)} s (median {statistics.median(seconds):.1f} s; "
              f"target < {TARGET_S:g} s)")
        ok &= codes == [0, 0, 0] and max(seconds) < TARGET_S
        elapsed, completed = timed([*CLI, "--require", "accelerator:cuda>=1"])
        said = "no NVIDIA CUDA device was found" in completed.stderr
        print(f"audit --require accelerator:cuda>=1: exit {completed.returncode} in {elapsed:.1f} s; "
              f"says 'no NVIDIA CUDA device was found': {said}")
        ok &= completed.returncode == 1 and said
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

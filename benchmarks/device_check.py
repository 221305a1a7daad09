"""The device check for real accelerators (issue 10): the full probe against an independent reference.

    .venv/bin/python benchmarks/device_check.py [--device cuda|rocm|tpu|apple-gpu|xpu|cpu] [--n N]

On a machine with an accelerator the probe knows (the first the inventory lists, unless --device), it

1. runs the full probe (``framework-advisor probe --fresh --json``) as a whole process, timed;
2. for every framework that reached that device, measures fp32 and bf16 matmul in a separate fresh process
   with the same library (n x n, synced before the clock stops: CUDA/XPU synchronize, block_until_ready,
   mx.eval, .numpy(); 1 s warm-up, then >= 2 s or >= 10 calls timed, median; on a CPU with the probe's
   threads);
3. prints the probe's figure and the reference's side by side, each as a percent of the device's nominal
   dense peak (probes/data/accelerator_peaks.json), the probe's figure over the reference's, and the
   probe's own time: its wall time, its imports and what it spent on anything but timed work.

It is sized to finish in under 8 minutes (the probe's worker timeout is 60 s per framework, each reference
at most 60 s). ``--device cpu`` runs the same steps on the CPU: a dry run of the script where no accelerator
is present (this repository's CI machine), not a device check. Exit status 0 when everything ran, 1 when a
step failed, 2 when the asked device is not present.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 8 * 60
REFERENCE_TIMEOUT_S = 60
GPU_N, CPU_N = 8192, 1024

# One matmul per library on one device, set up like a user would, synced before the clock stops.
REFERENCE = r'''
import json, statistics, sys, time
framework, device, dtype, n, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if device == "cpu":  # the probe's threads, set as its worker sets them (environment, XLA flags)
    from framework_advisor.probes.worker.machine import limit_threads
    limit_threads(threads)  # pinned to that many CPUs, as the worker is for its turns
if framework == "pytorch":
    import torch
    if device == "cpu":
        torch.set_num_threads(threads)
    where = {"cuda": "cuda", "rocm": "cuda", "xpu": "xpu", "apple-gpu": "mps", "cpu": "cpu"}[device]
    kind = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a, b = (torch.rand(n, n, device=where, dtype=kind) for _ in range(2))
    sync = {"cuda": torch.cuda.synchronize, "xpu": getattr(torch, "xpu", None) and torch.xpu.synchronize,
            "mps": getattr(torch, "mps", None) and torch.mps.synchronize}.get(where) or (lambda: None)
    def run():
        c = a @ b
        sync()
        return c
elif framework == "jax":
    import jax, jax.numpy as jnp
    platform = {"cuda": "gpu", "rocm": "gpu", "tpu": "tpu", "cpu": "cpu"}[device]
    target = jax.devices(platform)[0]
    kind = {"fp32": jnp.float32, "bf16": jnp.bfloat16}[dtype]
    a, b = (jax.device_put(jnp.ones((n, n), kind), target) for _ in range(2))
    f = jax.jit(jnp.matmul)
    run = lambda: f(a, b).block_until_ready()
elif framework == "tensorflow":
    import tensorflow as tf
    kind = {"fp32": tf.float32, "bf16": tf.bfloat16}[dtype]
    with tf.device("/GPU:0" if device in ("cuda", "rocm") else "/CPU:0"):
        a, b = (tf.random.uniform((n, n), dtype=tf.float32) for _ in range(2))
        a, b = tf.cast(a, kind), tf.cast(b, kind)
        f = tf.function(lambda x, y: tf.linalg.matmul(x, y))
        run = lambda: f(a, b).numpy()
elif framework == "mlx":
    import mlx.core as mx
    kind = {"fp32": mx.float32, "bf16": mx.bfloat16}[dtype]
    stream = mx.gpu if device == "apple-gpu" else mx.cpu
    a, b = (mx.random.uniform(shape=(n, n)).astype(kind) for _ in range(2))
    def run():
        c = mx.matmul(a, b, stream=stream)
        mx.eval(c)
        return c
elif framework == "numpy":
    import numpy as np
    kind = {"fp32": np.float32}[dtype]
    a, b = (np.random.default_rng(7).random((n, n), dtype=np.float32) for _ in range(2))
    run = lambda: a @ b
start = time.perf_counter()
while time.perf_counter() - start < 1.0:
    run()
times, start = [], time.perf_counter()
while time.perf_counter() - start < 2.0 or len(times) < 10:
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
print(json.dumps({"gflops": 2.0 * n ** 3 / statistics.median(times) / 1e9, "calls": len(times)}))
'''


def cli() -> list[str]:
    script = Path(sys.executable).parent / "framework-advisor"
    return [str(script)] if script.exists() else [sys.executable, "-m", "framework_advisor"]


def inventory() -> dict:
    done = subprocess.run([*cli(), "hardware", "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def nominal_peak(hardware: dict, device: str, dtype: str) -> tuple[float | None, str]:
    """GFLOP/s of the device's nominal dense peak, and its source."""
    from framework_advisor.probes.peaks import accelerator_peak

    if device == "cpu":
        return None, "the CPU's peak comes from its calibration in the probe"
    accelerator = next(a for a in hardware["accelerators"] if a["kind"] == device)
    tflops, source = accelerator_peak(accelerator["name"], dtype)
    return (tflops * 1000 if tflops else None), source


def reference(framework: str, device: str, dtype: str, n: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:  # run from scratch: nothing in the repository shadows a library
        try:
            done = subprocess.run([sys.executable, "-c", REFERENCE, framework, device, dtype, str(n), str(threads)],
                                  capture_output=True, text=True, timeout=REFERENCE_TIMEOUT_S, cwd=scratch,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        except subprocess.TimeoutExpired:
            return {"error": f"no result within {REFERENCE_TIMEOUT_S} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def percent(value: float | None, peak: float | None) -> str:
    return f"{100 * value / peak:.0f}%" if value and peak else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="the device to check (default: the first accelerator found)")
    parser.add_argument("--n", type=int, help=f"the reference matmul's size (default {GPU_N}; {CPU_N} on a CPU)")
    args = parser.parse_args()
    started = time.perf_counter()
    hardware = inventory()
    kinds = [a["kind"] for a in hardware["accelerators"]]
    device = args.device or (kinds[0] if kinds else None)
    if device is None:
        print("no accelerator found on this machine: the accelerator paths are tested on recorded fixtures "
              "only; run with --device cpu for a dry run of this script")
        return 2
    if device != "cpu" and device not in kinds:
        print(f"no {device} device here (found: {', '.join(kinds) or 'none'})")
        return 2
    n = args.n or (CPU_N if device == "cpu" else GPU_N)
    names = ", ".join(f"{a['count']}x {a['name']}" for a in hardware["accelerators"]) or "no accelerator"
    print(f"device check on {device} ({names}); reference matmul n={n}")

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "report.json"
        probe_started = time.perf_counter()
        done = subprocess.run([*cli(), "probe", "--fresh", "--no-store", "--json", str(out)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        probe_wall = time.perf_counter() - probe_started
        if done.returncode != 0:
            print(f"the probe failed ({done.returncode}): {done.stderr[-2000:]}")
            return 1
        report = json.loads(out.read_text())
    runs = [f for f in report["frameworks"] if "failure" not in f]
    imports = max((f["import_s"] for f in runs), default=0.0)
    timed = sum(b["timing"]["total_s"] for f in runs for b in f["benchmarks"])
    print(f"probe: {probe_wall:.1f} s whole process ({report['duration_s']:.1f} s inside), imports "
          f"{imports:.1f} s (the slowest; they overlap), timed work {timed:.1f} s, everything else "
          f"{probe_wall - imports - timed:.1f} s")
    for failure in report.get("failures", []):
        print(f"  {failure['framework']}: failed ({failure['kind']}): {failure['message'][:200]}")

    ok = True
    print(f"\n{'framework':<11} {'dtype':<5} {'probe GFLOP/s':>14} {'% peak':>7} {'reference':>10} {'% peak':>7} "
          f"{'probe/ref':>9}")
    for run in runs:
        reached = {d["device"] for d in run["devices"] if d["usable"]}
        if device not in reached:
            why = next((u for u in run["unused_accelerators"] if u["kind"] == device), None)
            print(f"{run['framework']:<11} does not use {device}: {why['reason'] if why else 'not seen'}")
            continue
        for dtype, name in (("fp32", "matmul_fp32"), ("bf16", "matmul_bf16")):
            if time.perf_counter() - started > BUDGET_S - REFERENCE_TIMEOUT_S:
                print("stopping: the 8-minute budget is nearly spent")
                return 1
            figure = next((b for b in run["benchmarks"] if b["name"] == name and b["device"] == device
                           and b.get("role", "headline") == "headline"), None)
            peak, _ = nominal_peak(hardware, device, dtype)
            measured = reference(run["framework"], device, dtype, n, report.get("threads") or 1)
            if "error" in measured:
                if not (dtype == "bf16" and run["framework"] == "numpy"):
                    print(f"{run['framework']:<11} {dtype:<5} reference failed: {measured['error']}")
                    ok = False
                continue
            value = figure["value"] if figure else None
            ratio = f"{value / measured['gflops']:.2f}" if value else "-"
            size = f" (n={figure['size']})" if figure and figure.get("size") else ""
            print(f"{run['framework']:<11} {dtype:<5} {value or 0:>14.1f} {percent(value, peak):>7} "
                  f"{measured['gflops']:>10.1f} {percent(measured['gflops'], peak):>7} {ratio:>9}{size}")
    for dtype in ("fp32", "bf16"):
        peak, source = nominal_peak(hardware, device, dtype)
        if peak:
            print(f"nominal {dtype} peak: {peak:.0f} GFLOP/s ({source})")
    print(f"\ndevice check finished in {time.perf_counter() - started:.0f} s (budget {BUDGET_S} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

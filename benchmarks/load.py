"""Load test: wrk against the real server (gunicorn, gthread), loopback only, bounded in time.

Prints requests/s, p50 and p99 latency and errors for GET /healthz, POST /v1/recommendations (with an
explicit hardware profile) and GET /v1/frameworks at 32 connections, the ratio of recommendation to
healthz throughput, and the workers' resident memory sampled over a 60 s mixed run (after a 15 s warm-up
that fills the per-worker answer cache; its recommendations cycle through more distinct questions than
the cache holds, so memory is measured with the cache full and evicting).

Targets (issue 6): ratio >= 0.5; p99 of recommendations < 50 ms at 32 connections; zero errors
(socket errors, timeouts and non-2xx answers); the workers' memory flat over the 60 s run.
Exit status 0 when every target is met, 1 otherwise, 2 when wrk is missing (`make load` installs it).

Run: .venv/bin/python benchmarks/load.py [--duration 10] [--rss-seconds 60] [--connections 32] [--interleave 5]
--interleave ROUNDS runs /healthz and every-body-different recommendations in turn, ROUNDS times, and prints the
median ratio of their throughputs with its range (issue 12's target: >= 0.5), so both share the same minutes.
wrk shares the machine's cores with the server: compare rows, not absolutes, and note the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server_process import running_server  # noqa: E402

RECOMMENDATION = {
    "goals": ["research", "production"], "experience": "intermediate",
    "hardware": {"os": "linux", "arch": "x86_64", "cpu": {"model": "AMD EPYC 9654", "cores": 96},
                 "memory_gb": 768,
                 "accelerators": [{"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8, "memory_gb": 80,
                                   "cores": 132, "compute_capability": "9.0"}]},
}
MAX_RSS_GROWTH_MB = 10.0  # "flat": what the workers may gain between the first and last sample after warm-up

# wrk's done() hook prints one JSON line with exact counts and percentiles (no parsing of its report).
_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('@@result {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _lua_for(method: str, body: dict | None) -> str:
    if body is None:
        return f'wrk.method = "{method}"\n' + _LUA_DONE
    encoded = json.dumps(json.dumps(body))  # a Lua string literal is a JSON string literal here
    return (f'wrk.method = "{method}"\nwrk.body = {encoded}\n'
            'wrk.headers["Content-Type"] = "application/json"\n' + _LUA_DONE)


def _lua_mixed() -> str:
    """healthz, frameworks and recommendations in turn; the recommendations cycle through 1,000 hardware
    profiles, more than the answer cache holds, so its eviction runs all along (memory must stay flat)."""
    marker = 987654321
    prefix, suffix = json.dumps({**RECOMMENDATION, "hardware": {**RECOMMENDATION["hardware"],
                                                                "memory_gb": marker}}).split(str(marker))
    return (f'local prefix = {json.dumps(prefix)}\nlocal suffix = {json.dumps(suffix)}\nlocal i = 0\n'
            'request = function()\n  i = i + 1\n  local k = i % 3\n'
            '  if k == 0 then return wrk.format("GET", "/healthz") end\n'
            '  if k == 1 then return wrk.format("GET", "/v1/frameworks") end\n'
            '  return wrk.format("POST", "/v1/recommendations", {["Content-Type"] = "application/json"}, '
            'prefix .. (i % 1000 + 1) .. suffix)\nend\n' + _LUA_DONE)


def _lua_distinct(first: int = 0) -> str:
    """Every request a different hardware profile (memory_gb counts up from ``first``): no answer is ever
    repeated."""
    marker = 987654321
    prefix, suffix = json.dumps({**RECOMMENDATION, "hardware": {**RECOMMENDATION["hardware"],
                                                                "memory_gb": marker}}).split(str(marker))
    return (f'local prefix = {json.dumps(prefix)}\nlocal suffix = {json.dumps(suffix)}\nlocal n = {int(first)}\n'
            'request = function()\n  n = n + 1\n'
            '  return wrk.format("POST", "/v1/recommendations", {["Content-Type"] = "application/json"}, '
            'prefix .. n .. suffix)\nend\n' + _LUA_DONE)


def run_wrk(base_url: str, path: str, lua: str, seconds: int, connections: int, threads: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        completed = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", script.name,
             base_url + path], capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(script.name)
    line = next((l for l in completed.stdout.splitlines() if l.startswith("@@result ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    result = json.loads(line.removeprefix("@@result "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def worker_rss_mb(master_pid: int) -> dict[int, float]:
    """Resident memory of the gunicorn workers (the master's children), by pid."""
    master = psutil.Process(master_pid)
    # `framework-advisor serve` is the gunicorn master; its children are the workers.
    return {child.pid: child.memory_info().rss / 2**20 for child in master.children()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint (default 10)")
    parser.add_argument("--rss-seconds", type=int, default=60, help="length of the memory run (default 60)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1: leave the cores "
                                                                    "to the server)")
    parser.add_argument("--interleave", type=int, default=0, metavar="ROUNDS", help=(
        "also run GET /healthz and every-body-different recommendations in turn ROUNDS times and print the "
        "median throughput ratio with its range (a noisy machine: both share the same minutes)"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: `make load` installs it (apt-get install wrk, as root on Debian/Ubuntu)",
              file=sys.stderr)
        return 2

    failures = []
    with tempfile.TemporaryDirectory() as data_dir, running_server(Path(data_dir)) as (base_url, process, _):
        load_avg = os.getloadavg()
        print(f"server {base_url} (gunicorn gthread, 2 workers x 4 threads); wrk -t{args.wrk_threads} "
              f"-c{args.connections}; load average before: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}; "
              f"{os.cpu_count()} CPUs shared by wrk and the server")
        endpoints = [("GET /healthz", "/healthz", _lua_for("GET", None)),
                     ("POST /v1/recommendations", "/v1/recommendations", _lua_for("POST", RECOMMENDATION)),
                     ("GET /v1/frameworks", "/v1/frameworks", _lua_for("GET", None))]
        for _, path, lua in endpoints:  # warm both workers (first requests compile and cache)
            run_wrk(base_url, path, lua, 2, args.connections, args.wrk_threads)
        results = {}
        print(f"{'endpoint':26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'requests':>9} {'errors':>7}")
        for name, path, lua in endpoints:
            r = results[name] = run_wrk(base_url, path, lua, args.duration, args.connections, args.wrk_threads)
            print(f"{name:26} {r['rps']:9.0f} {r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:8.2f} "
                  f"{r['max_us'] / 1000:8.2f} {r['requests']:9d} {r['errors']:7d}")
            if r["errors"]:
                failures.append(f"{name}: {r['errors']} errors {({k: r[k] for k in ('connect', 'read', 'write', 'status', 'timeout') if r[k]})}")
        # Not a target: the same endpoint when no answer repeats (each request evaluates the rule base).
        r = run_wrk(base_url, "/v1/recommendations", _lua_distinct(), args.duration, args.connections,
                    args.wrk_threads)
        print(f"{'  (every body different)':26} {r['rps']:9.0f} {r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:8.2f} "
              f"{r['max_us'] / 1000:8.2f} {r['requests']:9d} {r['errors']:7d}   uncached: for reference")
        if r["errors"]:
            failures.append(f"distinct recommendations: {r['errors']} errors")
        if args.interleave:
            rounds = []
            served = r["requests"]  # bodies already sent: every later one is new too
            for _ in range(args.interleave):
                health = run_wrk(base_url, "/healthz", _lua_for("GET", None), args.duration, args.connections,
                                 args.wrk_threads)
                distinct = run_wrk(base_url, "/v1/recommendations", _lua_distinct(served), args.duration,
                                   args.connections, args.wrk_threads)
                served += distinct["requests"] + 1
                rounds.append((health, distinct))
                print(f"  interleaved: healthz {health['rps']:.0f} req/s (p99 {health['p99_us'] / 1000:.1f} ms), "
                      f"every body different {distinct['rps']:.0f} req/s (p99 {distinct['p99_us'] / 1000:.1f} ms, "
                      f"{distinct['errors']} errors)")
            ratios = sorted(d["rps"] / h["rps"] for h, d in rounds)
            for label, values in (("healthz req/s", [h["rps"] for h, _ in rounds]),
                                  ("every body different req/s", [d["rps"] for _, d in rounds]),
                                  ("every body different p99 ms", [d["p99_us"] / 1000 for _, d in rounds])):
                print(f"  {label}: median {statistics.median(values):.1f} (range {min(values):.1f}-{max(values):.1f})")
            print(f"every body different / healthz throughput, interleaved: median {statistics.median(ratios):.2f} "
                  f"(range {ratios[0]:.2f}-{ratios[-1]:.2f} over {len(ratios)} rounds; target >= 0.5)")
        ratio = results["POST /v1/recommendations"]["rps"] / results["GET /healthz"]["rps"]
        p99 = results["POST /v1/recommendations"]["p99_us"] / 1000
        print(f"recommendations / healthz throughput: {ratio:.2f} (target >= 0.5)")
        print(f"recommendations p99 at {args.connections} connections: {p99:.1f} ms (target < 50 ms)")
        if ratio < 0.5:
            failures.append(f"ratio {ratio:.2f} < 0.5")
        if p99 >= 50:
            failures.append(f"recommendations p99 {p99:.1f} ms >= 50 ms")

        # Memory over a mixed run: sample the workers' RSS every few seconds while wrk runs.
        samples: list[tuple[float, dict[int, float]]] = []
        stop = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - started, worker_rss_mb(process.pid)))
                stop.wait(5)

        run_wrk(base_url, "/", _lua_mixed(), 15, args.connections, args.wrk_threads)  # fills the cache; not sampled
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        mixed = run_wrk(base_url, "/", _lua_mixed(), args.rss_seconds, args.connections, args.wrk_threads)
        stop.set()
        sampler.join()
        samples.append((float(args.rss_seconds), worker_rss_mb(process.pid)))
        print(f"mixed run {args.rss_seconds} s (healthz, frameworks, recommendations over 1,000 profiles in turn): "
              f"{mixed['rps']:.0f} req/s, p99 {mixed['p99_us'] / 1000:.2f} ms, {mixed['errors']} errors")
        if mixed["errors"]:
            failures.append(f"mixed run: {mixed['errors']} errors")
        pids = sorted(samples[0][1])
        print("workers' RSS (MB) over the run:  t(s)  " + "  ".join(f"pid {pid}" for pid in pids))
        for at, rss in samples:
            print(f"{'':33}{at:5.0f}  " + "  ".join(f"{rss.get(pid, float('nan')):>{len(str(pid)) + 4}.1f}"
                                                  for pid in pids))
        for pid in pids:
            series = [rss[pid] for _, rss in samples if pid in rss]
            growth = series[-1] - series[0]
            print(f"worker {pid}: {series[0]:.1f} -> {series[-1]:.1f} MB ({growth:+.1f} MB; flat means "
                  f"< {MAX_RSS_GROWTH_MB:.0f} MB)")
            if growth >= MAX_RSS_GROWTH_MB:
                failures.append(f"worker {pid} grew {growth:.1f} MB over {args.rss_seconds} s")
            if len(series) != len(samples):
                failures.append(f"worker {pid} was replaced during the run")
    load_avg = os.getloadavg()
    print(f"load average after: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())

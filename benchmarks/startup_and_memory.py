"""Prints the service's start-up time (process start to the first answered /healthz) and the
resident memory of its processes (gunicorn master and workers) after a few requests.

Targets (issue 2): start-up under 2 s; each web process under 150 MB resident.
Run: .venv/bin/python benchmarks/startup_and_memory.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server_process import running_server  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as data_dir, running_server(Path(data_dir)) as (base_url, process, startup):
        body = json.dumps({"goals": ["research"], "experience": "expert"}).encode()
        for _ in range(20):  # warm every worker a little, including a "this machine" recommendation
            urllib.request.urlopen(urllib.request.Request(
                f"{base_url}/v1/recommendations", data=body, headers={"Content-Type": "application/json"}),
                timeout=10).read()
        master = psutil.Process(process.pid)
        processes = [master, *master.children(recursive=True)]
        resident = {p.pid: p.memory_info().rss / 2**20 for p in processes}
    print(f"start-up to first /healthz 200: {startup:.2f} s (target < 2 s)")
    for pid, megabytes in resident.items():
        role = "master" if pid == process.pid else "worker"
        print(f"resident memory {role:6} pid {pid}: {megabytes:.1f} MB (target < 150 MB)")
    ok = startup < 2 and max(resident.values()) < 150
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

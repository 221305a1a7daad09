"""Fuzz the real server: schemathesis's CLI over the whole openapi.yaml against gunicorn on 127.0.0.1.

Starts the service as `serve` does (gunicorn, gthread workers, preloaded app) on a free loopback port
with a private data directory and a fake, instant probe (POST /v1/probes must not start real framework
benchmarks), then runs every schemathesis phase (examples, coverage, fuzzing, stateful) with every
check. Exit status: schemathesis's (0: no failures).

Run: .venv/bin/python benchmarks/fuzz_server.py [--max-examples 50] [--seed 1] [--max-time 300]
     (or `make fuzz`). Extra arguments after `--` go to `schemathesis run`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def _serve(port: int, data_dir: str) -> int:
    """Child mode: the service with the fake probe, on loopback."""
    from framework_advisor.config import Settings
    from framework_advisor.server import serve
    from tests.service_fixtures import instant_probe

    # Rate limits the fuzzer will not reach, so POST /v1/probes keeps being exercised past its limiters.
    settings = Settings(data_dir=Path(data_dir) / "data", probe_lock_path=Path(data_dir) / "probe.lock",
                        probe_rate_limit=1_000_000, upload_rate_limit=1_000_000)
    return serve(settings, host="127.0.0.1", port=port, workers=2, threads=4, run_probe=instant_probe)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-time", type=int, default=300,
                        help="schemathesis's time budget in seconds (the stateful phase runs until it is spent)")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    if args.serve:
        return _serve(int(args.serve[0]), args.serve[1])
    extra = [arg for arg in extra if arg != "--"]

    from tests.server_process import free_port

    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if schemathesis is None:
        print("schemathesis is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), data_dir], cwd=REPO_ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    print(server.stderr.read().decode(), file=sys.stderr)
                    return 3
                try:
                    with urllib.request.urlopen(f"{base_url}/healthz", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        print("the server did not answer /healthz within 60 s", file=sys.stderr)
                        return 3
                    time.sleep(0.1)
            command = [schemathesis, "run", str(REPO_ROOT / "openapi.yaml"), "--url", base_url, "--checks", "all",
                       "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                       "--max-time", str(args.max_time), "--workers", "1", *extra]
            print("$ " + " ".join(command), flush=True)
            # In the scratch directory: schemathesis keeps its own cache (.schemathesis/) out of the checkout.
            return subprocess.run(command, cwd=data_dir, check=False).returncode
        finally:
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:  # it already exited (and said why above)
                pass
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            server.stderr.close()


if __name__ == "__main__":
    sys.exit(main())

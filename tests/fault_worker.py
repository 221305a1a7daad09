"""A stand-in worker that misbehaves on purpose, for the runner's fault-injection tests.

Usage: python tests/fault_worker.py MODE FRAMEWORK --out PATH
"""

import json
import os
import signal
import sys
import time


def main() -> None:
    mode, framework, out = sys.argv[1], sys.argv[2], sys.argv[4]
    print('@@progress {"step": "start"}', file=sys.stderr, flush=True)
    if mode == "hang":  # an import that never returns, with a child that would outlive a careless runner
        os.spawnlp(os.P_NOWAIT, "sleep", "sleep", "300")
        time.sleep(300)
    elif mode == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "raise":
        raise RuntimeError("the framework exploded during import")
    elif mode == "import-error":
        import framework_that_is_not_installed  # noqa: F401
    elif mode == "alloc":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))
    elif mode == "garbage":
        with open(out, "w") as handle:
            handle.write("{not json")
        return
    result = {"framework": framework, "version": "0.0", "import_s": 0.01, "first_result_s": 0.001,
              "devices": [{"device": "cpu", "name": "cpu", "usable": True}], "unused_accelerators": [],
              "benchmarks": [{"name": "matmul_fp32", "device": "cpu", "params": {"n": 8}, "unit": "GFLOP/s",
                              "value": 10.0, "best": 11.0, "checked": True}],
              "errors": []}
    with open(out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()

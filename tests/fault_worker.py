"""A stand-in worker that misbehaves on purpose, for the runner's fault-injection tests.

Usage: python tests/fault_worker.py MODE FRAMEWORK --out PATH

``ok`` writes a small valid WorkerResult; ``garbage`` writes text that is not JSON; ``wrong-type`` and
``missing-field`` write JSON that breaks the model; ``other-framework`` writes a valid result for another
framework. The rest hang, crash, raise or eat memory.
"""

import json
import os
import signal
import sys
import time

TIMING = {"median_s": 0.002, "min_s": 0.0019, "p10_s": 0.00195, "iqr_s": 0.0001, "samples": 5, "block_size": 1,
          "total_s": 0.02, "noisy": False, "per_call_s": [0.002, 0.0019, 0.0021, 0.002, 0.002]}


def valid_result(framework: str) -> dict:
    return {"framework": framework, "version": "0.0", "threads": 1, "import_s": 0.01, "first_result_s": 0.001,
            "duration_s": 0.05, "devices": [{"device": "cpu", "name": "cpu", "usable": True}],
            "unused_accelerators": [],
            "benchmarks": [{"name": "matmul_fp32", "device": "cpu", "params": {"n": 8}, "unit": "GFLOP/s",
                            "value": 10.0, "best": 11.0, "checked": True, "timing": TIMING}],
            "errors": []}


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
    result = valid_result(framework)
    if mode == "garbage":
        text = "{not json"
    elif mode == "wrong-type":
        result["benchmarks"][0]["value"] = "fast"
        result["threads"] = "two"
        text = json.dumps(result)
    elif mode == "missing-field":
        del result["version"]
        text = json.dumps(result)
    elif mode == "other-framework":
        result["framework"] = "jax" if framework != "jax" else "numpy"
        text = json.dumps(result)
    elif mode == "nothing":
        return
    else:
        text = json.dumps(result)
    with open(out, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()

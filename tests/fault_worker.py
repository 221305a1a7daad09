"""A stand-in worker that misbehaves on purpose, for the fault-injection tests of the worker processes.

Usage: python tests/fault_worker.py MODE FRAMEWORK --out PATH --reply-fd N

It speaks the worker's protocol (framework_advisor/probes/worker/messages.py): a Ready with a one-benchmark
plan, then fake replies to every command, then, on `exit`, a small valid WorkerResult. Each MODE breaks that
at one point:

- during start-up (no Ready): ``hang`` (with a child that would outlive a careless parent), ``segfault``,
  ``raise``, ``import-error``, ``alloc`` (runaway memory);
- later: ``hang-in-turn`` (the first sample never answers), ``die-in-turn`` (SIGSEGV on the first sample),
  ``bad-reply`` (a reply that is not JSON), ``wrong-reply`` (a reply of the wrong shape);
- at the end: ``garbage`` (the result file is not JSON), ``wrong-type`` and ``missing-field`` (JSON that
  breaks the model), ``other-framework`` (a valid result for another framework), ``nothing`` (no result);
- ``ok`` does everything right (its own size is 8); ``big`` too, at its own size 16 (and at any size asked);
  ``no-small`` runs at 16 only and refuses a smaller size.
"""

import json
import os
import signal
import sys
import time

TIMING = {"median_s": 0.002, "min_s": 0.0019, "p10_s": 0.00195, "iqr_s": 0.0001, "samples": 5, "block_size": 1,
          "total_s": 0.02, "noisy": False, "per_call_s": [0.002, 0.0019, 0.0021, 0.002, 0.002]}
SETUP = {"version": "0.0", "threads": 1, "import_s": 0.01, "first_result_s": 0.001}
DEVICES = [{"device": "cpu", "name": "cpu", "usable": True}]


def valid_result(framework: str) -> dict:
    return {"framework": framework, **SETUP, "duration_s": 0.05, "devices": DEVICES, "unused_accelerators": [],
            "benchmarks": [{"name": "matmul_fp32", "device": "cpu", "params": {"n": 8}, "unit": "GFLOP/s",
                            "value": 10.0, "best": 11.0, "checked": True, "timing": TIMING, "size": 8}],
            "errors": []}


def start_up(mode: str) -> None:
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


def reply_to(mode: str, command: dict, replies) -> None:
    kind = command["cmd"]
    if kind == "sample" and mode == "hang-in-turn":
        time.sleep(300)
    if kind == "sample" and mode == "die-in-turn":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "bad-reply":
        replies.write("{this is not json\n")
    elif mode == "wrong-reply":
        replies.write(json.dumps({"type": "samples", "benchmark": "matmul_fp32", "per_call_s": "fast"}) + "\n")
    elif kind == "calibrate":
        replies.write(json.dumps({"type": "calibration", "gflops": 50.0, "threads": 1, "seconds": 0.01,
                                  "method": "pretend"}) + "\n")
    elif kind == "prepare" and mode == "no-small" and command["size"] is not None:
        replies.write(json.dumps({"type": "failed", "benchmark": command["benchmark"], "device": command["device"],
                                  "kind": "exception", "message": "cannot run that small"}) + "\n")
    elif kind == "prepare":
        own = 16 if mode in ("big", "no-small") else 8
        replies.write(json.dumps({"type": "prepared", "benchmark": command["benchmark"], "device": command["device"],
                                  "size": command["size"] or own, "standard_size": 16, "block_size": 1,
                                  "per_call_s": 0.002}) + "\n")
    elif kind == "sample":
        replies.write(json.dumps({"type": "samples", "benchmark": command["benchmark"], "device": command["device"],
                                  "size": command["size"], "per_call_s": [0.002] * command["blocks"],
                                  "wall_s": 0.01}) + "\n")
    else:  # finish: the record is in the result written at exit
        record = valid_result("numpy")["benchmarks"][0]
        replies.write(json.dumps({"type": "finished", "record": record}) + "\n")
    replies.flush()


def write_result(mode: str, framework: str, out: str) -> None:
    result = valid_result(framework)
    if mode == "nothing":
        return
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
    else:
        text = json.dumps(result)
    with open(out, "w") as handle:
        handle.write(text)


def main() -> None:
    mode, framework, out, reply_fd = sys.argv[1], sys.argv[2], sys.argv[4], int(sys.argv[6])
    print('@@progress {"step": "start"}', file=sys.stderr, flush=True)
    start_up(mode)
    with os.fdopen(reply_fd, "w") as replies:
        replies.write(json.dumps({"type": "ready", "framework": framework, **SETUP, "devices": DEVICES,
                                  "plan": [{"benchmark": "matmul_fp32", "device": "cpu", "standard_size": 8,
                                            "size_key": "n"}]}) + "\n")
        replies.flush()
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "exit":
                break
            reply_to(mode, command, replies)
        else:
            sys.exit(3)  # stdin closed without exit: the parent is gone
    write_result(mode, framework, out)


if __name__ == "__main__":
    main()

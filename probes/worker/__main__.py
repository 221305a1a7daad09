"""The worker: one framework, one fresh process, honest microbenchmarks, one JSON result.

    python -m framework_advisor.probes.worker FRAMEWORK --out PATH --threads N --deadline-s S
        [--quick | --thorough] [--accelerators cuda,...] [--cpu-flags avx2,...] [--peaks JSON]
        [--reply-fd FD] [--cpus 0,1,...]

The command line is ``options.WorkerOptions`` (the parent builds it with ``to_argv``). Before the framework
is imported the worker

- sets the thread count every framework will use (OMP/MKL/OpenBLAS/BLIS/vecLib env vars; XLA's Eigen pool
  flags for one thread; torch.set_num_threads and tf.config.threading once imported), so that frameworks are
  compared at equal thread counts; the CPU affinity (``--cpus``, or the first N usable CPUs when fewer
  threads than usable CPUs are asked for) is applied after the set-up, so that workers started together
  import in parallel;
- sets PYTORCH_NVML_BASED_CUDA_CHECK=1, XLA_PYTHON_CLIENT_PREALLOCATE=false and TF_CPP_MIN_LOG_LEVEL=2;
- points TMPDIR and every compile cache it knows (Inductor, Triton, MLX's kernels under $TMPDIR/mlx, the
  CUDA JIT cache, XDG caches) at a fresh temporary directory, turns JAX's persistent cache off, and removes
  that directory at the end: compile figures are cold, and nothing is left behind.

It dies with its parent: a parent that passed a watchdog pipe (``watchdog``) is watched from the first line,
and when it is gone, however it went, the worker's whole process group is killed.

With ``--reply-fd`` the parent drives it (``messages``): after its set-up it sends a Ready on that file
descriptor and carries out the commands it reads on stdin until "exit"; stdin closed without one means the
parent is gone, and the worker leaves at once with status ``PARENT_GONE_STATUS``, writing nothing. Without
it the worker measures its whole plan itself (``suite.run_standalone``).

Progress goes to stderr as ``@@progress {json}`` lines. The result, a ``records.WorkerResult``, is written
atomically to --out and the exit status is 0. A framework that fails to import raises: the traceback goes
to stderr and the status is non-zero, which the runner classifies.

Standard library only at module level, and relative imports only: this package may run in an interpreter
that has nothing but the frameworks it measures.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from .adapters import ADAPTERS
from .cleanup import ABANDONED, exit_after_abandoned_compile
from .conversation import converse
from .machine import isolate_caches
from .options import WorkerOptions
from .protocol import PARENT_GONE_STATUS, ParentGone, ReplyChannel, write_result
from .records import WorkerResult
from .setup import set_up
from .suite import run_standalone
from .watchdog import watch_parent


def run(options: WorkerOptions, started: float | None = None) -> WorkerResult:
    """Measure ``options.framework`` in this process on its own (no parent driving it) and return the result;
    ``started``: when the worker started (perf_counter)."""
    setup = set_up(options, time.perf_counter() if started is None else started)
    setup.pin()
    conversation = setup.conversation()
    run_standalone(conversation)
    return setup.result(conversation)


def _leave(scratch: Path, status: int) -> None:
    """Exit now, without the framework's interpreter teardown (TensorFlow: ~1 s of thread pools and atexit
    hooks that measure nothing), the scratch directory removed (or handed on, after an abandoned compile)."""
    if ABANDONED:
        exit_after_abandoned_compile(scratch, status)
    shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    watch_parent()  # before anything that could take long: the options, the scratch, the framework's import
    options = WorkerOptions.from_argv(argv, list(ADAPTERS))
    scratch = isolate_caches()
    try:
        if options.reply_fd is None:
            result = run(options, started)
        else:
            replies = ReplyChannel(options.reply_fd)
            setup = set_up(options, started)
            conversation = setup.conversation()
            replies.send(setup.ready())
            converse(conversation, sys.stdin.buffer, replies, on_first_command=setup.pin)
            result = setup.result(conversation)
        write_result(options.out, result)
    except ParentGone as gone:
        sys.stderr.write(f"framework-advisor worker: {gone}; leaving without a result\n")
        _leave(scratch, PARENT_GONE_STATUS)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # e.g. the framework failed to import: the runner classifies it
        raise
    _leave(scratch, 0)  # the result is written (and fsynced)
    return 0


if __name__ == "__main__":
    sys.exit(main())

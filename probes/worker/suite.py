"""The suite: which benchmarks run on which device, in what order (the plan), and the worker's own run of it.

Accelerators are measured first and cold compiles last (an abandoned compile keeps its thread, and nothing
is measured after it). ``--quick`` runs a documented subset, the same for every framework, so that quick
figures compare; compiles that run an external compiler wait for ``--thorough``.

A worker with a parent that drives it (``--reply-fd``) sends the plan in its Ready and is told what to
measure when (``conversation``). A worker on its own runs the plan itself (``run_standalone``) through the
same sessions: each benchmark prepared at its own size, sampled until it settles (at least
``STANDALONE_MIN_BLOCKS`` blocks) or its budget is spent, and finished.
"""

from __future__ import annotations

from .adapter import Adapter
from .conversation import Conversation
from .messages import Failed, PlanEntry, Prepared
from .records import DeviceSeen, SkippedBenchmark
from .sizes import standard_size

# What --quick measures. Left out: matmul_bf16, conv2d, mlp_step_eager (JAX's first eager step alone compiles
# ~30 primitives, ~1.7 s) and the compiled step; h2d_copy stays (accelerators only).
QUICK_BENCHMARKS = ("matmul_fp32", "elementwise_bandwidth", "dispatch_latency", "h2d_copy")
THOROUGH_HINT = "framework-advisor probe --thorough (over HTTP: POST /v1/probes {\"thorough\": true})"
# A self-driven benchmark takes at least this many blocks before it may stop as settled (issue 10: a
# spread from fewer means little); its budget still ends it sooner, and the record then says "budget".
STANDALONE_MIN_BLOCKS = 10


def _no_bf16_reason(fw: Adapter, device: str) -> str:
    if device == "cpu" and not fw.settings.options.cpu_flags:
        return "no CPU flags were passed (--cpu-flags): bf16 support is unknown, so it is not measured"
    return "no fast bf16 here (x86 CPUs need avx512_bf16 or AMX; Arm CPUs the bf16 extension)"


def plan(fw: Adapter, devices: list[DeviceSeen]) -> tuple[list[PlanEntry], list[SkippedBenchmark]]:
    """The benchmarks to run, accelerators first, compiled steps last, each with its standard size; and the
    ones skipped up front (with why)."""
    quick = fw.settings.quick
    kinds = []
    for entry in devices:
        if entry.usable and entry.device not in kinds:
            kinds.append(entry.device)
    kinds.sort(key=lambda kind: kind == "cpu")
    planned: list[PlanEntry] = []
    skipped: list[SkippedBenchmark] = []

    def add(name: str, device: str) -> None:
        size, key = standard_size(name, device, fw.settings)
        planned.append(PlanEntry(benchmark=name, device=device, standard_size=size, size_key=key))

    def skip(name: str, device: str, reason: str) -> None:
        skipped.append(SkippedBenchmark(benchmark=name, device=device, reason=reason))

    def add_or_skip(name: str, device: str) -> None:
        if quick and name not in QUICK_BENCHMARKS:
            skip(name, device, f"not in the quick subset ({', '.join(QUICK_BENCHMARKS)}); a full probe measures it")
        else:
            add(name, device)

    for device in kinds:
        add("matmul_fp32", device)
        if fw.bf16_ok(device):
            add_or_skip("matmul_bf16", device)
        else:
            skip("matmul_bf16", device, fw.no_bf16_reason or _no_bf16_reason(fw, device))
        if fw.has_conv:
            add_or_skip("conv2d", device)
        else:
            skip("conv2d", device, f"{fw.framework} has no convolution operation")
        add_or_skip("elementwise_bandwidth", device)
        add_or_skip("dispatch_latency", device)
        add_or_skip("mlp_step_eager", device)
        if device != "cpu":
            add_or_skip("h2d_copy", device)
    # Compiled steps go last: a compile that overruns its deadline is abandoned with its thread still
    # running, and nothing may be measured after that.
    for device in kinds:
        if fw.compiler is None:
            skip("mlp_step_compiled", device, f"{fw.framework} has no compiler")
        elif quick:
            skip("mlp_step_compiled", device, "skipped in quick mode (a cold compile takes seconds)")
        elif fw.slow_compile(device) and not fw.settings.thorough:
            skip("mlp_step_compiled", device, f"not measured by default: {fw.slow_compile(device)}; measure it "
                                              f"with {THOROUGH_HINT}")
        else:
            add("mlp_step_compiled", device)
    return planned, skipped


def run_standalone(conversation: Conversation) -> None:
    """Measure every planned benchmark in order, as a parent would with one framework and no rounds: prepared
    at its own size, sampled until it settles or its budget is spent, finished. Failures land in the
    conversation's errors and skips, as they do when a parent drives it."""
    settings = conversation.fw.settings
    for entry in conversation.plan:
        prepared = conversation.prepare(entry.benchmark, entry.device)
        if not isinstance(prepared, Prepared):
            continue
        sampled = conversation.settle(entry.benchmark, entry.device, prepared.size, STANDALONE_MIN_BLOCKS,
                                      settings.min_total_s)
        if not isinstance(sampled, Failed):
            conversation.finish(entry.benchmark, entry.device, prepared.size)

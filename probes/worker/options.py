"""What one worker is asked to do, and its command line: built by the parent, parsed by the worker.

Both ends use this one class, so the worker's argv is never written out by hand twice. The parent
decides everything the worker needs to know about the machine and the run: the thread count, the
accelerators present, the device peaks (from the parent's System seam, never re-read here), the
deadline by which the result must be written (the parent kills the worker at its timeout), the CPUs to
run on, and whether it drives the worker in turns (``reply_fd``: see ``messages``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Optional

from ..vocabulary import ACCELERATOR_KINDS
from .records import Peak


@dataclasses.dataclass(frozen=True)
class WorkerOptions:
    framework: str
    out: str
    threads: int
    deadline_s: float  # seconds from the worker's start; a little before the parent's timeout
    quick: bool = False
    thorough: bool = False  # also cold compiles that run an external compiler (torch.compile, mx.compile)
    accelerators: tuple[str, ...] = ()
    # the CPU's ISA flags from the parent's inventory (Linux spelling: avx512f, avx512_bf16, amx_bf16, neon, bf16)
    cpu_flags: tuple[str, ...] = ()
    # device kind -> precision ("fp32", "bf16") -> the peak a FLOP figure on it is a percent of
    peaks: dict[str, dict[str, Peak]] = dataclasses.field(default_factory=dict)
    # Set: the parent drives the worker in turns (commands on stdin, replies to this file descriptor, see
    # messages); None: the worker measures its plan on its own and writes the result.
    reply_fd: Optional[int] = None
    # The CPUs to run on, chosen by the parent; empty: the first `threads` CPUs this process may use.
    cpus: tuple[int, ...] = ()

    def to_argv(self) -> list[str]:
        argv = [self.framework, "--out", self.out, "--threads", str(self.threads),
                "--deadline-s", f"{self.deadline_s:g}"]
        if self.quick:
            argv.append("--quick")
        if self.thorough:
            argv.append("--thorough")
        if self.accelerators:
            argv += ["--accelerators", ",".join(self.accelerators)]
        if self.cpu_flags:
            argv += ["--cpu-flags", ",".join(self.cpu_flags)]
        if self.peaks:
            peaks = {device: {dtype: dataclasses.asdict(peak) for dtype, peak in by_dtype.items()}
                     for device, by_dtype in self.peaks.items()}
            argv += ["--peaks", json.dumps(peaks, separators=(",", ":"))]
        if self.reply_fd is not None:
            argv += ["--reply-fd", str(self.reply_fd)]
        if self.cpus:
            argv += ["--cpus", ",".join(str(cpu) for cpu in self.cpus)]
        return argv

    @classmethod
    def from_argv(cls, argv: Optional[list[str]], frameworks: list[str]) -> WorkerOptions:
        parser = argparse.ArgumentParser(prog="python -m framework_advisor.probes.worker",
                                         description="Measure one framework in this fresh process.")
        parser.add_argument("framework", choices=frameworks)
        parser.add_argument("--out", required=True, help="where to write the JSON result")
        parser.add_argument("--threads", type=int, required=True, help="threads for the framework")
        parser.add_argument("--deadline-s", type=float, required=True,
                            help="seconds from start by which the result must be written")
        parser.add_argument("--quick", action="store_true", help="shorter budgets, a subset of benchmarks")
        parser.add_argument("--thorough", action="store_true", help="also cold compiles by an external compiler")
        parser.add_argument("--accelerators", default="", help="comma-separated accelerator kinds present")
        parser.add_argument("--cpu-flags", default="", help="comma-separated CPU ISA flags (the parent's inventory)")
        parser.add_argument("--peaks", default="{}", help="JSON: device -> precision -> Peak")
        parser.add_argument("--reply-fd", type=int, default=None,
                            help="take commands on stdin and reply on this file descriptor (measure in turns)")
        parser.add_argument("--cpus", default="", help="comma-separated CPU numbers to run on (the parent's choice)")
        args = parser.parse_args(argv)
        if args.quick and args.thorough:
            parser.error("--quick and --thorough exclude each other")
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        if args.deadline_s <= 0:
            parser.error("--deadline-s must be > 0")
        try:
            raw: Any = json.loads(args.peaks)
            peaks = {device: {dtype: Peak(**peak) for dtype, peak in by_dtype.items()}
                     for device, by_dtype in raw.items()}
        except (ValueError, TypeError, AttributeError) as exc:
            parser.error(f"--peaks is not a JSON object of device -> precision -> peak ({exc})")
        if args.reply_fd is not None and args.reply_fd < 0:
            parser.error("--reply-fd must be a file descriptor (>= 0)")
        try:
            cpus = tuple(int(cpu) for cpu in _listed(args.cpus))
        except ValueError:
            parser.error(f"--cpus is not a comma-separated list of CPU numbers: {args.cpus!r}")
        if any(cpu < 0 for cpu in cpus):
            parser.error("--cpus: CPU numbers are >= 0")
        accelerators = _listed(args.accelerators)
        unknown = [kind for kind in accelerators if kind not in ACCELERATOR_KINDS]
        if unknown:
            parser.error(f"unknown accelerator kind(s): {', '.join(unknown)} (known: {', '.join(ACCELERATOR_KINDS)})")
        return cls(framework=args.framework, out=args.out, threads=args.threads, deadline_s=args.deadline_s,
                   quick=args.quick, thorough=args.thorough, accelerators=accelerators,
                   cpu_flags=_listed(args.cpu_flags), peaks=peaks, reply_fd=args.reply_fd, cpus=cpus)


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())

"""What one worker is asked to do, and its command line: built by the parent, parsed by the worker.

Both ends use this one class, so the worker's argv is never written out by hand twice. The parent
decides everything the worker needs to know about the machine and the run: the thread count, the
accelerators present, the device peaks (from the parent's System seam, never re-read here) and the
deadline by which the result must be written (the parent kills the worker at its timeout).
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
        accelerators = _listed(args.accelerators)
        unknown = [kind for kind in accelerators if kind not in ACCELERATOR_KINDS]
        if unknown:
            parser.error(f"unknown accelerator kind(s): {', '.join(unknown)} (known: {', '.join(ACCELERATOR_KINDS)})")
        return cls(framework=args.framework, out=args.out, threads=args.threads, deadline_s=args.deadline_s,
                   quick=args.quick, thorough=args.thorough, accelerators=accelerators,
                   cpu_flags=_listed(args.cpu_flags), peaks=peaks)


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())

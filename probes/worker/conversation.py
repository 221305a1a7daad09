"""The worker's side of measuring in turns: its open sessions, what each command does, what the result keeps.

``Conversation`` carries out commands (``prepare``, ``sample``, ``finish``, ``calibrate``; ``handle`` takes a
parsed ``protocol.Command``) and answers each with a reply of ``messages``; any exception inside one command
becomes a ``Failed`` reply and the worker goes on. Sessions are keyed by (benchmark, device, size): a prepare
without a size opens the benchmark's own (headline) session, whose size the later commands may name or leave
out; a prepare at another size opens another session. What finished, failed or was skipped is collected for
the WorkerResult (``outcome``). ``converse`` is the loop over stdin of a worker driven by its parent.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any, BinaryIO, Optional, Union

from ..vocabulary import BENCHMARK_NAMES
from .adapter import Adapter, Skip, clip, exception_text
from .benchmarks import SETUPS
from .calibration import calibrate
from .checks import CheckError
from .cleanup import ABANDONED
from .messages import Calibration, Failed, Finished, PlanEntry, Prepared, Samples
from .protocol import BadCommand, Command, ParentGone, ReplyChannel, parse_command, progress, read_command
from .records import BenchmarkError, BenchmarkRecord, Peak, SkippedBenchmark
from .session import Session, role_of

Key = tuple[str, str, int]
Reply = Union[Calibration, Prepared, Samples, Finished, Failed]
MAX_LISTED = 64  # what each list of a WorkerResult holds


def abandoned_reason() -> str:
    return f"not run: an abandoned compile ({ABANDONED[0]}) is still using the CPU"


class Conversation:
    def __init__(self, fw: Adapter, plan: list[PlanEntry], skipped: list[SkippedBenchmark]):
        self.fw = fw
        self.plan = plan
        self._planned = {(entry.benchmark, entry.device): entry for entry in plan}
        self._skips_up_front = {(entry.benchmark, entry.device): entry.reason for entry in skipped}
        self.sessions: dict[Key, Session] = {}
        self.own_size: dict[tuple[str, str], int] = {}  # the size a prepare without one picked
        self.records: dict[Key, BenchmarkRecord] = {}
        self.errors: list[BenchmarkError] = []
        self.skipped: list[SkippedBenchmark] = list(skipped)
        self._ended: set[tuple[str, str]] = set()  # planned benchmarks finished or failed (progress)
        self._compiles = 0
        self.calibrated: Optional[Calibration] = None

    # --- the commands
    def handle(self, command: Command) -> Reply:
        """Carry out one parsed command other than "exit"."""
        if command.cmd == "calibrate":
            return self.calibrate()
        if command.cmd == "prepare":
            return self.prepare(command.benchmark, command.device, command.size, command.deadline_s)
        if command.cmd == "sample":
            return self.sample(command.benchmark, command.device, command.size, command.blocks)
        if command.cmd == "finish":
            return self.finish(command.benchmark, command.device, command.size)
        raise BadCommand(f"{command.cmd} is not carried out by Conversation.handle", command.benchmark, command.device)

    def calibrate(self) -> Reply:
        if ABANDONED:
            return self._failed("calibrate", "cpu", "skip", abandoned_reason(), keep=False)
        try:
            reply = calibrate(self.fw.settings.threads)
        except Exception as exc:  # noqa: BLE001 - a failure is a reply, not a crash
            return self._failed("calibrate", "cpu", "exception", exception_text(exc), keep=False)
        if self.calibrated is None:  # the one before the turns: the peak the turns' figures are a percent of
            self.calibrated = reply
        return reply

    def peaks(self) -> dict[str, dict[str, Peak]]:
        """The peaks records are a percent of: the parent's, with the CPU's fp32 peak measured by the
        calibration when one ran (the nominal one stays in its note)."""
        peaks = {device: dict(by_precision) for device, by_precision in self.fw.settings.options.peaks.items()}
        if self.calibrated is not None:
            nominal = peaks.get("cpu", {}).get("fp32")
            said = f"; the nominal peak: {nominal.value:g} GFLOP/s ({nominal.source})" if nominal else ""
            peaks.setdefault("cpu", {})["fp32"] = Peak(
                value=self.calibrated.gflops, measured=True,
                source=(f"measured: the best in-cache fp32 matmul by NumPy on {self.calibrated.threads} thread(s) "
                        f"before this framework's turns"), note=f"practical peak{said}"[:1000])
        return peaks

    def prepare(self, benchmark: str, device: str, size: Optional[int] = None,
                deadline_s: Optional[float] = None) -> Reply:
        """Build ``benchmark`` on ``device`` at ``size`` (None: its own ladder), make its first call, warm it
        up and pick its block size; a session at the same key is replaced."""
        if (benchmark, device) not in self._planned:
            reason = self._skips_up_front.get((benchmark, device))
            if reason is not None:
                return self._failed(benchmark, device, "skip", reason, keep=False)
            return self._failed(benchmark, device, "exception", f"{benchmark} on {device} is not in this worker's "
                                                                f"plan", keep=False)
        if ABANDONED:
            return self._failed(benchmark, device, "skip", abandoned_reason())
        progress(benchmark, len(self._ended), len(self.plan), device=device, size=size)
        asked: dict[str, Any] = {"size": size, "deadline_s": deadline_s}
        if benchmark == "mlp_step_compiled":
            asked["first_compile"] = self._compiles == 0
            self._compiles += 1

        def open_session() -> Reply:
            started = time.perf_counter()
            bench = SETUPS[benchmark](self.fw, device, **asked)
            role = role_of(bench.size, size, self.own_size.get((benchmark, device)), bench.standard)
            session = Session(bench, role, time.perf_counter() - started)
            if size is None:
                self.own_size[(benchmark, device)] = bench.size
            self.sessions.pop(session.key, None)
            self.sessions[session.key] = session
            return session.prepared()

        return self._guarded(benchmark, device, open_session)

    def sample(self, benchmark: str, device: str, size: Optional[int], blocks: int) -> Reply:
        """``blocks`` more timed blocks of a prepared session."""
        session = self._session(benchmark, device, size)
        if isinstance(session, Failed):
            return session
        if ABANDONED:
            return self._failed(benchmark, device, "skip", abandoned_reason())
        return self._guarded(benchmark, device, lambda: session.sample(blocks), session)

    def settle(self, benchmark: str, device: str, size: Optional[int], min_blocks: int, min_total_s: float) -> Reply:
        """Blocks until the figure settles or its budget is spent: a worker on its own (``suite``)."""
        session = self._session(benchmark, device, size)
        if isinstance(session, Failed):
            return session
        if ABANDONED:
            return self._failed(benchmark, device, "skip", abandoned_reason())
        return self._guarded(benchmark, device, lambda: session.settle(min_blocks, min_total_s), session)

    def finish(self, benchmark: str, device: str, size: Optional[int]) -> Reply:
        """The session's record over all its samples, its output checked; the session closes."""
        session = self._session(benchmark, device, size)
        if isinstance(session, Failed):
            return session
        if not session.sampler.per_call:
            return self._failed(benchmark, device, "exception", "finish before any sample: the session stays open",
                                keep=False)

        def finished() -> Reply:
            record = session.finish(self.peaks(), self.fw.framework)
            self.records.pop(session.key, None)
            self.records[session.key] = record
            self._close(session)
            return Finished(type="finished", record=record)

        return self._guarded(benchmark, device, finished, session)

    # --- what the result keeps
    def outcome(self) -> tuple[list[BenchmarkRecord], list[BenchmarkError], list[SkippedBenchmark]]:
        """Every finished record, the errors and the skips (none for a benchmark that has a record)."""
        total = len(self.plan)
        progress("done", total, total)
        measured = {(record.name, record.device) for record in self.records.values()}
        skipped = [entry for entry in self.skipped if (entry.benchmark, entry.device) not in measured]
        return list(self.records.values())[:MAX_LISTED], self.errors[:MAX_LISTED], skipped[:MAX_LISTED]

    # --- helpers
    def _session(self, benchmark: str, device: str, size: Optional[int]) -> Union[Session, Failed]:
        key = (benchmark, device, size if size is not None else self.own_size.get((benchmark, device), 0))
        session = self.sessions.get(key)
        if session is None:
            at = f"size {size}" if size is not None else "its own size"
            return self._failed(benchmark, device, "exception", f"no prepared session of {benchmark} on {device} at "
                                                                f"{at}", keep=False)
        return session

    def _close(self, session: Session) -> None:
        self.sessions.pop(session.key, None)
        self._ended.add((session.bench.name, session.bench.device))
        gc.collect()

    def _guarded(self, benchmark: str, device: str, action: Callable[[], Reply],
                 session: Optional[Session] = None) -> Reply:
        """``action()``, or the Failed reply for what it raised (the session, if any, is closed then)."""
        try:
            return action()
        except Skip as reason:
            failed = self._failed(benchmark, device, "skip", clip(str(reason)))
        except CheckError as exc:
            failed = self._failed(benchmark, device, "check", exception_text(exc))
        except Exception as exc:  # noqa: BLE001 - any failure of one benchmark is data, not a crash
            failed = self._failed(benchmark, device, "exception", exception_text(exc))
        if session is not None:
            self._close(session)
        else:
            self._ended.add((benchmark, device))
            gc.collect()
        return failed

    def _failed(self, benchmark: str, device: str, kind: str, message: str, keep: bool = True) -> Failed:
        """A Failed reply; ``keep``: it is about a planned benchmark, and the result says so (errors, skips)."""
        message = clip(message)
        if keep and benchmark in BENCHMARK_NAMES:
            if kind == "skip":
                if not any((s.benchmark, s.device) == (benchmark, device) for s in self.skipped):
                    self.skipped.append(SkippedBenchmark(benchmark=benchmark, device=device, reason=message))
            else:
                error = BenchmarkError(benchmark=benchmark, device=device, message=message, kind=kind)
                if error not in self.errors:
                    self.errors.append(error)
        return Failed(type="failed", benchmark=benchmark[:200], device=device, kind=kind, message=message)


def converse(conversation: Conversation, commands: BinaryIO, replies: ReplyChannel,
             on_first_command: Callable[[], None]) -> None:
    """Carry out commands until "exit"; ``on_first_command`` runs once, before the first one is carried out
    (the worker pins its CPUs then). Raises ParentGone at the end of ``commands`` without an "exit"."""
    first = True
    while True:
        try:
            line = read_command(commands)
            if line is None:
                raise ParentGone("stdin closed without an exit command")
            if first:
                on_first_command()
                first = False
            command = parse_command(line)
        except BadCommand as bad:
            replies.send(Failed(type="failed", benchmark=bad.benchmark, device=bad.device, kind="exception",
                                message=clip(str(bad))))
            continue
        if command.cmd == "exit":
            return
        replies.send(conversation.handle(command))

"""Measuring in turns and rounds: the parent holds the token, so one worker is timed at a time, and each
benchmark is measured across the frameworks round after round (A B C, B C A, C A B, ...: the order rotates), so
that the figures a ratio compares share the same minutes.

Per benchmark: every framework that can run it prepares it at its own size (the standard size, or below it for
one far too slow); when the sizes differ, the others also prepare it at the smallest of them, so that a
comparison never puts figures of different sizes side by side. Then rounds of a few blocks each, then each
session's record. Each framework is calibrated (its CPU's practical peak) before its first turn and after its
last, so the report shows whether the machine's speed drifted while it measured.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from framework_advisor.probes.comparisons import Comparison, NotCompared, RoundFigures
from framework_advisor.probes.conditions import LoadWatch
from framework_advisor.probes.report import CalibrationRun
from framework_advisor.probes.workers import WorkerGone, WorkerProcess
from framework_advisor.probes.worker.messages import Calibration, Prepared, Samples
from framework_advisor.probes.worker.timing import rounds_settled

ProgressCallback = Callable[[dict[str, Any]], None]
# Timeouts of one command: a cold compile can take a minute; anything else is seconds.
PREPARE_TIMEOUT_S = 60.0
COMPILE_MARGIN_S = 15.0
CALIBRATE_TIMEOUT_S = 20.0
MIN_SAMPLE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Plan:
    """How many rounds, and how many blocks each framework measures per round."""

    rounds: int
    blocks: int
    extra_rounds_when_busy: int = 0
    compile_deadline_s: float = 40.0


@dataclass
class _Session:
    worker: WorkerProcess
    prepared: Prepared
    round_medians: list[float] = field(default_factory=list)


@dataclass
class Outcome:
    comparisons: list[Comparison] = field(default_factory=list)
    calibrations: list[CalibrationRun] = field(default_factory=list)


def _alive(workers: list[WorkerProcess]) -> list[WorkerProcess]:
    return [worker for worker in workers if worker.alive]


def _turn(watch: LoadWatch, worker: WorkerProcess, command: dict[str, Any], timeout_s: float) -> Any:
    """One command to one worker (its turn), counted for the machine's load; None when the worker failed."""
    try:
        with watch.turn(worker.pid):
            return worker.request(command, timeout_s)
    except WorkerGone:
        return None


def _calibrate(watch: LoadWatch, workers: list[WorkerProcess]) -> dict[str, float]:
    found = {}
    for worker in _alive(workers):
        reply = _turn(watch, worker, {"cmd": "calibrate"}, CALIBRATE_TIMEOUT_S)
        if isinstance(reply, Calibration):
            found[worker.framework] = reply.gflops
    return found


def _sample_timeout(prepared: Prepared, blocks: int) -> float:
    return max(MIN_SAMPLE_TIMEOUT_S, 20 * blocks * prepared.block_size * prepared.per_call_s)


def _prepare(watch: LoadWatch, worker: WorkerProcess, benchmark: str, device: str, size: Optional[int],
             plan: Plan) -> Optional[Prepared]:
    compiled = benchmark == "mlp_step_compiled"
    command = {"cmd": "prepare", "benchmark": benchmark, "device": device, "size": size}
    timeout = PREPARE_TIMEOUT_S
    if compiled:
        command["deadline_s"] = plan.compile_deadline_s
        timeout = plan.compile_deadline_s + COMPILE_MARGIN_S
    reply = _turn(watch, worker, command, timeout)
    return reply if isinstance(reply, Prepared) else None  # Failed: the worker keeps it for its result


def _rounds(watch: LoadWatch, sessions: list[_Session], rounds: int, blocks: int,
            progress: ProgressCallback, benchmark: str, first_round: int) -> None:
    for index in range(rounds):
        shift = (first_round + index) % max(1, len(sessions))
        for session in sessions[shift:] + sessions[:shift]:  # the order rotates round by round
            if not session.worker.alive:
                continue
            prepared = session.prepared
            progress({"framework": session.worker.framework, "step": benchmark, "done": first_round + index,
                      "total": first_round + rounds})
            reply = _turn(watch, session.worker, {"cmd": "sample", "benchmark": prepared.benchmark,
                                                  "device": prepared.device, "size": prepared.size,
                                                  "blocks": blocks}, _sample_timeout(prepared, blocks))
            if isinstance(reply, Samples) and reply.per_call_s:
                session.round_medians.append(statistics.median(reply.per_call_s))


def _unsettled(sessions: list[_Session]) -> bool:
    """Whether any framework's figure moved between rounds more than the worker's own noisy rule allows."""
    return any(not rounds_settled(s.round_medians) for s in sessions if s.worker.alive and s.round_medians)


def _finish(watch: LoadWatch, sessions: list[_Session]) -> None:
    for session in sessions:
        if session.worker.alive:
            prepared = session.prepared
            _turn(watch, session.worker, {"cmd": "finish", "benchmark": prepared.benchmark, "device": prepared.device,
                                          "size": prepared.size}, PREPARE_TIMEOUT_S)


def _comparison(benchmark: str, device: str, size: int, sessions: list[_Session]) -> Optional[Comparison]:
    rounds = min((len(s.round_medians) for s in sessions if s.worker.alive), default=0)
    entries = [RoundFigures(framework=s.worker.framework, per_call_s=s.round_medians[:rounds])
               for s in sessions if s.worker.alive and rounds]
    if not entries:
        return None
    return Comparison(benchmark=benchmark, device=device, size=size, frameworks=entries,
                      lower_is_better=benchmark == "dispatch_latency")


def plan_keys(workers: list[WorkerProcess]) -> list[tuple[str, str]]:
    """Every (benchmark, device) some worker plans, in the order the workers plan them (first seen first)."""
    keys: list[tuple[str, str]] = []
    for worker in _alive(workers):
        for entry in worker.ready_reply.plan:
            if (entry.benchmark, entry.device) not in keys:
                keys.append((entry.benchmark, entry.device))
    return keys


def measure_in_rounds(workers: list[WorkerProcess], plan: Plan, watch: LoadWatch,
                      progress: ProgressCallback) -> Outcome:
    """Every planned benchmark measured in rounds across the ready workers; see the module's docstring."""
    outcome = Outcome()
    before = _calibrate(watch, workers)
    keys = plan_keys(workers)
    for index, (benchmark, device) in enumerate(keys):
        progress({"phase": "measuring", "benchmark": benchmark, "index": index, "total": len(keys)})
        runners = [w for w in _alive(workers) if any((e.benchmark, e.device) == (benchmark, device)
                                                     for e in w.ready_reply.plan)]
        own: list[_Session] = []
        for worker in runners:
            prepared = _prepare(watch, worker, benchmark, device, None, plan)
            if prepared is not None:
                own.append(_Session(worker, prepared))
        if not own:
            continue
        common = min(session.prepared.size for session in own)
        extra, not_compared = [], []
        for session in own:
            if session.prepared.size != common:
                prepared = _prepare(watch, session.worker, benchmark, device, common, plan)
                if prepared is not None:
                    extra.append(_Session(session.worker, prepared))
                else:
                    not_compared.append(NotCompared(framework=session.worker.framework, reason=(
                        f"measured at size {session.prepared.size} only: it could not run at {common}, the size "
                        f"every other framework ran")))
        sessions = own + extra
        _rounds(watch, sessions, plan.rounds, plan.blocks, progress, benchmark, 0)
        if plan.extra_rounds_when_busy and (_unsettled(sessions) or watch.busy_now()):
            _rounds(watch, sessions, plan.extra_rounds_when_busy, plan.blocks, progress, benchmark, plan.rounds)
        _finish(watch, sessions)
        at_common = [s for s in sessions if s.prepared.size == common]
        comparison = _comparison(benchmark, device, common, at_common)
        if comparison is not None and len(comparison.frameworks) > 1:
            outcome.comparisons.append(comparison.model_copy(update={"not_compared": not_compared}))
    after = _calibrate(watch, workers)
    outcome.calibrations = [CalibrationRun(framework=framework, before_gflops=gflops, after_gflops=after.get(framework))
                            for framework, gflops in before.items()]
    return outcome

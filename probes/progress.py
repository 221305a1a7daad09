"""A probe's progress: the events the probe and its workers emit, folded into one state with a percentage.

The percentage is computed here and only here; the job queue stores the state for HTTP clients and the
CLI draws it as a bar.

Events: ``{"phase": "inventory"}``; ``{"phase": "importing", "total"}`` while every framework's worker starts
(their imports overlap); ``{"phase": "measuring", "benchmark", "index", "total"}`` for each benchmark measured
in rounds across the frameworks, then ``{"framework", "step", "done", "total"}`` for each turn (``step`` is
the benchmark, ``done`` the round); ``{"phase": "done"}``. Workers' own events (``{"framework", "step"}``
while they import) only change the step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Optional

from pydantic import Field

from framework_advisor.probes.hardware import Strict
from framework_advisor.probes.vocabulary import BenchmarkName

ProgressEvent = dict[str, Any]
ProgressCallback = Callable[[ProgressEvent], None]
# Shares of the bar: the inventory is quick, the imports overlap; measuring takes the rest.
IMPORTING_STARTS_AT = 5.0
MEASURING_STARTS_AT = 20.0


class ProbeProgress(Strict):
    phase: Literal["queued", "inventory", "importing", "measuring", "done"] = "queued"
    benchmark: Optional[BenchmarkName] = None
    framework: Optional[str] = None
    index: Optional[int] = Field(None, ge=0)
    total: Optional[int] = Field(None, ge=0)
    step: Optional[str] = None
    percent: float = Field(0.0, ge=0, le=100)


def advance(state: ProbeProgress, event: ProgressEvent) -> ProbeProgress:
    """The state after ``event``: benchmarks share the measuring part of the bar equally, rounds divide a
    benchmark's share."""
    if "phase" in event:
        changes = {key: event[key] for key in ("phase", "benchmark", "index", "total") if key in event}
        state = state.model_copy(update={"benchmark": None, "index": None, "total": None, **changes,
                                          "framework": None, "step": None})
        inside = 0.0
    elif "step" in event:
        state = state.model_copy(update={"step": str(event["step"]), "framework": event.get("framework")})
        inside = event.get("done", 0) / event["total"] if event.get("total") else 0.0
    else:
        return state
    if state.phase == "inventory":
        percent = 0.0
    elif state.phase == "importing":
        percent = IMPORTING_STARTS_AT
    elif state.phase == "measuring":
        share = (100 - MEASURING_STARTS_AT) / max(1, state.total or 1)
        percent = MEASURING_STARTS_AT + share * ((state.index or 0) + min(1.0, max(0.0, inside)))
    elif state.phase == "done":
        percent = 100.0
    else:
        percent = state.percent
    return state.model_copy(update={"percent": round(min(100.0, max(state.percent, percent)), 1)})


class ProgressFolder:
    """Calls ``on_change`` with the state after each event (the CLI's bar, the job queue's writer)."""

    def __init__(self, on_change: Callable[[ProbeProgress], None]):
        self.state = ProbeProgress()
        self._on_change = on_change

    def __call__(self, event: ProgressEvent) -> None:
        self.state = advance(self.state, event)
        self._on_change(self.state)

"""A probe's progress: the events the probe and its workers emit, folded into one state with a percentage.

The percentage is computed here and only here; the job queue stores the state for HTTP clients and the
CLI draws it as a bar.

Events: ``{"phase": "inventory"}``, ``{"phase": "framework", "framework", "index", "total"}`` when a worker
starts, ``{"framework", "step", "done", "total"}`` from inside a worker, ``{"phase": "done"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Optional

from pydantic import Field

from framework_advisor.probes.hardware import Strict

ProgressEvent = dict[str, Any]
ProgressCallback = Callable[[ProgressEvent], None]


class ProbeProgress(Strict):
    phase: Literal["queued", "inventory", "framework", "done"] = "queued"
    framework: Optional[str] = None
    index: Optional[int] = Field(None, ge=0)
    total: Optional[int] = Field(None, ge=0)
    step: Optional[str] = None
    percent: float = Field(0.0, ge=0, le=100)


def advance(state: ProbeProgress, event: ProgressEvent) -> ProbeProgress:
    """The state after ``event``: frameworks share the bar equally, a worker's steps divide its share."""
    if "phase" in event:
        changes = {key: event[key] for key in ("phase", "framework", "index", "total") if key in event}
        state = state.model_copy(update={**changes, "step": None})
        inside = 0.0
    elif "step" in event:
        state = state.model_copy(update={"step": str(event["step"])})
        inside = event.get("done", 0) / event["total"] if event.get("total") else 0.0
    else:
        return state
    if state.phase == "framework":
        share = 100 / max(1, state.total or 1)
        percent = share * ((state.index or 0) + min(1.0, max(0.0, inside)))
    elif state.phase == "done":
        percent = 100.0
    else:
        percent = state.percent
    return state.model_copy(update={"percent": round(min(100.0, percent), 1)})


class ProgressFolder:
    """Calls ``on_change`` with the state after each event (the CLI's bar, the job queue's writer)."""

    def __init__(self, on_change: Callable[[ProbeProgress], None]):
        self.state = ProbeProgress()
        self._on_change = on_change

    def __call__(self, event: ProgressEvent) -> None:
        self.state = advance(self.state, event)
        self._on_change(self.state)

"""The worker's side of the process boundary: progress lines on stderr and the result file.

Progress goes to stderr as ``@@progress {json}`` lines (the runner imports ``PROGRESS_PREFIX`` from here, so
both ends read one definition). The result is one JSON document, ``records.to_json(WorkerResult)``, written
to a temporary file beside ``--out``, fsynced and renamed over it: the parent sees a whole result or none.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .records import WorkerResult, to_json

PROGRESS_PREFIX = "@@progress "


def progress(step: str, done: int, total: int | None, **extra: Any) -> None:
    """One progress event on stderr: ``@@progress {"step":...,"done":...,"total":...}``."""
    payload = {"step": step, "done": done, "total": total, **extra}
    sys.stderr.write(PROGRESS_PREFIX + json.dumps(payload, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def write_result(path: str | Path, result: WorkerResult) -> None:
    """Write ``result`` to ``path`` atomically: a temporary file in the same directory, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(to_json(result))
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()

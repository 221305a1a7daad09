"""Cold compiles that overrun their deadline: abandoning them, and leaving the process after one.

A compile cannot be interrupted. ``first_step_within`` runs the first (compiling) step in a daemon thread
and gives up after the deadline; the abandoned thread keeps running, so compiled benchmarks run last and
nothing is measured after one is abandoned (``ABANDONED`` tells the suite and the worker's exit).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import MlpStep

# Threads left running by an abandoned compile; the worker must exit without waiting for them.
ABANDONED: list[str] = []
CLEANER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


def first_step_within(step: MlpStep, deadline_s: float, what: str) -> Any:
    """Run the first (compiling) step in a daemon thread and give up after ``deadline_s`` seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            output = step.step()
            step.sync(output)
            outcome["output"] = output
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"compile {what}", daemon=True)
    thread.start()
    thread.join(deadline_s)
    if thread.is_alive():
        ABANDONED.append(what)
        raise TimeoutError(f"the cold compile did not finish within {deadline_s:g} s and was abandoned")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["output"]


def _descendants(pid: int) -> list[int]:
    """This process's children, grandchildren ... (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
            parent = int(text[text.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.parent.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def exit_after_abandoned_compile(scratch: Path, status: int = 0) -> None:
    """Leave with ``status`` although a compile thread is still running (the result, if any, is written).

    The thread cannot be stopped and could recreate files in the scratch directory while it is removed, and
    interpreter shutdown under it can crash. So: kill the compilers it started (g++ and its cc1plus), hand the
    scratch directory to a small cleaner process that removes it once this process is gone (its stdin closes
    when we exit), and exit at once.
    """
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        subprocess.Popen([sys.executable, "-c", CLEANER, str(scratch)], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.stderr.flush()
    os._exit(status)

"""The worker dies with its parent, whatever it is doing.

The parent (``probes.workers.WorkerProcess``) hands the worker the read end of a pipe whose write end only the
parent holds, and names it in ``WATCHDOG_ENV``. Nothing is ever written to it: when the parent exits, however it
exits (SIGKILL included, on Linux and macOS alike), the kernel closes the write end and a read returns end of
file. A daemon thread waits for that and kills the worker's process group: the worker runs in a session of its
own, so that is the worker and everything it started (compilers, a framework's helper processes), not the parent.

This covers the stretches where the worker reads nothing from the parent (a framework's import, a long sample);
between commands, stdin at its end says the same (``protocol.ParentGone``). The thread needs the interpreter
lock for a moment to act, so a framework call that holds it delays the kill until the call returns.

Standard library only: this runs in the measured interpreter.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Optional

WATCHDOG_ENV = "FRAMEWORK_ADVISOR_WATCHDOG_FD"


def _kill_own_group() -> None:
    """SIGKILL this process's group if it leads it (its own session), else this process alone: never the
    group of a parent that started the worker without a session of its own."""
    pid = os.getpid()
    try:
        if os.getpgid(0) == pid:
            os.killpg(pid, signal.SIGKILL)
    finally:
        os.kill(pid, signal.SIGKILL)


def _wait_for_parent(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1):  # end of file: the parent's end closed
                break
        except InterruptedError:
            continue
        except OSError:
            break
    _kill_own_group()


def watch_parent(environ: Optional[dict] = None) -> bool:
    """Start the watch when the parent passed a watchdog pipe (``WATCHDOG_ENV``); returns whether it did. The
    variable is removed, and the descriptor kept from the worker's own children, so that nothing the framework
    starts holds or inherits it."""
    environ = os.environ if environ is None else environ
    text = environ.pop(WATCHDOG_ENV, "")
    if not text.isdigit():
        return False
    fd = int(text)
    try:
        os.set_inheritable(fd, False)
    except OSError:  # not an open descriptor: nothing to watch
        return False
    threading.Thread(target=_wait_for_parent, args=(fd,), name="parent watchdog", daemon=True).start()
    return True

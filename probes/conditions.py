"""How busy the machine is while a probe measures: load, CPU steal, and the time a worker spent runnable but
not running, read from /proc (Linux; elsewhere only the load average, through os.getloadavg), and which
CPUs are the idlest to run the workers on.

A probe takes a snapshot before it starts and one around each worker's turn; ``Conditions`` in the report
says what it saw and whether the machine was busy, in which case the probe measures more rounds and says its
figures may be unreliable.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

from pydantic import Field

from framework_advisor.probes.hardware import Strict

# Busy: other processes keep more than 40% of the CPUs busy in the window before the workers start (a
# one-minute load average would count the previous probe's own work), a tenth of the CPU time goes to other
# guests (steal), or the working thread waits runnable for more than a tenth of its turns. The last two
# disturb the figures themselves ("unreliable"); the first alone is met by pinning workers to the idlest CPUs.
BUSY_CPU_SHARE = 0.40
BUSY_STEAL_PERCENT = 10.0
BUSY_WAITING_PERCENT = 10.0
WINDOW_S = 0.25  # the window before the workers start in which the CPUs' use by others is read


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU time of the machine (jiffies), from /proc/stat's first line."""

    total: int
    steal: int


def read_cpu_times(proc: Path = Path("/proc")) -> Optional[CpuTimes]:
    try:
        fields = (proc / "stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    values = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return CpuTimes(total=sum(values), steal=values[7])


def read_schedstat(pid: int, proc: Path = Path("/proc")) -> Optional[dict[int, tuple[int, int]]]:
    """Per thread of a process: (ns on a CPU, ns runnable but waiting for one), or None."""
    threads = {}
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            on_cpu, runnable, _ = (task / "schedstat").read_text().split()
            threads[int(task.name)] = (int(on_cpu), int(runnable))
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
    return threads or None


def critical_thread(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(running, waiting) ns across a turn of the thread that ran the most in it: the one doing the timed work.
    Idle helper threads that wake briefly (a framework's runtime, its pools) wait too, but delay nothing."""
    deltas = [(end[0] - before.get(tid, (0, 0))[0], end[1] - before.get(tid, (0, 0))[1]) for tid, end in after.items()]
    return max(deltas, default=(0, 0))


def per_cpu_busy(proc: Path = Path("/proc")) -> Optional[dict[int, tuple[int, int]]]:
    """Per CPU: (busy jiffies, all jiffies) so far, from /proc/stat's cpuN lines."""
    try:
        lines = (proc / "stat").read_text().splitlines()
    except OSError:
        return None
    cpus = {}
    for line in lines:
        fields = line.split()
        if fields and fields[0].startswith("cpu") and fields[0][3:].isdigit() and len(fields) >= 9:
            values = [int(value) for value in fields[1:9]]
            idle = values[3] + values[4]  # idle + iowait
            cpus[int(fields[0][3:])] = (sum(values) - idle, sum(values))
    return cpus or None


def idlest_cpus(before: Optional[dict[int, tuple[int, int]]], after: Optional[dict[int, tuple[int, int]]],
                allowed: list[int], count: int) -> list[int]:
    """The ``count`` CPUs of ``allowed`` that were idlest between two per_cpu_busy snapshots (their order
    when nothing tells them apart)."""
    if not before or not after:
        return allowed[:count]

    def busy(cpu: int) -> float:
        if cpu not in before or cpu not in after or after[cpu][1] <= before[cpu][1]:
            return 0.0
        return (after[cpu][0] - before[cpu][0]) / (after[cpu][1] - before[cpu][1])

    return sorted(sorted(allowed, key=lambda cpu: (busy(cpu), allowed.index(cpu)))[:count])


def load_average() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class Conditions(Strict):
    """What the machine was doing while the probe measured."""

    cpus: Annotated[int, Field(ge=1)]
    load_before: Optional[Annotated[float, Field(ge=0)]] = None
    load_after: Optional[Annotated[float, Field(ge=0)]] = None
    steal_percent: Optional[Annotated[float, Field(ge=0, le=100)]] = Field(
        None, description="CPU time the hypervisor gave to other guests while the probe ran.")
    waiting_percent: Optional[Annotated[float, Field(ge=0, le=100)]] = Field(
        None, description="The time workers spent runnable but not running, as a share of their turns.")
    others_percent: Optional[Annotated[float, Field(ge=0, le=100)]] = Field(
        None, description="The share of the CPUs other processes kept busy just before the workers started.")
    busy: bool = False
    unreliable: bool = Field(False, description=(
        "The figures themselves were disturbed: workers waited for a CPU, or other guests took CPU time."))
    why: Annotated[str, Field(max_length=500)] = ""


class LoadWatch:
    """Snapshots for ``Conditions``: one before the probe, a steal count across it, a wait share per turn."""

    def __init__(self, cpus: int, proc: Path = Path("/proc")):
        self.cpus = cpus
        self._proc = proc
        self.started = time.monotonic()
        self.load_before = load_average()
        self._times_before = read_cpu_times(proc)
        self._per_cpu_before = per_cpu_busy(proc)
        self._per_cpu_window: Optional[dict[int, tuple[int, int]]] = None
        self._running_ns = 0
        self._waiting_ns = 0

    def _window(self) -> Optional[dict[int, tuple[int, int]]]:
        """The per-CPU counters at the end of the window before the workers start (waiting for it to pass)."""
        if self._per_cpu_window is None:
            waited = time.monotonic() - self.started
            if waited < WINDOW_S:
                time.sleep(WINDOW_S - waited)
            self._per_cpu_window = per_cpu_busy(self._proc) or {}
        return self._per_cpu_window

    def others_percent(self) -> Optional[float]:
        """How busy all CPUs were in the window (this probe only reads its inventory then)."""
        before, after = self._per_cpu_before, self._window()
        if not before or not after:
            return None
        busy = sum(after[cpu][0] - before[cpu][0] for cpu in after if cpu in before)
        total = sum(after[cpu][1] - before[cpu][1] for cpu in after if cpu in before)
        return round(100 * busy / total, 1) if total > 0 else None

    def idlest_cpus(self, allowed: list[int], count: int) -> list[int]:
        """The ``count`` CPUs of ``allowed`` least busy in the window (where workers are pinned: a CPU another
        process keeps busy would halve a one-thread worker's speed)."""
        return idlest_cpus(self._per_cpu_before, self._window(), allowed, count)

    def busy_before(self) -> bool:
        others = self.others_percent()
        return others is not None and others > 100 * BUSY_CPU_SHARE

    def busy_now(self) -> bool:
        """Busy before the probe, or workers have waited for a CPU more than a tenth of their turns so far."""
        waiting = self.waiting_percent()
        return self.busy_before() or (waiting is not None and waiting > BUSY_WAITING_PERCENT)

    def turn(self, pid: int) -> TurnWatch:
        return TurnWatch(self, pid)

    def add_turn(self, running_ns: int, waiting_ns: int) -> None:
        self._running_ns += running_ns
        self._waiting_ns += waiting_ns

    def waiting_percent(self) -> Optional[float]:
        total = self._running_ns + self._waiting_ns
        return round(100 * self._waiting_ns / total, 1) if total else None

    def conditions(self) -> Conditions:
        after = read_cpu_times(self._proc)
        steal = None
        if self._times_before is not None and after is not None and after.total > self._times_before.total:
            steal = round(100 * (after.steal - self._times_before.steal) / (after.total - self._times_before.total), 1)
        waiting = self.waiting_percent()
        others = self.others_percent()
        reasons, disturbed = [], []
        if self.busy_before():
            reasons.append(f"other processes kept {others:g}% of the {self.cpus} CPUs busy before the probe")
        if steal is not None and steal > BUSY_STEAL_PERCENT:
            disturbed.append(f"{steal:g}% of CPU time stolen by other guests")
        if waiting is not None and waiting > BUSY_WAITING_PERCENT:
            disturbed.append(f"workers waited for a CPU {waiting:g}% of their turns")
        return Conditions(cpus=self.cpus, load_before=self.load_before, load_after=load_average(),
                          steal_percent=steal, waiting_percent=waiting, others_percent=others,
                          busy=bool(reasons or disturbed), unreliable=bool(disturbed),
                          why="; ".join(reasons + disturbed))


class TurnWatch:
    """Counts a worker's running and waiting time across one turn (``with watch.turn(pid): ...``)."""

    def __init__(self, watch: LoadWatch, pid: int):
        self._watch = watch
        self._pid = pid
        self._start: Optional[dict[int, tuple[int, int]]] = None

    def __enter__(self) -> TurnWatch:
        self._start = read_schedstat(self._pid, self._watch._proc)
        return self

    def __exit__(self, *exc_info: object) -> None:
        end = read_schedstat(self._pid, self._watch._proc)
        if self._start is not None and end is not None:
            self._watch.add_turn(*critical_thread(self._start, end))

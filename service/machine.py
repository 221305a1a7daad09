"""This machine's HardwareProfile and installed framework versions, cached briefly.

The inventory imports no framework (see probes.inventory); caching keeps /v1/hardware and
"this machine" recommendations fast without going stale for long.
"""

from __future__ import annotations

import threading
import time

from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.installed import installed_versions
from framework_advisor.probes.inventory import take_inventory


class ThisMachine:
    def __init__(self, max_age_seconds: float = float("inf")):
        self._max_age = max_age_seconds
        self._lock = threading.Lock()
        self._taken_at = float("-inf")
        self._hardware: HardwareProfile | None = None
        self._versions: dict[str, str | None] = {}

    def _refresh_if_stale(self) -> None:
        with self._lock:
            if self._hardware is None or time.monotonic() - self._taken_at > self._max_age:
                self._hardware = take_inventory()
                self._versions = installed_versions()
                self._taken_at = time.monotonic()

    def hardware(self) -> HardwareProfile:
        self._refresh_if_stale()
        assert self._hardware is not None
        return self._hardware

    def installed_versions(self) -> dict[str, str | None]:
        self._refresh_if_stale()
        return self._versions

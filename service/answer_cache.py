"""A small, bounded cache of serialized recommendation answers, one per worker process.

A recommendation is a pure function of the loaded rule base (fixed for the process's life) and its
inputs: goals (in order), experience, the hardware profile, the installed versions and the probe whose
measurements entered it (a finished probe never changes). Evaluating the rule base, with the
"what would change" alternatives, costs a few milliseconds; answering a repeated question from here
costs a dictionary look-up. A request that carries its own hardware is also a pure function of its
body's bytes, so its answer is filed under the body's digest too (one payload object, two keys): an
identical request then skips parsing and validation. Least recently used entries go first; the bound
keeps memory flat (an answer is about 30 KB with its starter program: 256 entries stay under 10 MB).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 256


class AnswerCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def digest(raw: bytes) -> str:
        """The key of a request body's exact bytes (a digest: bodies may be 64 KiB, keys stay small)."""
        return "body:" + hashlib.sha256(raw).hexdigest()

    @staticmethod
    def key(*inputs: Any) -> str:
        return json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            payload = self._entries.get(key)
            if payload is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return payload

    def put(self, key: str, payload: bytes) -> None:
        with self._lock:
            self._entries[key] = payload
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_compute(self, key: str, compute: Callable[[], bytes]) -> bytes:
        payload = self.get(key)
        if payload is None:
            with self._lock:
                self.misses += 1
            payload = compute()  # outside the lock: two threads may compute the same answer once each
            self.put(key, payload)
        return payload

    def __len__(self) -> int:
        return len(self._entries)

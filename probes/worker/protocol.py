"""The worker's side of the process boundary: progress on stderr, commands in, replies out, the result file.

Progress goes to stderr as ``@@progress {json}`` lines (the runner imports ``PROGRESS_PREFIX`` from here, so
both ends read one definition). A worker driven by its parent reads commands from stdin, one JSON object a
line (``read_command``; ``messages`` describes the conversation), and writes replies, one JSON line each, to
the file descriptor it was given (``ReplyChannel``). The result is one JSON document,
``records.to_json(WorkerResult)``, written to a temporary file beside ``--out``, fsynced and renamed over it:
the parent sees a whole result or none.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

from ..vocabulary import DEVICES
from .records import WorkerResult, to_json

PROGRESS_PREFIX = "@@progress "
# The exit status of a worker whose parent went away (stdin at its end without an "exit"): nothing written.
PARENT_GONE_STATUS = 3
MAX_COMMAND_BYTES = 64 * 1024
MAX_BLOCKS_PER_SAMPLE = 1000  # what one Samples reply holds
# Each command's fields (besides "cmd"), and the ones it needs.
COMMAND_FIELDS = {"calibrate": (), "exit": (), "prepare": ("benchmark", "device", "size", "deadline_s"),
                  "sample": ("benchmark", "device", "size", "blocks"), "finish": ("benchmark", "device", "size")}
REQUIRED_FIELDS = {"prepare": ("benchmark", "device"), "sample": ("benchmark", "device", "blocks"),
                   "finish": ("benchmark", "device")}


def progress(step: str, done: int, total: Optional[int], **extra: Any) -> None:
    """One progress event on stderr: ``@@progress {"step":...,"done":...,"total":...}``."""
    payload = {"step": step, "done": done, "total": total, **extra}
    sys.stderr.write(PROGRESS_PREFIX + json.dumps(payload, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def write_result(path: Union[str, Path], result: WorkerResult) -> None:
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


class ParentGone(Exception):
    """The parent closed our stdin without an "exit", or stopped reading our replies."""


class BadCommand(ValueError):
    """A command line that is not a command this worker knows (answered with a Failed reply)."""

    def __init__(self, message: str, benchmark: str = "command", device: str = "cpu"):
        super().__init__(message)
        self.benchmark = benchmark
        self.device = device if device in DEVICES else "cpu"


@dataclasses.dataclass
class Command:
    cmd: str
    benchmark: str = ""
    device: str = "cpu"
    size: Optional[int] = None  # None: the benchmark's own ladder (prepare), or the session it picked
    blocks: int = 0
    deadline_s: Optional[float] = None


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def parse_command(line: bytes) -> Command:
    """One command line, checked: known ``cmd``, no unknown fields, the types each field takes."""
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise BadCommand(f"not a JSON command: {exc}") from None
    if not isinstance(raw, dict):
        raise BadCommand(f"a command is a JSON object, not {type(raw).__name__}")
    cmd = raw.get("cmd")
    benchmark = str(raw.get("benchmark") or cmd or "command")[:200]
    device = str(raw.get("device") or "cpu")
    if cmd not in COMMAND_FIELDS:
        raise BadCommand(f"unknown command {cmd!r} (known: {', '.join(COMMAND_FIELDS)})", benchmark, device)
    unknown = sorted(set(raw) - {"cmd", *COMMAND_FIELDS[cmd]})
    missing = [name for name in REQUIRED_FIELDS.get(cmd, ()) if raw.get(name) is None]
    if unknown or missing:
        raise BadCommand(f"{cmd}: " + "; ".join(
            ([f"unknown field(s) {', '.join(unknown)}"] if unknown else []) +
            ([f"missing {', '.join(missing)}"] if missing else [])), benchmark, device)
    if "benchmark" in raw and not isinstance(raw["benchmark"], str):
        raise BadCommand(f"{cmd}: benchmark must be a string", benchmark, device)
    if "device" in raw and raw["device"] not in DEVICES:
        raise BadCommand(f"{cmd}: unknown device {raw['device']!r} (known: {', '.join(DEVICES)})", benchmark)
    size = raw.get("size")
    if size is not None and not _positive_int(size):
        raise BadCommand(f"{cmd}: size must be null or an integer >= 1, not {size!r}", benchmark, device)
    blocks = raw.get("blocks", 0)
    if cmd == "sample" and not (_positive_int(blocks) and blocks <= MAX_BLOCKS_PER_SAMPLE):
        raise BadCommand(f"sample: blocks must be an integer from 1 to {MAX_BLOCKS_PER_SAMPLE}, not {blocks!r}",
                         benchmark, device)
    deadline = raw.get("deadline_s")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float))
                                 or not math.isfinite(deadline) or deadline <= 0):
        raise BadCommand(f"prepare: deadline_s must be null or a number of seconds > 0, not {deadline!r}",
                         benchmark, device)
    return Command(cmd=cmd, benchmark=raw.get("benchmark", ""), device=raw.get("device", "cpu"), size=size,
                   blocks=blocks, deadline_s=None if deadline is None else float(deadline))


def read_command(stream: BinaryIO) -> Optional[bytes]:
    """The next non-empty command line, or None at the end of the stream (the parent is gone); a line longer
    than ``MAX_COMMAND_BYTES`` is skipped and raises BadCommand."""
    while True:
        line = stream.readline(MAX_COMMAND_BYTES + 1)
        if not line:
            return None
        if len(line) > MAX_COMMAND_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of an oversized line
                line = stream.readline(MAX_COMMAND_BYTES)
            raise BadCommand(f"a command line longer than {MAX_COMMAND_BYTES} bytes")
        if line.strip():
            return line


class ReplyChannel:
    """Replies to the parent, one JSON line each, on the file descriptor it passed (``--reply-fd``)."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, reply: Any) -> None:
        data = (to_json(reply) + "\n").encode("utf-8")
        try:
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
        except OSError as exc:  # BrokenPipeError: nobody reads the replies any more
            raise ParentGone(f"the reply channel (fd {self.fd}) is closed: {exc}") from None

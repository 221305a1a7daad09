"""The fixture machines of tests/fixtures/hardware (SYNTHESIZED, see its README) as `probes.system.System`s:
a root directory, recorded command answers, an environment, platform names and a fake NVML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from framework_advisor.probes.system import NvmlDevice, NvmlSnapshot, NvmlUnavailable, System

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hardware"


# --- fakes for the seam -------------------------------------------------------------------------


class RecordedNvml:
    """Answers NVML queries from a fixture's recorded `nvml` block."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        self.recorded = recorded
        self.calls = 0

    def snapshot(self) -> NvmlSnapshot:
        self.calls += 1
        devices = [
            NvmlDevice(
                name=record["name"],
                memory_bytes=record.get("memory_bytes"),
                compute_capability=tuple(record["compute_capability"]) if record.get("compute_capability") else None,
                cuda_cores=record.get("cuda_cores"),
            )
            for record in self.recorded["devices"]
            for _ in range(record.get("repeat", 1))
        ]
        return NvmlSnapshot(self.recorded.get("driver_version"), self.recorded.get("nvml_version"),
                            self.recorded.get("binding", "fake"), tuple(devices))


class FailingNvml:
    """NVML that cannot start, as on a machine without the library or with a mismatched driver."""

    def __init__(self, reason: str = "NVML Shared Library Not Found") -> None:
        self.reason = reason
        self.calls = 0

    def snapshot(self) -> NvmlSnapshot:
        self.calls += 1
        raise NvmlUnavailable(self.reason)


class RecordedCommands:
    """Command runner answering from recorded stdout; any command not recorded fails (None)."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, argv: list[str], timeout: float) -> str | None:
        assert timeout > 0, "every command needs a timeout"
        self.asked.append(" ".join(argv))
        return self.answers.get(" ".join(argv))


def fixture_machine(name: str, root: Path | None = None, nvml: Any = None, system_class: type[System] = System,
                    **overrides: Any) -> System:
    """A System over tests/fixtures/hardware/<name> (or over `root`, a modified copy of its tree)."""
    spec = json.loads((FIXTURES / name / "machine.json").read_text())
    if nvml is None:
        nvml = RecordedNvml(spec["nvml"]) if spec["nvml"] else FailingNvml()
    settings = dict(
        root=root or FIXTURES / name / "root",  # the Macs have none: every file read misses, as it should
        commands=RecordedCommands(spec["commands"]),
        environ=spec["environ"],
        platform_system=spec["platform_system"],
        machine=spec["machine"],
        nvml=nvml,
        use_psutil=False,
    )
    settings.update(overrides)
    return system_class(**settings)


def copy_root(name: str, destination: Path) -> Path:
    root = destination / name
    shutil.copytree(FIXTURES / name / "root", root, symlinks=True)
    return root

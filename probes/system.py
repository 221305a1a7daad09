"""The seam between the hardware inventory and the machine it describes.

Everything the inventory learns goes through one `System`: files under `root`, external commands,
the environment, the platform's names for the OS and CPU architecture, psutil and NVML. Tests build
a System over a fixture tree with recorded command answers and a fake NVML, so every detection path
runs on any machine, and the real machine is just `System()`.

Nothing here raises because a source is missing or broken. A missing file is normal (most probes
miss) and is silent; anything else (no permission, a timeout, an oversized file, a non-zero exit)
becomes `None` or an empty answer plus a line in `failures`, because an inventory that crashes on
one odd file tells the user nothing, and one that hides the failure cannot be debugged.
"""

from __future__ import annotations

import os
import platform
import shlex
import stat
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MAX_FILE_BYTES = 4 * 1024 * 1024  # /proc/cpuinfo of a 448-thread server is well under this
COMMAND_TIMEOUT_S = 2.0
NVML_DEADLINE_S = 5.0  # nvmlInit can hang on a GPU in a bad state; a slow init still fits

CommandRunner = Callable[[list[str], float], "str | None"]


class NvmlUnavailable(Exception):
    """NVML could not answer: library missing, driver not loaded, version mismatch, deadline passed."""


@dataclass(frozen=True)
class NvmlDevice:
    """What NVML says about one GPU; None where the query is not supported on that part."""

    name: str
    memory_bytes: int | None = None
    compute_capability: tuple[int, int] | None = None
    cuda_cores: int | None = None  # nvmlDeviceGetNumGpuCores counts CUDA cores, not SMs


@dataclass(frozen=True)
class NvmlSnapshot:
    """One consistent NVML reading, taken between nvmlInit and nvmlShutdown."""

    driver_version: str | None
    nvml_version: str | None
    binding: str  # which Python binding answered, e.g. "nvidia-ml-py 13.615.71"
    devices: tuple[NvmlDevice, ...]


class NvmlAdapter(Protocol):
    """What the inventory needs from NVML; tests provide a fake with recorded answers."""

    def snapshot(self) -> NvmlSnapshot:
        """Return the devices, or raise NvmlUnavailable saying why not."""
        ...


class PynvmlAdapter:
    """NVML through the `pynvml` module of the nvidia-ml-py distribution.

    The module is imported only when a snapshot is asked for: the import costs tens of milliseconds
    and loads ctypes, which a machine without an NVIDIA GPU never needs.
    """

    def snapshot(self) -> NvmlSnapshot:
        pynvml = _import_pynvml()
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise NvmlUnavailable(_nvml_reason(error)) from error
        try:
            return NvmlSnapshot(
                driver_version=_text(pynvml.nvmlSystemGetDriverVersion()),
                nvml_version=_optional_text(pynvml, "nvmlSystemGetNVMLVersion"),
                binding=_binding_name(),
                devices=tuple(_read_nvml_device(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())),
            )
        except pynvml.NVMLError as error:
            raise NvmlUnavailable(_nvml_reason(error)) from error
        finally:
            _shutdown_nvml(pynvml)


def _import_pynvml() -> Any:
    try:
        import pynvml  # noqa: PLC0415 - deliberately lazy, see PynvmlAdapter
    except ImportError as error:
        raise NvmlUnavailable(f"the nvidia-ml-py package is not installed ({error})") from error
    return pynvml


def _nvml_reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def _shutdown_nvml(pynvml: Any) -> None:
    """Release NVML; a failing shutdown changes nothing already read, so it is only swallowed here."""
    try:
        pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        pass


def _text(value: Any) -> str:
    """Old bindings return bytes, new ones str."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _optional(pynvml: Any, function_name: str, *args: Any) -> Any:
    """Call an NVML query that some parts or bindings do not support; None when unsupported."""
    function = getattr(pynvml, function_name, None)
    if function is None:
        return None
    try:
        return function(*args)
    except pynvml.NVMLError:
        return None


def _optional_text(pynvml: Any, function_name: str, *args: Any) -> str | None:
    value = _optional(pynvml, function_name, *args)
    return None if value is None else _text(value)


def _read_nvml_device(pynvml: Any, index: int) -> NvmlDevice:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = _optional(pynvml, "nvmlDeviceGetMemoryInfo", handle)  # unified-memory parts may refuse
    capability = _optional(pynvml, "nvmlDeviceGetCudaComputeCapability", handle)
    cores = _optional(pynvml, "nvmlDeviceGetNumGpuCores", handle)
    return NvmlDevice(
        name=_text(pynvml.nvmlDeviceGetName(handle)),
        memory_bytes=int(memory.total) if memory is not None and memory.total else None,
        compute_capability=(int(capability[0]), int(capability[1])) if capability else None,
        cuda_cores=int(cores) if cores else None,
    )


def _binding_name() -> str:
    from importlib import metadata  # noqa: PLC0415 - only needed on the NVML path

    try:
        return f"nvidia-ml-py {metadata.version('nvidia-ml-py')}"
    except metadata.PackageNotFoundError:
        return "pynvml"


def run_subprocess(argv: list[str], timeout: float, failures: list[str] | None = None) -> str | None:
    """Run a command with a timeout and return its stdout, or None (with the reason in `failures`).

    Never raises: a missing tool, a hang or a non-zero exit is an answer the inventory can live with.
    """
    command = shlex.join(argv)
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False,
            stdin=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C"},
        )
    except FileNotFoundError:
        _note(failures, f"{command}: not found")
        return None
    except subprocess.TimeoutExpired:
        _note(failures, f"{command}: no answer within {timeout:g} s")
        return None
    except (OSError, ValueError, subprocess.SubprocessError) as error:
        _note(failures, f"{command}: {type(error).__name__}: {error}")
        return None
    if completed.returncode != 0:
        detail = (completed.stderr or "").strip().splitlines()[:1]
        _note(failures, f"{command}: exit status {completed.returncode}" + (f": {detail[0]}" if detail else ""))
        return None
    return completed.stdout


def _note(failures: list[str] | None, message: str) -> None:
    if failures is not None:
        failures.append(message)


class System:
    """Everything the inventory reads from a machine, behind one object that tests can replace.

    `root` prefixes every file path ("proc/cpuinfo" reads root/proc/cpuinfo). `commands` runs an
    argv with a timeout and returns stdout or None. psutil is used only when `use_psutil` is true,
    which by default means "root is /": psutil always describes the real machine, never a fixture.
    """

    def __init__(
        self,
        root: Path = Path("/"),
        commands: CommandRunner | None = None,
        environ: Mapping[str, str] | None = None,
        platform_system: str | None = None,
        machine: str | None = None,
        nvml: NvmlAdapter | None = None,
        processor: str | None = None,
        use_psutil: bool | None = None,
    ) -> None:
        self.root = Path(root)
        self.failures: list[str] = []
        self._commands: CommandRunner = commands if commands is not None else self._run_on_this_machine
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.platform_system = platform.system() if platform_system is None else platform_system
        self.machine = platform.machine() if machine is None else machine
        self._nvml: NvmlAdapter = nvml if nvml is not None else PynvmlAdapter()
        self._processor = processor
        self.use_psutil = self.root == Path("/") if use_psutil is None else use_psutil

    # --- files -------------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        return self.root / relative.lstrip("/")

    def read_text(self, relative: str, limit: int = MAX_FILE_BYTES) -> str | None:
        """Read a regular file, at most `limit` bytes; None if it is absent or unreadable.

        Only regular files are read (procfs and sysfs files are regular), so a FIFO or a device
        node can never block the inventory.
        """
        path = self.path(relative)
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                self.record(f"{relative}: not a regular file, not read")
                return None
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            self.record(f"{relative}: {error.strerror or error}")
            return None
        if len(data) > limit:
            self.record(f"{relative}: larger than {limit} bytes, only the start was read")
            data = data[:limit]
        return data.decode("utf-8", errors="replace")

    def list_dir(self, relative: str, *, quiet: bool = False) -> list[str] | None:
        """Sorted entry names, [] when the directory is absent, None when it cannot be read.

        `quiet` skips recording the failure, for scans where "not permitted" is expected
        (other users' /proc/<pid>/fd) and would flood the record.
        """
        try:
            return sorted(os.listdir(self.path(relative)))
        except FileNotFoundError:
            return []
        except OSError as error:
            if not quiet:
                self.record(f"{relative}: {error.strerror or error}")
            return None

    def exists(self, relative: str) -> bool:
        return os.path.lexists(self.path(relative))

    def readlink(self, relative: str) -> str | None:
        """Target of a symlink; None when it is not one or has vanished (processes come and go)."""
        try:
            return os.readlink(self.path(relative))
        except OSError:
            return None

    def can_read_write(self, relative: str) -> bool:
        """Whether this user may open the device read-write, which every accelerator runtime needs."""
        return os.access(self.path(relative), os.R_OK | os.W_OK)

    # --- commands, platform, psutil, NVML --------------------------------------------------------

    def run(self, argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> str | None:
        """Run a command through the configured runner; a None answer is always recorded."""
        recorded_before = len(self.failures)
        answer = self._commands(argv, timeout)
        if answer is None and len(self.failures) == recorded_before:
            self.record(f"{shlex.join(argv)}: no answer")
        return answer

    def _run_on_this_machine(self, argv: list[str], timeout: float) -> str | None:
        return run_subprocess(argv, timeout, self.failures)

    @property
    def processor(self) -> str:
        """platform.processor(), computed only when asked: on Linux it may spawn `uname -p`."""
        if self._processor is None:
            self._processor = platform.processor()
        return self._processor

    def psutil_memory_bytes(self) -> int | None:
        psutil = self._psutil()
        if psutil is None:
            return None
        try:
            return int(psutil.virtual_memory().total)
        except (OSError, RuntimeError) as error:  # sandboxes can hide /proc/meminfo from psutil
            self.record(f"psutil.virtual_memory(): {error}")
            return None

    def psutil_core_counts(self) -> tuple[int | None, int | None]:
        """(physical, logical) core counts from psutil; (None, None) when psutil is not in use."""
        psutil = self._psutil()
        if psutil is None:
            return None, None
        try:
            return psutil.cpu_count(logical=False), psutil.cpu_count(logical=True)
        except (OSError, RuntimeError) as error:
            self.record(f"psutil.cpu_count(): {error}")
            return None, None

    def _psutil(self) -> Any:
        if not self.use_psutil:
            return None
        try:
            import psutil  # noqa: PLC0415 - fixtures never need it
        except ImportError as error:
            self.record(f"psutil: not importable ({error})")
            return None
        return psutil

    def nvml_snapshot(self) -> NvmlSnapshot:
        """Ask NVML in a daemon thread with a deadline, because nvmlInit can hang on a sick GPU.

        Raises NvmlUnavailable (also recorded in `failures`) when NVML cannot answer in time.
        """
        outcome: list[NvmlSnapshot | NvmlUnavailable] = []
        worker = threading.Thread(target=self._take_nvml_snapshot, args=(outcome,), name="inventory-nvml", daemon=True)
        worker.start()
        worker.join(NVML_DEADLINE_S)
        result = outcome[0] if outcome else NvmlUnavailable(f"NVML did not answer within {NVML_DEADLINE_S:g} s")
        if isinstance(result, NvmlUnavailable):
            self.record(f"NVML: {result}")
            raise result
        return result

    def _take_nvml_snapshot(self, outcome: list[NvmlSnapshot | NvmlUnavailable]) -> None:
        try:
            outcome.append(self._nvml.snapshot())
        except NvmlUnavailable as unavailable:
            outcome.append(unavailable)
        except Exception as error:  # noqa: BLE001 - a broken binding becomes a recorded reason, not a crash
            outcome.append(NvmlUnavailable(f"{type(error).__name__}: {error}"))

    def record(self, failure: str) -> None:
        """Remember something that went wrong while looking, for the inventory's provenance."""
        self.failures.append(failure)

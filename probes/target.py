"""The interpreter a probe measures: this one, or another one (``--python PATH``) that need not have the
advisor installed, such as a training job's own environment.

Another interpreter runs a copy of the worker package (``probes/worker/`` and ``probes/vocabulary.py``,
standard library only) from a scratch directory, so nothing needs to be installed there; the parent keeps
every timeout and memory cap. Which framework versions it has is read there too, from its package metadata
(``importlib.metadata``), without importing them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from framework_advisor.probes.hygiene import scratch_dir, worker_environment
from framework_advisor.probes.installed import distributions, installed_versions
from framework_advisor.probes.report import PythonUsed

PYTHON_ENV = "FRAMEWORK_ADVISOR_PYTHON"
MIN_VERSION = (3, 9)  # the worker's records use typing.Annotated
QUERY_TIMEOUT_S = 30.0
PROBES_DIR = Path(__file__).resolve().parent
WORKER_MODULE = "framework_advisor.probes.worker"

_DESCRIBE = ("import json, platform, sys; print(json.dumps({'executable': sys.executable, 'prefix': sys.prefix, "
             "'version': platform.python_version(), 'version_info': list(sys.version_info[:2])}))")
# Reads distribution versions there: argv[1] is {framework: [distribution, ...]} as JSON.
_VERSIONS = '''
import json, sys
from importlib import metadata
def version(name):
    try:
        return metadata.version(name) or None
    except Exception:
        return None
wanted = json.loads(sys.argv[1])
print(json.dumps({framework: next((v for v in map(version, names) if v), None) for framework, names in wanted.items()}))
'''

_PACKAGES = '''
import json, re
from importlib import metadata
found = {}
for distribution in metadata.distributions():
    try:
        name, version = distribution.metadata["Name"], distribution.version
    except Exception:
        continue
    if name and version:
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), version)
print(json.dumps(found))
'''


class TargetPythonError(ValueError):
    """The interpreter asked for cannot be measured; the message says why, in one line."""


@dataclass(frozen=True)
class TargetPython:
    executable: str
    version: str
    prefix: str
    own: bool

    def used(self) -> PythonUsed:
        return PythonUsed(executable=self.executable, version=self.version, prefix=self.prefix, own=self.own)

    def installed_versions(self, frameworks: Iterable[str]) -> dict[str, Optional[str]]:
        """Framework id -> its installed version in this interpreter (None: not installed there)."""
        wanted = list(frameworks)
        if self.own:
            return installed_versions(wanted)
        known = distributions()
        found = _run_json([self.executable, "-c", _VERSIONS, json.dumps({f: list(known[f]) for f in wanted})],
                          "list its installed packages")
        return {framework: found.get(framework) for framework in wanted}

    def packages(self) -> dict[str, str]:
        """Every distribution installed for this interpreter: normalized name (PEP 503) -> version, read from its
        metadata in that interpreter (nothing imported; the first on its path wins, as an import would)."""
        return {str(name): str(version) for name, version in _run_json(
            [self.executable, "-c", _PACKAGES], "list its installed packages").items()}


def this_python() -> TargetPython:
    import platform

    return TargetPython(executable=sys.executable, version=platform.python_version(), prefix=sys.prefix, own=True)


def _run_json(command: list[str], doing: str) -> dict:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S,
                                   stdin=subprocess.DEVNULL, env=worker_environment(PYTHONIOENCODING="utf-8"))
    except subprocess.TimeoutExpired:
        raise TargetPythonError(f"--python {command[0]}: it did not {doing} within {QUERY_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise TargetPythonError(f"--python {command[0]}: cannot run it ({exc.strerror or exc})") from None
    lines = completed.stdout.strip().splitlines()
    try:
        if completed.returncode != 0 or not lines:
            raise ValueError
        document = json.loads(lines[-1])
        if not isinstance(document, dict):
            raise ValueError
        return document
    except ValueError:
        said = (completed.stderr.strip().splitlines() or completed.stdout.strip().splitlines() or ["no output"])[-1]
        raise TargetPythonError(f"--python {command[0]} is not a Python interpreter that could {doing} "
                                f"(exit status {completed.returncode}: {said[:200]})") from None


def resolve_python(path: Optional[str]) -> TargetPython:
    """The interpreter ``path`` names (a file, or a command on PATH), described by itself; this one for None."""
    if path is None or path == "":
        return this_python()
    found = shutil.which(path) if os.sep not in path else path
    if found is None or not Path(found).exists():
        raise TargetPythonError(f"--python {path}: no such file")
    if not Path(found).is_file() or not os.access(found, os.X_OK):
        raise TargetPythonError(f"--python {path}: not an executable file")
    described = _run_json([found, "-c", _DESCRIBE], "describe itself")
    try:
        major, minor = (int(part) for part in described["version_info"])
        executable, version, prefix = str(described["executable"]), str(described["version"]), str(described["prefix"])
    except (KeyError, TypeError, ValueError):
        raise TargetPythonError(f"--python {path} is not a Python interpreter (it did not describe itself)") from None
    if (major, minor) < MIN_VERSION:
        raise TargetPythonError(f"--python {path} is Python {version}: the probe's worker needs Python "
                                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or later")
    own = Path(executable).resolve() == Path(sys.executable).resolve() and prefix == sys.prefix
    return TargetPython(executable=found if not own else sys.executable, version=version, prefix=prefix, own=own)


class WorkerTree:
    """A copy of the worker package in a scratch directory, for another interpreter to run (``with``)."""

    def __init__(self) -> None:
        self.root = scratch_dir("worker-code")  # named after this process: see hygiene.remove_stale_scratch
        package = self.root / "framework_advisor"
        (package / "probes").mkdir(parents=True)
        (package / "__init__.py").write_text('"""The worker package only, copied for another interpreter."""\n')
        for name in ("__init__.py", "vocabulary.py"):
            shutil.copyfile(PROBES_DIR / name, package / "probes" / name)
        shutil.copytree(PROBES_DIR / "worker", package / "probes" / "worker",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def command(self, python: str) -> list[str]:
        """The worker's command line in ``python`` (its arguments follow): the copy comes first on sys.path,
        ahead of any framework_advisor installed there."""
        boot = (f"import runpy, sys; sys.path.insert(0, {str(self.root)!r}); sys.argv[0] = {WORKER_MODULE!r}; "
                f"runpy.run_module({WORKER_MODULE!r}, run_name='__main__', alter_sys=True)")
        return [python, "-c", boot]

    def __enter__(self) -> WorkerTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

"""Writing a starter program to disk (``framework-advisor starter FRAMEWORK --write FILE``).

All or nothing: an existing file is never replaced without ``force``, and a failed write leaves nothing behind
(a new file is removed; a replaced one is written next to it and renamed over it, so the old one stays whole).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from framework_advisor.rules.recommendation import Starter


class StarterFileError(ValueError):
    """The starter cannot be written there; the message says why, in one line."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_starter(starter: Starter, path: Path, force: bool = False) -> Path:
    """Write ``starter.code`` to ``path`` (a new file; with ``force``, replacing one). Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise StarterFileError(f"{path} is a directory; give a file name such as {path / starter.filename}")
    if not path.parent.is_dir():
        raise StarterFileError(f"cannot write {path}: the directory {path.parent} does not exist")
    data = starter.code.encode("utf-8")
    if path.exists() or path.is_symlink():
        if not force:
            raise StarterFileError(f"{path} exists; give --force to replace it")
        return _replace(path, data)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    except FileExistsError:  # created since the check above
        raise StarterFileError(f"{path} exists; give --force to replace it") from None
    except OSError as exc:
        raise StarterFileError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise StarterFileError(f"cannot write {path}: {_reason(exc)}") from None
    return path


def _replace(path: Path, data: bytes) -> Path:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # a dangling symbolic link: the new file gets the usual mode
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise StarterFileError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise StarterFileError(f"cannot write {path}: {_reason(exc)}") from None
    return path

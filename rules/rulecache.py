"""A cache of validated rule bases, so that a command that answers once does not parse YAML each time.

The key is a sha256 over everything a load reads: each rule directory's path and each file's path and
bytes, every starter template, and the loader's own code (the modules that define what a loaded rule base
is), so a change to any of them is a different key and is never served from the cache. The entry is a
pickle of the RuleBase, one file per set of directories, under ``$XDG_CACHE_HOME/framework-advisor`` (or
``~/.cache/framework-advisor``), created 0700.

A pickle runs code when read, so only a file that this user owns, in a directory this user owns that no
one else can write, whose header carries the expected key, is ever unpickled. Anything else (unreadable,
stale, foreign, corrupt) is ignored: the rule base is loaded in full and the file rewritten. Failing to
write (a read-only home, a full disk) only means the next load is a full one too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAGIC = b"framework-advisor rulebase cache 1\n"
KEEP_FILES = 32  # entries kept per cache directory (one per set of rule directories), newest first
PREFIX = "rulebase-"


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_CACHE_HOME", "")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"  # relative XDG paths are invalid
    return root / "framework-advisor"


@functools.cache
def _code_fingerprint() -> bytes:
    """The loader's own code: a cached rule base from other code may not have the same shape or checks."""
    import pydantic
    import yaml

    from framework_advisor.probes import vocabulary
    from framework_advisor.probes.worker import records
    from framework_advisor.rules import rulebase, safe_yaml, schema, templates

    digest = hashlib.sha256(f"{sys.version}\0{pydantic.VERSION}\0{yaml.__version__}\0".encode())
    for module in (schema, rulebase, safe_yaml, templates, vocabulary, records, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes() + b"\0")
    return digest.digest()


def cache_key(contents: Sequence[tuple[Path, Sequence[tuple[Path, bytes]]]], starter_dir: Path) -> str:
    """The sha256 of what a load of these directories reads (contents: (directory, [(file, bytes)]))."""
    digest = hashlib.sha256(_code_fingerprint())
    for directory, files in contents:
        digest.update(b"dir\0" + os.fsencode(directory.resolve()) + b"\0")
        for path, content in files:
            digest.update(b"file\0" + os.fsencode(path) + b"\0" + hashlib.sha256(content).digest())
    for path in sorted(starter_dir.glob("*/*.py.tmpl")):
        try:
            digest.update(b"starter\0" + os.fsencode(path) + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"starter-unreadable\0" + os.fsencode(path) + b"\0")
    return digest.hexdigest()


def _entry(directories: Sequence[Path], environ: dict[str, str] | None = None) -> Path:
    name = hashlib.sha256("\0".join(str(Path(d).resolve()) for d in directories).encode()).hexdigest()[:32]
    return cache_dir(environ) / f"{PREFIX}{name}.pickle"


def _private(info: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (always true where there are no uids)."""
    if not hasattr(os, "getuid"):
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _usable_dir(folder: Path, create: bool) -> bool:
    try:
        if create:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        return False  # a symlink, or someone else's directory: no cache at all
    if info.st_mode & 0o077:  # ours, but open to others: close it (each entry is checked on its own too)
        try:
            folder.chmod(0o700)
        except OSError:
            return False
    return True


def read(directories: Sequence[Path], key: str, environ: dict[str, str] | None = None) -> Any:
    """The cached RuleBase for this key, or None (no entry, or one that is not to be trusted or used)."""
    from framework_advisor.rules.rulebase import RuleBase

    path = _entry(directories, environ)
    if not _usable_dir(path.parent, create=False):
        return None
    header = MAGIC + key.encode() + b"\n"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or not _private(info):
                return None
            if handle.read(len(header)) != header:
                return None  # another key (stale), or not a cache file of ours
            rulebase = pickle.loads(handle.read())
    except Exception:  # noqa: BLE001 - a corrupt entry of any kind only means a full load
        return None
    return rulebase if isinstance(rulebase, RuleBase) and rulebase.sha256 else None


def write(directories: Sequence[Path], key: str, rulebase: Any, environ: dict[str, str] | None = None) -> bool:
    """Store a validated rule base under this key (atomically: a reader sees the old entry or the new one)."""
    path = _entry(directories, environ)
    if not _usable_dir(path.parent, create=True):
        return False
    try:
        payload = MAGIC + key.encode() + b"\n" + pickle.dumps(rulebase, protocol=pickle.HIGHEST_PROTOCOL)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except Exception:  # noqa: BLE001 - an unwritable cache is no error
        return False
    _prune(path.parent)
    return True


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob(f"{PREFIX}*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_FILES:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass

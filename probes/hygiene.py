"""What a probe leaves to the frameworks it runs, and what it leaves behind: the environment handed to the worker
processes (secrets removed) and the scratch folders (named after their owner process, so that the folders of a
killed run can be told apart from a live one's and removed at the next start).

The parent side only: the worker package (``probes/worker``) runs on the standard library alone and keeps its own
half (``worker/watchdog.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import psutil

# --- the environment handed to framework code -----------------------------------------------------------------

# A variable whose name holds one of these words is taken for a secret (FRAMEWORK_ADVISOR_TOKEN, HF_TOKEN,
# GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, *_PASSWORD, *_API_KEY, GOOGLE_APPLICATION_CREDENTIALS,
# SSH_AUTH_SOCK ...): a framework, its import hooks or a package it loads has no business reading it.
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIAL|AUTH|COOKIE|SESSION_ID",
                         re.IGNORECASE)
# Names that hold a secret word but no secret, which frameworks read.
HARMLESS = frozenset({
    "TOKENIZERS_PARALLELISM",  # Hugging Face tokenizers' thread pool: it changes what a benchmark measures
})
# A value that carries credentials in a URL (https://user:password@host, a proxy or a package index with its login).
_CREDENTIALS_IN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@")


def is_secret(name: str, value: str) -> bool:
    if name.upper() in HARMLESS:
        return False
    return bool(SECRET_NAME.search(name) or _CREDENTIALS_IN_URL.search(value))


def worker_environment(environ: Optional[Mapping[str, str]] = None, **extra: str) -> dict[str, str]:
    """``environ`` (default: this process's) without its secrets (``is_secret``), with ``extra`` on top: what a
    worker subprocess, and so the framework it measures, gets."""
    environ = os.environ if environ is None else environ
    kept = {name: value for name, value in environ.items() if not is_secret(name, value)}
    kept.update(extra)
    return kept


# --- scratch folders, named after their owner ----------------------------------------------------------------

# framework-advisor-worker-<pid>-<random>, framework-advisor-worker-code-<pid>-<random>, ...-bench-<pid>-<random>
_OWNED = re.compile(r"framework-advisor-(?:worker-code|worker|bench)-(?P<pid>[0-9]{1,10})-[A-Za-z0-9_]+")


def scratch_dir(kind: str) -> Path:
    """A new private scratch folder in the temporary directory, named after this process (``kind``: "worker" or
    "worker-code"): remove_stale_scratch removes it once this process is gone, if nothing else did."""
    return Path(tempfile.mkdtemp(prefix=f"framework-advisor-{kind}-{os.getpid()}-"))


def _owner_alive(pid: int, folder_mtime: float) -> bool:
    """True while the process that made the folder may still run: a process with that id exists and started
    before the folder last changed (a newer process with a reused id is not its owner)."""
    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).create_time() <= folder_mtime + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: keep the folder, to be safe
        return True


def remove_stale_scratch(temp_dir: Optional[Path] = None) -> list[Path]:
    """Remove the scratch folders that killed runs left in ``temp_dir`` (default: the temporary directory):
    only folders (not links) of this user's, named after an owner process that is gone. Returns them. Costs one
    listing of the directory."""
    root = Path(temp_dir) if temp_dir is not None else Path(tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        match = _OWNED.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.geteuid():
                continue
        except OSError:
            continue
        if _owner_alive(int(match["pid"]), info.st_mtime):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    return removed

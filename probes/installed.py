"""Which framework versions are installed, read from package metadata without importing them.

Importing torch or tensorflow to ask its version costs seconds and can crash the web process;
`importlib.metadata` reads the installed distribution's METADATA file instead. Which distributions
make up each framework is data: probes/data/distributions.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS_FILE = Path(__file__).resolve().parent / "data" / "distributions.json"


@cache
def distributions() -> dict[str, tuple[str, ...]]:
    """Framework id -> its distribution names, in order of preference."""
    loaded = json.loads(DISTRIBUTIONS_FILE.read_text(encoding="utf-8"))["frameworks"]
    return {framework: tuple(names) for framework, names in loaded.items()}


def distribution_version(distribution: str) -> str | None:
    """The installed version of one distribution, or None when it is absent or its metadata is unreadable."""
    try:
        return metadata.version(distribution) or None
    except metadata.PackageNotFoundError:
        return None
    except OSError:  # a half-deleted dist-info directory: as good as not installed
        return None


def installed_versions(frameworks: Iterable[str] | None = None) -> dict[str, str | None]:
    """Framework id -> version of the first of its distributions that is installed, else None."""
    known = distributions()
    return {framework: next(filter(None, map(distribution_version, known[framework])), None)
            for framework in (known if frameworks is None else frameworks)}

"""Which framework versions are installed, read from package metadata without importing them.

Importing torch or tensorflow to ask its version costs seconds and can crash the web process;
`importlib.metadata` reads the installed distribution's METADATA file instead.
"""

from __future__ import annotations

from importlib import metadata


def distribution_version(distribution: str) -> str | None:
    """The installed version of one distribution, or None when it is absent or its metadata is unreadable."""
    try:
        return metadata.version(distribution) or None
    except metadata.PackageNotFoundError:
        return None
    except OSError:  # a half-deleted dist-info directory: as good as not installed
        return None


def installed_versions(catalog_distributions: dict[str, list[str]]) -> dict[str, str | None]:
    """Framework id -> version of the first of its distributions that is installed, else None.

    A framework ships under several names (tensorflow, tensorflow-cpu); the catalog lists them in
    order of preference.
    """
    return {
        framework_id: next(filter(None, map(distribution_version, distributions)), None)
        for framework_id, distributions in catalog_distributions.items()
    }

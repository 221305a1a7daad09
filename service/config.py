"""Service settings: defaults, then environment variables, then CLI flags (applied by the CLI)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from framework_advisor.rules.rulebase import extra_dirs_from_env

DATA_DIR_ENV = "FRAMEWORK_ADVISOR_DATA_DIR"
TOKEN_ENV = "FRAMEWORK_ADVISOR_TOKEN"
ALLOWED_HOSTS_ENV = "FRAMEWORK_ADVISOR_ALLOWED_HOSTS"
READ_TIMEOUT_ENV = "FRAMEWORK_ADVISOR_READ_TIMEOUT_S"
MAX_PEER_CONNECTIONS_ENV = "FRAMEWORK_ADVISOR_MAX_CONNECTIONS_PER_PEER"
# One probe at a time per machine, whichever service or CLI starts it: the lock is machine-wide.
MACHINE_LOCK_PATH = Path(tempfile.gettempdir()) / "framework-advisor-probe.lock"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "framework-advisor"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    rules_dirs: tuple[Path, ...] = ()
    max_body_bytes: int = 64 * 1024
    max_report_bytes: int = 1024 * 1024  # an uploaded ProbeReport of a many-GPU host is larger
    hardware_cache_seconds: float = 60.0
    probe_lock_path: Path = MACHINE_LOCK_PATH
    # Bearer token for the endpoints that start probes or store uploaded reports; None: loopback only.
    api_token: str | None = None
    # POST /v1/probes per client and window, counted in the store (shared by all workers); 0: no limit.
    probe_rate_limit: int = 10
    probe_rate_window_s: float = 60.0
    # Uploaded reports (fleet collection) per client and window: many runners may share one address.
    upload_rate_limit: int = 600
    # Cap on the SQLite store's size (uploads could fill a disk); None: only the disk limits it.
    max_store_bytes: int | None = None
    # Host names a request may name besides loopback ones (serve --allowed-host; "*": any); 421 otherwise.
    allowed_hosts: tuple[str, ...] = ()
    # Seconds for a request's headers and body once a worker thread takes it (serve's guarded worker; 408 after).
    read_timeout_s: float = 10.0
    # Open connections per client address and worker process (429 beyond); 0: no cap.
    max_peer_connections: int = 64

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {
            "data_dir": Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else default_data_dir(),
            "rules_dirs": tuple(extra_dirs_from_env()),
            "api_token": os.environ.get(TOKEN_ENV) or None,
            "allowed_hosts": host_list(os.environ.get(ALLOWED_HOSTS_ENV, "")),
        }
        if os.environ.get(READ_TIMEOUT_ENV, "").strip():
            values["read_timeout_s"] = float(os.environ[READ_TIMEOUT_ENV])
        if os.environ.get(MAX_PEER_CONNECTIONS_ENV, "").strip():
            values["max_peer_connections"] = int(os.environ[MAX_PEER_CONNECTIONS_ENV])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "framework-advisor.sqlite3"


def host_list(text: str) -> tuple[str, ...]:
    """Host names from a comma- or space-separated list (FRAMEWORK_ADVISOR_ALLOWED_HOSTS)."""
    return tuple(name for name in text.replace(",", " ").split() if name)

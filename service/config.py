"""Service settings: defaults, then environment variables, then CLI flags (applied by the CLI).

Every limit is one ``Limit`` row of ``LIMITS``: its setting, its ``serve`` flag, its environment variable and
its default. The CLI builds the flags from it and docs/security.md lists it (a test holds the page to it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from framework_advisor.rules.rulebase import extra_dirs_from_env

DATA_DIR_ENV = "FRAMEWORK_ADVISOR_DATA_DIR"
TOKEN_ENV = "FRAMEWORK_ADVISOR_TOKEN"
PRIVATE_READS_ENV = "FRAMEWORK_ADVISOR_PRIVATE_READS"
ALLOWED_HOSTS_ENV = "FRAMEWORK_ADVISOR_ALLOWED_HOSTS"
MIN_TOKEN_CHARS = 32
LOCK_FILE_NAME = "probe.lock"
MiB = 2**20


class SettingsError(ValueError):
    """A setting (an environment variable or the token) is unusable; the message says which, in one line."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "framework-advisor"


def probe_lock_path(data_dir: Optional[Path] = None) -> Path:
    """Where the probe lock lives: in the data directory; for a probe with none (``probe --no-store``, ``audit``),
    the data directory it would use (FRAMEWORK_ADVISOR_DATA_DIR or the default) if that exists, else the user's
    runtime directory ($XDG_RUNTIME_DIR, private to the user), else the default data directory. Never a shared
    directory such as /tmp, where another user could plant the file (probe_jobs.machine_probe_lock checks it)."""
    if data_dir is not None:
        return Path(data_dir) / LOCK_FILE_NAME
    would_use = Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else default_data_dir()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not would_use.is_dir() and runtime and os.path.isabs(runtime) and Path(runtime).is_dir():
        return Path(runtime) / "framework-advisor" / LOCK_FILE_NAME
    return would_use / LOCK_FILE_NAME


@dataclass(frozen=True)
class Limit:
    """One limit: a Settings field, set by ``serve FLAG`` or the environment variable ``env`` in ``unit``s of the
    setting (a flag in MiB sets bytes); 0 means no limit where ``zero`` says so, else the least is ``least``."""

    field: str
    flag: str
    env: str
    help: str
    unit: int = 1
    least: float = 0
    zero: Optional[str] = None  # what 0 means, when it is allowed
    kind: type = int

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def metavar(self) -> str:
        return "SECONDS" if self.kind is float else "N"

    def parse(self, text: str, source: str) -> int | float:
        """The setting's value for ``text`` (in the flag's unit); SettingsError naming ``source`` otherwise."""
        try:
            value = self.kind(text.strip())
        except ValueError:
            value = None
        zero_ok = self.zero is not None and value == 0
        if value is None or value != value or value in (float("inf"),) or (value < self.least and not zero_ok):
            least = f"{self.least:g}" if self.zero is None else f"{self.least:g} (or 0: {self.zero})"
            kind = "a number" if self.kind is float else "a whole number"
            raise SettingsError(f"{source} must be {kind} >= {least}, not {text!r}")
        return value * self.unit if self.kind is int else value

    def default_text(self, settings: Settings) -> str:
        value = getattr(settings, self.field)
        if not value and self.zero is not None:
            return f"0 ({self.zero})"
        shown = value / self.unit
        return f"{shown:g}"


LIMITS: tuple[Limit, ...] = (
    Limit("max_store_bytes", "--max-store-mb", "FRAMEWORK_ADVISOR_MAX_STORE_MB", unit=MiB, least=1,
          zero="only the disk limits it",
          help="cap on the SQLite store's size, in MiB (0: only the disk); a write past it is refused with 507"),
    Limit("keep_per_host", "--keep-per-host", "FRAMEWORK_ADVISOR_KEEP_PER_HOST", least=1, zero="keep all",
          help="probes kept per host, newest first (this machine's own and uploaded ones counted apart); older "
               "ones are deleted as new ones are stored (0: keep all)"),
    Limit("probe_rate_limit", "--probe-rate-limit", "FRAMEWORK_ADVISOR_PROBE_RATE_LIMIT", least=1, zero="no limit",
          help="probe starts (and requests with a missing or wrong token) per client and window (0: no limit)"),
    Limit("upload_rate_limit", "--upload-rate-limit", "FRAMEWORK_ADVISOR_UPLOAD_RATE_LIMIT", least=1,
          zero="no limit", help="uploaded reports per client and window (0: no limit)"),
    Limit("probe_rate_window_s", "--rate-window", "FRAMEWORK_ADVISOR_RATE_WINDOW_S", least=1, kind=float,
          help="the rate limits' window, in seconds"),
    Limit("max_report_bytes", "--max-report-kb", "FRAMEWORK_ADVISOR_MAX_REPORT_KB", unit=1024, least=64,
          help="largest uploaded ProbeReport, in KiB"),
    Limit("max_queued_probes", "--max-queued-probes", "FRAMEWORK_ADVISOR_MAX_QUEUED_PROBES", least=1,
          help="probes that may wait for this machine at once; one more is refused with 429"),
    Limit("read_timeout_s", "--read-timeout", "FRAMEWORK_ADVISOR_READ_TIMEOUT_S", least=1, kind=float,
          help="seconds a client has to send a request's headers and whole body once a worker thread takes it; "
               "later, 408 and the connection is closed"),
    Limit("max_peer_connections", "--max-connections-per-peer", "FRAMEWORK_ADVISOR_MAX_CONNECTIONS_PER_PEER",
          least=1, zero="no cap", help="open connections one client address may hold per worker process; one "
                                        "more is answered 429 and closed (0: no cap)"),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    rules_dirs: tuple[Path, ...] = ()
    max_body_bytes: int = 64 * 1024
    max_report_bytes: int = 1024 * 1024  # an uploaded ProbeReport of a many-GPU host is larger
    hardware_cache_seconds: float = 60.0
    # The probe lock; None: the data directory's (probe_lock_path).
    probe_lock_path: Optional[Path] = None
    # Bearer token for the endpoints that start probes or store uploaded reports; None: loopback only.
    api_token: str | None = None
    # POST /v1/probes per client and window, counted in the store (shared by all workers); 0: no limit.
    probe_rate_limit: int = 10
    probe_rate_window_s: float = 60.0
    # Uploaded reports (fleet collection) per client and window: many runners may share one address.
    upload_rate_limit: int = 600
    # Cap on the SQLite store's size (uploads could fill a disk); 0 or None: only the disk limits it.
    max_store_bytes: int | None = 1024 * MiB
    # Probes kept per host (own and uploaded counted apart), newest first; 0 or None: all.
    keep_per_host: int | None = 100
    max_queued_probes: int = 4
    # Stored probes (GET /v1/probes..., a probe_id in a recommendation) readable only with a token.
    private_reads: bool = False
    # Host names a request may name besides loopback ones (serve --allowed-host; "*": any); 421 otherwise.
    allowed_hosts: tuple[str, ...] = ()
    # Seconds for a request's headers and body once a worker thread takes it (serve's guarded worker; 408 after).
    read_timeout_s: float = 10.0
    # Open connections per client address and worker process (429 beyond); 0: no cap.
    max_peer_connections: int = 64

    def __post_init__(self) -> None:
        if self.probe_lock_path is None:
            object.__setattr__(self, "probe_lock_path", probe_lock_path(self.data_dir))

    @classmethod
    def from_env(cls, environ: Optional[dict[str, str]] = None, **overrides) -> Settings:
        """Defaults, then the environment, then ``overrides`` (None: not given). A bad variable raises
        SettingsError naming it."""
        environ = os.environ if environ is None else environ
        values = {
            "data_dir": Path(environ[DATA_DIR_ENV]) if environ.get(DATA_DIR_ENV) else default_data_dir(),
            "rules_dirs": tuple(extra_dirs_from_env(environ)),
            "api_token": environ.get(TOKEN_ENV) or None,
            "private_reads": _flag(environ, PRIVATE_READS_ENV),
            "allowed_hosts": host_list(environ.get(ALLOWED_HOSTS_ENV, "")),
        }
        for limit in LIMITS:
            if environ.get(limit.env, "").strip():
                values[limit.field] = limit.parse(environ[limit.env], limit.env)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def check_token(self) -> None:
        """A configured token must be long enough to resist guessing (``serve`` and create_app refuse it)."""
        if self.api_token is not None and len(self.api_token) < MIN_TOKEN_CHARS:
            raise SettingsError(f"{TOKEN_ENV} is {len(self.api_token)} characters long: a token needs at least "
                                f"{MIN_TOKEN_CHARS}; make a random one with: python3 -c 'import secrets; "
                                f"print(secrets.token_urlsafe(32))'")

    @property
    def database_path(self) -> Path:
        return self.data_dir / "framework-advisor.sqlite3"


def host_list(text: str) -> tuple[str, ...]:
    """Host names from a comma- or space-separated list (FRAMEWORK_ADVISOR_ALLOWED_HOSTS)."""
    return tuple(name for name in text.replace(",", " ").split() if name)


def _flag(environ, name: str) -> bool:
    text = environ.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0 (true or false), not {environ[name]!r}")

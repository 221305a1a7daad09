"""Serving with gunicorn (gthread workers: a sync worker would be held by a long stream)."""

from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication

from rules.rulebase import RuleFileError
from service.config import Settings
from service.storage import StoreError


class _Gunicorn(BaseApplication):
    def __init__(self, application, options: dict):
        self._application = application
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._application


def serve(settings: Settings, host: str, port: int, workers: int, threads: int) -> int:
    from service.app import create_app

    # Build the app once, in the master, so a bad rule file or store stops start-up with one message
    # instead of workers failing to boot in a loop.
    try:
        application = create_app(settings)
    except (RuleFileError, StoreError) as exc:
        print(f"framework-advisor: error: cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"framework-advisor: serving on http://{host}:{port} (data in {settings.data_dir})", file=sys.stderr)
    _Gunicorn(application, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "timeout": 60,
        "graceful_timeout": 10,
    }).run()
    return 0

"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from framework_advisor.rules.rulebase import load_rulebase
from framework_advisor.answer_cache import AnswerCache
from framework_advisor.api import api
from framework_advisor.config import Settings
from framework_advisor.http_guard import install_http_guard
from framework_advisor.json_body import StrictJSONProvider
from framework_advisor.machine import ThisMachine
from framework_advisor.probes.hygiene import remove_stale_scratch
from framework_advisor.probe_jobs import ProbeJobs, ProbeRunner, latest_own_probe
from framework_advisor.problems import register_problem_handlers
from framework_advisor.rate_limit import RateLimit
from framework_advisor.request_body import BufferedBody
from framework_advisor.storage import Store
from framework_advisor.web import web

def _real_probe(store: Store) -> ProbeRunner:
    def run_real_probe(options, **kwargs):
        # Imported when a probe runs, not at start-up; frameworks still only load in worker subprocesses.
        from framework_advisor.probes.probe import run_probe

        return run_probe(options, previous=latest_own_probe(store), **kwargs)  # reused when nothing changed

    return run_real_probe


def create_app(settings: Settings | None = None, run_probe: ProbeRunner | None = None) -> Flask:
    """Build the app; a bad rule file or an unusable store raises here, before serving anything.

    ``run_probe`` replaces the real probe (tests inject a fast, deterministic one)."""
    settings = settings or Settings.from_env()
    settings.check_token()  # config.SettingsError: too short to resist guessing
    rulebase = load_rulebase(settings.rules_dirs)
    store = Store.for_settings(settings)  # its size cap and retention per host
    jobs = ProbeJobs(store, run_probe or _real_probe(store), max_queued=settings.max_queued_probes,
                     lock_path=settings.probe_lock_path)
    jobs.interrupt_orphans_at_start()
    remove_stale_scratch()  # scratch folders of probes killed before they could remove them

    app = Flask(__name__, static_folder="static", static_url_path="/static")
    # Werkzeug would answer '//x' and '/a//b' with an HTML 308 (to another host, for '//host'); a path
    # with an empty segment is simply not found here.
    app.url_map.merge_slashes = False
    for rule in app.url_map.iter_rules():  # the static route was bound before the line above
        rule.merge_slashes = False
    app.config.update(
        MAX_CONTENT_LENGTH=None,  # the body limit is enforced in json_body, chunked bodies included
        FRAMEWORK_ADVISOR_MAX_BODY=settings.max_body_bytes,
        FRAMEWORK_ADVISOR_MAX_REPORT=settings.max_report_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json = StrictJSONProvider(app)  # never writes NaN or Infinity
    app.json.sort_keys = False
    app.extensions["framework_advisor.settings"] = settings
    app.extensions["framework_advisor.rulebase"] = rulebase
    app.extensions["framework_advisor.store"] = store
    app.extensions["framework_advisor.jobs"] = jobs
    app.extensions["framework_advisor.answers"] = AnswerCache()
    app.extensions["framework_advisor.probe_rate_limit"] = RateLimit(
        "probes", settings.probe_rate_limit, settings.probe_rate_window_s)
    app.extensions["framework_advisor.upload_rate_limit"] = RateLimit(
        "uploads", settings.upload_rate_limit, settings.probe_rate_window_s)
    app.extensions["framework_advisor.machine"] = ThisMachine(settings.hardware_cache_seconds)
    app.register_blueprint(api)
    app.register_blueprint(web)
    register_problem_handlers(app)
    install_http_guard(app)  # Host (421), cross-site (403), JSON POSTs (415); security headers on every response
    # The whole body is read before any route runs (under serve, within the read deadline): no route blocks on
    # a client's socket.
    app.wsgi_app = BufferedBody(app.wsgi_app, max(settings.max_body_bytes, settings.max_report_bytes),
                                settings.read_timeout_s)
    return app

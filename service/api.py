"""The JSON API under /v1, plus /healthz and /openapi.yaml. Models in, models out: JSON is made here."""

from __future__ import annotations

import re
import socket

from flask import Blueprint, Response, current_app, request, url_for
from pydantic import BaseModel
from werkzeug.datastructures import MIMEAccept

from framework_advisor import __version__
from framework_advisor.advice import UnknownProbe, UnusableProbe, answer, resolve
from framework_advisor.answer_cache import AnswerCache
from framework_advisor.auth import caller, probe_start_refusal, require_read, unauthorized, upload_refusal
from framework_advisor.config import TOKEN_ENV
from framework_advisor.contract import ContractViolation, read_report, validate
from framework_advisor.contract.document import openapi_text
from framework_advisor.json_body import parse_json_body, read_raw_json_body
from framework_advisor.machine import ThisMachine
from framework_advisor.models import (FieldError, FrameworkInfo, FrameworkList, Health, ProbeList, RuleInfo, RuleList,
                                      StoreHealth, Vocabulary)
from framework_advisor.probes.report import ProbeOptions, ProbeParams, ProbeReport
from framework_advisor.problems import Problem
from framework_advisor.probe_jobs import ProbeJobs, new_probe_id
from framework_advisor.probe_history import diff_stored
from framework_advisor.rules.catalog import StarterError, best_device, find_starter, install_command
from framework_advisor.rules.recommendation import Recommendation, RecommendationRequest, RulebaseVersion
from framework_advisor.rules.rulebase import RuleBase
from framework_advisor.storage import QueueFull, Store

api = Blueprint("api", __name__)
PROBE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
LIMIT_TEXT = re.compile(r"[0-9]{1,4}")


def _rulebase() -> RuleBase:
    return current_app.extensions["framework_advisor.rulebase"]


def _machine() -> ThisMachine:
    return current_app.extensions["framework_advisor.machine"]


def _store() -> Store:
    return current_app.extensions["framework_advisor.store"]


def _jobs() -> ProbeJobs:
    return current_app.extensions["framework_advisor.jobs"]


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(exclude_none=True), status=status, mimetype="application/json")


def _valid(model: type, document: object, what: str = "request"):
    try:
        return validate(model, document)
    except ContractViolation as violation:
        raise Problem(422, f"invalid {what}: {violation}", violation.errors) from None


def _rulebase_version() -> RulebaseVersion:
    return RulebaseVersion(version=_rulebase().version, sha256=_rulebase().sha256)


HEALTH_CACHE_S = 2.0  # /healthz reads the store's state at most this often per process (a HEALTHCHECK: every 30 s)


@api.get("/healthz")
def health() -> Response:
    """Up, and the store readable and writable with room for the largest report accepted: 503 otherwise, so a
    container's HEALTHCHECK says so. Reads the store's header and the file system's figures (at most every
    HEALTH_CACHE_S per process); writes nothing."""
    state = _store().state(min_free_bytes=current_app.config["FRAMEWORK_ADVISOR_MAX_REPORT"],
                           max_age_s=HEALTH_CACHE_S)
    if not state.writable:
        raise Problem(503, f"the store cannot be {'written' if state.readable else 'read'}: {state.problem}",
                      headers={"Retry-After": "30"})
    store = StoreHealth(readable=state.readable, writable=state.writable, size_bytes=state.size_bytes,
                        max_bytes=state.max_bytes, free_bytes=state.free_bytes)
    return json_response(Health(status="ok", version=__version__, rulebase=_rulebase_version(), store=store))


@api.get("/openapi.yaml")
def openapi() -> Response:
    return Response(openapi_text(), mimetype="application/yaml")


@api.get("/v1/vocabulary")
def vocabulary() -> Response:
    return json_response(Vocabulary.current())


@api.get("/v1/hardware")
def hardware() -> Response:
    return json_response(_machine().hardware())


@api.get("/v1/frameworks")
def frameworks() -> Response:
    rulebase = _rulebase()
    here = _machine().hardware()
    versions = _machine().installed_versions()
    listed = [FrameworkInfo(id=framework_id, name=entry.name, summary=entry.summary, good_for=tuple(entry.good_for),
                            platforms=tuple(entry.platforms),
                            install=install_command(entry, here, best_device(entry, here)),
                            installed_version=versions.get(framework_id), docs=entry.docs)
              for framework_id, entry in rulebase.frameworks.items()]
    return json_response(FrameworkList(frameworks=tuple(listed)))


@api.post("/v1/recommendations")
def recommendations() -> Response:
    answers: AnswerCache = current_app.extensions["framework_advisor.answers"]
    raw = read_raw_json_body(current_app.config["FRAMEWORK_ADVISOR_MAX_BODY"])
    # A body that carries its own hardware is a pure function of its bytes: a repeat skips parsing and
    # validation. Only such bodies are filed under their digest (see the end of this function).
    body_key = AnswerCache.digest(raw)
    cached = answers.get(body_key)
    if cached is not None:
        return _recommendation_response(cached)
    question_asked = _valid(RecommendationRequest, parse_json_body(raw))
    if question_asked.probe_id is not None:
        require_read()  # a stored report's hardware and figures: private with --private-reads
    try:
        question = resolve(question_asked, _machine(), _store())
    except UnknownProbe as unknown:
        raise Problem(404, f"no probe with id {unknown.args[0]!r}; list them with GET /v1/probes") from None
    except UnusableProbe as unusable:
        raise Problem(409, str(unusable)) from None

    def answer_json() -> bytes:
        return answer(_rulebase(), question).model_dump_json(exclude_none=True).encode()

    # Same inputs, same answer: a finished probe never changes, the rule base is fixed per process.
    payload = answers.get_or_compute(AnswerCache.key(*question.cache_key()), answer_json)
    if question.source == "request":  # no machine state and no stored probe entered it
        answers.put(body_key, payload)  # the same payload object: a second key, not a second copy
    return _recommendation_response(payload)


MARKDOWN = "text/markdown"


def _wants_markdown() -> bool:
    """Content negotiation for a recommendation: Markdown when the client prefers text/markdown to JSON (by
    quality; media type parameters such as charset or variant do not matter); JSON otherwise, also for an
    Accept header that names neither (a client that sends text/html still gets the answer, in JSON)."""
    offered = MIMEAccept([(value.split(";", 1)[0].strip(), quality) for value, quality in request.accept_mimetypes])
    return offered.best_match(("application/json", MARKDOWN), default="application/json") == MARKDOWN


def _recommendation_response(payload: bytes) -> Response:
    """A recommendation's JSON payload (as cached), or its Markdown when the client asks for that."""
    if _wants_markdown():
        text = Recommendation.model_validate_json(payload).to_markdown()
        response = Response(text, mimetype=MARKDOWN)  # text/markdown; charset=utf-8 (RFC 7763)
    else:
        response = Response(payload, mimetype="application/json")
    response.vary.add("Accept")
    return response


def _optional_raw_body(limit: int) -> bytes:
    """An empty body (no content) means defaults (b""); anything sent must be a JSON body."""
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return b""
    return read_raw_json_body(limit)


def _is_uploaded_report(body: object) -> bool:
    # ProbeOptions have quick, thorough, frameworks, threads; a ProbeReport always carries its schema_version.
    return isinstance(body, dict) and "schema_version" in body


@api.post("/v1/probes")
def start_probe() -> Response:
    """Start a probe of this machine, or store a report uploaded from another one (fleet collection).

    Who may do which is auth's: a probe start needs the service token (when there is one), an upload a token
    of the report's own host; a refused token counts against the probe limit, which slows guessing."""
    probe_limit = current_app.extensions["framework_advisor.probe_rate_limit"]
    who = caller()

    def refuse(problem: Problem | None) -> None:
        if problem is not None:
            if problem.status == 401:
                probe_limit.check(_store(), who.identity)  # counted by network: it slows a guesser
            raise problem

    if who.kind == "wrong" or (who.kind == "anonymous" and current_app.extensions["framework_advisor.settings"].api_token):
        refuse(unauthorized(who, f"the service token ({TOKEN_ENV}) to start a probe, or the uploading machine's own "
                                 f"token to upload its report"))  # no body is read for a caller nothing here accepts
    raw = _optional_raw_body(current_app.config["FRAMEWORK_ADVISOR_MAX_REPORT"])  # chunked bodies counted too
    body = parse_json_body(raw) if raw else {}
    if _is_uploaded_report(body):
        refuse(upload_refusal(who))
        # Uploads are cheap and a fleet may share one address (NAT): their own, higher limit, per token.
        current_app.extensions["framework_advisor.upload_rate_limit"].check(_store(), who.identity)
        try:
            report = read_report(body)
        except ContractViolation as violation:
            raise Problem(422, f"invalid report: {violation}", violation.errors) from None
        refuse(upload_refusal(who, report.host))  # 403: a token speaks only for its own host
        return _store_uploaded_report(report)
    refuse(probe_start_refusal(who))
    if len(raw) > current_app.config["FRAMEWORK_ADVISOR_MAX_BODY"]:
        raise Problem(413, f"a probe request is at most {current_app.config['FRAMEWORK_ADVISOR_MAX_BODY']} bytes")
    probe_limit.check(_store(), who.identity)
    options: ProbeOptions = _valid(ProbeOptions, body)
    try:
        probe_id, _ = _jobs().submit(socket.gethostname(), ProbeParams.asked(options))
    except QueueFull as full:
        raise Problem(429, f"{full.args[0]} probes are already queued on this machine; try again later",
                      headers={"Retry-After": "60"}) from None
    response = json_response(_store().get_probe(probe_id), status=202)
    response.headers["Location"] = url_for("api.get_probe", probe_id=probe_id)
    return response


def _store_uploaded_report(report: ProbeReport) -> Response:
    probe_id = new_probe_id()
    _store().save_finished_probe(probe_id, report.host, ProbeParams(quick=report.quick, uploaded=True), report)
    response = json_response(_store().get_probe(probe_id), status=201)
    response.headers["Location"] = url_for("api.get_probe", probe_id=probe_id)
    return response


@api.get("/v1/probes")
def list_probes() -> Response:
    host = request.args.get("host")
    limit_text = request.args.get("limit", "50")
    if not LIMIT_TEXT.fullmatch(limit_text) or not 1 <= int(limit_text) <= 500:  # ASCII digits only: not '²'
        raise Problem(400, f"limit must be an integer from 1 to 500, not {limit_text!r}")
    if host is not None and len(host) > 255:
        raise Problem(400, "host is at most 255 characters")
    require_read()
    _jobs().ensure_worker()
    return json_response(ProbeList(probes=tuple(_store().list_probes(host=host, limit=int(limit_text)))))


@api.get("/v1/probes/<probe_id>")
def get_probe(probe_id: str) -> Response:
    require_read()
    probe = _store().get_probe(probe_id) if PROBE_ID.fullmatch(probe_id) else None
    if probe is None:
        raise Problem(404, f"no probe with id {probe_id!r}; list them with GET /v1/probes")
    _jobs().ensure_worker()
    return json_response(probe)


@api.get("/v1/probes/<probe_id>/diff/<other_id>")
def diff_probes(probe_id: str, other_id: str) -> Response:
    """What changed from probe ``probe_id`` (A) to ``other_id`` (B): versions, devices and figures."""
    require_read()
    for named in (probe_id, other_id):
        if not PROBE_ID.fullmatch(named):
            raise Problem(404, f"no probe with id {named!r}; list them with GET /v1/probes")
    try:
        return json_response(diff_stored(_store(), probe_id, other_id))
    except UnknownProbe as unknown:
        raise Problem(404, f"no probe with id {unknown.args[0]!r}; list them with GET /v1/probes") from None
    except UnusableProbe as unusable:
        raise Problem(409, str(unusable)) from None


@api.get("/v1/rules")
def list_rules() -> Response:
    rulebase = _rulebase()
    rules = tuple(RuleInfo(**{**rule.model_dump(mode="json", by_alias=True, exclude_none=True),
                              "message": rule.message or rule.message_for(rule.frameworks[0]),
                              "messages": {f: rule.message_for(f) for f in rule.frameworks}},
                           source=str(rulebase.rule_locations[rule.id])) for rule in rulebase.rules)
    return json_response(RuleList(rulebase=_rulebase_version(), rules=rules))


@api.get("/v1/starters/<framework>")
def starter(framework: str) -> Response:
    try:  # the same checks and program as `framework-advisor starter`
        found = find_starter(_rulebase(), framework, request.args.get("device", "cpu"), request.args.get("goal"))
    except StarterError as error:
        fields = [FieldError(pointer=f"/{error.field}", message=error.field_message)] if error.field else None
        raise Problem(404 if error.missing else 422, str(error), fields) from None
    return json_response(found)

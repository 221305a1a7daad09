"""The JSON API under /v1, plus /healthz and /openapi.yaml."""

from __future__ import annotations

import re
import socket

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from framework_advisor.rules.engine import best_device, install_command, recommend, render_starter
from framework_advisor.rules.rulebase import RuleBase
from framework_advisor import __version__
from framework_advisor.answer_cache import AnswerCache
from framework_advisor.auth import require_token, token_status
from framework_advisor.contract import ContractViolation, FieldError, enum_of, openapi_text, validate
from framework_advisor.json_body import parse_json_body, read_raw_json_body
from framework_advisor.machine import ThisMachine
from framework_advisor.problems import Problem
from framework_advisor.probe_jobs import ProbeJobs, new_probe_id, probe_params
from framework_advisor.storage import QueueFull, Store

api = Blueprint("api", __name__)
PROBE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _rulebase() -> RuleBase:
    return current_app.extensions["framework_advisor.rulebase"]


def _machine() -> ThisMachine:
    return current_app.extensions["framework_advisor.machine"]


def _store() -> Store:
    return current_app.extensions["framework_advisor.store"]


def _jobs() -> ProbeJobs:
    return current_app.extensions["framework_advisor.jobs"]


def _rulebase_version() -> dict[str, str]:
    return {"version": _rulebase().version, "sha256": _rulebase().sha256}


@api.get("/healthz")
def health() -> Response:
    if not _store().healthy():
        raise Problem(503, f"the store {_store().path} cannot be read")
    return jsonify(status="ok", version=__version__, rulebase=_rulebase_version())


@api.get("/openapi.yaml")
def openapi() -> Response:
    return Response(openapi_text(), mimetype="application/yaml")


@api.get("/v1/hardware")
def hardware() -> Response:
    return jsonify(_machine().hardware())


@api.get("/v1/frameworks")
def frameworks() -> Response:
    rulebase = _rulebase()
    here = _machine().hardware()
    versions = _machine().installed_versions()
    listed = []
    for framework_id, entry in rulebase.frameworks.items():
        listed.append({
            "id": framework_id,
            "name": entry.name,
            "summary": entry.summary,
            "good_for": list(entry.good_for),
            "platforms": [p.model_dump(exclude_none=True) for p in entry.platforms],
            "install": install_command(entry, here, best_device(entry, here)),
            "installed_version": versions.get(framework_id),
            "docs": entry.docs,
        })
    return jsonify(frameworks=listed)


@api.post("/v1/recommendations")
def recommendations() -> Response:
    answers: AnswerCache = current_app.extensions["framework_advisor.answers"]
    raw = read_raw_json_body(current_app.config["FRAMEWORK_ADVISOR_MAX_BODY"])
    # A body that carries its own hardware is a pure function of its bytes: a repeat skips parsing and
    # validation. Only such bodies are filed under their digest (see the end of this function).
    body_key = AnswerCache.digest(raw)
    cached = answers.get(body_key)
    if cached is not None:
        return Response(cached, mimetype="application/json")
    body = parse_json_body(raw)
    try:
        validate("RecommendationRequest", body)
    except ContractViolation as violation:
        raise Problem(422, f"invalid request: {violation}", violation.errors) from None

    installed, probe = None, None
    if "hardware" in body:
        hardware, source = body["hardware"], "request"
    elif "probe_id" in body:
        probe = _store().get_probe(body["probe_id"])
        if probe is None or not probe.get("report"):
            raise Problem(404, f"no finished probe with id {body['probe_id']!r}; list them with GET /v1/probes")
        hardware, source = probe["report"]["hardware"], "probe"
    else:
        hardware, source = _machine().hardware(), "this-machine"
        installed = _machine().installed_versions()
        probe = _store().latest_finished_probe(socket.gethostname())  # this machine's own measurements

    measurements = probe["report"].get("derived") if probe else None
    probe_id = probe["id"] if probe else None

    def answer_json() -> bytes:
        answer = recommend(_rulebase(), body["goals"], body["experience"], hardware, installed, measurements)
        answer["hardware_source"] = source
        answer["probe_id"] = probe_id
        return current_app.json.response(answer).get_data()

    # Same inputs, same answer: a finished probe never changes, the rule base is fixed per process.
    key = AnswerCache.key(body["goals"], body["experience"], hardware, installed, source, probe_id)
    payload = answers.get_or_compute(key, answer_json)
    if source == "request":  # no machine state and no stored probe entered it
        answers.put(body_key, payload)  # the same payload object: a second key, not a second copy
    return Response(payload, mimetype="application/json")


def _optional_raw_body(limit: int) -> bytes:
    """An empty body (no content) means defaults (b""); anything sent must be a JSON body."""
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return b""
    return read_raw_json_body(limit)


def _is_uploaded_report(body: object) -> bool:
    # A ProbeRequest has only quick/frameworks; a ProbeReport always carries its schema_version.
    return isinstance(body, dict) and "schema_version" in body


@api.post("/v1/probes")
def start_probe() -> Response:
    """Start a probe of this machine, or store a report uploaded from another one (fleet collection)."""
    probe_limit = current_app.extensions["framework_advisor.probe_rate_limit"]
    status = token_status()
    if status in ("missing", "wrong"):
        probe_limit.check(_store())  # guessing tokens is rate-limited too (per client: it slows the guesser)
        require_token(status)
    raw = _optional_raw_body(current_app.config["FRAMEWORK_ADVISOR_MAX_REPORT"])  # chunked bodies counted too
    body = parse_json_body(raw) if raw else {}
    if _is_uploaded_report(body):
        # Uploads are cheap and a fleet may share one address (NAT): their own, higher limit.
        current_app.extensions["framework_advisor.upload_rate_limit"].check(_store())
        return _store_uploaded_report(body)
    if len(raw) > current_app.config["FRAMEWORK_ADVISOR_MAX_BODY"]:
        raise Problem(413, f"a probe request is at most {current_app.config['FRAMEWORK_ADVISOR_MAX_BODY']} bytes")
    probe_limit.check(_store())
    try:
        validate("ProbeRequest", body)
    except ContractViolation as violation:
        raise Problem(422, f"invalid request: {violation}", violation.errors) from None
    params = probe_params(body.get("quick", False), body.get("thorough", False), body.get("frameworks"))
    try:
        probe_id, _ = _jobs().submit(socket.gethostname(), params)
    except QueueFull as full:
        raise Problem(429, f"{full.args[0]} probes are already queued on this machine; try again later",
                      headers={"Retry-After": "60"}) from None
    response = jsonify(_store().get_probe(probe_id))
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_probe", probe_id=probe_id)
    return response


def _store_uploaded_report(report: dict) -> Response:
    try:
        validate("ProbeReport", report)
    except ContractViolation as violation:
        raise Problem(422, f"invalid report: {violation}", violation.errors) from None
    probe_id = new_probe_id()
    _store().save_finished_probe(probe_id, report["host"], {"uploaded": True, "quick": bool(report.get("quick"))},
                                 report)
    response = jsonify(_store().get_probe(probe_id))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_probe", probe_id=probe_id)
    return response


@api.get("/v1/probes")
def list_probes() -> Response:
    host = request.args.get("host")
    limit_text = request.args.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise Problem(400, f"limit must be an integer from 1 to 500, not {limit_text!r}")
    if host is not None and len(host) > 255:
        raise Problem(400, "host is at most 255 characters")
    _jobs().ensure_worker()
    return jsonify(probes=_store().list_probes(host=host, limit=int(limit_text)))


@api.get("/v1/probes/<probe_id>")
def get_probe(probe_id: str) -> Response:
    probe = _store().get_probe(probe_id) if PROBE_ID.fullmatch(probe_id) else None
    if probe is None:
        raise Problem(404, f"no probe with id {probe_id!r}; list them with GET /v1/probes")
    _jobs().ensure_worker()
    return jsonify(probe)


@api.get("/v1/rules")
def list_rules() -> Response:
    rulebase = _rulebase()
    rules = [{**rule.model_dump(mode="json", by_alias=True, exclude_none=True),
              "group": rule.group, "source": str(rulebase.rule_locations[rule.id])} for rule in rulebase.rules]
    return jsonify(rulebase=_rulebase_version(), rules=rules)


@api.get("/v1/starters/<framework>")
def starter(framework: str) -> Response:
    rulebase = _rulebase()
    if framework not in rulebase.frameworks:
        raise Problem(404, f"no framework {framework!r}; one of: {', '.join(rulebase.frameworks)}")
    goal = request.args.get("goal")
    device = request.args.get("device", "cpu")
    if goal is not None and goal not in enum_of("Goal"):
        raise Problem(422, f"unknown goal {goal!r}; one of: {', '.join(enum_of('Goal'))}",
                      [FieldError("/goal", "not a goal")])
    spec = rulebase.frameworks[framework].starter
    if device not in spec.device_names:
        # A valid device this framework has no starter for: that starter does not exist (404), the
        # request itself is well-formed (a 422 would tell a client to fix what it sent).
        raise Problem(404, f"{rulebase.frameworks[framework].name} has no starter for device {device!r}; "
                           f"devices: {', '.join(spec.device_names)}", [FieldError("/device", "unsupported")])
    return jsonify(render_starter(rulebase, framework, device, goal))

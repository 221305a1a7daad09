"""The JSON API under /v1, plus /healthz and /openapi.yaml."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from rules.engine import best_device, install_command, recommend
from rules.rulebase import RuleBase
from service import __version__
from service.contract import ContractViolation, openapi_text, validate
from service.json_body import read_json_body
from service.machine import ThisMachine
from service.problems import Problem
from service.storage import Store

api = Blueprint("api", __name__)


def _rulebase() -> RuleBase:
    return current_app.extensions["framework_advisor.rulebase"]


def _machine() -> ThisMachine:
    return current_app.extensions["framework_advisor.machine"]


def _store() -> Store:
    return current_app.extensions["framework_advisor.store"]


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
    body = read_json_body(current_app.config["FRAMEWORK_ADVISOR_MAX_BODY"])
    try:
        validate("RecommendationRequest", body)
    except ContractViolation as violation:
        raise Problem(422, f"invalid request: {violation}", violation.errors) from None

    installed = None
    if "hardware" in body:
        hardware, source = body["hardware"], "request"
    elif "probe_id" in body:
        stored = _store().get_probe(body["probe_id"])
        if stored is None or not stored.get("report"):
            raise Problem(404, f"no finished probe with id {body['probe_id']!r}; list them with GET /v1/probes")
        hardware, source = stored["report"]["hardware"], "probe"
    else:
        hardware, source = _machine().hardware(), "this-machine"
        installed = _machine().installed_versions()

    answer = recommend(_rulebase(), body["goals"], body["experience"], hardware, installed)
    answer["hardware_source"] = source
    return jsonify(answer)

"""Validation with bounded cost: the worst bodies that fit under the size caps are refused with 422 after a
bounded amount of work. Work is counted (the validator's errors, the bytes it allocates), never timed.

The bound comes from the models: every array, mapping and string a request can carry has a size limit
(checked below over the generated contract): pydantic checks an array's length before its items, and a list of
records (an uploaded report's frameworks, benchmarks, devices ...) stops at its first bad item.
"""

from __future__ import annotations

import json
import tracemalloc

import pytest
import yaml

from framework_advisor.contract import ContractViolation, validate
from framework_advisor.probes.report import ProbeReport
from framework_advisor.rules.recommendation import RecommendationRequest
from tests.conftest import REPO_ROOT
from tests.service_fixtures import canned_report_json

REQUEST_SCHEMAS = ("RecommendationRequest", "ProbeOptions", "ProbeReport")
MAX_BODY, MAX_REPORT = 64 * 1024, 1024 * 1024


def _unbounded(schemas: dict, name: str) -> list[str]:
    """Arrays without maxItems, open mappings without maxProperties, free strings without maxLength."""
    problems, seen = [], {name}

    def walk(node, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            target = node["$ref"].rsplit("/", 1)[-1]
            if target not in seen:
                seen.add(target)
                walk(schemas[target], target)
            return
        kind = node.get("type")
        if kind == "array" and "maxItems" not in node:
            problems.append(f"{where}: array without maxItems")
        if kind == "object" and "properties" not in node and "maxProperties" not in node:
            problems.append(f"{where}: mapping without maxProperties")
        if kind == "string" and not {"maxLength", "enum", "const", "pattern"} & set(node):
            problems.append(f"{where}: string without maxLength")
        for key, value in node.items():
            walk(value, f"{where}/{key}")

    walk(schemas[name], name)
    return problems


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_everything_a_request_can_carry_is_bounded(name):
    schemas = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())["components"]["schemas"]
    assert _unbounded(schemas, name) == []


def refused(model, document) -> tuple[ContractViolation, int]:
    """The violation and the peak bytes allocated while validating."""
    tracemalloc.start()
    try:
        with pytest.raises(ContractViolation) as caught:
            validate(model, document)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return caught.value, peak


def mixed_goals() -> dict:
    """Integers and strings alternating under a uniqueness constraint, as many as fit in 64 KiB."""
    goals, size = [], 0
    while size < MAX_BODY - 200:
        item = len(goals) if len(goals) % 2 else f"g{len(goals)}"
        goals.append(item)
        size += len(json.dumps(item)) + 2
    return {"goals": goals, "experience": "beginner"}


def empty_objects(count: int) -> dict:
    return {**canned_report_json(quick=True), "frameworks": [{} for _ in range(count)]}


def test_a_64_kib_mixed_array_under_a_uniqueness_constraint_is_refused_at_once():
    body = mixed_goals()
    assert len(json.dumps(body)) <= MAX_BODY and len(body["goals"]) > 8_000
    violation, peak = refused(RecommendationRequest, body)
    assert violation.total == 1 and violation.errors[0].pointer == "/goals"
    # refused by the shape pre-check: no array of a recommendation request holds more than 64 items
    assert f"{len(body['goals'])} items" in violation.errors[0].message
    assert peak < 8 * 2**20  # the document itself is the bulk of it; no per-item error is ever built


def test_100000_empty_objects_in_an_upload_are_refused_without_validating_them():
    body = empty_objects(100_000)
    assert len(json.dumps(body)) <= MAX_REPORT
    violation, peak = refused(ProbeReport, body)
    # The list stops at its first bad item: a handful of errors about frameworks/0, not 600,000.
    assert violation.total <= 10 and violation.errors[0].pointer.startswith("/frameworks")
    assert peak < 16 * 2**20


def test_an_upload_full_of_wrong_samples_builds_at_most_the_errors_it_shows():
    report = canned_report_json(quick=True)
    bench = report["frameworks"][0]["benchmarks"][0]
    bench["timing"] = {**bench["timing"], "per_call_s": ["slow"] * 4_000}  # within the limit, all the wrong type
    violation, _ = refused(ProbeReport, report)
    assert violation.total == 1  # the sample list stops at its first bad item
    assert violation.errors[0].pointer.endswith("/timing/per_call_s/0")


def test_many_distinct_mistakes_are_each_named_up_to_the_cut(tmp_path):
    report = canned_report_json(quick=True)
    report["hardware"]["accelerators"] = [{"kind": "gpu", "name": ""} for _ in range(64)]
    violation, _ = refused(ProbeReport, report)
    assert violation.total == 128 and len(violation.errors) == 20  # all found, 20 shown
    assert violation.errors[0].pointer == "/hardware/accelerators/0/kind"


def test_over_http_the_worst_bodies_are_422_problems(client):
    response = client.post("/v1/recommendations", json=mixed_goals())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    upload = client.post("/v1/probes", json=empty_objects(100_000))
    assert upload.status_code == 422 and upload.get_json()["errors"][0]["pointer"].startswith("/frameworks")


def test_an_upload_whose_every_list_is_full_of_bad_records_costs_a_few_errors():
    report = canned_report_json(quick=True)
    bad_run = {**report["frameworks"][0], "devices": [{"device": "gpu"}] * 256, "benchmarks": [{"name": 1}] * 64,
               "errors": [{}] * 64, "skipped": [{}] * 64, "unused_accelerators": [{}] * 16}
    report["frameworks"] = [bad_run] * 5
    report["failures"] = [{}] * 5
    report["skipped"] = [{}] * 5
    assert len(json.dumps(report)) <= MAX_REPORT
    violation, _ = refused(ProbeReport, report)
    # Each list of records stops at its first bad item: a few errors per list, not one per bad item (over 2,000).
    assert violation.total <= 40


# --- the shape pre-check (issue 13, 1): sizes no model has are refused before the validator sees a member ---

@pytest.mark.parametrize("where", ["top", "hardware", "build"])
def test_an_upload_of_75000_unknown_members_is_one_error_not_75000(where):
    report = canned_report_json(quick=True)
    target = {"top": report, "hardware": report["hardware"],
              "build": report["frameworks"][0].setdefault("build", {})}[where]
    target.update({f"k{index}": 0 for index in range(75_000)})
    assert len(json.dumps(report)) <= MAX_REPORT
    violation, peak = refused(ProbeReport, report)
    # before: one 'unknown field' error built per member to show 20 (90,000 of them: about 57 MB, over a second)
    assert violation.total == 1 and "members" in violation.errors[0].message
    assert violation.errors[0].pointer == {"top": "", "hardware": "/hardware", "build": "/frameworks/0/build"}[where]
    assert peak < 4 * 2**20


def test_the_pre_check_bounds_come_from_the_models():
    from framework_advisor.contract.validation import shape_of
    from framework_advisor.probes.report import ProbeOptions

    for model in (RecommendationRequest, ProbeOptions, ProbeReport):
        shape = shape_of(model)
        assert shape.members is not None and shape.items is not None, model  # every object and array bounded
    assert shape_of(RecommendationRequest).items <= 64 and shape_of(ProbeReport).members <= 64


def test_the_largest_document_the_models_allow_still_passes_the_pre_check():
    report = canned_report_json(quick=True)
    timing = report["frameworks"][0]["benchmarks"][0]["timing"]
    from framework_advisor.contract.validation import shape_of

    timing["per_call_s"] = [0.06] * shape_of(ProbeReport).items  # the longest array a report may carry
    timing["samples"] = len(timing["per_call_s"])
    try:
        validate(ProbeReport, report)
    except ContractViolation as violation:  # only the model's own rules may refuse it, never the pre-check
        assert all("none here has more than" not in error.message for error in violation.errors)


def test_over_http_unknown_members_by_the_thousand_are_one_422(client):
    body = {"goals": ["learning"], "experience": "beginner", **{f"k{index}": 0 for index in range(5_000)}}
    response = client.post("/v1/recommendations", json=body)
    assert response.status_code == 422 and len(response.get_json()["errors"]) == 1
    report = {**canned_report_json(quick=True), **{f"k{index}": 0 for index in range(80_000)}}
    upload = client.post("/v1/probes", json=report)
    assert upload.status_code == 422 and len(upload.get_json()["errors"]) == 1
    assert client.get("/v1/probes").get_json()["probes"] == []

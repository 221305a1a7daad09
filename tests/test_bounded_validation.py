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
    assert "at most 8" in violation.errors[0].message
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

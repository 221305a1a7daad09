"""openapi.yaml, generated: the hand-written paths (paths.yaml) plus the models' JSON Schemas.

``python -m framework_advisor.contract write`` (``make openapi``) writes the repository's openapi.yaml;
``check`` says whether it is current (tests/test_contract.py runs it). The service serves the same
document at ``GET /openapi.yaml``.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from framework_advisor import models
from framework_advisor.probes import vocabulary
from framework_advisor.probes.hardware import HardwareProfile
from framework_advisor.probes.probe_diff import ProbeDiff
from framework_advisor.probes.report import ProbeOptions, ProbeReport
from framework_advisor.rules.recommendation import Recommendation, RecommendationRequest, Starter

PATHS_FILE = Path(__file__).resolve().parent / "paths.yaml"
# The committed copy, at the top of a checkout (absent in an installed wheel: the service generates it).
OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
GENERATED_NOTE = ("# GENERATED from service/contract/paths.yaml and the models: edit those, then run `make openapi`.\n"
                  "# tests/test_contract.py fails when this file differs from what they generate.\n")
# Every model a path refers to; the models they hold come along.
_MODELS = (models.Health, models.FrameworkList, models.Vocabulary, HardwareProfile, RecommendationRequest,
           Recommendation, ProbeOptions, ProbeReport, models.ProbeJob, models.ProbeList, models.RuleList, Starter,
           models.Problem, ProbeDiff)
# Enums that path parameters use on their own.
_ENUMS = {"FrameworkId": vocabulary.FRAMEWORK_IDS, "Goal": vocabulary.GOALS, "Device": vocabulary.DEVICES}


class _Schemas(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # a property's name is its title; repeating it only adds noise


def component_schemas() -> dict[str, Any]:
    _, definitions = models_json_schema([(model, "validation") for model in _MODELS],
                                        ref_template="#/components/schemas/{model}", schema_generator=_Schemas)
    schemas = dict(sorted(definitions["$defs"].items()))
    for name, values in _ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values)}
    return schemas


@cache
def openapi_document() -> dict[str, Any]:
    document = yaml.safe_load(PATHS_FILE.read_text(encoding="utf-8"))
    document["components"]["schemas"] = component_schemas()
    return document


@cache
def openapi_text() -> str:
    return GENERATED_NOTE + yaml.safe_dump(openapi_document(), sort_keys=False, width=110, allow_unicode=True)


def stale(path: Path = OPENAPI_PATH) -> bool:
    return not path.is_file() or path.read_text(encoding="utf-8") != openapi_text()


def main(argv: list[str]) -> int:
    if argv == ["write"]:
        OPENAPI_PATH.write_text(openapi_text(), encoding="utf-8")
        print(f"wrote {OPENAPI_PATH}")
        return 0
    if argv == ["check"]:
        if stale():
            print(f"{OPENAPI_PATH} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m framework_advisor.contract write|check", file=sys.stderr)
    return 2
